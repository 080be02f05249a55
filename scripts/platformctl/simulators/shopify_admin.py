"""A local Shopify Admin GraphQL API: the wire format, errors and throttling of the real one, no network.

Served on 127.0.0.1 (an ephemeral port) for the local cloud, the tests, ``make demo`` and the benchmarks:

``POST /admin/api/<version>/graphql.json``
    GraphQL with the ``X-Shopify-Access-Token`` header. A missing token answers 401 like Shopify; when
    the local cloud has deployed ``ShopifyAdminApiSecret``, the token must be its ``access_token`` (so
    the real secret flow is exercised), otherwise any token (or ``SimulatorState.access_tokens``) passes.
    Every response carries ``extensions.cost`` with a leaky-bucket ``throttleStatus``; a request that
    costs more than the bucket holds answers a ``THROTTLED`` error, as Shopify does.

    Each top-level field is resolved by ``QUERY_FIELDS[<field name>](state, variables, query)`` and the
    value is projected onto the query's selection set (aliases, inline fragments, ``__typename``). The
    registry is the extension point: another module adds a resolver with ``QUERY_FIELDS["order"] = ...``
    (``field_arguments`` reads a field's arguments, ``GraphQLError`` reports an error), and ``node(id:)``
    dispatches on the gid's type through ``NODE_TYPES``. Built in: ``bulkOperationRunQuery``,
    ``bulkOperationCancel``, ``bulkOperation(id:)``, ``currentBulkOperation``, ``node(id:)`` for
    ``BulkOperation``, ``currentAppInstallation { accessScopes }`` and ``shop``.

``GET /_results/<token>/<file>``
    A bulk result, generated deterministically, with HTTP ``Range`` support and an expiring URL. The
    bulk query's top-level connection chooses the resource: ``orders`` (line items, a customer
    reference, addresses, discounts, refunds, fulfillments and transactions), ``customers`` (one per
    customer id the orders reference, with order counts, amounts and last orders that agree with the
    orders) or ``products`` (the catalogue the line items name, variants as ``ProductVariant`` lines
    with ``__parentId``); parents and children interleaved as ``groupObjects: false`` allows. The
    ``updated_at`` filter of the query selects the window; every behaviour applies to every resource.

``/_simulator/...`` (tests and the demo switch behaviours here; ``SimulatorState.configure`` does the same)
    ``POST /_simulator/control`` merges behaviours (JSON); ``POST /_simulator/reset`` restores the
    defaults (``{"operations": true}`` also forgets the bulk operations); ``GET /_simulator/state``
    shows behaviours, counters and operations; ``POST /_simulator/resources/<type>`` stores REST-shaped
    resources (an object with ``id``, or a list of them) in ``SimulatorState.resources[<type>]``, and
    ``GET`` lists them.

Behaviours (``DEFAULT_BEHAVIOUR`` lists them all):
    ``orders`` (shop size), ``seed``, ``throttle`` (the next N requests answer THROTTLED),
    ``http_error`` ({"status": 503, "times": 1}: the next requests answer that status; 429 carries
    ``Retry-After``), ``user_error`` ({"code": "OPERATION_IN_PROGRESS" | "LIMIT_REACHED" | "INVALID",
    "times": N} for the next bulkOperationRunQuery calls), ``outcome`` ({"status": "COMPLETED" |
    "FAILED" | "CANCELED" | "EXPIRED", "error_code": "ACCESS_DENIED" | "INTERNAL_SERVER_ERROR" |
    "TIMEOUT", "partial_fraction": 0.4}), ``running_polls`` (status reads that still say RUNNING),
    ``expire_url_after_bytes`` (the next result URL breaks off after N bytes and is expired from then
    on), ``cut_after_bytes`` (the next download connection breaks off after N bytes, URL still valid),
    ``url_ttl_seconds``, ``object_count_offset`` (misreport objectCount), ``scopes`` (the app's access
    scopes), ``escape_slashes`` (``\\/`` in the JSONL, as Shopify writes it), ``export_stored``
    (bulk exports also hold the resources stored with ``POST /_simulator/resources/<type>`` whose
    ``updated_at`` is in the window, rendered from their REST shape onto the bulk query: the shop's own
    orders beside the generated ones, so a demo's webhooks and the export agree), and for hostile-input tests
    ``result_url`` (a URL ``bulkOperation`` answers as ``url``/``partialDataUrl`` instead of its own
    signed one) and ``redirect_results`` (a ``Location`` every result request is answered with, 302).
"""

from __future__ import annotations

import bisect
import contextlib
import copy
import functools
import importlib
import importlib.util
import json
import math
import random
import re
import secrets
import shutil
import socket
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from platformctl.simulators.json_http import JsonRequestHandler
from platformctl.simulators.local_secrets import LocalSecretValues

TOKEN_HEADER = "X-Shopify-Access-Token"  # noqa: S105 - a header name, not a secret
SECRET_SUFFIX = "/ShopifyAdminApiSecret"  # noqa: S105 - the secret's name, not its value
BUCKET_MAXIMUM = 2000.0
BUCKET_RESTORE_RATE = 100.0
ALL_SCOPES = ("read_orders", "read_all_orders", "read_customers", "read_products", "read_fulfillments")
DEFAULT_BEHAVIOUR: dict[str, Any] = {
    "orders": 250,
    "seed": 20260101,
    "throttle": 0,
    "http_error": None,
    "user_error": None,
    "outcome": {"status": "COMPLETED"},
    "running_polls": 1,
    "expire_url_after_bytes": None,
    "cut_after_bytes": None,
    "url_ttl_seconds": 7 * 86400.0,
    "object_count_offset": 0,
    "scopes": list(ALL_SCOPES),
    "escape_slashes": True,
    "export_stored": False,
    "result_url": None,
    "redirect_results": None,
}
# Orders are spaced a minute apart and end at this instant, so every one is in the past.
SHOP_ANCHOR = datetime(2025, 6, 1, tzinfo=UTC)
ORDER_SPACING_SECONDS = 60
CUSTOMER_SPACING_SECONDS = 180  # a third as many customers as orders, over the same period
PRODUCT_SPACING_SECONDS = 30 * 86400
BLOCK_ORDERS = 8  # roots whose lines are shuffled together (groupObjects: false)
DATA_VERSION = 2  # in the names of cached result files: a change of the generated lines changes it
CUSTOMER_BASE_ID = 7_000_000_000
PRODUCT_BASE_ID = 8_100_000_000
_GRAPHQL_PATH = re.compile(r"^/admin/api/(?P<version>[0-9]{4}-[0-9]{2}|unstable)/graphql\.json$")


# ============================================================================================ GraphQL


class GraphQLError(Exception):
    """An error a resolver reports; it becomes an entry of the response's ``errors``."""

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.code = code


class GraphQLSyntaxError(GraphQLError):
    pass


@dataclass
class Field:
    name: str
    alias: str | None
    arguments: dict[str, Any]
    selections: list[Selection]

    @property
    def key(self) -> str:
        return self.alias or self.name


@dataclass
class InlineFragment:
    type_condition: str | None
    selections: list[Selection]


@dataclass
class FragmentSpread:
    name: str


Selection = Field | InlineFragment | FragmentSpread


@dataclass
class Operation:
    kind: str  # query | mutation
    fields: list[Field]
    fragments: dict[str, InlineFragment]


_TOKEN = re.compile(
    r'(?P<ws>[\s,\ufeff]+|#[^\n]*)|(?P<block>"""(?:\\"""|[^"]|"(?!""))*""")|(?P<string>"(?:\\.|[^"\\\n])*")'
    r"|(?P<number>-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?)|(?P<name>[_A-Za-z][_0-9A-Za-z]*)"
    r"|(?P<spread>\.\.\.)|(?P<punct>[!$&():=@\[\]{|}])"
)


def _tokens(text: str) -> list[tuple[str, str]]:
    found = []
    position = 0
    while position < len(text):
        match = _TOKEN.match(text, position)
        if match is None:
            raise GraphQLSyntaxError(f"Parse error on {text[position : position + 10]!r} at offset {position}")
        kind = match.lastgroup or ""
        if kind != "ws":
            found.append((kind, match.group()))
        position = match.end()
    return found


