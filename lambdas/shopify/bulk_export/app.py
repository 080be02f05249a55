"""Start the Shopify bulk export of one resource for one window: the first step of the bulk state machine.

Input (the execution's input): ``{"resource": "orders" | "customers" | "products", "since": ISO-8601 |
null, "until": ISO-8601 | null, "options": {...}}``, every key optional (no resource: orders). Any other
resource fails the run (``InvalidResourceError``) before anything is asked of Shopify. The query is the
resource's (``common.shopify.bulk_queries``); the window is ``[since, until)`` on its ``updated_at``:

- ``until`` defaults to now (never later than now, so the watermark never runs ahead of the shop);
- ``since`` defaults to the resource's watermark (the end of its last completely downloaded window) minus
  ``WATERMARK_OVERLAP_SECONDS``, so orders updated while the last export ran are read again; before
  the first complete run there is no watermark and the export reads the whole history (a backfill).
  An explicit ``since``/``until`` is a backfill of that window.

Then ``bulkOperationRunQuery``. Its ``userErrors`` decide what happens: OPERATION_IN_PROGRESS or
LIMIT_REACHED raise retryable errors (the state machine waits and tries again) - unless the operation
in progress is this very export (an earlier attempt whose answer was lost), which is adopted; anything
else fails the run with Shopify's message. Throttling and HTTP 429/5xx are retried by the client.

Output (``$.run``): the resource, the operation's id, the run id (the numeric part, used in lake keys),
the window, and the options the later steps read.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from common import aws
from common.config import env_field, load_settings
from common.observability import MetricUnit, logger, metrics, tracer
from common.secret_cache import CachedSecret
from common.settings import LakeSettings, ShopAdminSettings
from common.shopify.admin import ShopifyAdminClient, ShopifyAuthError, shop_admin_client
from common.shopify.bulk import (
    RUN_QUERY_MUTATION,
    BulkAccessDeniedError,
    BulkOperation,
    BulkOperationInProgressError,
    BulkOperationLimitReachedError,
    BulkOperationRejectedError,
    InvalidWindowError,
    access_denied_message,
    current_operation,
    iso_seconds,
    read_watermark,
    resource_name,
    with_fresh_token,
)
from common.shopify.bulk_queries import bulk_query
from common.timeutil import TimestampError, iso_utc, parse_timestamp, utc_now

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

OPTION_LIMITS = {"max_bytes_per_step": (0, 1 << 40)}


@dataclass(frozen=True, kw_only=True)
class Settings(ShopAdminSettings, LakeSettings):
    overlap_seconds: int = env_field("WATERMARK_OVERLAP_SECONDS", default=900)


@dataclass(frozen=True)
class Window:
    since: datetime | None
    until: datetime
    source: str  # explicit | watermark | full-history

    def as_dict(self) -> dict[str, Any]:
        return {
            "since": iso_seconds(self.since) if self.since else None,
            "until": iso_seconds(self.until),
            "source": self.source,
        }


def _moment(value: Any, name: str) -> datetime:
    try:
        return parse_timestamp(value).replace(microsecond=0)
    except TimestampError as exc:
        raise InvalidWindowError(f"{name}: {exc} (use ISO-8601 with an offset, e.g. 2025-01-01T00:00:00Z)") from None


def resolve_window(
    event: dict[str, Any], watermark: Callable[[], datetime | None], now: datetime, overlap_seconds: int
) -> Window:
    now = now.replace(microsecond=0)
    until = _moment(event["until"], "until") if event.get("until") else now
    until = min(until, now)
    if event.get("since"):
        since: datetime | None = _moment(event["since"], "since")
        source = "explicit"
    else:
        mark = watermark()
        since = mark - timedelta(seconds=overlap_seconds) if mark is not None else None
        source = "watermark" if mark is not None else "full-history"
    if since is not None and since >= until:
        raise InvalidWindowError(
            f"the window is empty: since {iso_seconds(since)} is not before until {iso_seconds(until)}"
        )
    return Window(since, until, source)


def _same_query(a: str | None, b: str) -> bool:
    return a is not None and " ".join(a.split()) == " ".join(b.split())


def start_operation(
    client: ShopifyAdminClient, query: str, window: Window, now: datetime, resource: str = "orders"
) -> tuple[BulkOperation, bool]:
    """Run the bulk query; (operation, adopted) where adopted means an identical running export was reused."""
    try:
        data = client.execute(RUN_QUERY_MUTATION, {"query": query})
    except ShopifyAuthError as exc:
        if exc.status is not None:
            raise  # 401/403: the token itself is refused
        raise BulkAccessDeniedError(access_denied_message(client, window.since, now, str(exc), resource)) from None
    payload = data.get("bulkOperationRunQuery") or {}
    errors = [e for e in payload.get("userErrors") or [] if isinstance(e, dict) and (e.get("message") or e.get("code"))]
    operation = payload.get("bulkOperation")
    if not errors and isinstance(operation, dict):
        return BulkOperation.from_api(operation), False
    codes = {str(e.get("code") or "") for e in errors}
    text = "; ".join(str(e.get("message") or e.get("code")) for e in errors) or "no bulk operation was created"
    if "OPERATION_IN_PROGRESS" in codes or "already in progress" in text:
        running = current_operation(client)
        if running is not None and running.status in {"CREATED", "RUNNING"} and _same_query(running.query, query):
            return running, True
        raise BulkOperationInProgressError(f"another bulk query of this app is running in the shop: {text}")
    if "LIMIT_REACHED" in codes:
        raise BulkOperationLimitReachedError(f"Shopify's bulk operation limit is reached: {text}")
    if "ACCESS_DENIED" in codes:
        raise BulkAccessDeniedError(access_denied_message(client, window.since, now, text, resource))
    raise BulkOperationRejectedError(f"Shopify rejected the bulk query: {text}")


def _options(raw: Any) -> dict[str, int]:
    options: dict[str, int] = {}
    if not isinstance(raw, dict):
        return options
    for name, (low, high) in OPTION_LIMITS.items():
        if name in raw:
            value = raw[name]
            if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
                raise InvalidWindowError(f"options.{name} must be an integer from {low} to {high}")
            options[name] = value
    return options


class Exporter:
    """Starts one bulk export; the lake, the Admin API client, its secret and the clock are given."""

    def __init__(
        self,
        settings: Settings,
        *,
        s3: S3Client,
        admin: ShopifyAdminClient,
        secret: CachedSecret,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self.settings = settings
        self.s3 = s3
        self.admin = admin
        self.secret = secret
        self.clock = clock

    def handle(self, event: dict[str, Any]) -> dict[str, Any]:
        metrics.add_metric(name="BulkExportAttempts", unit=MetricUnit.Count, value=1)
        resource = resource_name(event.get("resource"))  # InvalidResourceError: the run fails here
        now = self.clock()
        window = resolve_window(
            event,
            lambda: read_watermark(self.s3, self.settings.bucket, resource),
            now,
            self.settings.overlap_seconds,
        )
        options = _options(event.get("options"))
        query = bulk_query(resource, window.since, window.until)
        operation, adopted = with_fresh_token(
            self.secret, lambda: start_operation(self.admin, query, window, now, resource)
        )
        logger.info(
            "bulk export started",
            extra={"resource": resource, "operation_id": operation.id, "adopted": adopted, "window": window.as_dict()},
        )
        metrics.add_metric(name="BulkExportsStarted", unit=MetricUnit.Count, value=1)
        return {
            "resource": resource,
            "operation_id": operation.id,
            "run_id": operation.run_id,
            "window": window.as_dict(),
            "api_version": self.settings.api_version,
            "requested_at": iso_utc(now),
            "adopted": adopted,
            "options": options,
        }


def build_exporter(settings: Settings) -> Exporter:
    """The exporter of a deployed function: clients through ``common.aws``."""
    secret = CachedSecret(aws.secretsmanager(), settings.secret_arn)
    return Exporter(settings, s3=aws.s3(), admin=shop_admin_client(settings, secret), secret=secret)


settings = load_settings(Settings)
exporter = build_exporter(settings)


@logger.inject_lambda_context(log_event=False)
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics
def handler(event: dict[str, Any] | None, context: Any) -> dict[str, Any]:
    return exporter.handle(event or {})
