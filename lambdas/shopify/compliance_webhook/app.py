"""Shopify compliance webhooks over the HTTP API: authenticity first, one durable request record, then the
privacy workflow.

One invocation is one delivery (API Gateway HTTP API, payload format 2.0, ``ANY /shopify/compliance``).
In order (docs/privacy.md):

1. only the compliance route (else 404) and POST (else 405); the headers by normalised name
   (``common.shopify.events.read_headers``: two spellings of one header with different values are 400);
   at most ``MAX_BODY_BYTES`` (else 413), the body base64-decoded when API Gateway says so (undecodable:
   400);
2. ``X-Shopify-Hmac-Sha256`` on the raw bytes (``request.signature_matches``), with the
   app's current client secret and, while ``ACCEPT_PREVIOUS_SECRET`` is true (during a rotation), the
   previous one: a missing or wrong signature is 401, and nothing of the request is stored or logged
   but its size;
3. the topic (``X-Shopify-Topic``, one of the three) must agree with the signed body's shape (400
   otherwise), and the body's ``shop_domain`` must be this platform's shop (``SHOP_DOMAIN``; 403
   otherwise): such an authentic but refused delivery is counted (``AuthenticRefused``, an alarm) and
   not stored: the role may write nothing but the request records, and a request we do not honour must
   not leave a copy of someone's contact data behind;
4. the record (``common.privacy.requests.PrivacyRequest``, the person as keyed subjects made with the
   digest key ``DIGEST_KEY_SECRET_ARN``) to ``metadata/privacy/requests/<topic>/<request id>.json``
   with a conditional PutObject (``If-None-Match: *``): a redelivery or a replay of the same signed
   body finds the record and writes nothing;
5. once the record is durably there (written now, or found), an erasure or export starts the privacy
   workflow (``${Brand}-privacy-requests``): an execution named after the request id with input
   ``{"request_key": <record key>}``. Step Functions refuses a second execution of that name
   (``ExecutionAlreadyExists``: already started, fine), so Shopify's retries are harmless and a retry
   after a failed start only starts. A start that fails (the state machine not deployed, throttling,
   access denied) answers 503 so that Shopify retries (``WorkflowNotStarted``, an alarm).
   ``shop/redact`` starts nothing: a new one is counted (``ShopRedactReceived``, an alarm) and an
   operator decides on the purge (``platformctl privacy purge-shop``);
6. 200.

An AWS failure answers 503 (throttling, timeouts) or 500 so that Shopify retries. Logs carry topics,
request ids, reasons and sizes, never a body, an e-mail, a phone, a secret or a signature.
"""

from __future__ import annotations

import base64
import binascii
import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from botocore.exceptions import BotoCoreError, ClientError

from common import aws, webhook_http
from common.config import env_field, load_settings
from common.errors import BadInput
from common.observability import MetricUnit, logger, metrics, tracer
from common.privacy.digest import SubjectDigester, digester_from_secret
from common.privacy.requests import PrivacyRequest, request_key
from common.secret_cache import CachedSecret, SecretFormatError
from common.settings import LakeSettings
from common.shopify.events import read_headers
from common.timeutil import utc_now
from shopify.compliance_webhook import request as rules

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

SECRET_KEY = "client_secret"  # noqa: S105 - the name of the key in the secret's JSON, not a secret
ROUTE_KEY = "ANY /shopify/compliance"


@dataclass(frozen=True, kw_only=True)
class Settings(LakeSettings):
    secret_arn: str = env_field("CLIENT_SECRET_ARN")
    shop_domain: str = env_field("SHOP_DOMAIN")
    digest_key_secret_arn: str = env_field("DIGEST_KEY_SECRET_ARN")
    state_machine_arn: str = env_field("PRIVACY_STATE_MACHINE_ARN")
    max_body_bytes: int = env_field("MAX_BODY_BYTES", default=256 * 1024)
    accept_previous_secret: bool = env_field("ACCEPT_PREVIOUS_SECRET", default=False)
    secret_cache_seconds: float = env_field("SECRET_CACHE_SECONDS", default=300.0)
    secret_refresh_min_interval_seconds: float = env_field("SECRET_REFRESH_MIN_INTERVAL_SECONDS", default=60.0)


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
    """Starts the privacy workflow (``${Brand}-privacy-requests``) for one recorded request."""

    def start(self, request_id: str, record_key: str) -> bool:
        """Start the execution named ``request_id``; False when it exists already. Raises on failure."""


