"""The Shopify bulk workflow's shared contract: operations, errors, scopes, the watermark and the run keys.

The three bulk functions (export, poll, download) and ``platformctl bulk`` agree on what is here:

- ``BulkOperation``: a ``BulkOperation`` object as the Admin API returns it, counts as integers
  (the API serialises ``UnsignedInt64`` as strings).
- Error types whose *class names* are the ``Error`` names the state machine's Retry and Catch match on
  (Step Functions sees a Lambda's exception type name, not its class hierarchy).
- The resources a run exports (``RESOURCES``: orders, customers, products; absent means orders) and
  the error for any other (``InvalidResourceError``).
- The watermark of each resource: ``metadata/shopify/bulk/<resource>/watermark.json``, the end of the
  newest window of that resource that was downloaded completely; it only moves forward, and only after
  a complete download. Orders fall back to the legacy ``metadata/shopify/bulk/watermark.json`` until
  their own exists, so a deployment from before keeps its position.
- The result URL policy (``ResultUrlPolicy``): only https URLs on the origins Shopify serves bulk
  results from (``DEFAULT_RESULT_ORIGINS``, extended by the stack's ``BulkResultHosts``) are fetched.
  The URL itself is a signed link to every order's personal data: it never leaves the download function
  (no state, output, log line or error message holds more than its origin).
- Lake keys: the run manifest ``metadata/shopify/bulk/run=<id>/manifest.json`` and the checkpoints of a
  download in progress ``metadata/shopify/bulk/run=<id>/checkpoints/``. The parts themselves are
  ``raw/shopify/bulk/<object-type>/run=<id>/part-NNNNN.jsonl.gz`` (``common.lake.bulk_part_key``).
"""

from __future__ import annotations

import ipaddress
import json
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, TypeVar

from botocore.exceptions import ClientError
from urllib3.exceptions import LocationParseError
from urllib3.util import parse_url

from common.errors import TransientError
from common.lake import safe_segment
from common.secret_cache import CachedSecret
from common.shopify.admin import (
    ShopifyAdminClient,
    ShopifyAdminError,
    ShopifyAuthError,
    ShopifyThrottledError,
    ShopifyUnavailableError,
)
from common.timeutil import iso_utc, parse_timestamp

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

T = TypeVar("T")

BULK_METADATA_PREFIX = "metadata/shopify/bulk/"
# The orders watermark of the time when orders were the only resource: read until orders have their own.
WATERMARK_KEY = BULK_METADATA_PREFIX + "watermark.json"

RESOURCES = ("orders", "customers", "products")
DEFAULT_RESOURCE = "orders"

# Statuses (BulkOperationStatus) and error codes (BulkOperationErrorCode) of the Admin API.
RUNNING_STATUSES = frozenset({"CREATED", "RUNNING", "CANCELING"})
PARTIAL_DATA_ERROR_CODES = frozenset({"INTERNAL_SERVER_ERROR", "TIMEOUT"})

# What each export reads, and the access scope each part of it needs.
REQUIRED_SCOPES = {
    "read_orders": "orders, their line items, discounts, refunds, fulfillments and transactions",
    "read_customers": "the customer reference of each order",
}
RESOURCE_SCOPES: dict[str, dict[str, str]] = {
    "orders": REQUIRED_SCOPES,
    "customers": {
        "read_customers": "customers, their marketing consents and default address",
        "read_orders": "the last order of each customer",
    },
    "products": {"read_products": "products and their variants"},
}
ALL_ORDERS_SCOPE = "read_all_orders"
ALL_ORDERS_AGE_DAYS = 60  # without read_all_orders, an app sees only the last 60 days of orders

BULK_OPERATION_FIELDS = (
    "id status errorCode createdAt completedAt objectCount rootObjectCount fileSize url partialDataUrl query"
)
STATUS_QUERY = f"""query BulkOperationStatus($id: ID!) {{
  bulkOperation(id: $id) {{ {BULK_OPERATION_FIELDS} }}
}}"""
CURRENT_OPERATION_QUERY = f"""query CurrentBulkOperation {{
  currentBulkOperation(type: QUERY) {{ {BULK_OPERATION_FIELDS} }}
}}"""
RUN_QUERY_MUTATION = """mutation RunBulkQuery($query: String!) {
  bulkOperationRunQuery(query: $query) {
    bulkOperation { id status createdAt }
    userErrors { field message code }
  }
}"""
ACCESS_SCOPES_QUERY = """query AppAccessScopes {
  currentAppInstallation { accessScopes { handle } }
}"""


