"""DynamoDB-stream event source mappings, polled like Lambda polls a stream shard.

moto invokes a stream's function inline inside the write that produced the record, and forgets the
records once the function answers. Here each enabled stream mapping gets a poller that keeps its own
checkpoint in the shard, as Lambda does: it invokes the function with up to ``BatchSize`` records, in
order; a successful batch advances the checkpoint; a failed batch is retried from the start, and a batch
whose function reports ``batchItemFailures`` (with ``ReportBatchItemFailures``) is retried from the lowest
failed sequence number. When ``MaximumRetryAttempts`` is exhausted, the batch's description (not its
records, as on AWS) goes to the mapping's ``OnFailure`` destination and the poller moves past the batch.
``-1`` (the default) retries until the record would expire, which locally means until it succeeds.
``BisectBatchOnFunctionError``, ``FilterCriteria`` and tumbling windows are not emulated: a deploy that
asks for them is refused before the mapping exists.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import uuid
from datetime import UTC, datetime
from typing import Any

from moto.awslambda.utils import get_backend
from moto.core.utils import unix_time
from moto.dynamodb.models import dynamodb_backends

from platformctl.localcloud.lambda_runtime import InvocationResult, LambdaRuntime
from platformctl.localcloud.services import client

logger = logging.getLogger(__name__)


class UnsupportedMappingError(Exception):
    pass


def is_stream_arn(arn: str) -> bool:
    return ":dynamodb:" in arn and "/stream/" in arn


def refuse_unsupported(spec: dict[str, Any]) -> None:
    """Before the mapping exists: what this poller does not emulate fails the deploy instead of being ignored."""
    for name in ("BisectBatchOnFunctionError", "FilterCriteria", "TumblingWindowInSeconds"):
        if spec.get(name):
            raise UnsupportedMappingError(f"a DynamoDB-stream event source mapping with {name} is not emulated locally")


class StreamPoller:
    def __init__(self, runtime: LambdaRuntime, mapping: Any) -> None:
        self.runtime = runtime
        self.mapping = mapping
        self.region = mapping.region
        self.stream_arn = mapping.event_source_arn
        table_name = self.stream_arn.split(":table/", 1)[1].split("/stream/", 1)[0]
        self.table = dynamodb_backends[mapping.account_id][self.region].get_table(table_name)
        self.table.lambda_event_source_mappings.pop(mapping.function_arn, None)  # the poller invokes, not moto
        shard = self.table.stream_shard
        if shard is None:
            raise UnsupportedMappingError(f"table {table_name} has no stream for mapping {mapping.uuid}")
        self.shard_id = str(shard.id)
        self.first = int(shard.starting_sequence_number)
        start_at_end = (mapping.starting_position or "TRIM_HORIZON") == "LATEST"
        self.checkpoint = self.first + (len(shard.items) if start_at_end else 0)
        self.attempts = 0
        self.busy = False
        self.retry_seconds = float(os.environ.get("PLATFORM_LOCAL_STREAM_RETRY_SECONDS", "0.5"))
        self.stop_event = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True, name=f"stream-poller-{mapping.uuid[:8]}")
        self.thread.start()

    def _pending(self) -> list[Any]:
        shard = self.table.stream_shard
        if shard is None:
            return []
        start = self.checkpoint - self.first
        return list(shard.items[start : start + int(self.mapping.batch_size or 100)])

    def _run(self) -> None:
        while not self.stop_event.is_set():
            handled = False
            try:
                self.busy = True
                if not get_backend(self.mapping.account_id, self.region)._event_source_mappings.get(self.mapping.uuid):
                    return  # the mapping was deleted
                if self.mapping.enabled:
                    handled = self._poll_once()
            except Exception:
                logger.exception("stream poller for %s failed; retrying", self.stream_arn)
            finally:
                self.busy = False
            if not handled:
                self.stop_event.wait(0.2)

    def _poll_once(self) -> bool:
        batch = self._pending()
        if not batch:
            return False
        function = get_backend(self.mapping.account_id, self.region).get_function(self.mapping.function_arn)
        result = self.runtime.invoke(function, {"Records": [self._record(item) for item in batch]})
        retry_from = self._retry_from(batch, result)
        if retry_from is None:
            self.checkpoint += len(batch)
            self.attempts = 0
            return True
        self.checkpoint = retry_from
        self.attempts += 1
        limit = self.mapping.max_retry_attempts
        if limit is not None and int(limit) >= 0 and self.attempts > int(limit):
            failed = [item for item in batch if _sequence(item) >= retry_from]
            self._send_failure(failed, result)
            self.checkpoint = _sequence(failed[-1]) + 1
            self.attempts = 0
        else:
            self.stop_event.wait(self.retry_seconds)
        return True

    def _retry_from(self, batch: list[Any], result: InvocationResult) -> int | None:
        """The sequence number to retry from, or None when the whole batch succeeded."""
        if result.failed:
            return _sequence(batch[0])
        if "ReportBatchItemFailures" not in (self.mapping.function_response_types or []):
            return None
        failures = result.payload.get("batchItemFailures") if isinstance(result.payload, dict) else None
        if not failures:
            return None
        delivered = {_sequence(item) for item in batch}
        try:
            failed = {int(str(failure["itemIdentifier"])) for failure in failures}
        except (KeyError, TypeError, ValueError):
            failed = set()
        if not failed or not failed <= delivered:
            return _sequence(batch[0])  # an unusable answer fails the whole batch, as on AWS
        return min(failed)

    def _send_failure(self, failed: list[Any], result: InvocationResult) -> None:
        destination = ((self.mapping.destination_config or {}).get("OnFailure") or {}).get("Destination")
        if not destination:
            logger.warning("%s: a batch was skipped after its retries; no OnFailure destination", self.stream_arn)
            return
        arrivals = [_arrival(item) for item in failed]
        record = {
            "requestContext": {
                "requestId": str(uuid.uuid4()),
                "functionArn": self.mapping.function_arn,
                "condition": "RetryAttemptsExhausted",
                "approximateInvokeCount": self.attempts,
            },
            "responseContext": {
                "statusCode": 200,
                "executedVersion": "$LATEST",
                "functionError": "Unhandled" if result.failed else "",
            },
            "version": "1.0",
            "timestamp": datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "DDBStreamBatchInfo": {
                "shardId": self.shard_id,
                "startSequenceNumber": str(_sequence(failed[0])),
                "endSequenceNumber": str(_sequence(failed[-1])),
                "approximateArrivalOfFirstRecord": arrivals[0],
                "approximateArrivalOfLastRecord": arrivals[-1],
                "batchSize": len(failed),
                "streamArn": self.stream_arn,
            },
        }
        service = destination.split(":")[2]
        if service == "sqs":
            name, account = destination.split(":")[5], destination.split(":")[4]
            sqs = client("sqs", self.region)
            url = sqs.get_queue_url(QueueName=name, QueueOwnerAWSAccountId=account)["QueueUrl"]
            sqs.send_message(QueueUrl=url, MessageBody=json.dumps(record))
        elif service == "sns":
            client("sns", self.region).publish(TopicArn=destination, Message=json.dumps(record))
        else:
            logger.warning("%s: unsupported OnFailure destination %s", self.stream_arn, destination)

    def _record(self, item: Any) -> dict[str, Any]:
        record = item.to_json()
        dynamodb = dict(record["dynamodb"])
        if isinstance(dynamodb.get("ApproximateCreationDateTime"), datetime):
            dynamodb["ApproximateCreationDateTime"] = unix_time(dynamodb["ApproximateCreationDateTime"])
        return {
            "eventID": record["eventID"],
            "eventName": record["eventName"],
            "eventVersion": record["eventVersion"],
            "eventSource": record["eventSource"],
            "awsRegion": self.region,
            "dynamodb": dynamodb,
            "eventSourceARN": self.stream_arn,
        }

    def idle(self) -> bool:
        return not self.busy and not self._pending()


def _sequence(item: Any) -> int:
    return int(item.to_json()["dynamodb"]["SequenceNumber"])


def _arrival(item: Any) -> str:
    created = item.to_json()["dynamodb"].get("ApproximateCreationDateTime")
    if isinstance(created, datetime):
        return created.replace(tzinfo=created.tzinfo or UTC).isoformat(timespec="milliseconds")
    return str(created)
