"""Connect the emulator's invocation paths to the local Lambda runtime.

- ``Invoke`` (the Lambda API, also used by Step Functions tasks): moto's no-Docker backend answers a
  canned string; here the handler runs (RequestResponse) or is queued (Event).
- Invocations moto makes itself (SNS subscriptions, SQS and DynamoDB-stream event source mappings) go
  through ``LambdaFunction.invoke``; here they run the handler too.
- EventBridge rules: moto delivers to queues, logs and buses but not to Lambda. A Lambda target here is
  delivered like EventBridge does: input transformed, handed to Lambda's async invoke (whose retries
  and DLQ are the function's); when the function cannot be reached, the target's RetryPolicy applies
  and the event then goes to the target's DeadLetterConfig queue with EventBridge's error attributes.
- Archive replays (StartReplay): moto replays every archived event to every rule; here only the events
  of the requested time window go, and only to the rules in ``Destination.FilterArns``.
- S3 to EventBridge (a bucket's ``EventBridgeConfiguration``): moto sends each event to the rules of every
  bus, all with one fixed id, the reason ``ObjectCreated``, and a multipart upload twice (its
  ``CompleteMultipartUpload`` event and a ``PutObject`` one), and it swallows any failure. Here an event goes
  to the rules of the account's default bus only, as on AWS, with its own id, S3's reason (``PutObject``,
  ``POST Object``, ``CopyObject``, ``CompleteMultipartUpload``, ``DeleteObject``, ...), the version id of a
  versioned bucket, once per upload; a failure to route it is logged.
- Each rule match and each delivery is counted in AWS/Events (``TriggeredRules``, ``Invocations``,
  ``FailedInvocations`` by ``RuleName``) when the local cloud passes a metric sink.
"""

from __future__ import annotations

import copy
import json
import logging
import time
import uuid
from datetime import UTC, datetime
from typing import Any

from moto.awslambda.models import LambdaFunction
from moto.awslambda.utils import get_backend
from moto.awslambda_simple.models import LambdaSimpleBackend
from moto.events.models import Replay, ReplayState, Rule, events_backends
from moto.events.utils import EventTemplateParser
from moto.s3 import notifications as s3_notifications
from moto.utilities.arns import parse_arn

from platformctl.localcloud.lambda_runtime import LambdaRuntime
from platformctl.localcloud.metrics import MetricSink
from platformctl.localcloud.service_metrics import rule_event
from platformctl.localcloud.services import client

logger = logging.getLogger(__name__)
_state: dict[str, Any] = {"runtime": None, "metrics": None}
_originals: dict[str, Any] = {}
_MOTO_S3_SEND_EVENT = s3_notifications.send_event  # moto's own, captured before any patch


def _active_runtime() -> LambdaRuntime:
    runtime = _state["runtime"]
    if runtime is None:
        raise RuntimeError("the local Lambda runtime is not running")
    return runtime  # type: ignore[no-any-return]


def _decode(body: Any) -> Any:
    if body is None or body in {b"", ""}:
        return {}
    if isinstance(body, bytes):
        body = body.decode("utf-8")
    return json.loads(body) if isinstance(body, str) else body


def _backend_invoke(
    self: Any, function_name: str, qualifier: str | None, body: Any, headers: Any, response_headers: Any
) -> bytes:
    function = self.get_function(function_name, qualifier)
    invocation_type = headers.get("X-Amz-Invocation-Type") or headers.get("x-amz-invocation-type") or "RequestResponse"
    event = _decode(body)
    runtime = _active_runtime()
    if invocation_type == "DryRun":
        return b""
    if invocation_type == "Event":
        runtime.invoke_async(function, event)
        return b""
    result = runtime.invoke(function, event)
    if result.failed:
        response_headers["x-amz-function-error"] = "Unhandled"
    payload = result.body()
    response_headers["x-amz-executed-version"] = "$LATEST"
    return payload


def _function_invoke(self: Any, body: Any, request_headers: Any, response_headers: Any) -> bytes:
    result = _active_runtime().invoke(self, _decode(body))
    if result.failed:
        response_headers["x-amz-function-error"] = "Unhandled"
    return result.body()


