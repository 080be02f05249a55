"""Answers of the platform's HTTP webhook receivers (API Gateway HTTP API, payload format 2.0).

One shape for every answer, and one rule for AWS failures: a transient one (throttling, a timeout) is a
503 with ``retry-after``, anything else a 500, so that the sender retries; the log line names the stage,
the error's type and code, never the request's content.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from botocore.exceptions import ClientError

from common.errors import is_transient
from common.observability import MetricUnit, logger, metrics


def response(status: int, body: Mapping[str, Any], headers: Mapping[str, str] | None = None) -> dict[str, Any]:
    return {
        "statusCode": status,
        "headers": {"content-type": "application/json", **(headers or {})},
        "body": json.dumps(body, sort_keys=True),
        "isBase64Encoded": False,
    }


def aws_failure(exc: Exception, stage: str, message: str) -> dict[str, Any]:
    """A 5xx for an AWS failure at ``stage``; ``message`` is the log line (e.g. "delivery not processed")."""
    code = exc.response.get("Error", {}).get("Code", "") if isinstance(exc, ClientError) else ""
    transient = is_transient(exc)
    logger.error(
        message,
        extra={"stage": stage, "error_type": type(exc).__name__, "error_code": code, "transient": transient},
    )
    metrics.add_metric(name="DeliveryFailed", unit=MetricUnit.Count, value=1)
    if transient:
        return response(503, {"error": "temporarily unavailable; retry later"}, {"retry-after": "60"})
    return response(500, {"error": "internal error; retry later"})