class _Parser:
    def __init__(self, text: str, variables: dict[str, Any]) -> None:
        self.tokens = _tokens(text)
        self.position = 0
        self.variables = variables

    def peek(self, offset: int = 0) -> tuple[str, str]:
        index = self.position + offset
        return self.tokens[index] if index < len(self.tokens) else ("eof", "")

    def take(self, value: str | None = None, kind: str | None = None) -> str:
        token_kind, token = self.peek()
        if (value is not None and token != value) or (kind is not None and token_kind != kind):
            wanted = value or kind
            raise GraphQLSyntaxError(f"Parse error on {token!r} ({token_kind}): expected {wanted}")
        self.position += 1
        return token

    def document(self) -> Operation:
        operation: Operation | None = None
        fragments: dict[str, InlineFragment] = {}
        while self.peek()[0] != "eof":
            word = self.peek()[1]
            if word == "fragment":
                self.take("fragment")
                name = self.take(kind="name")
                self.take("on")
                fragments[name] = InlineFragment(self.take(kind="name"), self.selection_set())
            elif operation is None:
                operation = self.operation()
            else:
                self.operation()  # later operations are parsed (so errors show) but not run
        if operation is None:
            raise GraphQLSyntaxError("the document has no operation")
        operation.fragments = fragments
        return operation

    def operation(self) -> Operation:
        kind = "query"
        if self.peek()[1] in {"query", "mutation", "subscription"}:
            kind = self.take()
            if self.peek()[0] == "name":
                self.take()
            if self.peek()[1] == "(":
                self.variable_definitions()
            self.directives()
        selections = self.selection_set()
        return Operation(kind, [s for s in selections if isinstance(s, Field)], {})

    def variable_definitions(self) -> None:
        self.take("(")
        while self.peek()[1] != ")":
            self.take("$")
            name = self.take(kind="name")
            self.take(":")
            self.type_reference()
            if self.peek()[1] == "=":
                self.take("=")
                default = self.value(const=True)
                self.variables.setdefault(name, default)
        self.take(")")

    def type_reference(self) -> None:
        if self.peek()[1] == "[":
            self.take("[")
            self.type_reference()
            self.take("]")
        else:
            self.take(kind="name")
        if self.peek()[1] == "!":
            self.take("!")

    def directives(self) -> None:
        while self.peek()[1] == "@":
            self.take("@")
            self.take(kind="name")
            if self.peek()[1] == "(":
                self.arguments()

    def selection_set(self) -> list[Selection]:
        self.take("{")
        selections: list[Selection] = []
        while self.peek()[1] != "}":
            if self.peek()[0] == "spread":
                self.take("...")
                if self.peek()[1] == "on":
                    self.take("on")
                    condition = self.take(kind="name")
                    self.directives()
                    selections.append(InlineFragment(condition, self.selection_set()))
                elif self.peek()[1] == "{":
                    selections.append(InlineFragment(None, self.selection_set()))
                else:
                    selections.append(FragmentSpread(self.take(kind="name")))
                    self.directives()
                continue
            name = self.take(kind="name")
            alias = None
            if self.peek()[1] == ":":
                self.take(":")
                alias, name = name, self.take(kind="name")
            arguments = self.arguments() if self.peek()[1] == "(" else {}
            self.directives()
            children = self.selection_set() if self.peek()[1] == "{" else []
            selections.append(Field(name, alias, arguments, children))
        self.take("}")
        return selections

    def arguments(self) -> dict[str, Any]:
        self.take("(")
        found = {}
        while self.peek()[1] != ")":
            name = self.take(kind="name")
            self.take(":")
            found[name] = self.value()
        self.take(")")
        return found

    def value(self, *, const: bool = False) -> Any:
        kind, text = self.peek()
        if text == "$" and not const:
            self.take("$")
            return self.variables.get(self.take(kind="name"))
        if text == "[":
            self.take("[")
            items = []
            while self.peek()[1] != "]":
                items.append(self.value(const=const))
            self.take("]")
            return items
        if text == "{":
            self.take("{")
            obj = {}
            while self.peek()[1] != "}":
                key = self.take(kind="name")
                self.take(":")
                obj[key] = self.value(const=const)
            self.take("}")
            return obj
        self.take()
        return _scalar(kind, text)


def _scalar(kind: str, text: str) -> Any:
    if kind == "string":
        return json.loads(text)
    if kind == "block":
        return text[3:-3].replace('\\"""', '"""')
    if kind == "number":
        return float(text) if any(c in text for c in ".eE") else int(text)
    if kind == "name":
        return {"true": True, "false": False, "null": None}.get(text, text)
    raise GraphQLSyntaxError(f"Parse error on {text!r}: expected a value")


def parse_operation(query: str, variables: dict[str, Any] | None = None) -> Operation:
    """The document's first operation, variables resolved into the arguments."""
    return _Parser(query, dict(variables or {})).document()


def field_arguments(query: str, variables: dict[str, Any] | None, name: str) -> dict[str, Any]:
    """The arguments of the first top-level field called ``name`` (for resolvers in ``QUERY_FIELDS``)."""
    for top in parse_operation(query, variables).fields:
        if top.name == name:
            return top.arguments
    return {}


def _flatten(selections: list[Selection], value: dict[str, Any], fragments: dict[str, InlineFragment]) -> list[Field]:
    fields: list[Field] = []
    for selection in selections:
        if isinstance(selection, Field):
            fields.append(selection)
            continue
        fragment = fragments.get(selection.name) if isinstance(selection, FragmentSpread) else selection
        if fragment is None:
            raise GraphQLError(f"Fragment {getattr(selection, 'name', '?')} was used, but not defined")
        typename = value.get("__typename")
        if fragment.type_condition is None or typename is None or fragment.type_condition == typename:
            fields.extend(_flatten(fragment.selections, value, fragments))
    return fields


def project(value: Any, selections: list[Selection], fragments: dict[str, InlineFragment] | None = None) -> Any:
    """Keep only what the selection set asks for, under the aliases it uses."""
    if not selections or value is None:
        return value
    if isinstance(value, list):
        return [project(item, selections, fragments) for item in value]
    if not isinstance(value, dict):
        return value
    result: dict[str, Any] = {}
    for selected in _flatten(selections, value, fragments or {}):
        result[selected.key] = project(value.get(selected.name), selected.selections, fragments)
    return result


# ============================================================================================== state


@dataclass
class ResultFile:
    path: Path
    size: int
    object_count: int
    root_object_count: int


@dataclass
class BulkOperationRecord:
    id: str
    query: str
    created_at: datetime
    outcome: dict[str, Any]
    running_polls: int
    object_count_offset: int
    first: int
    last: int  # indexes [first, last) of the resource's objects
    status: str = "CREATED"
    resource: str = "orders"
    reads: int = 0
    completed_at: datetime | None = None
    result: ResultFile | None = None
    result_error: str | None = None
    ready: threading.Event = field(default_factory=threading.Event)
    url_token: str | None = None
    stored: list[dict[str, Any]] = field(default_factory=list)  # bulk objects of stored resources, appended

    @property
    def number(self) -> str:
        return self.id.rsplit("/", 1)[1]


@dataclass
class UrlGrant:
    operation_id: str
    file: ResultFile
    expires_at: float
    cut_after: int | None = None  # total bytes after which this URL breaks off and expires
    served: int = 0
    revoked: bool = False