def _iso_time(value: Any) -> Any:
    if isinstance(value, int | float):
        return datetime.fromtimestamp(value, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return value


def _target_input(target: dict[str, Any], event: dict[str, Any]) -> Any:
    if "Input" in target:
        return json.loads(target["Input"])
    if "InputPath" in target:
        node: Any = event
        for part in target["InputPath"].lstrip("$.").split("."):
            node = node.get(part) if isinstance(node, dict) and part else node
        return node
    transformer = target.get("InputTransformer")
    if transformer:
        rendered: Any = EventTemplateParser.parse(
            input_template=transformer.get("InputTemplate"),
            input_paths_map=transformer.get("InputPathsMap", {}),
            event=event,  # type: ignore[arg-type]
        )
        return json.loads(rendered) if isinstance(rendered, str) else rendered
    return event


def _count(rule: Any, metric: str) -> None:
    """AWS/Events: TriggeredRules, Invocations and FailedInvocations of the rule."""
    sink: MetricSink | None = _state["metrics"]
    if sink is not None:
        rule_event(sink, rule.name, metric)


def _deliver_to_lambda(rule: Any, target: dict[str, Any], event: dict[str, Any]) -> None:
    arn = target["Arn"]
    region = parse_arn(arn).region
    payload = _target_input(target, event)
    retry = target.get("RetryPolicy") or {}
    attempts = 1 + int(retry.get("MaximumRetryAttempts", 185))
    max_age = float(retry.get("MaximumEventAgeInSeconds", 86_400))
    started = time.monotonic()
    error = ""
    for attempt in range(min(attempts, 3)):  # locally, give up quickly: the condition will not heal by itself
        try:
            function = get_backend(parse_arn(arn).account, region).get_function(arn)
            _active_runtime().invoke_async(function, payload)
        except Exception as exc:  # noqa: BLE001 - any failure to hand over is a delivery failure
            error = f"{type(exc).__name__}: {exc}"
            if time.monotonic() - started > max_age:
                break
            time.sleep(0.05 * (attempt + 1))
        else:
            _count(rule, "Invocations")
            return
    _count(rule, "FailedInvocations")
    dead_letter = (target.get("DeadLetterConfig") or {}).get("Arn")
    logger.warning("rule %s could not deliver to %s: %s", rule.name, arn, error)
    if not dead_letter:
        return
    sqs = client("sqs", region)
    queue_url = sqs.get_queue_url(
        QueueName=dead_letter.rsplit(":", 1)[1], QueueOwnerAWSAccountId=dead_letter.split(":")[4]
    )["QueueUrl"]
    attributes = {
        "ERROR_CODE": "ResourceNotFoundException" if "not found" in error.lower() else "SDK_CLIENT_ERROR",
        "ERROR_MESSAGE": error[:1000],
        "RULE_ARN": rule.arn,
        "TARGET_ARN": arn,
    }
    sqs.send_message(
        QueueUrl=queue_url,
        MessageBody=json.dumps(event),
        MessageAttributes={k: {"DataType": "String", "StringValue": v} for k, v in attributes.items()},
    )


def _send_to_targets(self: Any, original_event: dict[str, Any], transform_input: bool = True) -> None:
    if getattr(self, "state", "ENABLED") == "DISABLED" or not self.event_pattern.matches_event(original_event):
        return
    _count(self, "TriggeredRules")
    event = dict(original_event)
    event["time"] = _iso_time(event.get("time"))
    lambda_targets = [t for t in self.targets if parse_arn(t["Arn"]).service == "lambda"]
    for target in lambda_targets:
        _deliver_to_lambda(self, target, copy.deepcopy(event))
    others = [t for t in self.targets if t not in lambda_targets]
    if others:
        proxy = copy.copy(self)
        proxy.targets = others
        # moto's own delivery (queues, logs, buses) renders the event's epoch time itself.
        try:
            _originals["send_to_targets"](proxy, original_event, transform_input)
        except Exception:
            _count(self, "FailedInvocations")
            raise
        for _ in others:
            _count(self, "Invocations")


def _epoch(value: Any) -> float | None:
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, datetime):
        return value.timestamp()
    if isinstance(value, str):
        try:
            return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
        except ValueError:
            return None
    return None


def _replay_events(self: Any, archive: Any) -> None:
    """StartReplay as EventBridge does it: only the archived events whose time lies in
    [EventStartTime, EventEndTime], only to the rules named in Destination.FilterArns (all when absent),
    each with a fresh id and ``replay-name`` (moto replays every archived event to every rule)."""
    start, end = _epoch(self.event_start_time), _epoch(self.event_end_time)
    wanted = set(self.destination.get("FilterArns") or [])
    bus = events_backends[self.account_id][self.region].describe_event_bus(self.destination["Arn"].split("/")[-1])
    for event in list(archive.events):
        moment = _epoch(event.get("time"))
        if moment is None or (start is not None and moment < start) or (end is not None and moment > end):
            continue
        for rule in list(bus.rules.values()):
            if wanted and rule.arn not in wanted:
                continue
            replayed: Any = dict(event, **{"id": str(uuid.uuid4()), "replay-name": self.name})
            rule.send_to_targets(replayed, False)
    self.state = ReplayState.COMPLETED
    self.end_time = time.time()


# ------------------------------------------------------------------------------------- S3 -> EventBridge

