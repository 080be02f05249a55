"""Shopify compliance webhooks over the HTTP API: authenticity first, then one durable request record.

One invocation is one delivery (API Gateway HTTP API, payload format 2.0, ``ANY /shopify/compliance``).
In order (docs/privacy.md):

1. only POST (else 405), at most ``MAX_BODY_BYTES`` (else 413), the body base64-decoded when API
   Gateway says so (undecodable: 400);
2. ``X-Shopify-Hmac-Sha256`` on the raw bytes (``compliance_request.signature_matches``), with the
   app's current client secret and, while ``ACCEPT_PREVIOUS_SECRET`` is true (during a rotation), the
   previous one: a missing or wrong signature is 401, and nothing of the request is stored or logged
   but its size;
3. the topic (``X-Shopify-Topic``, one of the three) must agree with the signed body's shape (400
   otherwise), and the body's ``shop_domain`` must be this platform's shop (``SHOP_DOMAIN``; 403
   otherwise): such an authentic but refused delivery is counted (``AuthenticRefused``, an alarm) and
   not stored: the role may write nothing but the request records, and a request we do not honour must
   not leave a copy of someone's contact data behind;
4. the record to ``metadata/privacy/requests/<topic>/<request id>.json`` with a conditional PutObject
   (``If-None-Match: *``): a redelivery or a replay of the same signed body finds the record and is
   answered 200 without writing; then the privacy workflow is started (``PrivacyWorkflow``; not built
   yet: the record says ``"started": false``); then 200.

An AWS failure answers 503 (throttling, timeouts) or 500 so that Shopify retries. Logs carry topics,
request ids, reasons and sizes, never a body, an e-mail, a phone, a secret or a signature.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from botocore.exceptions import BotoCoreError, ClientError

from common import aws, webhook_http
from common.config import env_field, load_settings
from common.errors import BadInput
from common.observability import MetricUnit, logger, metrics, tracer
from common.secret_cache import CachedSecret, SecretFormatError
from common.timeutil import utc_now

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

    # The image puts this folder's modules at the task root, so the handler imports them flat (below);
    # mypy, which sees the whole repository, knows them by their path under lambdas/.
    from shopify.compliance_webhook import compliance_request as rules
else:
    import compliance_request as rules

SECRET_KEY = "client_secret"  # noqa: S105 - the name of the key in the secret's JSON, not a secret


@dataclass(frozen=True)
class Settings:
    bucket: str = env_field("DATA_LAKE_BUCKET_NAME")
    secret_arn: str = env_field("CLIENT_SECRET_ARN")
    shop_domain: str = env_field("SHOP_DOMAIN")
    max_body_bytes: int = env_field("MAX_BODY_BYTES", default=256 * 1024)
    accept_previous_secret: bool = env_field("ACCEPT_PREVIOUS_SECRET", default=False)
    secret_cache_seconds: float = env_field("SECRET_CACHE_SECONDS", default=300.0)
    secret_refresh_min_interval_seconds: float = env_field("SECRET_REFRESH_MIN_INTERVAL_SECONDS", default=60.0)
    workflow_name: str = env_field("PRIVACY_WORKFLOW_NAME", default="")


class ClientSecrets:
    """The app client secrets that may have signed a delivery: current, and previous while accepted.

    A signature that matches no cached value may mean the secret was rotated since: the cache is then
    refreshed, at most once per ``refresh_interval`` seconds, so forged requests cannot turn into a
    Secrets Manager call each.
    """

    def __init__(
        self,
        cached: CachedSecret,
        *,
        accept_previous: bool,
        refresh_interval: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._cached = cached
        self._accept_previous = accept_previous
        self._refresh_interval = refresh_interval
        self._clock = clock
        self._last_refresh: float | None = None

    def values(self) -> list[str]:
        current = self._cached.current().get(SECRET_KEY, "")
        if not current:
            raise SecretFormatError(f"the app client secret has no {SECRET_KEY!r} key")
        found = [current]
        if self._accept_previous:
            previous = (self._cached.previous() or {}).get(SECRET_KEY, "")
            if previous and previous != current:
                found.append(previous)
        return found

    def refresh(self) -> bool:
        now = self._clock()
        if self._last_refresh is not None and now - self._last_refresh < self._refresh_interval:
            return False
        self._last_refresh = now
        self._cached.invalidate()
        return True


class PrivacyWorkflow(Protocol):
    """The seam where the erasure / access workflow (``${Brand}-privacy-requests``) will be started."""

    def describe(self, request: rules.ComplianceRequest) -> dict[str, Any]:
        """What the record says about the workflow before it is started."""

    def start(self, request: rules.ComplianceRequest) -> None:
        """Start the workflow for a newly recorded request (idempotent: named after the request id)."""


class WorkflowNotBuilt:
    """Today's workflow: none. The record says so; nothing pretends to have started anything.

    When the state machine exists, its collaborator starts an execution named after the request id (a
    Standard workflow refuses a second execution of the same name, so a retry is harmless), and a sweep
    starts the ones whose record says ``"started": false`` (docs/privacy.md, "What is still to come")."""

    def __init__(self, name: str = "") -> None:
        self.name = name

    def describe(self, request: rules.ComplianceRequest) -> dict[str, Any]:
        return {"name": self.name or None, "started": False, "reason": "privacy workflow not built yet"}

    def start(self, request: rules.ComplianceRequest) -> None:
        return None


def _client_error(status: int, body: Mapping[str, Any], headers: Mapping[str, str] | None = None) -> dict[str, Any]:
    metrics.add_metric(name="Answered4xx", unit=MetricUnit.Count, value=1)
    return webhook_http.response(status, body, headers)


def _failure(exc: Exception, stage: str) -> dict[str, Any]:
    """A 5xx for an AWS failure, so Shopify retries (common.webhook_http)."""
    return webhook_http.aws_failure(exc, stage, "request not recorded")


class Receiver:
    """Handles one delivery at a time; all collaborators are given, so tests build their own."""

    def __init__(
        self,
        settings: Settings,
        *,
        s3: S3Client,
        secrets: ClientSecrets,
        workflow: PrivacyWorkflow,
        salt: Callable[[], bytes] = lambda: os.urandom(16),
    ) -> None:
        self.settings = settings
        self.s3 = s3
        self.secrets = secrets
        self.workflow = workflow
        self.salt = salt
        self.shop_domain = settings.shop_domain.strip().lower()

    def handle(self, event: Mapping[str, Any]) -> dict[str, Any]:
        context = event.get("requestContext") or {}
        method = str((context.get("http") or {}).get("method", "")).upper()
        if method != "POST":
            metrics.add_metric(name="MethodNotAllowed", unit=MetricUnit.Count, value=1)
            return _client_error(405, {"error": "method not allowed; compliance webhooks are POST"}, {"allow": "POST"})
        headers = {str(k).lower(): str(v) for k, v in (event.get("headers") or {}).items()}
        body = self._body(event)
        if isinstance(body, dict):
            return body
        refused = self._authenticate(body, headers)
        if refused is not None:
            return refused
        try:
            topic = rules.resolve_topic(headers)
            request = rules.parse(body, topic)
        except BadInput as exc:
            return self._refuse(400, exc.reason, len(body))
        logger.append_keys(topic=request.topic, privacy_request_id=request.request_id)
        if request.shop_domain != self.shop_domain:
            return self._refuse(403, "other-shop", len(body))
        return self._record(request, rules.Delivery.of(headers))

    # ------------------------------------------------------------------------------ steps

    def _body(self, event: Mapping[str, Any]) -> bytes | dict[str, Any]:
        limit = self.settings.max_body_bytes
        text = event.get("body") or ""
        if not isinstance(text, str):
            return _client_error(400, {"error": "unreadable body"})
        encoded = bool(event.get("isBase64Encoded"))
        # Refuse an oversized body before decoding it (base64 is 4 characters per 3 bytes).
        if len(text) > ((limit // 3 + 1) * 4 if encoded else limit):
            return self._too_large(len(text))
        if encoded:
            try:
                body = base64.b64decode(text, validate=True)
            except (binascii.Error, ValueError):
                return _client_error(400, {"error": "body is not valid base64"})
        else:
            body = text.encode("utf-8", "surrogatepass")
        if len(body) > limit:
            return self._too_large(len(body))
        return body

    def _too_large(self, size: int) -> dict[str, Any]:
        logger.warning("request refused: body too large", extra={"body_bytes": size})
        metrics.add_metric(name="BodyTooLarge", unit=MetricUnit.Count, value=1)
        return _client_error(413, {"error": f"body larger than {self.settings.max_body_bytes} bytes"})

    def _authenticate(self, body: bytes, headers: Mapping[str, str]) -> dict[str, Any] | None:
        given = rules.header(headers, "Hmac-Sha256")
        try:
            matched = rules.signature_matches(body, given, self.secrets.values())
            if matched is None and given and self.secrets.refresh():
                matched = rules.signature_matches(body, given, self.secrets.values())  # rotated since cached?
        except SecretFormatError as exc:
            logger.error("app client secret unusable", extra={"error_type": type(exc).__name__})
            metrics.add_metric(name="DeliveryFailed", unit=MetricUnit.Count, value=1)
            return webhook_http.response(500, {"error": "internal error; retry later"})
        except (ClientError, BotoCoreError) as exc:
            return _failure(exc, "secret")
        if matched is None:
            reason = "wrong" if given else "missing"
            logger.warning("request refused: signature", extra={"reason": reason, "body_bytes": len(body)})
            metrics.add_metric(name="SignatureRejected", unit=MetricUnit.Count, value=1)
            return _client_error(401, {"error": "invalid or missing signature"})
        if matched:
            logger.info("request signed with the previous app client secret")
        metrics.add_metric(name="SignatureAccepted", unit=MetricUnit.Count, value=1)
        return None

    def _refuse(self, status: int, reason: str, size: int) -> dict[str, Any]:
        """An authentic delivery we do not honour: counted and alarmed on, never stored."""
        logger.warning("authentic request refused", extra={"reason": reason, "body_bytes": size})
        metrics.add_metric(name="AuthenticRefused", unit=MetricUnit.Count, value=1)
        return _client_error(status, {"error": "request refused", "reason": reason})

    def _start(self, request: rules.ComplianceRequest) -> dict[str, Any] | None:
        """Start the request's workflow; a 5xx answer when that failed (Shopify retries), else None."""
        try:
            self.workflow.start(request)
        except (ClientError, BotoCoreError) as exc:
            return _failure(exc, "workflow")
        return None

    def _record(self, request: rules.ComplianceRequest, delivery: rules.Delivery) -> dict[str, Any]:
        document = rules.record(
            request,
            delivery,
            received_at=utc_now(),
            salt=self.salt(),
            workflow=self.workflow.describe(request),
        )
        try:
            self.s3.put_object(
                Bucket=self.settings.bucket,
                Key=request.key,
                Body=json.dumps(document, sort_keys=True).encode("utf-8"),
                ContentType="application/json",
                IfNoneMatch="*",
            )
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") not in ("PreconditionFailed", "412"):
                return _failure(exc, "record")
            # A redelivery: start the workflow again (idempotent) in case the first delivery's start failed.
            logger.info("request already recorded", extra={"record_key": request.key})
            metrics.add_metric(name="DuplicateDelivery", unit=MetricUnit.Count, value=1)
            started = self._start(request)
            return started or webhook_http.response(
                200, {"status": "already recorded", "request_id": request.request_id}
            )
        except BotoCoreError as exc:
            return _failure(exc, "record")
        failed = self._start(request)
        if failed is not None:
            return failed
        metrics.add_metric(name="RequestRecorded", unit=MetricUnit.Count, value=1)
        logger.info("request recorded", extra={"record_key": request.key})
        return webhook_http.response(
            200, {"status": "recorded", "request_id": request.request_id, "topic": request.topic}
        )


def build_receiver(settings: Settings) -> Receiver:
    """The receiver of a deployed function: clients and the secret cache from the environment."""
    cached = CachedSecret(aws.secretsmanager(), settings.secret_arn, max_age_seconds=settings.secret_cache_seconds)
    return Receiver(
        settings,
        s3=aws.s3(),
        secrets=ClientSecrets(
            cached,
            accept_previous=settings.accept_previous_secret,
            refresh_interval=settings.secret_refresh_min_interval_seconds,
        ),
        workflow=WorkflowNotBuilt(settings.workflow_name),
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
