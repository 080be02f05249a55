"""Read a bulk operation's status for the state machine and say what it should do next.

Input: ``{"operation_id": gid, "since": ISO-8601 | null, "resource": name}`` (``resource`` optional: the
operation's own query says which resource it exports). Output (``$.poll``): the operation's status,
errorCode, objectCount, rootObjectCount and fileSize, whether it has a result file (``has_result``),
plus the decision the state machine's Choice reads:

- ``wait``: CREATED / RUNNING / CANCELING - poll again after the wait;
- ``download``: COMPLETED - download the result (``has_result`` false when the export matched nothing);
- ``download_partial``: FAILED with INTERNAL_SERVER_ERROR or TIMEOUT and a ``partialDataUrl`` -
  download what exists, mark the run partial (the watermark stays), then fail the run visibly;
- ``fail``: FAILED otherwise (ACCESS_DENIED names the missing scope), CANCELED, EXPIRED - with the
  ``error`` name and ``message`` the failure state records.

The result URLs (``url``, ``partialDataUrl``) are signed links to every exported order's personal data:
they never enter the output, so Step Functions state, history and logs never hold them. The download
step reads the URL from ``bulkOperation(id:)`` itself, each step afresh (an expired URL is signed anew).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from common import aws
from common.config import load_settings
from common.observability import logger, tracer
from common.secret_cache import CachedSecret
from common.settings import ShopAdminSettings
from common.shopify.admin import ShopifyAdminClient, shop_admin_client
from common.shopify.bulk import (
    PARTIAL_DATA_ERROR_CODES,
    RUNNING_STATUSES,
    BulkOperation,
    access_denied_message,
    fetch_operation,
    resource_name,
    resource_of_query,
    with_fresh_token,
)
from common.timeutil import parse_timestamp, utc_now


@dataclass(frozen=True, kw_only=True)
class Settings(ShopAdminSettings):
    pass


def decide(operation: BulkOperation, denied_message: Callable[[str], str] | None = None) -> dict[str, Any]:
    """The poll's output for one status read (pure: ``denied_message`` explains ACCESS_DENIED)."""
    result: dict[str, Any] = {
        "operation_id": operation.id,
        "status": operation.status,
        "error_code": operation.error_code,
        "object_count": operation.object_count,
        "root_object_count": operation.root_object_count,
        "file_size": operation.file_size,
        "completed_at": operation.completed_at,
        "has_result": False,
        "partial": False,
        "decision": "fail",
        "error": None,
        "message": None,
    }
    status, code = operation.status, operation.error_code
    if status in RUNNING_STATUSES:
        result["decision"] = "wait"
    elif status == "COMPLETED":
        result.update(decision="download", has_result=bool(operation.url))
    elif status == "FAILED" and code in PARTIAL_DATA_ERROR_CODES and operation.partial_data_url:
        result.update(
            decision="download_partial",
            has_result=True,
            partial=True,
            error="BulkOperationFailedPartialData",
            message=(
                f"Shopify failed the bulk operation {operation.id} with {code} after {operation.object_count} "
                "objects; the partial data was downloaded and the run is marked partial (the watermark did not "
                "move). Run the export again: the next run reads the same window."
            ),
        )
    elif status == "FAILED" and code == "ACCESS_DENIED":
        detail = f"bulk operation {operation.id} failed with ACCESS_DENIED"
        result.update(
            error="BulkAccessDeniedError",
            message=denied_message(detail) if denied_message else f"Shopify denied the bulk export ({detail})",
        )
    elif status == "FAILED":
        result.update(
            error="BulkOperationFailed",
            message=(
                f"Shopify failed the bulk operation {operation.id} with {code or 'no error code'} and no partial "
                "data; nothing was downloaded and the watermark did not move. Run the export again."
            ),
        )
    elif status == "CANCELED":
        result.update(
            error="BulkOperationCanceled",
            message=f"the bulk operation {operation.id} was canceled (bulkOperationCancel); nothing was downloaded",
        )
    elif status == "EXPIRED":
        result.update(
            error="BulkOperationExpired",
            message=(
                f"the result of bulk operation {operation.id} expired before it was downloaded (Shopify keeps it "
                "a week); run the export again"
            ),
        )
    else:
        result.update(error="BulkOperationFailed", message=f"unexpected bulk operation status {status}")
    return result


class Poller:
    """Reads one operation's status and decides; the client, its secret and the clock are given."""

    def __init__(
        self, *, admin: ShopifyAdminClient, secret: CachedSecret, clock: Callable[[], datetime] = utc_now
    ) -> None:
        self.admin = admin
        self.secret = secret
        self.clock = clock

    def handle(self, event: dict[str, Any]) -> dict[str, Any]:
        operation_id = str(event["operation_id"])
        since_text = event.get("since")
        since: datetime | None = parse_timestamp(since_text) if since_text else None
        operation = with_fresh_token(self.secret, lambda: fetch_operation(self.admin, operation_id))
        resource = resource_name(event.get("resource") or resource_of_query(operation.query))
        result = decide(
            operation, lambda detail: access_denied_message(self.admin, since, self.clock(), detail, resource)
        )
        logger.info(
            "bulk operation status",
            extra={
                "operation_id": operation.id,
                "resource": resource,
                "status": operation.status,
                "error_code": operation.error_code,
                "object_count": operation.object_count,
                "decision": result["decision"],
            },
        )
        return result


def build_poller(settings: Settings) -> Poller:
    """The poller of a deployed function: the secret through ``common.aws``'s client."""
    secret = CachedSecret(aws.secretsmanager(), settings.secret_arn)
    return Poller(admin=shop_admin_client(settings, secret), secret=secret)


settings = load_settings(Settings)
poller = build_poller(settings)


@logger.inject_lambda_context(log_event=False)
@tracer.capture_lambda_handler(capture_response=False)
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return poller.handle(event)
