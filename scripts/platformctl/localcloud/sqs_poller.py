"""SQS event source mappings, polled like Lambda polls them.

moto invokes a queue's function inline inside SendMessage, one message at a time, and ignores the
function's answer. Here each enabled SQS mapping gets a poller: it receives up to ``BatchSize`` messages,
invokes the function once with Lambda's SQS event, deletes the messages of a successful batch (all but
the ``batchItemFailures`` when the mapping reports item failures) and leaves failed ones on the queue,
where the queue's redrive policy moves them to its dead-letter queue after ``maxReceiveCount``. A failed
message becomes visible again after ``PLATFORM_LOCAL_SQS_RETRY_SECONDS`` (default 1 s) instead of the
queue's visibility timeout, so a local retry takes seconds, not minutes.

The patch on ``create_event_source_mapping`` here also starts the pollers of DynamoDB-stream mappings
(``stream_poller``), so one place decides who invokes a mapping's function.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from typing import Any

from moto.awslambda.models import LambdaBackend
from moto.awslambda.utils import get_backend
from moto.sqs.models import sqs_backends

from platformctl.localcloud import stream_poller
from platformctl.localcloud.lambda_runtime import LambdaRuntime
from platformctl.localcloud.services import client

logger = logging.getLogger(__name__)
_state: dict[str, Any] = {"runtime": None, "pollers": {}}
_originals: dict[str, Any] = {}


class SqsPoller:
    def __init__(self, runtime: LambdaRuntime, mapping: Any) -> None:
        self.runtime = runtime
        self.mapping = mapping
        self.region = mapping.region
        self.queue_arn = mapping.event_source_arn
        self.stop_event = threading.Event()
        self.busy = False
        self.retry_seconds = int(os.environ.get("PLATFORM_LOCAL_SQS_RETRY_SECONDS", "1"))
        self.thread = threading.Thread(target=self._run, daemon=True, name=f"sqs-poller-{mapping.uuid[:8]}")
        self.thread.start()

    @property
    def queue_url(self) -> str:
        account, name = self.queue_arn.split(":")[4], self.queue_arn.split(":")[5]
        return str(client("sqs", self.region).get_queue_url(QueueName=name, QueueOwnerAWSAccountId=account)["QueueUrl"])

    def _run(self) -> None:
        url = None
        while not self.stop_event.is_set():
            try:
                url = url or self.queue_url
                if not mapping_exists(self.mapping):
                    return
                if not self.mapping.enabled:
                    time.sleep(0.5)
                    continue
                self.busy = True
                handled = self._poll_once(url)
            except Exception:
                if self.stop_event.is_set():
                    return  # the cloud is stopping: its server may be gone already
                logger.exception("SQS poller for %s failed; retrying", self.queue_arn)
                handled = False
            finally:
                self.busy = False
            if not handled:
                self.stop_event.wait(0.2)

    def _poll_once(self, url: str) -> bool:
        sqs = client("sqs", self.region)
        response = sqs.receive_message(
            QueueUrl=url,
            MaxNumberOfMessages=min(10, int(self.mapping.batch_size or 10)),
            AttributeNames=["All"],
            MessageAttributeNames=["All"],
            WaitTimeSeconds=0,
        )
        messages = response.get("Messages", [])
        if not messages:
            return False
        event = {"Records": [self._record(m) for m in messages]}
        function = get_backend(self.mapping.account_id, self.region).get_function(self.mapping.function_arn)
        result = self.runtime.invoke(function, event)
        failed_ids = {m["MessageId"] for m in messages} if result.failed else self._reported_failures(result.payload)
        for message in messages:
            if message["MessageId"] in failed_ids:
                sqs.change_message_visibility(
                    QueueUrl=url, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=self.retry_seconds
                )
            else:
                sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
        return True

    def _reported_failures(self, payload: Any) -> set[str]:
        if "ReportBatchItemFailures" not in (self.mapping.function_response_types or []):
            return set()
        if not isinstance(payload, dict):
            return set()
        return {str(item.get("itemIdentifier")) for item in payload.get("batchItemFailures") or []}

    def _record(self, message: dict[str, Any]) -> dict[str, Any]:
        attributes = {
            k: v
            for k, v in message.get("Attributes", {}).items()
            if k in {"ApproximateReceiveCount", "SentTimestamp", "SenderId", "ApproximateFirstReceiveTimestamp",
                     "MessageGroupId", "MessageDeduplicationId", "SequenceNumber"}
        }  # fmt: skip
        message_attributes = {
            name: {
                "stringValue": value.get("StringValue"),
                "binaryValue": value.get("BinaryValue"),
                "stringListValues": [],
                "binaryListValues": [],
                "dataType": value.get("DataType"),
            }
            for name, value in message.get("MessageAttributes", {}).items()
        }
        return {
            "messageId": message["MessageId"],
            "receiptHandle": message["ReceiptHandle"],
            "body": message["Body"],
            "attributes": attributes,
            "messageAttributes": message_attributes,
            "md5OfBody": message.get("MD5OfBody"),
            "eventSource": "aws:sqs",
            "eventSourceARN": self.queue_arn,
            "awsRegion": self.region,
        }

    def idle(self) -> bool:
        if self.busy:
            return False
        sqs = client("sqs", self.region)
        attributes = sqs.get_queue_attributes(QueueUrl=self.queue_url, AttributeNames=["ApproximateNumberOfMessages"])
        return int(attributes["Attributes"].get("ApproximateNumberOfMessages", "0")) == 0


def _create_mapping(self: Any, spec: dict[str, Any]) -> Any:
    """Every SQS and DynamoDB-stream mapping gets its poller (streams: see stream_poller)."""
    if _state["runtime"] is not None and stream_poller.is_stream_arn(str(spec.get("EventSourceArn", ""))):
        stream_poller.refuse_unsupported(spec)
    mapping = _originals["create_event_source_mapping"](self, spec)
    if _state["runtime"] is None:
        return mapping
    if ":sqs:" in mapping.event_source_arn:
        for queue in sqs_backends[mapping.account_id][mapping.region].queues.values():
            queue.lambda_event_source_mappings.pop(mapping.function_arn, None)  # the poller invokes, not moto
        _state["pollers"][mapping.uuid] = SqsPoller(_state["runtime"], mapping)
    elif stream_poller.is_stream_arn(mapping.event_source_arn):
        _state["pollers"][mapping.uuid] = stream_poller.StreamPoller(_state["runtime"], mapping)
    return mapping


def mapping_exists(mapping: Any) -> bool:
    """False once the mapping was deleted (a poller then stops)."""
    return mapping.uuid in get_backend(mapping.account_id, mapping.region)._event_source_mappings


def pollers_idle() -> bool:
    return all(poller.idle() or not poller.thread.is_alive() for poller in list(_state["pollers"].values()))


def install(runtime: LambdaRuntime) -> None:
    _state["runtime"] = runtime
    if _originals:
        return
    _originals["create_event_source_mapping"] = LambdaBackend.create_event_source_mapping
    setattr(LambdaBackend, "create_event_source_mapping", _create_mapping)  # noqa: B010 - deliberate patch


def uninstall() -> None:
    for poller in list(_state["pollers"].values()):
        poller.stop_event.set()
    _state["pollers"] = {}
    _state["runtime"] = None