class SimulatorState:
    """The simulated shop: resources, behaviours, bulk operations, result files and counters."""

    def __init__(self, behaviour: dict[str, Any] | None = None, *, work_dir: Path | None = None) -> None:
        self.lock = threading.RLock()
        self.resources: dict[str, dict[str, dict[str, Any]]] = {}
        self.behaviour: dict[str, Any] = copy.deepcopy(DEFAULT_BEHAVIOUR)
        if behaviour:
            self.configure(**behaviour)
        self.operations: dict[str, BulkOperationRecord] = {}
        self.urls: dict[str, UrlGrant] = {}
        self.counters: Counter[str] = Counter()
        self.access_tokens: set[str] = set()
        self.base_url = ""
        self.reuse_files = False  # benchmarks keep big result files between runs in their work_dir
        self._own_dir = work_dir is None
        self.work_dir = work_dir or Path(tempfile.mkdtemp(prefix="shopify-sim-"))
        self._files: dict[tuple[str, int, int, int, int, bool, float], ResultFile] = {}
        self._file_locks: dict[tuple[str, int, int, int, int, bool, float], threading.Lock] = {}
        self._next_operation = 4_100_000_000
        self._bucket_available = BUCKET_MAXIMUM
        self._bucket_at = time.monotonic()

    # ------------------------------------------------------------------------- behaviours

    def configure(self, **changes: Any) -> dict[str, Any]:
        unknown = set(changes) - set(DEFAULT_BEHAVIOUR)
        if unknown:
            raise ValueError(f"unknown simulator behaviour(s): {', '.join(sorted(unknown))}")
        with self.lock:
            for key, value in changes.items():
                self.behaviour[key] = copy.deepcopy(value)
            return copy.deepcopy(self.behaviour)

    def reset(self, *, operations: bool = False) -> None:
        with self.lock:
            self.behaviour = copy.deepcopy(DEFAULT_BEHAVIOUR)
            self.counters.clear()
            if operations:
                self.operations.clear()
                self.urls.clear()

    def _take(self, key: str) -> Any:
        """Consume one use of a counted behaviour (``throttle``, ``http_error``, ``user_error``)."""
        with self.lock:
            current = self.behaviour.get(key)
            if not current:
                return None
            if isinstance(current, int):
                self.behaviour[key] = current - 1
                return True
            times = int(current.get("times", 1))
            if times <= 1:
                self.behaviour[key] = None
            else:
                self.behaviour[key] = {**current, "times": times - 1}
            return current

    # ----------------------------------------------------------------------------- bucket

    def spend(self, cost: float) -> tuple[bool, float]:
        """Take ``cost`` from the leaky bucket; (allowed, available after)."""
        with self.lock:
            now = time.monotonic()
            self._bucket_available = min(
                BUCKET_MAXIMUM, self._bucket_available + (now - self._bucket_at) * BUCKET_RESTORE_RATE
            )
            self._bucket_at = now
            if self._take("throttle"):
                return False, max(0.0, cost - 20.0)
            if cost > self._bucket_available:
                return False, self._bucket_available
            self._bucket_available -= cost
            return True, self._bucket_available

    # ------------------------------------------------------------------------- operations

    def new_operation(self, query: str, resource: str = "orders") -> BulkOperationRecord:
        with self.lock:
            self._next_operation += 1
            first, last = window_indexes(
                query, resource_count(resource, int(self.behaviour["orders"])), RESOURCE_TIMES[resource]
            )
            operation = BulkOperationRecord(
                id=f"gid://shopify/BulkOperation/{self._next_operation}",
                query=query,
                created_at=datetime.now(UTC).replace(microsecond=0),
                outcome=dict(self.behaviour["outcome"] or {"status": "COMPLETED"}),
                running_polls=int(self.behaviour["running_polls"]),
                object_count_offset=int(self.behaviour["object_count_offset"]),
                first=first,
                last=last,
                resource=resource,
                stored=self._stored_objects(query, resource) if self.behaviour["export_stored"] else [],
            )
            self.operations[operation.id] = operation
        threading.Thread(target=self._prepare, args=(operation,), daemon=True, name="shopify-sim-bulk").start()
        return operation

    def _stored_objects(self, query: str, resource: str) -> list[dict[str, Any]]:
        """The bulk objects of the stored resources of ``resource`` updated in the query's window, read when
        the operation starts (Shopify's export is of that moment), in ``updated_at`` order."""
        render = STORED_NODES.get(resource)
        if render is None:
            return []
        lower, upper = _bounds(query)
        chosen = []
        for rest in self.resources.get(resource, {}).values():
            try:
                updated = datetime.fromisoformat(str(rest.get("updated_at")).replace("Z", "+00:00"))
            except ValueError:
                continue
            if all(_passes(updated, op, b) for op, b in lower) and all(_passes(updated, op, b) for op, b in upper):
                chosen.append((updated, rest))
        objects: list[dict[str, Any]] = []
        for _, rest in sorted(chosen, key=lambda pair: pair[0]):
            objects.extend(bulk_objects(render(rest), query))
        return objects

    def _prepare(self, operation: BulkOperationRecord) -> None:
        """What Shopify does while the operation runs: write the result file."""
        try:
            outcome = operation.outcome
            status = outcome.get("status", "COMPLETED")
            if status == "COMPLETED" or (status == "FAILED" and outcome.get("partial_fraction")):
                fraction = 1.0 if status == "COMPLETED" else float(outcome["partial_fraction"])
                operation.result = self.result_file(operation.first, operation.last, fraction, operation.resource)
                if operation.stored and fraction == 1.0:
                    operation.result = self._with_stored(operation)
        except Exception as exc:  # noqa: BLE001 - reported through the operation, like a failed export
            operation.result_error = f"{type(exc).__name__}: {exc}"
        finally:
            operation.ready.set()

    def result_file(self, first: int, last: int, fraction: float = 1.0, resource: str = "orders") -> ResultFile:
        """The (cached) JSONL result for the resource's objects [first, last), or its first ``fraction`` of
        blocks."""
        seed = int(self.behaviour["seed"])
        orders = int(self.behaviour["orders"])
        escape = bool(self.behaviour["escape_slashes"])
        key = (resource, seed, orders, first, last, escape, round(fraction, 6))
        with self.lock:
            lock = self._file_locks.setdefault(key, threading.Lock())
        with lock:
            cached = self._files.get(key)
            if cached is not None and cached.path.exists():
                return cached
            name = (
                f"result-v{DATA_VERSION}-{resource}-{seed}-{orders}-{first}-{last}-{int(escape)}"
                f"-{int(fraction * 1e6)}.jsonl"
            )
            path = self.work_dir / name
            counts = path.with_suffix(".counts.json")
            if self.reuse_files and path.exists() and counts.exists():
                known = json.loads(counts.read_text(encoding="utf-8"))
                result = ResultFile(path, path.stat().st_size, int(known["objects"]), int(known["roots"]))
            else:
                result = write_result(
                    path,
                    seed=seed,
                    orders=orders,
                    first=first,
                    last=last,
                    fraction=fraction,
                    escape=escape,
                    resource=resource,
                )
                counts.write_text(json.dumps({"objects": result.object_count, "roots": result.root_object_count}))
            self._files[key] = result
            return result

    def _with_stored(self, operation: BulkOperationRecord) -> ResultFile:
        """The operation's own result file: the generated result, then the stored resources' objects."""
        generated = operation.result
        assert generated is not None  # noqa: S101 - set just before
        path = self.work_dir / f"result-{operation.number}-stored.jsonl"
        shutil.copyfile(generated.path, path)
        escape = bool(self.behaviour["escape_slashes"])
        roots = 0
        with path.open("ab") as out:
            for obj in operation.stored:
                text = json.dumps(obj, separators=(",", ":"), ensure_ascii=False)
                out.write((text.replace("/", "\\/") if escape else text).encode("utf-8") + b"\n")
                roots += "__parentId" not in obj
        return ResultFile(
            path,
            path.stat().st_size,
            generated.object_count + len(operation.stored),
            generated.root_object_count + roots,
        )

    def read_operation(self, operation: BulkOperationRecord) -> dict[str, Any]:
        """One status read: advances the operation like time would, and renders it."""
        with self.lock:
            operation.reads += 1
            if operation.status in {"CREATED", "RUNNING", "CANCELING"}:
                if operation.status == "CANCELING":
                    operation.status = "CANCELED"
                    operation.completed_at = datetime.now(UTC).replace(microsecond=0)
                elif operation.reads > operation.running_polls and operation.ready.is_set():
                    self._finish(operation)
                else:
                    operation.status = "RUNNING"
            return self.render_operation(operation)

    def _finish(self, operation: BulkOperationRecord) -> None:
        outcome = operation.outcome
        operation.completed_at = datetime.now(UTC).replace(microsecond=0)
        if operation.result_error:
            operation.status = "FAILED"
            operation.outcome = {"status": "FAILED", "error_code": "INTERNAL_SERVER_ERROR"}
            return
        operation.status = str(outcome.get("status", "COMPLETED"))

    def grant_url(self, operation: BulkOperationRecord) -> str | None:
        """A signed URL for the operation's result, reused until it expires."""
        file = operation.result
        if file is None:
            return None
        with self.lock:
            grant = self.urls.get(operation.url_token or "")
            now = time.time()
            if grant is None or grant.revoked or grant.expires_at <= now:
                token = secrets.token_urlsafe(18)
                cut = self.behaviour.get("expire_url_after_bytes")
                self.behaviour["expire_url_after_bytes"] = None
                grant = UrlGrant(
                    operation.id, file, now + float(self.behaviour["url_ttl_seconds"]), int(cut) if cut else None
                )
                self.urls[token] = grant
                operation.url_token = token
                self.counters["urls_issued"] += 1
            expires = int(grant.expires_at)
            return f"{self.base_url}/_results/{operation.url_token}/bulk-{operation.number}.jsonl?Expires={expires}"

    def render_operation(self, operation: BulkOperationRecord) -> dict[str, Any]:
        status = operation.status
        file = operation.result
        running = status in {"CREATED", "RUNNING", "CANCELING"}
        rendered: dict[str, Any] = {
            "__typename": "BulkOperation",
            "id": operation.id,
            "status": status,
            "errorCode": None,
            "createdAt": _iso(operation.created_at),
            "completedAt": _iso(operation.completed_at) if operation.completed_at else None,
            "objectCount": "0",
            "rootObjectCount": "0",
            "fileSize": None,
            "url": None,
            "partialDataUrl": None,
            "query": operation.query,
            "type": "QUERY",
        }
        if running and file is not None:
            progress = min(1.0, operation.reads / (operation.running_polls + 1))
            rendered["objectCount"] = str(int(file.object_count * progress))
            rendered["rootObjectCount"] = str(int(file.root_object_count * progress))
        if status == "COMPLETED" and file is not None:
            rendered["objectCount"] = str(file.object_count + operation.object_count_offset)
            rendered["rootObjectCount"] = str(file.root_object_count)
            rendered["fileSize"] = str(file.size)
            rendered["url"] = self.behaviour.get("result_url") or self.grant_url(operation)
        elif status == "FAILED":
            rendered["errorCode"] = operation.outcome.get("error_code", "INTERNAL_SERVER_ERROR")
            if file is not None:
                rendered["objectCount"] = str(file.object_count)
                rendered["rootObjectCount"] = str(file.root_object_count)
                rendered["fileSize"] = str(file.size)
                rendered["partialDataUrl"] = self.behaviour.get("result_url") or self.grant_url(operation)
        return rendered

    def current_operation(self) -> BulkOperationRecord | None:
        """The app's most recent bulk query operation (what ``currentBulkOperation`` returns)."""
        with self.lock:
            return list(self.operations.values())[-1] if self.operations else None

    def running_operation(self) -> BulkOperationRecord | None:
        with self.lock:
            for operation in self.operations.values():
                if operation.status in {"CREATED", "RUNNING", "CANCELING"}:
                    return operation
        return None

    def snapshot(self) -> dict[str, Any]:
        with self.lock:
            return {
                "behaviour": copy.deepcopy(self.behaviour),
                "counters": dict(self.counters),
                "operations": [
                    {
                        "id": o.id,
                        "status": o.status,
                        "reads": o.reads,
                        "resource": o.resource,
                        "first": o.first,
                        "last": o.last,
                        "object_count": o.result.object_count if o.result else None,
                        "root_object_count": o.result.root_object_count if o.result else None,
                        "file_size": o.result.size if o.result else None,
                    }
                    for o in self.operations.values()
                ],
                "resources": {kind: len(items) for kind, items in self.resources.items()},
            }

    def add_resources(self, kind: str, body: Any) -> int:
        items = body if isinstance(body, list) else [body]
        if not re.fullmatch(r"[a-z][a-z0-9_]{0,40}", kind):
            raise ValueError(f"resource type must be a lower-case name such as orders, got {kind!r}")
        for item in items:
            if not isinstance(item, dict) or "id" not in item:
                raise ValueError("each resource must be a JSON object with an id")
        with self.lock:
            store = self.resources.setdefault(kind, {})
            for item in items:
                store[str(item["id"])] = item
        return len(items)

    def cleanup(self) -> None:
        if self._own_dir:
            shutil.rmtree(self.work_dir, ignore_errors=True)


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


