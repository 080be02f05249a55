"""A ledger of what the local cloud served: every AWS call by caller role, service and operation, with its
request and response bytes, and every Lambda invocation with its duration.

Installed beside IAM enforcement, in front of moto's WSGI app: the operation is read from the wire with
the same parser (``api_calls``), the caller from the SigV4 access key (an assumed-role session's role, or
``operator`` for any other key: the tests', the deploy tool's, the scenario driver's). For S3 the lake
zone of the key (``raw``, ``processed``, ``quarantine``, ...) is kept with the operation, so object
writes can be told apart by zone. Lambda invocations are timed around the runtime's per-function worker
pool (every synchronous, asynchronous, queue- and stream-triggered invocation passes through it), warm
and cold apart: a cold one starts a worker process first.

The ledger counts; it decides nothing and changes no answer. ``snapshot()`` returns a copy, so a
measurement is the difference of two snapshots (``Snapshot.minus``).
"""

from __future__ import annotations

import io
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs

from platformctl.localcloud import api_calls

OPERATOR = "operator"  # any caller that is not an assumed-role session


@dataclass
class CallTotals:
    count: int = 0
    items: int = 0  # what AWS bills per item: a batch's items, PutEvents' entries (else 1 per call)
    request_bytes: int = 0
    response_bytes: int = 0
    errors: int = 0  # answers with HTTP status >= 400

    def add(self, other: CallTotals, sign: int = 1) -> None:
        self.count += sign * other.count
        self.items += sign * other.items
        self.request_bytes += sign * other.request_bytes
        self.response_bytes += sign * other.response_bytes
        self.errors += sign * other.errors


@dataclass
class InvocationTotals:
    count: int = 0
    cold: int = 0
    failed: int = 0
    warm_seconds: float = 0.0  # summed over warm invocations
    cold_seconds: float = 0.0  # summed over cold ones (a worker process started first)
    memory_mb: int = 0

    def add(self, other: InvocationTotals, sign: int = 1) -> None:
        self.count += sign * other.count
        self.cold += sign * other.cold
        self.failed += sign * other.failed
        self.warm_seconds += sign * other.warm_seconds
        self.cold_seconds += sign * other.cold_seconds
        self.memory_mb = other.memory_mb or self.memory_mb


CallKey = tuple[str, str, str, str]  # (caller role, service, operation, resource: S3 zone, DynamoDB table or "")


@dataclass
class Snapshot:
    calls: dict[CallKey, CallTotals] = field(default_factory=dict)
    invocations: dict[str, InvocationTotals] = field(default_factory=dict)  # function name -> totals

    def minus(self, earlier: Snapshot) -> Snapshot:
        """What happened between ``earlier`` and this snapshot."""
        calls: dict[CallKey, CallTotals] = {}
        for key, totals in self.calls.items():
            delta = CallTotals()
            delta.add(totals)
            if key in earlier.calls:
                delta.add(earlier.calls[key], -1)
            if delta.count:
                calls[key] = delta
        invocations: dict[str, InvocationTotals] = {}
        for name, now in self.invocations.items():
            inv = InvocationTotals()
            inv.add(now)
            if name in earlier.invocations:
                inv.add(earlier.invocations[name], -1)
            inv.memory_mb = now.memory_mb
            if inv.count:
                invocations[name] = inv
        return Snapshot(calls, invocations)


class _Ledger:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.calls: dict[CallKey, CallTotals] = {}
        self.invocations: dict[str, InvocationTotals] = {}
        self.roles: dict[str, str] = {}  # access key -> role name (or OPERATOR)

    def record_call(self, key: CallKey, items: int, request_bytes: int, response_bytes: int, status: int) -> None:
        with self.lock:
            totals = self.calls.setdefault(key, CallTotals())
            totals.count += 1
            totals.items += items
            totals.request_bytes += request_bytes
            totals.response_bytes += response_bytes
            totals.errors += 1 if status >= 400 else 0

    def record_invocation(self, function: str, memory_mb: int, seconds: float, cold: bool, failed: bool) -> None:
        with self.lock:
            totals = self.invocations.setdefault(function, InvocationTotals())
            totals.count += 1
            totals.cold += 1 if cold else 0
            totals.failed += 1 if failed else 0
            if cold:
                totals.cold_seconds += seconds
            else:
                totals.warm_seconds += seconds
            totals.memory_mb = memory_mb

    def snapshot(self) -> Snapshot:
        with self.lock:
            calls = {}
            for key, totals in self.calls.items():
                copy = CallTotals()
                copy.add(totals)
                calls[key] = copy
            invocations = {}
            for name, inv in self.invocations.items():
                copy_inv = InvocationTotals()
                copy_inv.add(inv)
                invocations[name] = copy_inv
        return Snapshot(calls, invocations)


_ledger = _Ledger()


def snapshot() -> Snapshot:
    return _ledger.snapshot()