# ------------------------------------------------------------------------------------------ errors
# Retryable (the state machine retries these by name, with backoff):


class BulkOperationInProgressError(TransientError):
    """userError OPERATION_IN_PROGRESS: another bulk query of this app is running in the shop."""


class BulkOperationLimitReachedError(TransientError):
    """userError LIMIT_REACHED: the shop's bulk operation limit is reached for now."""


class ResultDownloadError(TransientError):
    """The result file could not be read (connection failures that outlasted the in-step retries)."""


# Not retryable (the state machine fails the run with the message):


class BulkOperationRejectedError(Exception):
    """bulkOperationRunQuery answered userErrors a retry cannot fix (an invalid query, say)."""


class BulkAccessDeniedError(Exception):
    """The app's token lacks a scope the export needs; the message names it."""


class BulkOperationNotFoundError(Exception):
    """``bulkOperation(id:)`` returned null: the id is wrong or belongs to another app."""


class BulkCountMismatchError(Exception):
    """The objects written differ from the operation's objectCount: the run is not trusted."""


class ResultUrlRejectedError(Exception):
    """The result URL keeps being refused even after refreshing it through poll."""


class InvalidWindowError(ValueError):
    """The run's window (since/until) is malformed or empty."""


class InvalidResourceError(ValueError):
    """The run's ``resource`` is not one the workflow exports (orders, customers, products)."""


class ResultUrlNotAllowedError(Exception):
    """The result URL (or a redirect from it) is not on an origin Shopify serves bulk results from."""


TRANSIENT_ERROR_NAMES = (
    "TransientError",
    ShopifyThrottledError.__name__,
    ShopifyUnavailableError.__name__,
    BulkOperationInProgressError.__name__,
    BulkOperationLimitReachedError.__name__,
    ResultDownloadError.__name__,
)


# ------------------------------------------------------------------------------------- operations


def _count(value: Any) -> int | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


@dataclass(frozen=True)
class BulkOperation:
    id: str
    status: str
    error_code: str | None = None
    created_at: str | None = None
    completed_at: str | None = None
    object_count: int | None = None
    root_object_count: int | None = None
    file_size: int | None = None
    url: str | None = None
    partial_data_url: str | None = None
    query: str | None = None

    @classmethod
    def from_api(cls, node: dict[str, Any]) -> BulkOperation:
        return cls(
            id=str(node["id"]),
            status=str(node.get("status") or "UNKNOWN"),
            error_code=node.get("errorCode"),
            created_at=node.get("createdAt"),
            completed_at=node.get("completedAt"),
            object_count=_count(node.get("objectCount")),
            root_object_count=_count(node.get("rootObjectCount")),
            file_size=_count(node.get("fileSize")),
            url=node.get("url"),
            partial_data_url=node.get("partialDataUrl"),
            query=node.get("query"),
        )

    @property
    def run_id(self) -> str:
        return run_id_from_gid(self.id)


_GID = re.compile(r"^gid://shopify/BulkOperation/(?P<id>[0-9A-Za-z_-]+)$")


def run_id_from_gid(gid: str) -> str:
    """``gid://shopify/BulkOperation/720918`` -> ``720918``, the run's id in lake keys."""
    match = _GID.match(gid.replace("\\/", "/"))
    if match is None:
        raise ValueError(f"not a BulkOperation gid: {gid[:80]!r}")
    return safe_segment(match["id"], "bulk operation id")


def fetch_operation(client: ShopifyAdminClient, operation_id: str) -> BulkOperation:
    data = client.execute(STATUS_QUERY, {"id": operation_id})
    node = data.get("bulkOperation")
    if not isinstance(node, dict):
        raise BulkOperationNotFoundError(f"Shopify has no bulk operation {operation_id} for this app")
    return BulkOperation.from_api(node)


def current_operation(client: ShopifyAdminClient) -> BulkOperation | None:
    node = client.execute(CURRENT_OPERATION_QUERY).get("currentBulkOperation")
    return BulkOperation.from_api(node) if isinstance(node, dict) else None


