"""``platformctl redrive --env ENV --dlq ENTITY [--max N]``: process what a Shopify dead-letter queue holds.

A Shopify DLQ receives events from two places, both with the original EventBridge event as the message
body: the entity's rule (delivery failed: EventBridge adds ``ERROR_CODE``/``ERROR_MESSAGE``/``RULE_ARN``
attributes) and the entity's processor (it raised on every asynchronous attempt: Lambda adds
``RequestID``/``ErrorCode``/``ErrorMessage``). Each message goes back to the entity's processor as an
asynchronous invocation, the same path EventBridge takes, so Lambda's retries and the DLQ apply again
if the cause is not fixed yet. A message is deleted only once Lambda has accepted its event (HTTP 202);
anything else stays in the queue and is reported.

Why not ``PutEvents`` onto the bus: in AWS the bus is Shopify's partner bus, which only Shopify may put
events on (PutEvents does not accept a partner bus name, and sources starting with ``aws.`` are
reserved). Invoking the processor delivers the unchanged event without a copy in the archive.
The processors are idempotent (event-id keys, versioned writes), so a redriven event that had in fact
been processed changes nothing.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, TextIO

from platformctl.aws_target import add_env_argument, stack_outputs, target_for
from platformctl.errors import UserError

STACK_KEY = ("shopify", "eventbridge-rules")
# --dlq name -> (output prefix of the DLQ, output prefix of the processor, lake entity folders)
ENTITIES: dict[str, tuple[str, str, tuple[str, ...]]] = {
    "orders": ("Orders", "OrderProcessor", ("orders",)),
    "fulfillments": ("Fulfillments", "FulfillmentProcessor", ("fulfillments",)),
    "customers": ("Customers", "CustomerProcessor", ("customers",)),
    "products": ("Products", "ProductProcessor", ("products",)),
    "carts": ("Carts", "CartProcessor", ("carts", "checkouts")),
}
VISIBILITY_SECONDS = 120  # a message being redriven stays hidden this long; left alone it reappears


def rules_outputs(target: Any) -> dict[str, str]:
    """The outputs of the deployed shopify/eventbridge-rules stack of the target's environment."""
    return stack_outputs(target, *STACK_KEY)


def original_event(body: str) -> Mapping[str, Any] | None:
    """The EventBridge event a DLQ message carries, or None when the body is something else.

    The body is the event itself (both DLQ sources); a Lambda destination record (``requestPayload``)
    is unwrapped too, should someone point a destination at the queue.
    """
    try:
        data = json.loads(body)
    except ValueError:
        return None
    if isinstance(data, Mapping) and isinstance(data.get("requestPayload"), Mapping):
        data = data["requestPayload"]
    if isinstance(data, Mapping) and isinstance(data.get("detail"), Mapping):
        return data
    return None


def failure_reason(message: Mapping[str, Any]) -> str:
    attributes = message.get("MessageAttributes") or {}
    for name in ("ERROR_MESSAGE", "ErrorMessage", "ERROR_CODE", "ErrorCode"):
        value = (attributes.get(name) or {}).get("StringValue")
        if value:
            return str(value)[:160]
    return "no reason recorded"


@dataclass
class RedriveResult:
    accepted: int = 0
    refused: list[str] = field(default_factory=list)  # message ids left in the queue, with why

    @property
    def ok(self) -> bool:
        return not self.refused


def _messages(sqs: Any, queue_url: str, limit: int | None) -> Iterator[list[dict[str, Any]]]:
    seen = 0
    while limit is None or seen < limit:
        batch = min(10, limit - seen) if limit is not None else 10
        response = sqs.receive_message(
            QueueUrl=queue_url,
            MaxNumberOfMessages=batch,
            VisibilityTimeout=VISIBILITY_SECONDS,
            WaitTimeSeconds=1,
            MessageAttributeNames=["All"],
        )
        messages = response.get("Messages", [])
        if not messages:
            return
        seen += len(messages)
        yield messages


def redrive(
    target: Any,
    entity: str,
    *,
    limit: int | None = None,
    dry_run: bool = False,
    out: TextIO | None = None,
    outputs: Mapping[str, str] | None = None,
) -> RedriveResult:
    """Hand the messages of ``entity``'s DLQ back to its processor; delete those Lambda accepted."""
    out = out or sys.stdout
    if entity not in ENTITIES:
        raise UserError(f"unknown DLQ {entity!r}: one of {', '.join(ENTITIES)}")
    queue_prefix, function_prefix, _ = ENTITIES[entity]
    outputs = outputs if outputs is not None else rules_outputs(target)
    queue_url = outputs.get(f"{queue_prefix}DlqUrl")
    function = outputs.get(f"{function_prefix}FunctionName")
    if not queue_url or not function:
        raise UserError(
            f"the shopify/eventbridge-rules stack has no {queue_prefix}DlqUrl/{function_prefix}FunctionName"
        )
    sqs, lam = target.client("sqs"), target.client("lambda")
    result = RedriveResult()
    print(f"redrive {entity}: {queue_url} -> {function}{' (dry run)' if dry_run else ''}", file=out, flush=True)
    for messages in _messages(sqs, queue_url, limit):
        done: list[dict[str, str]] = []
        for message in messages:
            event = original_event(message.get("Body", ""))
            mid = message["MessageId"]
            if event is None:
                result.refused.append(f"{mid}: the body is not an EventBridge event; inspect it by hand")
                continue
            topic = _topic(event)
            if dry_run:
                print(f"  would redrive {mid} {topic} (failed: {failure_reason(message)})", file=out)
                result.accepted += 1
                continue
            response = lam.invoke(FunctionName=function, InvocationType="Event", Payload=json.dumps(event).encode())
            if response.get("StatusCode") == 202:
                done.append({"Id": str(len(done)), "ReceiptHandle": message["ReceiptHandle"]})
                result.accepted += 1
            else:
                result.refused.append(f"{mid}: Lambda answered {response.get('StatusCode')}")
        if done:
            deleted = sqs.delete_message_batch(QueueUrl=queue_url, Entries=done)
            for failure in deleted.get("Failed", []):
                print(f"  warning: could not delete a redriven message ({failure.get('Message')})", file=out)
        if not dry_run:
            print(f"  {result.accepted} redriven so far", file=out, flush=True)
    for line in result.refused:
        print(f"  left in the queue: {line}", file=out)
    verb = "would be redriven" if dry_run else "redriven"
    print(f"redrive {entity}: {result.accepted} {verb}, {len(result.refused)} left in the queue", file=out, flush=True)
    return result


def _topic(event: Mapping[str, Any]) -> str:
    metadata = event.get("detail", {}).get("metadata") or {}
    for name, value in metadata.items() if isinstance(metadata, Mapping) else []:
        if str(name).lower().removeprefix("x-") == "shopify-topic":
            return str(value)
    return "?"


def command(args: argparse.Namespace) -> int:
    if args.max is not None and args.max < 1:
        raise UserError("--max must be at least 1")
    result = redrive(target_for(args.env), args.dlq, limit=args.max, dry_run=args.dry_run)
    return 0 if result.ok else 1


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "redrive",
        help="hand a Shopify dead-letter queue's events back to their processor",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_env_argument(parser)
    parser.add_argument("--dlq", required=True, choices=sorted(ENTITIES), help="which entity's DLQ")
    parser.add_argument("--max", type=int, help="redrive at most this many messages")
    parser.add_argument("--dry-run", action="store_true", help="list what would be redriven; change nothing")
    parser.set_defaults(func=command)
