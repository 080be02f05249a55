"""A handler that does what each event asks, to exercise the local cloud's trigger paths."""

from __future__ import annotations

import json
import os
import sys
import time
from typing import Any

import boto3

_sqs = boto3.client("sqs")


def _report(kind: str, **fields: Any) -> None:
    body = {"kind": kind, "flag": os.environ.get("PROBE_FLAG"), **fields}
    _sqs.send_message(QueueUrl=os.environ["RESULTS_QUEUE_URL"], MessageBody=json.dumps(body))


def handler(event: Any, context: Any) -> Any:
    if isinstance(event, dict) and event.get("version") == "2.0" and "requestContext" in event:
        return {
            "statusCode": 201,
            "headers": {"content-type": "application/json", "x-probe": "yes"},
            "body": json.dumps(
                {
                    "routeKey": event["routeKey"],
                    "rawPath": event["rawPath"],
                    "pathParameters": event.get("pathParameters"),
                    "query": event.get("queryStringParameters"),
                    "body": event.get("body"),
                    "isBase64Encoded": event["isBase64Encoded"],
                    "method": event["requestContext"]["http"]["method"],
                }
            ),
        }
    if isinstance(event, dict) and event.get("Records", [{}])[0].get("eventSource") == "aws:dynamodb":
        # An ordered stream: stop at the first failure and report it and everything after it.
        stream_failures: list[dict[str, str]] = []
        for record in event["Records"]:
            image = record["dynamodb"].get("NewImage", {})
            if stream_failures or "fail" in image:
                stream_failures.append({"itemIdentifier": record["dynamodb"]["SequenceNumber"]})
            else:
                _report("stream", id=image["id"]["S"], event=record["eventName"])
        return {"batchItemFailures": stream_failures}
    if isinstance(event, dict) and "Records" in event:
        failures = []
        for record in event["Records"]:
            request = json.loads(record["body"])
            if request.get("fail"):
                failures.append({"itemIdentifier": record["messageId"]})
            else:
                _report("batch", id=request["id"], batch=len(event["Records"]))
        return {"batchItemFailures": failures}
    request = event.get("detail", event) if isinstance(event, dict) else {}
    action = request.get("action", "ok")
    if action == "fail":
        _report("attempt", id=request.get("id"), request_id=context.aws_request_id)
        raise RuntimeError(f"probe asked to fail ({request.get('id')})")
    if action == "sleep":
        time.sleep(float(request["seconds"]))
    if action == "env":
        return {
            "flag": os.environ.get("PROBE_FLAG"),
            "other_only": os.environ.get("OTHER_ONLY"),
            "endpoint": os.environ.get("AWS_ENDPOINT_URL"),
            "function": context.function_name,
            "remaining_ms": context.get_remaining_time_in_millis(),
        }
    if action == "environ":
        # The worker's whole environment and interpreter flags (the local cloud's attack tests read them).
        return {"environ": dict(os.environ), "isolated": sys.flags.isolated, "no_site": sys.flags.no_user_site}
    if action == "record":
        _report("processed", id=request.get("id"), source=event.get("source") if isinstance(event, dict) else None)
    value = int(request.get("value", 0))
    return {"ok": True, "value": value, "doubled": 2 * value, "items": list(range(1, value // 2))}