def with_fresh_token(secret: CachedSecret, call: Callable[[], T]) -> T:
    """Run ``call``; on HTTP 401 read the secret again (it may have been rotated) and run it once more."""
    try:
        return call()
    except ShopifyAuthError as exc:
        if exc.status != 401:
            raise
        secret.invalidate()
        return call()


def iso_seconds(moment: datetime) -> str:
    """``2025-05-31T00:00:00Z``: the form Shopify's search syntax takes, and the window's text form."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


# ----------------------------------------------------------------------------------------- scopes


def granted_scopes(client: ShopifyAdminClient) -> set[str] | None:
    """The app's access scopes, or None when Shopify will not say."""
    try:
        data = client.execute(ACCESS_SCOPES_QUERY)
    except ShopifyAdminError:
        return None
    scopes = ((data.get("currentAppInstallation") or {}).get("accessScopes")) or []
    return {str(s.get("handle")) for s in scopes if isinstance(s, dict) and s.get("handle")}


def required_scopes(since: datetime | None, now: datetime, resource: str = DEFAULT_RESOURCE) -> dict[str, str]:
    needed = dict(RESOURCE_SCOPES[resource])
    if resource != DEFAULT_RESOURCE:
        return needed
    if since is None or (now - since).days >= ALL_ORDERS_AGE_DAYS:
        needed[ALL_ORDERS_SCOPE] = f"orders older than {ALL_ORDERS_AGE_DAYS} days (this window reaches back that far)"
    return needed


def access_denied_message(
    client: ShopifyAdminClient, since: datetime | None, now: datetime, detail: str, resource: str = DEFAULT_RESOURCE
) -> str:
    """Name the scope(s) the token lacks, asking Shopify which ones it has; fall back to listing them all."""
    needed = required_scopes(since, now, resource)
    granted = granted_scopes(client)
    if granted is not None:
        missing = {scope: why for scope, why in needed.items() if scope not in granted}
        if missing:
            listed = "; ".join(f"{scope} (for {why})" for scope, why in sorted(missing.items()))
            return (
                f"Shopify denied the {resource} export ({detail}): the app's access token lacks the scope(s) {listed}. "
                "Add them to the app's configuration, reinstall or re-authorise it, and put the new token in "
                "ShopifyAdminApiSecret."
            )
        # Since 2026-11-07 an app built in the Partner Dashboard runs bulk queries only when allowed to
        # there, and loses the permission after 31 days without one (Shopify's changelog, 2026-11-06).
        return (
            f"Shopify denied the {resource} export ({detail}) although the app's token has every scope it needs "
            f"({', '.join(sorted(needed))}). If the app was built in the Partner Dashboard, allow it bulk "
            "queries there (the permission lapses after 31 days without one), then start the export again."
        )
    listed = "; ".join(f"{scope} (for {why})" for scope, why in sorted(needed.items()))
    return (
        f"Shopify denied the {resource} export ({detail}); the export needs the scopes {listed}. Check that the "
        "app has them and that ShopifyAdminApiSecret holds that app's current token."
    )


# -------------------------------------------------------------------------------------- watermark


def object_exists(s3: S3Client, bucket: str, key: str) -> bool:
    """Whether ``key`` exists, asked as a listing: a role may list a prefix without being allowed to
    learn from GetObject's 404 that a key is missing (S3 answers 403 then)."""
    response = s3.list_objects_v2(Bucket=bucket, Prefix=key, MaxKeys=1)
    return any(item.get("Key") == key for item in response.get("Contents", []))


def resource_name(value: Any) -> str:
    """The run's resource: ``orders`` when absent, else one of ``RESOURCES`` (``InvalidResourceError``)."""
    if value is None or value == "":
        return DEFAULT_RESOURCE
    if isinstance(value, str) and value in RESOURCES:
        return value
    shown = repr(value)[:40]
    raise InvalidResourceError(
        f"resource {shown} is not one the bulk workflow exports; use one of {', '.join(RESOURCES)} "
        "(absent means orders). Nothing was exported."
    )


_ROOT_FIELD = re.compile(r"^\s*(?:query\b[^{]*)?\{\s*(?P<field>[A-Za-z_][A-Za-z0-9_]*)")


def resource_of_query(query: str | None) -> str:
    """The resource a bulk query exports (its top-level connection); orders when it cannot be told."""
    match = _ROOT_FIELD.match(query or "")
    return match["field"] if match is not None and match["field"] in RESOURCES else DEFAULT_RESOURCE