# ====================================================================================== shop data

_PRODUCTS = (
    ("Classic Tee", "TEE-CL", "24.00"),
    ("Hoodie", "HD-01", "58.00"),
    ("Canvas Tote", "TOTE-C", "18.50"),
    ("Wool Beanie", "BN-WL", "22.00"),
    ("Running Socks (3 pack)", "SK-RN3", "15.00"),
    ("Rain Jacket", "JK-RN", "129.00"),
    ("Water Bottle", "BT-750", "27.90"),
)
_PLACES = (
    ("Ottawa", "Ontario", "ON", "Canada", "CA", "K2P 1L4"),
    ("Austin", "Texas", "TX", "United States", "US", "78701"),
    ("Portland", "Oregon", "OR", "United States", "US", "97205"),
    ("Leeds", "England", "ENG", "United Kingdom", "GB", "LS1 4AP"),
    ("Lyon", "Auvergne-Rhone-Alpes", "ARA", "France", "FR", "69002"),
)
_NAMES = ("Ada", "Bo", "Cleo", "Dev", "Eli", "Fen", "Gus", "Hana", "Ivo", "Jun")
_SURNAMES = ("Lovelace", "Ng", "Ortiz", "Patel", "Quinn", "Rossi", "Sato", "Tan")


def order_times(index: int, orders: int) -> tuple[datetime, datetime]:
    """(createdAt, updatedAt) of order ``index``: deterministic, in the past, and in index order (an
    order is updated less than a minute after it is created), so a window is a range of indexes."""
    created = SHOP_ANCHOR - timedelta(seconds=(orders - index) * ORDER_SPACING_SECONDS)
    updated = created + timedelta(seconds=5 * (index % 11))
    return created, updated


_FILTER = re.compile(r"updated_at\s*:\s*(?P<op>>=|<=|>|<)\s*(?:'(?P<q1>[^']*)'|\"(?P<q2>[^\"]*)\"|(?P<bare>[^\s)]+))")


def window_indexes(
    query: str, orders: int, times: Callable[[int, int], tuple[datetime, datetime]] | None = None
) -> tuple[int, int]:
    """Indexes [first, last) of the ``orders`` objects (orders unless ``times`` says otherwise) whose
    updatedAt passes the ``updated_at`` filters in the bulk query."""
    times = times or order_times
    lower, upper = _bounds(query)

    def above_lower(index: int) -> bool:
        return all(_passes(times(index, orders)[1], op, bound) for op, bound in lower)

    def beyond_upper(index: int) -> bool:
        return not all(_passes(times(index, orders)[1], op, bound) for op, bound in upper)

    # updatedAt grows with the index, so each bound splits the orders in two: bisect for the split.
    first = bisect.bisect_left(range(orders), True, key=above_lower)
    last = bisect.bisect_left(range(orders), True, key=beyond_upper)
    return (first, last) if first < last else (0, 0)


def _bounds(query: str) -> tuple[list[tuple[str, datetime]], list[tuple[str, datetime]]]:
    """The lower and upper ``updated_at`` bounds of a bulk query's filter, as (operator, instant)."""
    bounds: list[tuple[str, datetime]] = []
    for match in _FILTER.finditer(query.replace('\\"', '"')):
        text = match["q1"] or match["q2"] or match["bare"] or ""
        with contextlib.suppress(ValueError):
            bounds.append((match["op"], datetime.fromisoformat(text.replace("Z", "+00:00"))))
    return [b for b in bounds if b[0] in {">", ">="}], [b for b in bounds if b[0] in {"<", "<="}]


def _connection_node(selected: Field) -> Field | None:
    """The ``node`` field of a connection selection (``x { edges { node { ... } } }``), else None."""
    for edges in selected.selections:
        if isinstance(edges, Field) and edges.name == "edges":
            for node in edges.selections:
                if isinstance(node, Field) and node.name == "node":
                    return node
    return None