_S3 = s3_notifications.S3NotificationEvent
# The ``reason`` S3 gives each event it sends to EventBridge (Amazon S3 User Guide, "EventBridge event
# message structure"), by the notification event moto raises.
S3_EVENT_REASONS: dict[str, str] = {
    _S3.OBJECT_CREATED_PUT_EVENT.value: "PutObject",
    _S3.OBJECT_CREATED_POST_EVENT.value: "POST Object",
    _S3.OBJECT_CREATED_COPY_EVENT.value: "CopyObject",
    _S3.OBJECT_CREATED_COMPLETE_MULTIPART_UPLOAD_EVENT.value: "CompleteMultipartUpload",
    _S3.OBJECT_REMOVED_DELETE_EVENT.value: "DeleteObject",
    _S3.OBJECT_REMOVED_DELETE_MARKER_CREATED_EVENT.value: "DeleteObject",
    _S3.OBJECT_RESTORE_POST_EVENT.value: "RestoreObject",
    _S3.OBJECT_TAGGING_PUT_EVENT.value: "PutObjectTagging",
    _S3.OBJECT_TAGGING_DELETE_EVENT.value: "DeleteObjectTagging",
    _S3.OBJECT_ACL_UPDATE_EVENT.value: "PutObjectAcl",
}


def s3_eventbridge_event(account_id: str, bucket: Any, event_name: str, key: Any) -> dict[str, Any]:
    """The event S3 puts on the default bus for ``event_name`` (moto's name, ``s3:ObjectCreated:Put``)."""
    detail_object: dict[str, Any] = {
        "key": key.name,  # not URL-encoded, unlike the keys of S3's own notifications
        "size": key.size,
        "etag": str(key.etag).replace('"', ""),
        "sequencer": f"{time.time_ns():X}",
    }
    version = getattr(key, "version_id", None)
    if version and version != "null":
        detail_object["version-id"] = version
    name = str(getattr(event_name, "value", event_name))  # moto passes its str Enum's members
    reason = S3_EVENT_REASONS.get(name, name.split(":")[1] if ":" in name else "")
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": s3_notifications._detail_type(event_name),
        "source": "aws.s3",
        "account": account_id,
        "time": time.time(),  # epoch seconds, as moto keeps events; each delivery renders it (ISO 8601)
        "region": bucket.region_name,
        "resources": [bucket.arn],
        "detail": {
            "version": "0",
            "bucket": {"name": bucket.name},
            "object": detail_object,
            "request-id": uuid.uuid4().hex[:16].upper(),
            "requester": account_id,
            "source-ip-address": "127.0.0.1",
            "reason": reason,
        },
    }


def _send_s3_to_eventbridge(account_id: str, bucket: Any, event_name: str, key: Any) -> None:
    """S3's EventBridge delivery: the account's default bus in the bucket's region, every rule of it."""
    try:
        event: Any = s3_eventbridge_event(account_id, bucket, event_name, key)
        bus = events_backends[account_id][bucket.region_name].event_buses.get("default")
        rules = list(bus.rules.values()) if bus is not None else []
    except Exception:  # S3 delivers asynchronously: the write succeeded, so log and go on
        logger.exception("S3 event %s of s3://%s/%s could not be built", event_name, bucket.name, key.name)
        return
    for rule in rules:
        try:
            rule.send_to_targets(event, transform_input=False)
        except Exception:  # one rule failing must not keep the event from the others
            logger.exception("S3 event %s of s3://%s/%s: rule %s failed", event_name, bucket.name, key.name, rule.name)


def _send_s3_event(account_id: str, event_name: Any, bucket: Any, key: Any) -> None:
    """moto's S3 ``send_event`` without the ``PutObject`` event that its CompleteMultipartUpload raises
    besides the ``CompleteMultipartUpload`` one (S3 sends one event per upload)."""
    if event_name == _S3.OBJECT_CREATED_PUT_EVENT and getattr(key, "multipart", None) is not None:
        return
    _MOTO_S3_SEND_EVENT(account_id, event_name, bucket, key)


def install(runtime: LambdaRuntime, metrics: MetricSink | None = None) -> None:
    _state["runtime"] = runtime
    _state["metrics"] = metrics
    if _originals:
        return
    _originals["backend_invoke"] = LambdaSimpleBackend.invoke
    _originals["function_invoke"] = LambdaFunction.invoke
    _originals["send_to_targets"] = Rule.send_to_targets
    _originals["replay_events"] = Replay.replay_events
    _originals["s3_send_event"] = s3_notifications.send_event
    _originals["s3_to_eventbridge"] = s3_notifications._send_event_bridge_message
    setattr(LambdaSimpleBackend, "invoke", _backend_invoke)  # noqa: B010 - a deliberate patch of moto
    setattr(LambdaFunction, "invoke", _function_invoke)  # noqa: B010
    setattr(Rule, "send_to_targets", _send_to_targets)  # noqa: B010
    setattr(Replay, "replay_events", _replay_events)  # noqa: B010
    setattr(s3_notifications, "send_event", _send_s3_event)  # noqa: B010
    setattr(s3_notifications, "_send_event_bridge_message", _send_s3_to_eventbridge)  # noqa: B010


def uninstall() -> None:
    _state["runtime"] = None
    _state["metrics"] = None