def watermark_key(resource: str = DEFAULT_RESOURCE) -> str:
    """``metadata/shopify/bulk/<resource>/watermark.json``."""
    return f"{BULK_METADATA_PREFIX}{resource_name(resource)}/watermark.json"


def read_watermark(s3: S3Client, bucket: str, resource: str = DEFAULT_RESOURCE) -> datetime | None:
    """The end of the newest completely downloaded window of ``resource``, or None before its first
    complete run (orders: or the legacy watermark, until they have their own)."""
    return _read_watermark_version(s3, bucket, resource)[0]


def _read_watermark_version(s3: S3Client, bucket: str, resource: str) -> tuple[datetime | None, str | None]:
    """The watermark and the ETag of the resource's own key (None, None before its first complete run;
    for orders the legacy watermark's value with no ETag, so the first write creates the own key)."""
    key = watermark_key(resource)
    if object_exists(s3, bucket, key):
        response = s3.get_object(Bucket=bucket, Key=key)
        return parse_timestamp(json.loads(response["Body"].read())["watermark"]), response["ETag"]
    if resource == DEFAULT_RESOURCE and object_exists(s3, bucket, WATERMARK_KEY):
        legacy = s3.get_object(Bucket=bucket, Key=WATERMARK_KEY)
        return parse_timestamp(json.loads(legacy["Body"].read())["watermark"]), None
    return None, None


# Another run wrote the watermark between this run's read and its write (412), or at the same moment (409).
_WRITE_RACES = frozenset({"PreconditionFailed", "ConditionalRequestConflict"})
WATERMARK_WRITE_ATTEMPTS = 3


def advance_watermark(
    s3: S3Client,
    bucket: str,
    until: datetime,
    run_id: str,
    now: datetime,
    since: datetime | None = None,
    resource: str = DEFAULT_RESOURCE,
) -> tuple[bool, str]:
    """Move the resource's watermark to the end of a completely downloaded window ``[since, until)``.

    It never moves backwards, and never past a gap: a window that starts after the watermark (a backfill
    of a later period) leaves it where it is, or the incremental runs would skip ``[watermark, since)``
    for good. Before the first complete run (no watermark) any window sets it. The write is conditional
    on the version that was read (S3 ``If-Match`` / ``If-None-Match``): when a scheduled run and a manual
    one overlap, the later writer decides again on what the other wrote instead of overwriting it.
    Returns (moved, why).
    """
    attempt = 0
    while True:
        attempt += 1
        current, etag = _read_watermark_version(s3, bucket, resource)
        if current is not None and current >= until:
            return False, f"not moved: it is already at {iso_utc(current)}, not before this window's end"
        if current is not None and since is not None and since > current:
            return False, (
                f"not moved: this window starts at {iso_utc(since)}, after the watermark {iso_utc(current)}; "
                "moving it would skip the gap between them (run a window from the watermark to close it)"
            )
        document = {"watermark": iso_utc(until), "run_id": run_id, "resource": resource, "updated_at": iso_utc(now)}
        condition = {"IfMatch": etag} if etag is not None else {"IfNoneMatch": "*"}
        try:
            s3.put_object(
                Bucket=bucket,
                Key=watermark_key(resource),
                Body=json.dumps(document, indent=2).encode("utf-8"),
                ContentType="application/json",
                **condition,  # type: ignore[arg-type]
            )
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") not in _WRITE_RACES or attempt >= WATERMARK_WRITE_ATTEMPTS:
                raise
            continue  # read what the other run wrote and decide again
        return True, f"moved to {iso_utc(until)}" + (f" from {iso_utc(current)}" if current is not None else "")


# ------------------------------------------------------------------------------------------- keys


def run_prefix(run_id: str) -> str:
    return f"{BULK_METADATA_PREFIX}run={safe_segment(run_id, 'run id')}/"


def manifest_key(run_id: str) -> str:
    return run_prefix(run_id) + "manifest.json"


def checkpoint_key(run_id: str, step: int) -> str:
    return f"{run_prefix(run_id)}checkpoints/step-{step:05d}.ckpt"


# ------------------------------------------------------------------------------------ result URLs