def bulk_objects(node: dict[str, Any], bulk_query: str) -> list[dict[str, Any]]:
    """A resource's GraphQL node (connections as ``{"nodes": [...]}``) as the JSONL objects of a bulk
    result of ``bulk_query``: the root projected onto the query's node selection, each connection's
    nodes as objects of their own with ``__parentId`` (``groupObjects: false``), as Shopify writes them."""
    operation = parse_operation(bulk_query)
    top = _connection_node(operation.fields[0]) if operation.fields else None
    if top is None:
        return []
    root: dict[str, Any] = {}
    children: list[dict[str, Any]] = []
    for selected in _flatten(top.selections, node, operation.fragments):
        inner = _connection_node(selected)
        value = node.get(selected.name)
        if inner is None:
            root[selected.key] = project(value, selected.selections, operation.fragments)
            continue
        items = value.get("nodes") if isinstance(value, dict) else value
        for item in items or []:
            child = project(item, inner.selections, operation.fragments)
            children.append({**child, "__parentId": node.get("id")})
    return [root, *children]


# Resource type -> its REST shape rendered as a GraphQL node (``shopify_resources`` registers them):
# what ``export_stored`` puts in a bulk result.
STORED_NODES: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {}


def _passes(value: datetime, op: str, bound: datetime) -> bool:
    if bound.tzinfo is None:
        bound = bound.replace(tzinfo=UTC)
    return {">=": value >= bound, ">": value > bound, "<=": value <= bound, "<": value < bound}[op]


def _money(amount: float, currency: str) -> dict[str, Any]:
    text = f"{amount:.2f}"
    return {
        "shopMoney": {"amount": text, "currencyCode": currency},
        "presentmentMoney": {"amount": text, "currencyCode": currency},
    }


def _address(rng: random.Random, first: str, last: str) -> dict[str, Any]:
    city, province, code, country, country_code, zip_code = rng.choice(_PLACES)
    return {
        "firstName": first,
        "lastName": last,
        "address1": f"{rng.randint(1, 999)} {rng.choice(('Main', 'Elm', 'King', 'Queen'))} Street",
        "address2": None if rng.random() < 0.7 else f"Unit {rng.randint(1, 40)}",
        "city": city,
        "province": province,
        "provinceCode": code,
        "country": country,
        "countryCodeV2": country_code,
        "zip": zip_code,
        "phone": None,
    }


def order_lines(seed: int, index: int, orders: int) -> list[dict[str, Any]]:
    """Order ``index`` as bulk objects: the order (lists embedded) and its connection children."""
    rng = random.Random(seed * 1_000_003 + index)  # noqa: S311 - test data, not cryptography
    order_id = 450_000_000_000 + index
    order_gid = f"gid://shopify/Order/{order_id}"
    created, updated = order_times(index, orders)
    currency = "USD"
    first, last = rng.choice(_NAMES), rng.choice(_SURNAMES)
    children: list[dict[str, Any]] = []
    subtotal = 0.0
    for position in range(1 + rng.randrange(4)):
        title, sku, price = rng.choice(_PRODUCTS)
        quantity = 1 + rng.randrange(3)
        amount = float(price) * quantity
        subtotal += amount
        product = PRODUCT_BASE_ID + _PRODUCTS.index((title, sku, price))
        children.append(
            {
                "__typename": "LineItem",
                "id": f"gid://shopify/LineItem/{13_000_000_000_000 + index * 8 + position}",
                "name": title,
                "title": title,
                "sku": f"{sku}-{rng.choice('SML')}",
                "quantity": quantity,
                "currentQuantity": quantity,
                "variant": {"id": f"gid://shopify/ProductVariant/{product * 10 + rng.randrange(3)}"},
                "product": {"id": f"gid://shopify/Product/{product}"},
                "originalUnitPriceSet": _money(float(price), currency),
                "discountedTotalSet": _money(amount, currency),
                "taxable": True,
                "requiresShipping": True,
                "__parentId": order_gid,
            }
        )
    discount = 0.0
    if rng.random() < 0.3:
        percentage = rng.choice((10.0, 15.0, 20.0))
        discount = round(subtotal * percentage / 100, 2)
        children.append(
            {
                "__typename": "DiscountCodeApplication",
                "allocationMethod": "ACROSS",
                "targetSelection": "ALL",
                "targetType": "LINE_ITEM",
                "value": {"__typename": "PricingPercentageValue", "percentage": percentage},
                "code": rng.choice(("WELCOME10", "SPRING15", "VIP20")),
                "__parentId": order_gid,
            }
        )
    elif rng.random() < 0.15:
        discount = 5.0
        children.append(
            {
                "__typename": "AutomaticDiscountApplication",
                "allocationMethod": "ACROSS",
                "targetSelection": "ALL",
                "targetType": "SHIPPING_LINE",
                "value": {"__typename": "MoneyV2", "amount": "5.00", "currencyCode": currency},
                "title": "Free shipping over 50",
                "__parentId": order_gid,
            }
        )
    shipping = 0.0 if subtotal > 50 else 6.5
    tax = round((subtotal - discount) * 0.08, 2)
    total = round(subtotal - discount + shipping + tax, 2)
    processed = created + timedelta(seconds=rng.randint(1, 30))
    transactions = [
        {
            "id": f"gid://shopify/OrderTransaction/{9_000_000_000_000 + index * 4}",
            "kind": "SALE",
            "status": "SUCCESS",
            "gateway": rng.choice(("shopify_payments", "paypal")),
            "amountSet": _money(total, currency),
            "processedAt": _iso(processed),
            "parentTransaction": None,
        }
    ]
    refunds = []
    financial = "PAID"
    if rng.random() < 0.1:
        refunded = round(total * rng.choice((0.25, 0.5, 1.0)), 2)
        refund_at = processed + timedelta(days=rng.randint(1, 20))
        financial = "REFUNDED" if refunded == total else "PARTIALLY_REFUNDED"
        refunds.append(
            {
                "id": f"gid://shopify/Refund/{700_000_000_000 + index}",
                "createdAt": _iso(refund_at),
                "note": rng.choice((None, "damaged in transit", "wrong size")),
                "totalRefundedSet": _money(refunded, currency),
            }
        )
        transactions.append(
            {
                "id": f"gid://shopify/OrderTransaction/{9_000_000_000_000 + index * 4 + 1}",
                "kind": "REFUND",
                "status": "SUCCESS",
                "gateway": transactions[0]["gateway"],
                "amountSet": _money(refunded, currency),
                "processedAt": _iso(refund_at),
                "parentTransaction": {"id": transactions[0]["id"]},
            }
        )
    fulfillments = []
    fulfilment_status = "UNFULFILLED"
    if rng.random() < 0.75:
        fulfilment_status = "FULFILLED"
        fulfillments.append(
            {
                "id": f"gid://shopify/Fulfillment/{5_500_000_000_000 + index}",
                "status": "SUCCESS",
                "createdAt": _iso(processed + timedelta(hours=rng.randint(2, 72))),
                "updatedAt": _iso(updated),
                "trackingInfo": [
                    {
                        "company": rng.choice(("UPS", "Canada Post", "DHL Express")),
                        "number": f"1Z{rng.randrange(10**12):012d}",
                        "url": "https://www.ups.com/track?tracknum=" + str(rng.randrange(10**12)),
                    }
                ],
            }
        )
    customer = (
        None
        if rng.random() < 0.08
        else {"id": f"gid://shopify/Customer/{CUSTOMER_BASE_ID + rng.randrange(customer_count(orders))}"}
    )
    shipping_address = _address(rng, first, last)
    order: dict[str, Any] = {
        "__typename": "Order",
        "id": order_gid,
        "name": f"#{1001 + index}",
        "email": f"{first.lower()}.{last.lower()}{index % 97}@example.com",
        "createdAt": _iso(created),
        "updatedAt": _iso(updated),
        "processedAt": _iso(processed),
        "cancelledAt": None,
        "closedAt": None,
        "currencyCode": currency,
        "displayFinancialStatus": financial,
        "displayFulfillmentStatus": fulfilment_status,
        "subtotalPriceSet": _money(subtotal, currency),
        "totalDiscountsSet": _money(discount, currency),
        "totalShippingPriceSet": _money(shipping, currency),
        "totalTaxSet": _money(tax, currency),
        "totalPriceSet": _money(total, currency),
        "discountCodes": [c["code"] for c in children if c["__typename"] == "DiscountCodeApplication"],
        "tags": rng.sample(["wholesale", "gift", "vip", "first-order", "subscription"], rng.randrange(3)),
        "customer": customer,
        "shippingAddress": shipping_address,
        "billingAddress": shipping_address if rng.random() < 0.8 else _address(rng, first, last),
        "refunds": refunds,
        "fulfillments": fulfillments,
        "transactions": transactions,
    }
    # Drawn last, so the fields above stay what they were before these were added.
    refunded = sum(float(_amount(r["totalRefundedSet"])) for r in refunds)
    order.update(
        {
            "cancelReason": None,
            "presentmentCurrencyCode": currency,
            "test": rng.random() < 0.02,
            "sourceName": rng.choice(("web", "web", "web", "pos", "shopify_draft_order")),
            "checkoutToken": f"{rng.getrandbits(128):032x}",
            "cartToken": f"{rng.getrandbits(96):024x}",
            "currentTotalPriceSet": _money(total - refunded, currency),
            "totalRefundedSet": _money(refunded, currency),
        }
    )
    return [order, *children]