def install() -> None:
    """Count every request the emulator serves and every Lambda invocation from now on (idempotent)."""
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication

    from platformctl.localcloud import lambda_runtime

    if not getattr(DomainDispatcherApplication, "_platformctl_ledger", False):
        serve = DomainDispatcherApplication.__call__

        def call(self: Any, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
            return _counted(lambda env, respond: serve(self, env, respond), environ, start_response)

        setattr(DomainDispatcherApplication, "__call__", call)  # noqa: B010 - a deliberate patch of moto
        setattr(DomainDispatcherApplication, "_platformctl_ledger", True)  # noqa: B010
    pool = lambda_runtime._Pool
    if not getattr(pool, "_platformctl_ledger", False):
        invoke = pool.invoke

        def timed(self: Any, event: Any, request_id: str) -> Any:
            with self.lock:
                cold = not any(worker.alive for worker in self.idle)
            started = time.perf_counter()
            result = invoke(self, event, request_id)
            elapsed = time.perf_counter() - started
            _ledger.record_invocation(self.spec.name, self.spec.memory, elapsed, cold, bool(result.failed))
            return result

        setattr(pool, "invoke", timed)  # noqa: B010 - see the module docstring
        setattr(pool, "_platformctl_ledger", True)  # noqa: B010


def _caller(headers: dict[str, str], query: dict[str, list[str]]) -> str:
    signed = api_calls.signature(headers, query)
    if signed is None:
        return OPERATOR
    known = _ledger.roles.get(signed.access_key)
    if known is not None:
        return known
    from platformctl.localcloud import iam_state

    session = iam_state.session_for(signed.access_key)
    name = session.role_arn.rsplit("/", 1)[-1] if session is not None else OPERATOR
    _ledger.roles[signed.access_key] = name
    return name


def _resource(call: api_calls.ApiCall | None) -> str:
    """The lake zone of an S3 key (its first segment), or the table of a DynamoDB call."""
    if call is None:
        return ""
    if call.service == "s3":
        key = str(call.params.get("Key") or call.params.get("Prefix") or "")
        return key.split("/", 1)[0] if "/" in key else ""
    if call.service == "dynamodb":
        if call.params.get("TableName"):
            return str(call.params["TableName"])
        batch = call.params.get("RequestItems")
        if isinstance(batch, dict) and batch:
            return str(sorted(batch)[0])
    return ""


def _items(call: api_calls.ApiCall | None) -> int:
    """How many items a call carries, where AWS bills per item rather than per call."""
    if call is None:
        return 1
    params = call.params
    if call.operation in ("BatchWriteItem", "BatchGetItem") and isinstance(params.get("RequestItems"), dict):
        batches = params["RequestItems"].values()
        return sum(len(b) if isinstance(b, list) else len(b.get("Keys", [])) for b in batches) or 1
    for field_name in ("TransactItems", "Entries"):
        if isinstance(params.get(field_name), list):
            return len(params[field_name]) or 1
    return 1


def _counted(
    serve: Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]],
    environ: dict[str, Any],
    start_response: Callable[..., Any],
) -> Iterable[bytes]:
    if str(environ.get("PATH_INFO", "")).startswith("/moto-api"):
        return serve(environ, start_response)
    headers = {k[5:].replace("_", "-").lower(): str(v) for k, v in environ.items() if k.startswith("HTTP_")}
    if environ.get("CONTENT_TYPE"):
        headers["content-type"] = str(environ["CONTENT_TYPE"])
    query = parse_qs(str(environ.get("QUERY_STRING", "")), keep_blank_values=True)
    length = int(environ.get("CONTENT_LENGTH") or 0)
    # An S3 object's bytes are not needed to tell the operation; aws-chunked uploads say their decoded size.
    request_bytes = int(headers.get("x-amz-decoded-content-length") or length)
    signed = api_calls.signature(headers, query)
    service = api_calls.service_for(signed.signing_name) if signed else ""
    body = b""
    if length > 0 and service and (service != "s3" or "delete" in query):
        body = environ["wsgi.input"].read(length)
        environ["wsgi.input"] = io.BytesIO(body)
    call = None
    if signed is not None:
        raw_path = str(environ.get("RAW_URI") or environ.get("REQUEST_URI") or environ.get("PATH_INFO", ""))
        try:
            call = api_calls.parse(
                signed.signing_name,
                signed.region,
                str(environ.get("REQUEST_METHOD")),
                raw_path.split("?", 1)[0],
                query,
                headers,
                body,
            )
        except Exception:  # noqa: BLE001 - the ledger never fails a request; the call is counted as unknown
            call = None
    key: CallKey = (
        _caller(headers, query),
        call.service if call else (service or "unsigned"),
        call.operation if call else "unknown",
        _resource(call),
    )
    items = _items(call)
    status = {"code": 0}

    def respond(status_line: str, response_headers: list[tuple[str, str]], *rest: Any) -> Any:
        status["code"] = int(status_line.split(" ", 1)[0])
        return start_response(status_line, response_headers, *rest)

    answer = serve(environ, respond)
    return _CountedBody(answer, lambda size: _ledger.record_call(key, items, request_bytes, size, status["code"]))


class _CountedBody:
    """The response iterable, unchanged, recording its size once it has been sent (or closed)."""

    def __init__(self, body: Iterable[bytes], done: Callable[[int], None]) -> None:
        self.body, self.done, self.size, self.recorded = body, done, 0, False

    def __iter__(self) -> Iterator[bytes]:
        for chunk in self.body:
            self.size += len(chunk)
            yield chunk
        self._record()

    def close(self) -> None:
        close = getattr(self.body, "close", None)
        if close is not None:
            close()
        self._record()

    def _record(self) -> None:
        if not self.recorded:
            self.recorded = True
            self.done(self.size)