# Where Shopify serves bulk operation results: signed Google Cloud Storage links,
# https://storage.googleapis.com/shopify-tiers-assets-prod-us-east1/bulk-operation-outputs/<id>?GoogleAccessId=
# ...&Expires=...&Signature=... (Shopify's docs show https://storage.googleapis.com/shopify/<id>?<params>).
# More origins come from the stack's BulkResultHosts parameter.
DEFAULT_RESULT_ORIGINS = ("https://storage.googleapis.com",)
_DEFAULT_PORTS = {"https": 443, "http": 80}
_HOST = re.compile(r"^[a-z0-9]([a-z0-9.-]{0,251}[a-z0-9])?$")
_UNSAFE_URL_CHARACTERS = re.compile(r"[\\\s\x00-\x1f\x7f]")
Origin = tuple[str, str, int]  # scheme, host, port


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def parse_origin(entry: str) -> Origin:
    """An allow-list entry: ``host``, ``host:port`` or ``https://host[:port]`` (https), or
    ``http://127.0.0.1:<port>`` (plain http, for a local simulator on the loopback interface only)."""
    text = entry.strip().lower().rstrip("/")
    scheme, sep, rest = text.partition("://")
    if not sep:
        scheme, rest = "https", text
    host, _, port_text = rest.partition(":")
    if scheme not in _DEFAULT_PORTS or not _HOST.match(host) or (port_text and not port_text.isdigit()):
        raise ValueError(
            f"bulk result origin {entry!r} is not host[:port], https://host[:port] or http://127.0.0.1:port"
        )
    if scheme == "http" and not _is_loopback(host):
        raise ValueError(f"bulk result origin {entry!r}: plain http is allowed only for a local simulator on 127.0.0.1")
    port = int(port_text) if port_text else _DEFAULT_PORTS[scheme]
    if not 0 < port < 65536:
        raise ValueError(f"bulk result origin {entry!r} has no valid port")
    return scheme, host, port


def describe_origin(url: str) -> str:
    """What of a URL may be shown: its scheme, host and port; never the path or the signed query."""
    try:
        parsed = parse_url(url)
    except (LocationParseError, ValueError):
        return "an unparseable URL"
    if not parsed.scheme or not parsed.host:
        return "a URL without scheme or host"
    port = f":{parsed.port}" if parsed.port else ""
    return f"{parsed.scheme}://{parsed.host}{port}"[:200]


@dataclass(frozen=True)
class ResultUrlPolicy:
    """The origins a bulk result may be read from (the result URL and every redirect it answers)."""

    origins: frozenset[Origin]

    @classmethod
    def from_setting(cls, extra: str | Iterable[str] = "") -> ResultUrlPolicy:
        entries = extra.split(",") if isinstance(extra, str) else list(extra)
        origins = {parse_origin(e) for e in DEFAULT_RESULT_ORIGINS}
        origins |= {parse_origin(e) for e in entries if e.strip()}
        return cls(frozenset(origins))

    def origin_of(self, url: str) -> Origin | None:
        """The URL's origin when it is a plain absolute URL this policy allows; None otherwise."""
        if not isinstance(url, str) or len(url) > 16_384 or _UNSAFE_URL_CHARACTERS.search(url):
            return None
        try:
            parsed = parse_url(url)
        except (LocationParseError, ValueError):
            return None
        scheme, host = (parsed.scheme or "").lower(), (parsed.host or "").lower().rstrip(".")
        if parsed.auth is not None or scheme not in _DEFAULT_PORTS or not host:
            return None
        origin = (scheme, host, parsed.port or _DEFAULT_PORTS[scheme])
        return origin if origin in self.origins else None

    def check(self, url: str, what: str = "the result URL") -> None:
        """Raise ``ResultUrlNotAllowedError`` (naming only the origin) unless ``url`` may be fetched."""
        if self.origin_of(url) is None:
            allowed = ", ".join(
                sorted(f"{s}://{h}" + ("" if p == _DEFAULT_PORTS[s] else f":{p}") for s, h, p in self.origins)
            )
            raise ResultUrlNotAllowedError(
                f"{what} is on {describe_origin(url)}, not on an origin Shopify serves bulk results from "
                f"({allowed}); nothing was fetched from it. If Shopify moved its bulk results, add the origin "
                "to the stack's BulkResultHosts parameter (docs/shopify-bulk.md)."
            )