def _amount(money: Any) -> str:
    return str(money["shopMoney"]["amount"])


def customer_count(orders: int) -> int:
    """Customers of a shop of ``orders`` orders: ids ``CUSTOMER_BASE_ID`` + [0, count); orders name them."""
    return orders // 3 + 1


def customer_times(index: int, customers: int) -> tuple[datetime, datetime]:
    """(createdAt, updatedAt) of customer ``index``: in the past and growing with the index."""
    created = SHOP_ANCHOR - timedelta(seconds=(customers - index) * CUSTOMER_SPACING_SECONDS + 86400)
    return created, created + timedelta(seconds=60 + 7 * (index % 5))  # after its consents (< a minute in)


def product_times(index: int, products: int) -> tuple[datetime, datetime]:
    """(createdAt, updatedAt) of product ``index``: in the past and growing with the index."""
    created = SHOP_ANCHOR - timedelta(seconds=(products - index) * PRODUCT_SPACING_SECONDS)
    return created, created + timedelta(hours=index + 1)


@dataclass(frozen=True)
class CustomerOrders:
    count: int = 0
    spent: float = 0.0
    last_order: str | None = None


@functools.lru_cache(maxsize=8)
def customer_orders(seed: int, orders: int) -> dict[int, CustomerOrders]:
    """Per customer index, what the shop's orders say: how many, the amount spent, the newest order."""
    found: dict[int, CustomerOrders] = {}
    for index in range(orders):
        order = order_lines(seed, index, orders)[0]
        if order["customer"] is None:
            continue
        customer = int(order["customer"]["id"].rsplit("/", 1)[1]) - CUSTOMER_BASE_ID
        seen = found.get(customer, CustomerOrders())
        total = float(order["totalPriceSet"]["shopMoney"]["amount"])
        found[customer] = CustomerOrders(seen.count + 1, seen.spent + total, order["id"])  # index order: newest last
    return found


def customer_lines(seed: int, index: int, orders: int) -> list[dict[str, Any]]:
    """Customer ``index`` as a bulk object (no contact details: the export does not ask for them)."""
    rng = random.Random(seed * 2_000_003 + index)  # noqa: S311 - test data, not cryptography
    created, updated = customer_times(index, customer_count(orders))
    history = customer_orders(seed, orders).get(index, CustomerOrders())
    _, _, province, _, country, _ = rng.choice(_PLACES)
    consented = _iso(created + timedelta(seconds=rng.randint(1, 60)))
    sms = None
    if rng.random() < 0.4:
        sms = {
            "marketingState": rng.choice(("SUBSCRIBED", "NOT_SUBSCRIBED", "UNSUBSCRIBED")),
            "marketingOptInLevel": "SINGLE_OPT_IN",
            "consentUpdatedAt": consented,
            "consentCollectedFrom": "SHOPIFY",
        }
    return [
        {
            "__typename": "Customer",
            "id": f"gid://shopify/Customer/{CUSTOMER_BASE_ID + index}",
            "createdAt": _iso(created),
            "updatedAt": _iso(updated),
            "state": "ENABLED" if rng.random() < 0.7 else "DISABLED",
            "verifiedEmail": rng.random() < 0.9,
            "taxExempt": rng.random() < 0.05,
            "tags": rng.sample(["wholesale", "vip", "newsletter", "returning"], rng.randrange(3)),
            "numberOfOrders": str(history.count),
            "amountSpent": {"amount": f"{history.spent:.2f}", "currencyCode": "USD"},
            "lastOrder": {"id": history.last_order} if history.last_order else None,
            "emailMarketingConsent": {
                "marketingState": rng.choice(("SUBSCRIBED", "NOT_SUBSCRIBED", "UNSUBSCRIBED")),
                "marketingOptInLevel": rng.choice(("SINGLE_OPT_IN", "CONFIRMED_OPT_IN")),
                "consentUpdatedAt": consented,
            },
            "smsMarketingConsent": sms,
            "defaultAddress": {"countryCodeV2": country, "provinceCode": province},
        }
    ]


def product_lines(index: int) -> list[dict[str, Any]]:
    """Product ``index`` of the catalogue (the products the line items name) and its three variants,
    whose ids are the ones line items name (``<product id> * 10 + 0..2``)."""
    title, sku, price = _PRODUCTS[index]
    product = PRODUCT_BASE_ID + index
    gid = f"gid://shopify/Product/{product}"
    created, updated = product_times(index, len(_PRODUCTS))
    lines: list[dict[str, Any]] = [
        {
            "__typename": "Product",
            "id": gid,
            "title": title,
            "handle": re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-"),
            "vendor": "Local Outfitters",
            "productType": sku.split("-", 1)[0],
            "status": "ACTIVE" if index % 5 else "DRAFT",
            "createdAt": _iso(created),
            "updatedAt": _iso(updated),
            "publishedAt": _iso(created) if index % 5 else None,
            "tags": ["apparel"] if index % 2 else [],
        }
    ]
    for position, size in enumerate("SML"):
        variant = product * 10 + position
        lines.append(
            {
                "__typename": "ProductVariant",
                "id": f"gid://shopify/ProductVariant/{variant}",
                "title": size,
                "sku": f"{sku}-{size}",
                "price": price,
                "inventoryItem": {"id": f"gid://shopify/InventoryItem/{variant + 40_000_000_000}"},
                "__parentId": gid,
            }
        )
    return lines


def resource_count(resource: str, orders: int) -> int:
    """How many root objects of ``resource`` a shop of ``orders`` orders has."""
    return {"orders": orders, "customers": customer_count(orders), "products": len(_PRODUCTS)}[resource]


def resource_lines(resource: str, seed: int, index: int, orders: int) -> list[dict[str, Any]]:
    if resource == "customers":
        return customer_lines(seed, index, orders)
    if resource == "products":
        return product_lines(index)
    return order_lines(seed, index, orders)


RESOURCE_TIMES: dict[str, Callable[[int, int], tuple[datetime, datetime]]] = {
    "orders": order_times,
    "customers": customer_times,
    "products": product_times,
}


def iter_result_lines(
    seed: int, first: int, last: int, *, orders: int, escape: bool, resource: str = "orders"
) -> Iterator[tuple[bytes, bool]]:
    """(line, is_root) of the result for the resource's objects [first, last), block by block, children
    shuffled in."""
    for block_start in range(first, last, BLOCK_ORDERS):
        objects: list[dict[str, Any]] = []
        for index in range(block_start, min(last, block_start + BLOCK_ORDERS)):
            objects.extend(resource_lines(resource, seed, index, orders))
        random.Random(seed ^ (block_start * 7919)).shuffle(objects)  # noqa: S311 - test data
        for obj in objects:
            text = json.dumps(obj, separators=(",", ":"), ensure_ascii=False)
            if escape:
                text = text.replace("/", "\\/")
            yield text.encode("utf-8"), "__parentId" not in obj


def write_result(
    path: Path,
    *,
    seed: int,
    orders: int,
    first: int,
    last: int,
    fraction: float = 1.0,
    escape: bool = True,
    resource: str = "orders",
) -> ResultFile:
    """Write the result JSONL for the resource's objects [first, last) of a shop of ``orders`` orders (a
    partial result keeps the first blocks)."""
    if fraction < 1.0:
        blocks = math.ceil((last - first) / BLOCK_ORDERS)
        last = min(last, first + max(1, int(blocks * fraction)) * BLOCK_ORDERS)
    objects = roots = 0
    tmp = path.with_suffix(".tmp")
    with tmp.open("wb", buffering=1024 * 1024) as out:
        for line, is_root in iter_result_lines(seed, first, last, orders=orders, escape=escape, resource=resource):
            out.write(line)
            out.write(b"\n")
            objects += 1
            roots += is_root
    tmp.replace(path)
    return ResultFile(path, path.stat().st_size, objects, roots)


