"""Which AWS operation an HTTP request to the emulator is, with its parameters, read like AWS reads it.

The service comes from the SigV4 credential scope, the operation from the protocol (``X-Amz-Target`` for
JSON, ``Action`` for query, the method and path for the REST protocols, the path for RPC v2 CBOR), and the
parameters from botocore's service model, so no service needs its own parser.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from functools import cache
from typing import Any
from urllib.parse import parse_qs, unquote

import botocore.session

_CREDENTIAL = re.compile(r"Credential=([^/,\s]+)/\d{8}/([^/]+)/([^/]+)/aws4_request")
# SigV4 signing names whose botocore service name differs.
_SERVICES = {"monitoring": "cloudwatch", "states": "stepfunctions"}
_S3_COPIES = {name: pair for pair in (("PutObject", "CopyObject"), ("UploadPart", "UploadPartCopy")) for name in pair}


@dataclass(frozen=True)
class ApiCall:
    service: str  # botocore's service name ("s3", "cloudwatch", "stepfunctions", ...)
    operation: str  # botocore's operation name ("PutObject")
    params: dict[str, Any]
    region: str
    headers: dict[str, str] = field(default_factory=dict)  # lower-case names


@dataclass(frozen=True)
class Signature:
    access_key: str
    region: str
    signing_name: str
    session_token: str | None


def signature(headers: dict[str, str], query: dict[str, list[str]]) -> Signature | None:
    """The signer of a request (header or presigned URL), or None for an unsigned one."""
    found = _CREDENTIAL.search(headers.get("authorization", ""))
    if found:
        return Signature(found[1], found[2], found[3], headers.get("x-amz-security-token"))
    credential = (query.get("X-Amz-Credential") or [""])[0]
    parts = credential.split("/")
    if len(parts) == 5:
        tokens = query.get("X-Amz-Security-Token") or []
        return Signature(parts[0], parts[2], parts[3], tokens[0] if tokens else None)
    return None


@cache
def _model(service: str) -> Any:
    return botocore.session.get_session().get_service_model(service)


def service_for(signing_name: str) -> str:
    return _SERVICES.get(signing_name, signing_name)


def parse(
    signing_name: str,
    region: str,
    method: str,
    raw_path: str,
    query: dict[str, list[str]],
    headers: dict[str, str],
    body: bytes,
) -> ApiCall | None:
    """The operation a request calls, or None when the request matches no operation of the service."""
    service = service_for(signing_name)
    model = _model(service)
    target = headers.get("x-amz-target")
    if target:
        params = json.loads(body or b"{}")
        return ApiCall(service, target.rsplit(".", 1)[-1], params if isinstance(params, dict) else {}, region, headers)
    if model.protocol == "query" or "Action" in query:
        form = {**query, **parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True)}
        flat = {k: v[0] for k, v in form.items() if v}
        action = flat.pop("Action", None)
        return ApiCall(service, action, flat, region, headers) if action else None
    cbor = re.fullmatch(r"/service/[^/]+/operation/([^/]+)", raw_path)
    if cbor:
        return ApiCall(service, cbor[1], _cbor_params(body), region, headers)
    return _rest(model, service, region, method, raw_path, query, headers, body)


def _cbor_params(body: bytes) -> dict[str, Any]:
    if not body:
        return {}
    import io

    from botocore.parsers import RpcV2CBORParser

    decoded = RpcV2CBORParser().parse_data_item(io.BytesIO(body))
    return decoded if isinstance(decoded, dict) else {}


@dataclass(frozen=True)
class _Route:
    operation: str
    method: str
    path: re.Pattern[str]
    required_query: frozenset[str]
    literal_length: int


def _required_query_members(operation: Any) -> frozenset[str]:
    shape = operation.input_shape
    if shape is None:
        return frozenset()
    return frozenset(
        str(member.serialization.get("name", name))
        for name, member in shape.members.items()
        if name in shape.required_members and member.serialization.get("location") == "querystring"
    )


@cache
def _routes(service: str) -> tuple[_Route, ...]:
    model = _model(service)
    routes = []
    for name in model.operation_names:
        http = model.operation_model(name).http
        path, _, query = http["requestUri"].partition("?")
        pattern = ""
        for piece in re.split(r"(\{[^}]+\})", path):
            if piece.startswith("{"):
                label = piece[1:-1]
                greedy = label.endswith("+")
                label = label.rstrip("+")
                pattern += f"(?P<{label}>.+)" if greedy else f"(?P<{label}>[^/]+)"
            else:
                pattern += re.escape(piece)
        required = frozenset(part.split("=", 1)[0] for part in query.split("&") if part)
        # Operations on the same path tell themselves apart by their required query parameters: a DELETE of
        # an object is DeleteObject, with ?uploadId= it is AbortMultipartUpload (the same URI template).
        required |= _required_query_members(model.operation_model(name))
        literal = len(re.sub(r"\{[^}]+\}", "", path))
        routes.append(_Route(name, http["method"], re.compile(pattern + "/?"), required, literal))
    return tuple(routes)


def _rest(
    model: Any,
    service: str,
    region: str,
    method: str,
    raw_path: str,
    query: dict[str, list[str]],
    headers: dict[str, str],
    body: bytes,
) -> ApiCall | None:
    best: tuple[int, int, _Route, dict[str, str]] | None = None
    for route in _routes(service):
        if route.method != method or not route.required_query <= set(query):
            continue
        match = route.path.fullmatch(raw_path)
        if match is None:
            continue
        rank = (len(route.required_query), route.literal_length)
        if best is None or rank > best[:2]:
            best = (*rank, route, {k: unquote(v) for k, v in match.groupdict().items()})
    if best is None:
        return None
    route, uri_params = best[2], best[3]
    operation = route.operation
    if service == "s3" and operation in _S3_COPIES:
        # A copy has the same method and path as a write; only its x-amz-copy-source header tells them apart.
        write, copy = _S3_COPIES[operation]
        operation = copy if "x-amz-copy-source" in headers else write
    params = _located_params(model, operation, uri_params, query, headers)
    if model.protocol == "rest-json" and body[:1] == b"{":
        decoded = json.loads(body)
        if isinstance(decoded, dict):
            params = {**decoded, **params}
    elif service == "s3" and operation == "DeleteObjects":
        params["Objects"] = _deleted_objects(body)
        params["Keys"] = [item["Key"] for item in params["Objects"]]
    return ApiCall(service, operation, {k: v for k, v in params.items() if v is not None}, region, headers)


def _deleted_objects(body: bytes) -> list[dict[str, str]]:
    """The objects of a DeleteObjects body (``<Object><Key>..</Key><VersionId>..</VersionId></Object>``)."""
    from xml.sax.saxutils import unescape

    found = []
    for block in re.findall(rb"<Object>(.*?)</Object>", body, flags=re.DOTALL):
        key = re.search(rb"<Key>([^<]*)</Key>", block)
        version = re.search(rb"<VersionId>([^<]*)</VersionId>", block)
        item = {"Key": unescape(key[1].decode()) if key else ""}
        if version:
            item["VersionId"] = unescape(version[1].decode())
        found.append(item)
    return found


def _located_params(
    model: Any, operation: str, uri_params: dict[str, str], query: dict[str, list[str]], headers: dict[str, str]
) -> dict[str, Any]:
    params: dict[str, Any] = {}
    shape = model.operation_model(operation).input_shape
    for member, member_shape in shape.members.items() if shape is not None else []:
        location = member_shape.serialization.get("location")
        wire_name = member_shape.serialization.get("name", member)
        if location == "uri":
            params[member] = uri_params.get(wire_name)
        elif location == "querystring" and wire_name in query:
            params[member] = query[wire_name][0]
        elif location == "header" and wire_name.lower() in headers:
            params[member] = headers[wire_name.lower()]
    return params
