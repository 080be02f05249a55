"""Recharge webhooks over the HTTP API: authenticity first, then the lake and the hot stores.

One invocation is one delivery (API Gateway HTTP API, payload format 2.0). In order:

0. the path token (``/recharge/webhooks/{token}/...``, the secret's ``path_token``), compared in
   constant time before anything else is done: a wrong or missing one is 404, like an unknown route,
   and nothing of the request is logged but its method and the token's length;
1. only POST (else 405), at most ``MAX_BODY_BYTES`` (else 413), the body base64-decoded when API
   Gateway says so (undecodable: 400);
2. the signature on the raw bytes (``signature``), with the current and, during a rotation,
   the previous webhook secret (only for ``PREVIOUS_SECRET_GRACE_HOURS`` after the current one was
   created): a failure is 401 and nothing of the body is stored or logged. Without
   ``REQUIRE_TIMESTAMPED_SIGNATURE`` a legacy-only delivery is accepted, but only when its body is a
   processable resource whose (signed) ``updated_at`` is within the replay window: a stale
   timestamped delivery stripped of its timestamped header, or a length-extended legacy body, is 401
   and never reaches the quarantine;
3. the delivery's topic, resource, version and hot-store item (``delivery``): an authentic
   delivery that cannot be processed is quarantined verbatim with its reason and answered 200, because a
   retry cannot fix it and Recharge deletes a webhook after 20 failed attempts;
4. the raw body to ``raw/recharge/<resource>/topic=<topic>/dt=<date>/<id>-<updated_at>.json``, the newest
   state to the hot store (conditional on ``updated_at``; addresses are raw only), the alert for a
   cancellation or a charge at max retries when an alerts topic is configured, once per (resource,
   version): a conditional claim on the hot-store item before the publish, released by time so that a
   retry after a failed publish publishes; then 200.

An AWS failure in steps 3-4 answers 503 (throttling, timeouts) or 500 (anything else) so that Recharge
retries; every write is idempotent, so a retry after a partial success converges. Logs carry ids,
topics, reasons and sizes, never a body, a secret or a signature.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from botocore.exceptions import BotoCoreError, ClientError

from common import aws, webhook_http
from common.config import ConfigError, env_field, load_settings
from common.errors import BadInput, TransientError
from common.hotstore import Outcome, SourceVersion, claim_version, mark_version_done, upsert_if_newer
from common.lake import Lake, UnsafeKeyError
from common.observability import MetricUnit, logger, metrics, tracer
from common.secret_cache import CachedSecret, SecretFormatError
from common.settings import LakeSettings
from common.timeutil import utc_now
from recharge.webhook import delivery as rules
from recharge.webhook import signature

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_sns import SNSClient

SOURCE = rules.SOURCE
SECRET_KEY = "webhook_secret"  # noqa: S105 - the name of the key in the secret's JSON, not a secret
PATH_TOKEN_KEY = "path_token"  # noqa: S105 - the name of the key in the secret's JSON, not a secret
PATH_TOKEN_FORM = re.compile(r"^[A-Za-z0-9_-]{32,128}$")
_DERIVATION_LABEL = b"recharge-webhook-path-token"
NOT_FOUND = {"message": "Not Found"}  # API Gateway's own answer to an unknown route, byte for byte

# Hot-store attributes of the alert claim (docs/recharge.md, "Alerts").
ALERT_PUBLISHED = "alert_published_version"
ALERT_CLAIMED = "alert_claimed_version"
ALERT_CLAIMED_AT = "alert_claimed_at"


def derive_path_token(webhook_secret: str) -> str:
    """The path token of a secret that has no ``path_token`` key (the stack's placeholder, the local cloud)."""
    return hmac.new(webhook_secret.encode("utf-8"), _DERIVATION_LABEL, hashlib.sha256).hexdigest()[:40]


def path_token_of(document: Mapping[str, str]) -> str:
    """The secret's ``path_token``, else the one derived from its ``webhook_secret``."""
    token = document.get(PATH_TOKEN_KEY, "")
    if not token:
        secret = document.get(SECRET_KEY, "")
        if not secret:
            raise SecretFormatError(f"the webhook secret has neither {PATH_TOKEN_KEY!r} nor {SECRET_KEY!r}")
        return derive_path_token(secret)
    if not PATH_TOKEN_FORM.match(token):
        raise SecretFormatError(f"the secret's {PATH_TOKEN_KEY!r} must be 32-128 characters of A-Z a-z 0-9 _ -")
    return token


@dataclass(frozen=True, kw_only=True)
class Settings(LakeSettings):
    subscriptions_table: str = env_field("SUBSCRIPTIONS_TABLE_NAME")
    charges_table: str = env_field("CHARGES_TABLE_NAME")
    invoices_table: str = env_field("INVOICES_TABLE_NAME")
    customers_table: str = env_field("CUSTOMERS_TABLE_NAME")
    secret_arn: str = env_field("WEBHOOK_SECRET_ARN")
    alerts_topic_arn: str = env_field("ALERTS_TOPIC_ARN", default="")
    naive_timezone: str = env_field("RECHARGE_NAIVE_TIMEZONE", default="America/New_York")
    max_body_bytes: int = env_field("MAX_BODY_BYTES", default=1024 * 1024)
    signature_max_age_seconds: int = env_field("SIGNATURE_MAX_AGE_SECONDS", default=signature.DEFAULT_MAX_AGE_SECONDS)
    signature_future_skew_seconds: int = env_field(
        "SIGNATURE_FUTURE_SKEW_SECONDS", default=signature.DEFAULT_FUTURE_SKEW_SECONDS
    )
    secret_cache_seconds: float = env_field("SECRET_CACHE_SECONDS", default=300.0)
    secret_refresh_min_interval_seconds: float = env_field("SECRET_REFRESH_MIN_INTERVAL_SECONDS", default=60.0)
    require_timestamped: bool = env_field("REQUIRE_TIMESTAMPED_SIGNATURE", default=True)
    previous_secret_grace_hours: float = env_field("PREVIOUS_SECRET_GRACE_HOURS", default=48.0)
    alert_claim_seconds: float = env_field("ALERT_CLAIM_SECONDS", default=60.0)

    def table_for(self, resource: str) -> str | None:
        return {
            "subscription": self.subscriptions_table,
            "charge": self.charges_table,
            "order": self.invoices_table,
            "customer": self.customers_table,
        }.get(resource)

    def naive_zone(self) -> ZoneInfo:
        try:
            return ZoneInfo(self.naive_timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise ConfigError(
                f"environment variable RECHARGE_NAIVE_TIMEZONE={self.naive_timezone!r} is not an IANA time zone"
            ) from None


class SecretRing:
    """The webhook secrets that may have signed a delivery: current, and previous during a rotation.

    The previous version (``AWSPREVIOUS``) counts only for ``grace_seconds`` after the current version
    was created, and only when that date is known (``CachedSecret.created``; when Secrets Manager gives
    none, the previous version never counts). Values are cached for ``max_age`` seconds. A signature or
    path token that matches no cached value may mean the secret was rotated since: the cache is then
    refreshed, but at most once per ``refresh_interval`` seconds, so forged requests cannot turn into a
    Secrets Manager call each.
    """

    def __init__(
        self,
        cached: CachedSecret,
        *,
        refresh_interval: float,
        clock: Callable[[], float] = time.monotonic,
        grace_seconds: float = 0.0,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self._cached = cached
        self._refresh_interval = refresh_interval
        self._clock = clock
        self._grace = grace_seconds
        self._wall_clock = wall_clock
        self._last_refresh: float | None = None

    def documents(self) -> list[dict[str, str]]:
        """The current secret's JSON, then the previous one's while it is within its grace period."""
        current = self._cached.current()
        found = [current]
        if self._grace > 0:
            created = self._cached.created()
            if created is not None and self._wall_clock() - created.timestamp() <= self._grace:
                previous = self._cached.previous()
                if previous:
                    found.append(previous)
        return found

    def values(self) -> list[str]:
        documents = self.documents()
        current = documents[0].get(SECRET_KEY, "")
        if not current:
            raise SecretFormatError(f"the webhook secret has no {SECRET_KEY!r} key")
        found = [current]
        previous = documents[1].get(SECRET_KEY, "") if len(documents) > 1 else ""
        if previous and previous != current:
            found.append(previous)
        return found

    def tokens(self) -> list[str]:
        """The path tokens a request may carry (the previous secret's during its grace period too)."""
        documents = self.documents()
        found = [path_token_of(documents[0])]
        for document in documents[1:]:
            try:
                found.append(path_token_of(document))
            except SecretFormatError:
                continue  # an unusable previous value never makes the current one fail
        return found

    def refresh(self) -> bool:
        """Drop the cached values if the last refresh is old enough; True when it did."""
        now = self._clock()
        if self._last_refresh is not None and now - self._last_refresh < self._refresh_interval:
            return False
        self._last_refresh = now
        self._cached.invalidate()
        return True


def _failure(exc: Exception, stage: str) -> dict[str, Any]:
    """A 5xx for an AWS failure, so Recharge retries (common.webhook_http)."""
    return webhook_http.aws_failure(exc, stage, "delivery not processed")


class Receiver:
    """Handles one delivery at a time; all collaborators are given, so tests and benchmarks build their own."""

    def __init__(
        self,
        settings: Settings,
        *,
        s3: S3Client,
        dynamodb: DynamoDBClient,
        sns: SNSClient | None,
        secrets: SecretRing,
        clock: Callable[[], float] = time.time,
        verify_signatures: bool = True,
    ) -> None:
        self.settings = settings
        self.lake = Lake(s3, settings.bucket)
        self.dynamodb = dynamodb
        self.sns = sns
        self.secrets = secrets
        self.clock = clock
        self.naive_zone = settings.naive_zone()
        # Only the benchmark turns this off, to measure what the check costs; no setting reaches it.
        self.verify_signatures = verify_signatures

    # ------------------------------------------------------------------------------ entry point

    def handle(self, event: Mapping[str, Any]) -> dict[str, Any]:
        context = event.get("requestContext") or {}
        method = str((context.get("http") or {}).get("method", "")).upper()
        path = event.get("pathParameters") or {}
        unknown = self._check_path_token(path.get("token"), method)
        if unknown is not None:
            return unknown
        headers = {str(k).lower(): str(v) for k, v in (event.get("headers") or {}).items()}
        if method != "POST":
            metrics.add_metric(name="MethodNotAllowed", unit=MetricUnit.Count, value=1)
            metrics.add_metric(name="Answered4xx", unit=MetricUnit.Count, value=1)
            return webhook_http.response(
                405, {"error": "method not allowed; Recharge deliveries are POST"}, {"allow": "POST"}
            )
        body = self._body(event)
        if isinstance(body, dict):
            return body
        legacy_only = False
        if self.verify_signatures:
            refused, legacy_only = self._authenticate(body, headers)
            if refused is not None:
                return refused
        return self._process(body, headers, path, legacy_only=legacy_only)

    # ------------------------------------------------------------------------------ steps

    def _check_path_token(self, given: Any, method: str) -> dict[str, Any] | None:
        """None when the path carries a current token; else 404, answered before any other work."""
        candidate = given.encode("utf-8", "replace") if isinstance(given, str) else b""
        try:
            if self._token_matches(candidate):
                return None
            if self.secrets.refresh() and self._token_matches(candidate):  # the token may have been rotated
                return None
        except (ClientError, BotoCoreError, SecretFormatError) as exc:
            if isinstance(exc, SecretFormatError):
                logger.error("webhook secret unusable", extra={"error_type": type(exc).__name__})
                metrics.add_metric(name="DeliveryFailed", unit=MetricUnit.Count, value=1)
                return webhook_http.response(500, {"error": "internal error; retry later"})
            return _failure(exc, "secret")
        # The method and the token's length only: never the token, a header or the body.
        logger.warning("request refused: path token", extra={"method": method[:16], "token_length": len(candidate)})
        metrics.add_metric(name="PathTokenRejected", unit=MetricUnit.Count, value=1)
        metrics.add_metric(name="Answered4xx", unit=MetricUnit.Count, value=1)
        return webhook_http.response(404, NOT_FOUND)

    def _token_matches(self, candidate: bytes) -> bool:
        matched = False
        for token in self.secrets.tokens():  # every token compared, each in constant time
            matched |= hmac.compare_digest(token.encode("ascii"), candidate)
        return matched

    def _body(self, event: Mapping[str, Any]) -> bytes | dict[str, Any]:
        limit = self.settings.max_body_bytes
        text = event.get("body") or ""
        if not isinstance(text, str):
            metrics.add_metric(name="Answered4xx", unit=MetricUnit.Count, value=1)
            return webhook_http.response(400, {"error": "unreadable body"})
        encoded = bool(event.get("isBase64Encoded"))
        # Refuse an oversized body before decoding it (base64 is 4 characters per 3 bytes).
        text_limit = (limit // 3 + 1) * 4 if encoded else limit
        if len(text) > text_limit:
            return self._too_large(len(text))
        if encoded:
            try:
                body = base64.b64decode(text, validate=True)
            except (binascii.Error, ValueError):
                metrics.add_metric(name="BadEncoding", unit=MetricUnit.Count, value=1)
                metrics.add_metric(name="Answered4xx", unit=MetricUnit.Count, value=1)
                return webhook_http.response(400, {"error": "body is not valid base64"})
        else:
            body = text.encode("utf-8", "surrogatepass")
        if len(body) > limit:
            return self._too_large(len(body))
        return body

    def _too_large(self, size: int) -> dict[str, Any]:
        logger.warning("delivery refused: body too large", extra={"body_bytes": size})
        metrics.add_metric(name="BodyTooLarge", unit=MetricUnit.Count, value=1)
        metrics.add_metric(name="Answered4xx", unit=MetricUnit.Count, value=1)
        return webhook_http.response(413, {"error": f"body larger than {self.settings.max_body_bytes} bytes"})

    def _authenticate(self, body: bytes, headers: Mapping[str, str]) -> tuple[dict[str, Any] | None, bool]:
        """(a refusal or None, whether only the legacy scheme vouched for the body)."""
        try:
            verdict = self._verify(body, headers)
            if verdict.reason == signature.MISMATCH and self.secrets.refresh():
                verdict = self._verify(body, headers)  # the secret may have been rotated since it was cached
        except (ClientError, BotoCoreError, SecretFormatError) as exc:
            if isinstance(exc, SecretFormatError):
                logger.error("webhook secret unusable", extra={"error_type": type(exc).__name__})
                metrics.add_metric(name="DeliveryFailed", unit=MetricUnit.Count, value=1)
                return webhook_http.response(500, {"error": "internal error; retry later"}), False
            return _failure(exc, "secret"), False
        if not verdict.ok:
            return self._refuse(verdict.scheme, verdict.reason, len(body)), False
        if verdict.secret_index:
            logger.info("delivery signed with the previous webhook secret", extra={"scheme": verdict.scheme})
        legacy_only = verdict.scheme == "legacy"
        if not legacy_only:  # a legacy-only body is counted once it passed the checks in _process
            metrics.add_metric(name="SignatureAccepted", unit=MetricUnit.Count, value=1)
        return None, legacy_only

    def _refuse(self, scheme: str, reason: str, size: int) -> dict[str, Any]:
        logger.warning("delivery refused: signature", extra={"scheme": scheme, "reason": reason, "body_bytes": size})
        metrics.add_metric(name="SignatureRejected", unit=MetricUnit.Count, value=1)
        metrics.add_metric(name="Answered4xx", unit=MetricUnit.Count, value=1)
        return webhook_http.response(401, {"error": "invalid or missing signature"})

    def _verify(self, body: bytes, headers: Mapping[str, str]) -> signature.Verdict:
        return signature.verify(
            body,
            headers,
            self.secrets.values(),
            now=self.clock(),
            max_age=self.settings.signature_max_age_seconds,
            future_skew=self.settings.signature_future_skew_seconds,
            require_timestamped=self.settings.require_timestamped,
        )

    def _process(
        self, body: bytes, headers: Mapping[str, str], path: Mapping[str, str], *, legacy_only: bool = False
    ) -> dict[str, Any]:
        received_at = utc_now()
        try:
            topic = rules.resolve_topic(path, headers)
            delivery = rules.parse(body, topic, self.naive_zone)
            key = delivery.raw_key()
            item = rules.hot_item(delivery, self.naive_zone)  # before any write: BadInput if unstorable
        except (BadInput, UnsafeKeyError) as exc:
            reason = exc.reason if isinstance(exc, BadInput) else "unsafe-key"
            if legacy_only:
                # Length extension makes "authentic" legacy bodies of attacker-chosen bytes: they are
                # never quarantined, so the quarantine cannot be grown through the legacy scheme.
                return self._refuse("legacy", f"legacy-unprocessable:{reason}", len(body))
            return self._quarantine(body, reason, str(exc), received_at)
        if legacy_only:
            age = self.clock() - delivery.updated_at.timestamp()
            if age > self.settings.signature_max_age_seconds:
                # A stale timestamped delivery with its timestamped header removed: updated_at is signed
                # and was at or before the send time, so it is stale too.
                return self._refuse("legacy", "legacy-stale", len(body))
            metrics.add_metric(name="SignatureAccepted", unit=MetricUnit.Count, value=1)
        logger.append_keys(topic=delivery.topic, resource_id=delivery.resource_id)
        try:
            self.lake.put_verbatim(key, body, metadata={"topic": delivery.topic, "event-id": delivery.event_id})
            outcome = self._upsert(delivery, item)
            if outcome is not Outcome.STALE and item is not None:
                self._alert(delivery, item[0])
        except (ClientError, BotoCoreError, TransientError) as exc:
            return _failure(exc, "store")
        metrics.add_metric(name="DeliveryStored", unit=MetricUnit.Count, value=1)
        if outcome is Outcome.STALE:
            metrics.add_metric(name="StaleDelivery", unit=MetricUnit.Count, value=1)
        logger.info("delivery stored", extra={"raw_key": key, "outcome": outcome.value})
        return webhook_http.response(
            200,
            {"status": "accepted", "topic": delivery.topic, "id": delivery.resource_id, "outcome": outcome.value},
        )

    def _quarantine(self, body: bytes, reason: str, detail: str, received_at: datetime) -> dict[str, Any]:
        try:
            key = self.lake.quarantine(source=SOURCE, reason=reason, body=body, received_at=received_at, detail=detail)
        except (ClientError, BotoCoreError) as exc:
            return _failure(exc, "quarantine")
        logger.warning("delivery quarantined", extra={"reason": reason, "quarantine_key": key})
        metrics.add_metric(name="Quarantined", unit=MetricUnit.Count, value=1)
        return webhook_http.response(200, {"status": "quarantined", "reason": reason})

    def _upsert(self, delivery: rules.Delivery, item: tuple[dict[str, str], dict[str, Any]] | None) -> Outcome:
        table = self.settings.table_for(delivery.resource)
        if item is None or table is None:
            return Outcome.WRITTEN  # raw only (addresses): the lake write above is the whole job
        key, attributes = item
        return upsert_if_newer(
            self.dynamodb,
            table,
            key,
            attributes,
            SourceVersion.of(delivery.updated_at, delivery.event_id),
            updated_at=delivery.updated_at,
            remove=rules.RETIRED.get(delivery.resource, ()),  # contact fields items written earlier still hold
        )

    def _alert(self, delivery: rules.Delivery, key: Mapping[str, str]) -> None:
        """Published once per (resource, version): a claim on the hot-store item, then the publish, then
        the mark. A duplicate or a relabelled replay finds the mark (or a live claim) and publishes
        nothing; a publish that failed leaves a claim that expires after ``alert_claim_seconds``, so
        Recharge's retry publishes."""
        if not self.settings.alerts_topic_arn or self.sns is None:
            return
        alert = rules.alert(delivery)
        table = self.settings.table_for(delivery.resource)
        if alert is None or table is None:
            return
        if not self._claim_alert(table, key, delivery.version_us):
            logger.info("alert already published or under way for this version")
            metrics.add_metric(name="AlertSuppressed", unit=MetricUnit.Count, value=1)
            return
        subject, message = alert
        self.sns.publish(TopicArn=self.settings.alerts_topic_arn, Subject=subject, Message=message)
        metrics.add_metric(name="AlertPublished", unit=MetricUnit.Count, value=1)
        self._mark_alert(table, key, delivery.version_us)

    def _claim_alert(self, table: str, key: Mapping[str, str], version: int) -> bool:
        return claim_version(
            self.dynamodb,
            table,
            key,
            version,
            done=ALERT_PUBLISHED,
            claimed=ALERT_CLAIMED,
            claimed_at=ALERT_CLAIMED_AT,
            now=self.clock(),
            lease_seconds=self.settings.alert_claim_seconds,
        )

    def _mark_alert(self, table: str, key: Mapping[str, str], version: int) -> None:
        try:
            mark_version_done(self.dynamodb, table, key, version, done=ALERT_PUBLISHED)
        except ClientError as exc:
            # Published but not marked: the claim still stops retries until it expires.
            logger.warning("alert published but not marked", extra={"error_type": type(exc).__name__})


def build_receiver(settings: Settings) -> Receiver:
    """The receiver of a deployed function: clients and the secret cache from the environment."""
    cached = CachedSecret(aws.secretsmanager(), settings.secret_arn, max_age_seconds=settings.secret_cache_seconds)
    return Receiver(
        settings,
        s3=aws.s3(),
        dynamodb=aws.dynamodb(),
        sns=aws.sns() if settings.alerts_topic_arn else None,
        secrets=SecretRing(
            cached,
            refresh_interval=settings.secret_refresh_min_interval_seconds,
            grace_seconds=settings.previous_secret_grace_hours * 3600,
        ),
    )


settings = load_settings(Settings)
receiver = build_receiver(settings)


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    request_id = (event.get("requestContext") or {}).get("requestId")
    if request_id:
        logger.set_correlation_id(str(request_id))
    return receiver.handle(event)