def orders_for_bytes(target_bytes: int, *, seed: int = DEFAULT_BEHAVIOUR["seed"], sample: int = 400) -> int:
    """How many orders make a result of about ``target_bytes`` (from the size of a sample)."""
    size = sum(len(line) + 1 for line, _ in iter_result_lines(seed, 0, sample, orders=sample, escape=True))
    return max(1, round(target_bytes / (size / sample)))


# =========================================================================================== resolvers

Resolver = Callable[[SimulatorState, dict[str, Any], str], Any]


def _run_query(state: SimulatorState, variables: dict[str, Any], query: str) -> Any:
    arguments = field_arguments(query, variables, "bulkOperationRunQuery")
    bulk_query = arguments.get("query")
    if not isinstance(bulk_query, str) or not bulk_query.strip():
        raise GraphQLError("Variable $query of type String! was provided invalid value", code="INVALID_VARIABLE")
    forced = state._take("user_error")
    running = state.running_operation()
    if forced or running is not None:
        code = (forced or {}).get("code", "OPERATION_IN_PROGRESS")
        state.counters[f"user_error_{code.lower()}"] += 1
        message = {
            "OPERATION_IN_PROGRESS": "A bulk query operation for this app and shop is already in progress: "
            + (running.id if running else "gid://shopify/BulkOperation/4099999999")
            + ".",
            "LIMIT_REACHED": "Bulk operations limit reached for this shop. Please try again later.",
        }.get(code, "Invalid bulk query: " + str((forced or {}).get("message", "the query is not valid")))
        return {"bulkOperation": None, "userErrors": [{"field": ["query"], "message": message, "code": code}]}
    try:
        parse_operation(bulk_query)
    except GraphQLError as exc:
        state.counters["user_error_invalid"] += 1
        return {
            "bulkOperation": None,
            "userErrors": [{"field": ["query"], "message": f"Invalid bulk query: {exc.message}", "code": "INVALID"}],
        }
    resource = bulk_resource(bulk_query)
    if resource is None:
        message = "The simulator exports orders, customers and products only."
        return {"bulkOperation": None, "userErrors": [{"field": ["query"], "message": message, "code": "INVALID"}]}
    operation = state.new_operation(bulk_query, resource)
    state.counters["operations_created"] += 1
    return {"bulkOperation": state.render_operation(operation), "userErrors": []}


def bulk_resource(bulk_query: str) -> str | None:
    """The resource a bulk query exports (its top-level connection), or None for one not simulated."""
    fields = parse_operation(bulk_query).fields
    name = fields[0].name if fields else None
    return name if name in RESOURCE_TIMES else None


def _cancel(state: SimulatorState, variables: dict[str, Any], query: str) -> Any:
    operation = state.operations.get(str(field_arguments(query, variables, "bulkOperationCancel").get("id")))
    if operation is None:
        return {"bulkOperation": None, "userErrors": [{"field": ["id"], "message": "Bulk operation does not exist"}]}
    with state.lock:
        if operation.status in {"CREATED", "RUNNING"}:
            operation.status = "CANCELING"
    return {"bulkOperation": state.render_operation(operation), "userErrors": []}


def _bulk_operation(state: SimulatorState, variables: dict[str, Any], query: str) -> Any:
    operation = state.operations.get(str(field_arguments(query, variables, "bulkOperation").get("id")))
    return state.read_operation(operation) if operation else None


def _current(state: SimulatorState, variables: dict[str, Any], query: str) -> Any:
    operation = state.current_operation()
    return state.read_operation(operation) if operation else None


def _bulk_node(state: SimulatorState, gid: str) -> dict[str, Any] | None:
    operation = state.operations.get(gid)
    return state.read_operation(operation) if operation else None


NODE_TYPES: dict[str, Callable[[SimulatorState, str], dict[str, Any] | None]] = {"BulkOperation": _bulk_node}


def _node(state: SimulatorState, variables: dict[str, Any], query: str) -> Any:
    gid = str(field_arguments(query, variables, "node").get("id", ""))
    match = re.match(r"^gid://shopify/(?P<type>[A-Za-z]+)/", gid)
    if match is None:
        raise GraphQLError(f"Invalid global id '{gid}'", code="INVALID_GLOBAL_ID")
    lookup = NODE_TYPES.get(match["type"])
    return lookup(state, gid) if lookup else None


def _app_installation(state: SimulatorState, variables: dict[str, Any], query: str) -> Any:
    return {"accessScopes": [{"handle": s} for s in state.behaviour["scopes"]]}


def _shop(state: SimulatorState, variables: dict[str, Any], query: str) -> Any:
    return {
        "__typename": "Shop",
        "name": "Local simulated shop",
        "myshopifyDomain": "example.myshopify.com",
        "currencyCode": "USD",
    }


QUERY_FIELDS: dict[str, Resolver] = {
    "bulkOperationRunQuery": _run_query,
    "bulkOperationCancel": _cancel,
    "bulkOperation": _bulk_operation,
    "currentBulkOperation": _current,
    "node": _node,
    "currentAppInstallation": _app_installation,
    "shop": _shop,
}
FIELD_COSTS: dict[str, float] = {"bulkOperationRunQuery": 10.0, "bulkOperationCancel": 10.0}


def execute(state: SimulatorState, query: str, variables: dict[str, Any] | None) -> dict[str, Any]:
    """A GraphQL request's response body (HTTP 200), throttling and cost included."""
    variables = dict(variables or {})
    try:
        operation = parse_operation(query, variables)
    except GraphQLError as exc:
        return {"errors": [{"message": exc.message, "extensions": {"code": "PARSE_ERROR"}}]}
    cost = sum(FIELD_COSTS.get(f.name, 1.0) for f in operation.fields) or 1.0
    allowed, available = state.spend(cost)
    throttle_status = {
        "maximumAvailable": BUCKET_MAXIMUM,
        "currentlyAvailable": available,
        "restoreRate": BUCKET_RESTORE_RATE,
    }
    if not allowed:
        state.counters["throttled"] += 1
        return {
            "errors": [
                {
                    "message": "Throttled",
                    "extensions": {"code": "THROTTLED", "documentation": "https://shopify.dev/api/usage/rate-limits"},
                }
            ],
            "extensions": {
                "cost": {"requestedQueryCost": cost, "actualQueryCost": None, "throttleStatus": throttle_status}
            },
        }
    data: dict[str, Any] = {}
    errors: list[dict[str, Any]] = []
    for top in operation.fields:
        resolver = QUERY_FIELDS.get(top.name)
        if resolver is None:
            root = "Mutation" if operation.kind == "mutation" else "QueryRoot"
            errors.append(
                {
                    "message": f"Field '{top.name}' doesn't exist on type '{root}'",
                    "path": [operation.kind, top.key],
                    "extensions": {"code": "undefinedField", "typeName": root, "fieldName": top.name},
                }
            )
            continue
        try:
            data[top.key] = project(resolver(state, variables, query), top.selections, operation.fragments)
        except GraphQLError as exc:
            data[top.key] = None
            entry: dict[str, Any] = {"message": exc.message, "path": [top.key]}
            if exc.code:
                entry["extensions"] = {"code": exc.code}
            errors.append(entry)
    body: dict[str, Any] = {}
    if errors:
        body["errors"] = errors
    if data or not errors:
        body["data"] = data
    body["extensions"] = {
        "cost": {"requestedQueryCost": cost, "actualQueryCost": cost, "throttleStatus": throttle_status}
    }
    return body


# ============================================================================================== HTTP


