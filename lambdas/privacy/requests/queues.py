"""Dead-letter queues: find the person's messages, re-send them redacted, and leave every other one be.

SQS cannot edit a message, so a message whose body concerns the person is sent again with the redacted
body and the same message attributes, and the original is deleted. A sweep of one queue:

1. refuses to start (``PrivacyStepBusy``, the state machine retries later) while messages of the queue
   are in flight: someone holds them (an operator's redrive, or an earlier attempt of this step that
   died holding them) and a sweep would not see them;
2. receives every message with a visibility timeout (``visibility_seconds``), so none is seen twice,
   until a receive returns nothing; the redacted copies it sends are recognised by their message ids
   and left alone;
3. a message that concerns the person: its redacted copy is sent, then the original deleted (a step
   that dies in between leaves both; the repeat redacts the original again and deletes it, so at worst
   the redacted copy exists twice, which a redrive handles like any duplicate delivery);
4. every other message is made visible again at the end (``ChangeMessageVisibility`` 0), unchanged.

Bodies that are not JSON cannot be about anyone the platform can identify and are left as they are
(counted). Only queue names and counts leave this module: never a body.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from privacy.requests.errors import PrivacyStepBusy

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient
    from mypy_boto3_sqs.type_defs import ChangeMessageVisibilityBatchRequestEntryTypeDef

# What a sweep does with one message's parsed body: None leaves the message as it is; a document
# replaces the message with one carrying that body.
Decide = Callable[[Any], Any | None]

_SEND_ATTRIBUTE_FIELDS = ("DataType", "StringValue", "BinaryValue")


def _send_attributes(received: dict[str, Any]) -> dict[str, Any]:
    """Received message attributes in the shape SendMessage takes (list values are not supported)."""
    return {
        name: {field: value[field] for field in _SEND_ATTRIBUTE_FIELDS if field in value}
        for name, value in received.items()
    }


@dataclass(frozen=True)
class DeadLetterQueues:
    sqs: SQSClient
    visibility_seconds: int = 300
    wait_seconds: int = 1

    def _url(self, name: str) -> str | None:
        try:
            return str(self.sqs.get_queue_url(QueueName=name)["QueueUrl"])
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "")
            if code in ("AWS.SimpleQueueService.NonExistentQueue", "QueueDoesNotExist"):
                return None
            raise

    def sweep(self, name: str, decide: Decide) -> dict[str, Any]:
        """Apply ``decide`` to every message of queue ``name``; returns counts (no bodies)."""
        result: dict[str, Any] = {"kind": "queue", "queue": name, "messages": 0, "redacted": 0, "unparsable": 0}
        url = self._url(name)
        if url is None:
            result["missing"] = True
            return result
        attributes = self.sqs.get_queue_attributes(
            QueueUrl=url, AttributeNames=["ApproximateNumberOfMessagesNotVisible"]
        ).get("Attributes", {})
        in_flight = int(attributes.get("ApproximateNumberOfMessagesNotVisible", "0") or 0)
        if in_flight:
            raise PrivacyStepBusy(f"queue {name} has {in_flight} message(s) in flight; retry when they are visible")
        sent: set[str] = set()
        seen: set[str] = set()
        release: list[str] = []
        wrapped = False
        try:
            while not wrapped:
                batch = self.sqs.receive_message(
                    QueueUrl=url,
                    MaxNumberOfMessages=10,
                    VisibilityTimeout=self.visibility_seconds,
                    WaitTimeSeconds=self.wait_seconds,
                    MessageAttributeNames=["All"],
                ).get("Messages", [])
                if not batch:
                    break
                for message in batch:
                    handle = str(message["ReceiptHandle"])
                    if message["MessageId"] in sent or message["MessageId"] in seen:
                        # A redacted copy, or a message whose visibility timeout ran out while the sweep
                        # went on (a huge queue): every message has been seen once, so the sweep ends.
                        wrapped = wrapped or message["MessageId"] in seen
                        release.append(handle)
                        continue
                    seen.add(str(message["MessageId"]))
                    result["messages"] += 1
                    try:
                        document = json.loads(message.get("Body") or "")
                    except ValueError:
                        result["unparsable"] += 1
                        release.append(handle)
                        continue
                    replacement = decide(document)
                    if replacement is None:
                        release.append(handle)
                        continue
                    arguments: dict[str, Any] = {
                        "QueueUrl": url,
                        "MessageBody": json.dumps(replacement, separators=(",", ":"), ensure_ascii=False),
                    }
                    if message.get("MessageAttributes"):
                        arguments["MessageAttributes"] = _send_attributes(message["MessageAttributes"])
                    sent.add(str(self.sqs.send_message(**arguments)["MessageId"]))
                    self.sqs.delete_message(QueueUrl=url, ReceiptHandle=handle)
                    result["redacted"] += 1
        finally:
            self._release(url, release)
        return result

    def _release(self, url: str, handles: list[str]) -> None:
        for start in range(0, len(handles), 10):
            entries: list[ChangeMessageVisibilityBatchRequestEntryTypeDef] = [
                {"Id": str(number), "ReceiptHandle": handle, "VisibilityTimeout": 0}
                for number, handle in enumerate(handles[start : start + 10])
            ]
            self.sqs.change_message_visibility_batch(QueueUrl=url, Entries=entries)