class StepFunctionsWorkflow:
    """The privacy state machine, started by name: one execution per request id.

    Step Functions refuses a second execution of a name (``ExecutionAlreadyExists``) for 90 days after
    the first closed, and answers a start identical to a running one with that one, so a redelivery, a
    replay or a concurrent delivery never starts the workflow twice.
    """

    def __init__(self, client: Callable[[], Any], state_machine_arn: str) -> None:
        self._client = client  # made on first use: shop/redact and refused requests never need it
        self.state_machine_arn = state_machine_arn

    def start(self, request_id: str, record_key: str) -> bool:
        try:
            self._client().start_execution(
                stateMachineArn=self.state_machine_arn,
                name=request_id,
                input=json.dumps({"request_key": record_key}, sort_keys=True),
            )
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "ExecutionAlreadyExists":
                return False
            raise
        return True


class WorkflowNotStarted(Exception):  # noqa: N818 - what happened, not that it is an error
    """The record exists but its workflow could not be started (the cause is chained)."""


class Answer(Exception):  # noqa: N818 - not an error: the answer a step decided on, ending the request
    def __init__(self, response: dict[str, Any]) -> None:
        super().__init__(response.get("statusCode"))
        self.response = response


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
        digest_key: CachedSecret,
        workflow: PrivacyWorkflow,
    ) -> None:
        self.settings = settings
        self.s3 = s3
        self.secrets = secrets
        self.digest_key = digest_key
        self.workflow = workflow
        self.shop_domain = settings.shop_domain.strip().lower()

    def handle(self, event: Mapping[str, Any]) -> dict[str, Any]:
        try:
            headers = self._headers(event)
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
            return self._record(request, rules.Delivery.of(headers), len(body))
        except Answer as answer:
            return answer.response

    # ------------------------------------------------------------------------------ steps

    def _headers(self, event: Mapping[str, Any]) -> dict[str, str]:
        """The route and method checked, the headers by normalised name (``shopify-topic``)."""
        route = event.get("routeKey")
        if route is not None and route != ROUTE_KEY:  # a route added to the API by mistake
            raise Answer(_client_error(404, {"error": "not found"}))
        context = event.get("requestContext") or {}
        method = str((context.get("http") or {}).get("method", "")).upper()
        if method != "POST":
            metrics.add_metric(name="MethodNotAllowed", unit=MetricUnit.Count, value=1)
            raise Answer(
                _client_error(405, {"error": "method not allowed; compliance webhooks are POST"}, {"allow": "POST"})
            )
        try:
            return read_headers(event.get("headers") or {})
        except BadInput as exc:
            logger.warning("request refused: headers", extra={"reason": exc.reason})
            raise Answer(_client_error(400, {"error": "request refused", "reason": exc.reason})) from None

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
        given = headers.get("shopify-hmac-sha256")
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

    def _digester(self, request: rules.ComplianceRequest) -> SubjectDigester | None:
        """The digester of a customer request; None for shop/redact (about no person: no key needed)."""
        if request.topic == rules.SHOP_REDACT:
            return None
        try:
            return digester_from_secret(self.digest_key)
        except SecretFormatError as exc:
            logger.error("privacy digest key unusable", extra={"error_type": type(exc).__name__})
            metrics.add_metric(name="DeliveryFailed", unit=MetricUnit.Count, value=1)
            raise Answer(webhook_http.response(500, {"error": "internal error; retry later"})) from None
        except (ClientError, BotoCoreError) as exc:
            raise Answer(_failure(exc, "digest-key")) from None

    def _write(self, key: str, document: PrivacyRequest) -> bool:
        """Write the record unless it is there: True when written now, False when found."""
        try:
            self.s3.put_object(
                Bucket=self.settings.bucket,
                Key=key,
                Body=json.dumps(document.to_json(), sort_keys=True).encode("utf-8"),
                ContentType="application/json",
                IfNoneMatch="*",
            )
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") not in ("PreconditionFailed", "412"):
                raise Answer(_failure(exc, "record")) from None
            # A redelivery or a replay: the record is there. The workflow is started again (idempotent
            # by name), in case the first delivery's start failed.
            logger.info("request already recorded")
            metrics.add_metric(name="DuplicateDelivery", unit=MetricUnit.Count, value=1)
            return False
        except BotoCoreError as exc:
            raise Answer(_failure(exc, "record")) from None
        return True

    def _record(self, request: rules.ComplianceRequest, delivery: rules.Delivery, size: int) -> dict[str, Any]:
        digester = self._digester(request)
        try:
            document = rules.record(request, delivery, received_at=utc_now(), digester=digester)
        except ValueError:  # a request the record cannot hold (its validation says why, never a value)
            return self._refuse(400, "bad-record", size)
        key = request_key(request.topic, request.request_id)
        logger.append_keys(record_key=key)
        recorded = self._write(key, document)
        if recorded:
            metrics.add_metric(name="RequestRecorded", unit=MetricUnit.Count, value=1)
            logger.info("request recorded", extra={"kind": request.kind, "subjects": len(document.subjects)})
        workflow = "not applicable"
        if request.kind in rules.WORKFLOW_KINDS:
            try:
                workflow = "started" if self._start(request.request_id, key) else "already started"
            except WorkflowNotStarted as exc:
                return self._not_started(exc.__cause__)
        elif recorded:  # shop/redact: an operator decides on the purge; never anything automatic
            metrics.add_metric(name="ShopRedactReceived", unit=MetricUnit.Count, value=1)
            logger.warning("shop/redact recorded: the purge is an operator's decision (platformctl privacy)")
        return webhook_http.response(
            200,
            {
                "status": "recorded" if recorded else "already recorded",
                "request_id": request.request_id,
                "topic": request.topic,
                "kind": request.kind,
                "workflow": workflow,
            },
        )

    def _start(self, request_id: str, key: str) -> bool:
        try:
            started = self.workflow.start(request_id, key)
        except (ClientError, BotoCoreError) as exc:
            raise WorkflowNotStarted(request_id) from exc
        if started:
            metrics.add_metric(name="WorkflowStarted", unit=MetricUnit.Count, value=1)
            logger.info("privacy workflow started")
        else:
            logger.info("privacy workflow already started")
        return started

    @staticmethod
    def _not_started(exc: BaseException | None) -> dict[str, Any]:
        """503 whatever the cause (a missing state machine, throttling, access denied): the record is
        there, so Shopify's retry only has to start the workflow, which it will once the cause is fixed."""
        code = exc.response.get("Error", {}).get("Code", "") if isinstance(exc, ClientError) else ""
        logger.error(
            "privacy workflow not started",
            extra={"stage": "workflow", "error_type": type(exc).__name__, "error_code": code},
        )
        metrics.add_metric(name="WorkflowNotStarted", unit=MetricUnit.Count, value=1)
        metrics.add_metric(name="DeliveryFailed", unit=MetricUnit.Count, value=1)
        return webhook_http.response(503, {"error": "temporarily unavailable; retry later"}, {"retry-after": "60"})


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
        # The digest key never changes (common.privacy.digest): cache it for the environment's life.
        digest_key=CachedSecret(aws.secretsmanager(), settings.digest_key_secret_arn, max_age_seconds=3600.0),
        workflow=StepFunctionsWorkflow(lambda: aws.client("stepfunctions"), settings.state_machine_arn),
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