class _Handler(JsonRequestHandler):
    server: _Server

    # -------------------------------------------------------------------------------- routes

    def do_POST(self) -> None:  # noqa: N802 - the name http.server dispatches to
        simulator = self.server.simulator
        path = urlsplit(self.path).path
        try:
            if _GRAPHQL_PATH.match(path):
                self._graphql(simulator)
            elif path == "/_simulator/control":
                self._json(200, {"behaviour": simulator.state.configure(**json.loads(self._body() or b"{}"))})
            elif path == "/_simulator/reset":
                options = json.loads(self._body() or b"{}")
                simulator.state.reset(operations=bool(options.get("operations")))
                self._json(200, {"behaviour": simulator.state.behaviour})
            elif path.startswith("/_simulator/resources/"):
                count = simulator.state.add_resources(path.rsplit("/", 1)[1], json.loads(self._body() or b"null"))
                self._json(201, {"stored": count})
            else:
                self._json(404, {"errors": "Not Found"})
        except (ValueError, TypeError) as exc:
            self._json(400, {"errors": str(exc)})

    def do_GET(self) -> None:  # noqa: N802 - the name http.server dispatches to
        simulator = self.server.simulator
        path = urlsplit(self.path).path
        if path.startswith("/_results/"):
            self._result(simulator, path)
        elif path == "/_simulator/state":
            self._json(200, simulator.state.snapshot())
        elif path.startswith("/_simulator/resources/"):
            kind = path.rsplit("/", 1)[1]
            self._json(200, list(simulator.state.resources.get(kind, {}).values()))
        elif _GRAPHQL_PATH.match(path):
            self._json(405, {"errors": "GraphQL requests use POST"})
        else:
            self._json(404, {"errors": "Not Found"})

    def _graphql(self, simulator: ShopifyAdminSimulator) -> None:
        state = simulator.state
        state.counters["requests"] += 1
        body = self._body()
        token = self.headers.get(TOKEN_HEADER)
        if not token:
            state.counters["unauthorized"] += 1
            self._json(401, {"errors": "[API] Invalid API key or access token (unrecognized login or wrong password)"})
            return
        if not simulator.token_is_valid(token):
            state.counters["unauthorized"] += 1
            self._json(401, {"errors": "[API] Invalid API key or access token (unrecognized login or wrong password)"})
            return
        forced = state._take("http_error")
        if forced:
            status = int(forced.get("status", 503))
            state.counters[f"http_{status}"] += 1
            headers = {"Retry-After": "1"} if status == 429 else {}
            message = (
                "Exceeded 2 calls per second for api client. Reduce request rates to resume uninterrupted service."
            )
            self._json(status, {"errors": message if status == 429 else "Internal Server Error"}, headers)
            return
        content_type = self.headers.get("Content-Type", "")
        if content_type.startswith("application/graphql"):
            query, variables = body.decode("utf-8"), dict[str, Any]()
        else:
            try:
                request = json.loads(body or b"{}")
            except ValueError:
                self._json(400, {"errors": "Bad Request: the body is not JSON"})
                return
            query, variables = request.get("query"), request.get("variables") or {}
        if not isinstance(query, str) or not query.strip():
            self._json(400, {"errors": {"query": "Required parameter missing or invalid"}})
            return
        self._json(200, execute(state, query, variables))

    def _redirected(self, state: SimulatorState) -> bool:
        """Count the result request (and any credentials it carries); answer 302 when told to."""
        state.counters["result_requests"] += 1
        if self.headers.get("Authorization") or self.headers.get(TOKEN_HEADER):
            state.counters["result_requests_with_credentials"] += 1
        redirect = state.behaviour.get("redirect_results")
        if not redirect:
            return False
        state.counters["result_redirects"] += 1
        self.send_response(302)
        self.send_header("Location", str(redirect))
        self.send_header("Content-Length", "0")
        self.end_headers()
        return True

    def _result(self, simulator: ShopifyAdminSimulator, path: str) -> None:
        state = simulator.state
        if self._redirected(state):
            return
        token = path.split("/")[2] if path.count("/") >= 3 else ""
        with state.lock:
            grant = state.urls.get(token)
            expired = grant is not None and (grant.revoked or grant.expires_at <= time.time())
        if grant is None:
            self._xml(404, "NoSuchKey", "The specified key does not exist.")
            return
        if expired:
            state.counters["expired_url_requests"] += 1
            self._xml(400, "ExpiredToken", "The provided token has expired. Request signature expired.")
            return
        size = grant.file.size
        ranged = self.headers.get("Range")
        span = self._requested_span(ranged, size)
        if span is None:
            return
        start, end = span
        length = end - start + 1
        limit = length
        with state.lock:
            cut = state.behaviour.get("cut_after_bytes")
            if cut:
                state.behaviour["cut_after_bytes"] = None
                limit = min(limit, int(cut))
            if grant.cut_after is not None:
                limit = min(limit, max(0, grant.cut_after - grant.served))
        self.send_response(206 if ranged else 200)
        self.send_header("Content-Type", "application/jsonl")
        self.send_header("Accept-Ranges", "bytes")
        self.send_header("Content-Length", str(length))
        if ranged:
            self.send_header("Content-Range", f"bytes {start}-{end}/{size}")
        self.end_headers()
        sent = self._send_file(grant.file.path, start, limit)
        with state.lock:
            grant.served += sent
            state.counters["result_bytes_served"] += sent
            broke_off = sent < length
            if broke_off and grant.cut_after is not None and grant.served >= grant.cut_after:
                grant.revoked = True
        if broke_off:
            state.counters["connections_cut"] += 1
            self.close_connection = True
            with contextlib.suppress(OSError):
                self.connection.shutdown(socket.SHUT_RDWR)

    def _requested_span(self, ranged: str | None, size: int) -> tuple[int, int] | None:
        """The byte span a GET asks for; None after answering 416 for one that cannot be served."""
        if not ranged:
            return 0, size - 1
        self.server.simulator.state.counters["range_requests"] += 1
        match = re.fullmatch(r"bytes=(\d+)-(\d*)", ranged.strip())
        start = int(match[1]) if match else size
        end = (min(size - 1, int(match[2])) if match[2] else size - 1) if match else size - 1
        if start >= size or start > end:
            self.send_response(416)
            self.send_header("Content-Range", f"bytes */{size}")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return None
        return start, end

    def _send_file(self, path: Path, start: int, count: int) -> int:
        if count <= 0:
            return 0
        with path.open("rb") as handle:
            try:
                return int(self.connection.sendfile(handle, start, count))
            except (BrokenPipeError, ConnectionResetError):
                return 0

    def _xml(self, status: int, code: str, message: str) -> None:
        payload = (
            f"<?xml version='1.0' encoding='UTF-8'?><Error><Code>{code}</Code><Message>{message}</Message></Error>"
        ).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/xml; charset=UTF-8")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    simulator: ShopifyAdminSimulator

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that stops reading a result early (a download step that reached its budget) resets
        # the connection: that is normal for a file server, not an error worth a traceback.
        return None


class ShopifyAdminSimulator:
    """The server: ``url`` (``http://127.0.0.1:<port>``), ``state``, ``stop()``."""

    def __init__(self, cloud: Any = None, *, state: SimulatorState | None = None, port: int = 0) -> None:
        self.cloud = cloud
        self.state = state or SimulatorState()
        self._server = _Server(("127.0.0.1", port), _Handler)
        self._server.simulator = self
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self.state.base_url = self.url
        self._secret = LocalSecretValues(cloud, SECRET_SUFFIX, "access_token")
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True, name="shopify-simulator")
        self._thread.start()

    def graphql_url(self, api_version: str = "2026-10") -> str:
        return f"{self.url}/admin/api/{api_version}/graphql.json"

    def token_is_valid(self, token: str) -> bool:
        expected = self._expected_tokens()
        if expected is None:
            return True
        if token in expected:
            return True
        self._secret.forget()  # the secret may just have been rotated: look again next time
        return False

    def _expected_tokens(self) -> set[str] | None:
        """The secret's access_token when the local cloud has one, else ``state.access_tokens`` (or any)."""
        from_secret = self._secret.values()
        if from_secret:
            self.state.counters["auth_checked_against_secret"] += 1
            return from_secret
        return set(self.state.access_tokens) or None

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self.state.cleanup()


# Modules that add fields to QUERY_FIELDS / NODE_TYPES; the local cloud's simulator loads those present.
EXTENSIONS = ("platformctl.simulators.shopify_resources",)


def start(cloud: Any) -> ShopifyAdminSimulator:
    """The ``SIMULATORS["shopify"]`` factory: a simulator for a local cloud, with every extension loaded."""
    for name in EXTENSIONS:
        if importlib.util.find_spec(name) is not None:
            importlib.import_module(name)
    return ShopifyAdminSimulator(cloud)
