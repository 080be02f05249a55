"""IAM on the local cloud: every request signed with assumed-role credentials is evaluated like AWS does.

The emulator's WSGI entry reads who signed the request (an access key STS handed out for a role), which
operation it calls (``api_calls``), what IAM authorizes for it (``platformctl.iam.actions``), the role's
policies and boundary and the resource's policy as deployed now (``iam_state``), and answers the service's
own AccessDenied (HTTP 403) when ``platformctl.iam.evaluation`` denies. Requests signed with any other key
(the operator's, the tests', the deploy tool's administrator credentials) are not evaluated.
"""

from __future__ import annotations

import io
import logging
import time
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

from platformctl.iam.actions import Call, UnknownOperationError, checks_for
from platformctl.iam.evaluation import Decision, PolicyError, Request, evaluate
from platformctl.iam.usage import USAGE_FILE, UsageLog, Use
from platformctl.localcloud import access_denied, api_calls, iam_state

logger = logging.getLogger(__name__)

ENV_SWITCH = "PLATFORM_LOCAL_IAM"  # "off" turns enforcement off

_state: dict[str, Any] = {}


def install(state_dir: Path) -> None:
    """Evaluate every assumed-role request from now on; usage goes to ``<state_dir>/iam-usage.jsonl``."""
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication

    _state["log"] = UsageLog(state_dir / USAGE_FILE)
    if not getattr(DomainDispatcherApplication, "_platformctl_iam", False):
        original = DomainDispatcherApplication.__call__

        def call(self: Any, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
            denied = _authorize(environ) if "log" in _state else None
            if denied is not None:
                status, headers, body = denied
                start_response(status, [*headers, ("Content-Length", str(len(body)))])
                return [body]
            return original(self, environ, start_response)  # type: ignore[no-any-return]

        setattr(DomainDispatcherApplication, "__call__", call)  # noqa: B010 - a deliberate patch of moto
        setattr(DomainDispatcherApplication, "_platformctl_iam", True)  # noqa: B010


def uninstall() -> None:
    _state.clear()


def _headers(environ: dict[str, Any]) -> dict[str, str]:
    headers = {
        key[5:].replace("_", "-").lower(): str(value) for key, value in environ.items() if key.startswith("HTTP_")
    }
    if environ.get("CONTENT_TYPE"):
        headers["content-type"] = str(environ["CONTENT_TYPE"])
    return headers


def _body(environ: dict[str, Any]) -> bytes:
    length = int(environ.get("CONTENT_LENGTH") or 0)
    if length <= 0:
        return b""
    body = environ["wsgi.input"].read(length)
    environ["wsgi.input"] = io.BytesIO(body)
    return bytes(body)


def _authorize(environ: dict[str, Any]) -> tuple[str, list[tuple[str, str]], bytes] | None:
    if str(environ.get("PATH_INFO", "")).startswith("/moto-api"):
        return None
    headers = _headers(environ)
    query = parse_qs(str(environ.get("QUERY_STRING", "")), keep_blank_values=True)
    signed = api_calls.signature(headers, query)
    if signed is None:
        return None
    session = iam_state.session_for(signed.access_key)
    if session is None:
        return None  # the operator's credentials
    service = api_calls.service_for(signed.signing_name)
    if signed.session_token != session.session_token:
        return access_denied.response(
            service, _protocol(headers, query), "The security token included in the request is invalid"
        )
    # An S3 body is an object's bytes; only DeleteObjects carries what IAM needs (the keys).
    needs_body = service != "s3" or "delete" in query
    body = _body(environ) if needs_body else b""
    raw_path = str(environ.get("RAW_URI") or environ.get("REQUEST_URI") or environ.get("PATH_INFO", "")).split("?", 1)[
        0
    ]
    call = api_calls.parse(
        signed.signing_name, signed.region, str(environ.get("REQUEST_METHOD")), raw_path, query, headers, body
    )
    decision = _decide(session, call)
    if decision.allowed:
        return None
    operation = f"{call.service}.{call.operation} {call.params}" if call else f"{raw_path} {query}"
    logger.warning("IAM denied %s (%s): %s", session.session_arn, operation[:300], decision.reason)
    return access_denied.response(service, _protocol(headers, query), decision.reason)


def _protocol(headers: dict[str, str], query: dict[str, list[str]]) -> str:
    if "x-amz-target" in headers:
        return "json"
    if "cbor" in headers.get("content-type", "") or "smithy-protocol" in headers:
        return "cbor"
    if "Action" in query or "x-www-form-urlencoded" in headers.get("content-type", ""):
        return "query"
    return "rest-json"


def _decide(session: iam_state.Session, call: api_calls.ApiCall | None) -> Decision:
    who = session.session_arn
    if call is None:
        return Decision(False, f"User: {who} made a request the local cloud cannot read as any AWS operation")
    lookup = iam_state.Lookup(session.account)
    try:
        checks = checks_for(Call(call.service, call.operation, call.params, call.region, lookup))
    except UnknownOperationError as exc:
        logger.warning("%s", exc)
        return Decision(False, f"User: {who} is not authorized: {exc}")
    policies = iam_state.role_policies(session.account, session.role_arn)
    now = datetime.now(UTC)
    base = {
        "aws:PrincipalArn": policies.role_arn,
        "aws:PrincipalAccount": session.account,
        "aws:PrincipalType": "AssumedRole",
        "aws:RequestedRegion": call.region,
        "aws:SecureTransport": True,  # plain HTTP on loopback stands in for AWS's TLS endpoints
        "aws:CurrentTime": now.isoformat().replace("+00:00", "Z"),
        "aws:EpochTime": int(time.time()),
    }
    if call.service == "s3":
        base["s3:TlsVersion"] = "1.2"
    log: UsageLog = _state["log"]
    for check in checks:
        request = Request(check.action, check.resource, {**base, **check.context}, session.session_arn)
        resource_policy = lookup.resource_policy(call.region, check.action, check.resource)
        try:
            decision = evaluate(request, policies.identity, policies.boundary, resource_policy)
        except PolicyError as exc:
            decision = Decision(False, f"a policy cannot be evaluated: {exc}")
        log.record(Use(policies.role_arn, check.action, check.resource, decision.allowed))
        if not decision.allowed:
            return Decision(
                False,
                f"User: {who} is not authorized to perform: {check.action} on resource: {check.resource} "
                f"because {decision.reason}",
            )
    if call.service == "s3" and call.operation in _S3_READS and not _s3_object_exists(session.account, call):
        return _missing_object_decision(session, call, policies, lookup, base)
    return Decision(True, "allowed")


# S3 answers a read of a missing object 404 only to a caller that may list the bucket (s3:ListBucket on it,
# asked without a prefix); anyone else gets 403 AccessDenied, so that a missing key says nothing to them
# (Amazon S3 API Reference, GetObject and HeadObject, "Permissions").
_S3_READS = frozenset({"GetObject", "HeadObject"})


def _s3_object_exists(account: str, call: api_calls.ApiCall) -> bool:
    """Whether the object (the version, when one is named) is in the emulator; True when that cannot be told."""
    from moto.s3.models import FakeKey, s3_backends

    try:
        bucket = s3_backends[account]["aws"].buckets.get(str(call.params.get("Bucket", "")))
    except Exception:  # noqa: BLE001 - no backend yet: let moto answer as it does
        return True
    if bucket is None:
        return True  # moto's NoSuchBucket is the answer
    versions = bucket.keys.getlist(str(call.params.get("Key", "")), [])
    version_id = call.params.get("VersionId")
    if version_id is None:
        return bool(versions) and isinstance(versions[-1], FakeKey)
    return any(isinstance(v, FakeKey) and str(v.version_id) == str(version_id) for v in versions)


def _missing_object_decision(
    session: iam_state.Session,
    call: api_calls.ApiCall,
    policies: iam_state.RolePolicies,
    lookup: iam_state.Lookup,
    base: dict[str, Any],
) -> Decision:
    bucket = f"arn:aws:s3:::{call.params.get('Bucket', '')}"
    request = Request("s3:ListBucket", bucket, dict(base), session.session_arn)
    resource_policy = lookup.resource_policy(call.region, "s3:ListBucket", bucket)
    try:
        listing = evaluate(request, policies.identity, policies.boundary, resource_policy)
    except PolicyError as exc:
        listing = Decision(False, f"a policy cannot be evaluated: {exc}")
    _state["log"].record(Use(policies.role_arn, "s3:ListBucket", bucket, listing.allowed))
    if listing.allowed:
        return Decision(True, "allowed (the object is missing: S3 answers 404)")
    return Decision(
        False,
        f"User: {session.session_arn} is not authorized to perform: s3:ListBucket on resource: {bucket} "
        "(the object does not exist, and S3 answers 403, not 404, to a caller that may not list the bucket)",
    )
