"""AccessDenied answers in each service's own error shape (HTTP 403), so SDKs raise what AWS makes them raise."""

from __future__ import annotations

import json
import uuid
from xml.sax.saxutils import escape

# The error code each service answers an unauthorized call with.
_CODES = {
    "s3": "AccessDenied",
    "sns": "AuthorizationError",
    "sqs": "AccessDenied",
    "iam": "AccessDenied",
    "sts": "AccessDenied",
    "cloudformation": "AccessDenied",
    "cloudwatch": "AccessDenied",
}
_QUERY = ("sns", "iam", "sts", "cloudformation")
_JSON_PREFIX = {"dynamodb": "com.amazonaws.dynamodb.v20120810#", "sqs": "com.amazonaws.sqs#"}


def response(service: str, protocol_hint: str, message: str) -> tuple[str, list[tuple[str, str]], bytes]:
    """(status line, headers, body) of a 403 for the service; ``protocol_hint`` is json, query, rest-json,
    rest-xml or cbor, as the request arrived."""
    request_id = str(uuid.uuid4())
    code = _CODES.get(service, "AccessDeniedException")
    if service == "s3":
        body = (
            f'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>{code}</Code><Message>{escape(message)}</Message>'
            f"<RequestId>{request_id}</RequestId></Error>"
        ).encode()
        return "403 Forbidden", [("Content-Type", "application/xml"), ("x-amz-request-id", request_id)], body
    if service in _QUERY or protocol_hint == "query":
        body = (
            f"<ErrorResponse><Error><Type>Sender</Type><Code>{code}</Code><Message>{escape(message)}</Message>"
            f"</Error><RequestId>{request_id}</RequestId></ErrorResponse>"
        ).encode()
        return "403 Forbidden", [("Content-Type", "text/xml"), ("x-amzn-RequestId", request_id)], body
    error_type = _JSON_PREFIX.get(service, "") + code
    headers = [("x-amzn-RequestId", request_id), ("x-amzn-ErrorType", code)]
    if protocol_hint == "cbor":
        from platformctl.localcloud.cbor import encode

        headers += [("Content-Type", "application/cbor"), ("smithy-protocol", "rpc-v2-cbor")]
        return "403 Forbidden", headers, encode({"__type": error_type, "message": message})
    headers.append(("Content-Type", "application/x-amz-json-1.1" if protocol_hint == "json" else "application/json"))
    return "403 Forbidden", headers, json.dumps({"__type": error_type, "message": message, "Message": message}).encode()
