"""platformctl redrive and replay: their logic against fakes (the local cloud tests run the real path)."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime
from typing import Any

import pytest

from platformctl.cli import build_parser
from platformctl.commands import redrive, replay
from platformctl.errors import UserError
from tests.unit.shopify import support

OUTPUTS = {
    "OrdersDlqUrl": "https://queue/orders",
    "OrderProcessorFunctionName": "acme-test-shopify-order-processor",
}


class FakeSqs:
    def __init__(self, bodies: list[str]) -> None:
        self.queue = [
            {"MessageId": f"m{i}", "ReceiptHandle": f"r{i}", "Body": b, "MessageAttributes": {}}
            for i, b in enumerate(bodies)
        ]
        self.deleted: list[str] = []

    def receive_message(self, **kwargs: Any) -> dict[str, Any]:
        batch = [m for m in self.queue if m["ReceiptHandle"] not in self.deleted and not m.get("seen")][
            : kwargs["MaxNumberOfMessages"]
        ]
        for message in batch:
            message["seen"] = True  # hidden for the visibility timeout
        return {"Messages": batch}

    def delete_message_batch(self, QueueUrl: str, Entries: list[dict[str, str]]) -> dict[str, Any]:  # noqa: N803
        self.deleted += [e["ReceiptHandle"] for e in Entries]
        return {"Successful": Entries, "Failed": []}


class FakeLambda:
    def __init__(self, refuse: set[str] | None = None) -> None:
        self.invoked: list[dict[str, Any]] = []
        self.refuse = refuse or set()

    def invoke(self, FunctionName: str, InvocationType: str, Payload: bytes) -> dict[str, Any]:  # noqa: N803
        event = json.loads(Payload)
        if event["detail"]["metadata"]["X-Shopify-Event-Id"] in self.refuse:
            return {"StatusCode": 500}
        assert InvocationType == "Event"
        self.invoked.append({"function": FunctionName, "event": event})
        return {"StatusCode": 202}


class FakeTarget:
    environment = "test"
    is_local = True

    def __init__(self, **clients: Any) -> None:
        self.clients = clients

    def client(self, name: str) -> Any:
        return self.clients[name]


def _event(event_id: str) -> dict[str, Any]:
    return support.envelope("orders/create", {"id": 1}, event_id=event_id)


def test_redrive_hands_back_events_from_both_sources_and_deletes_only_accepted() -> None:
    from_rule = json.dumps(_event("from-rule"))  # EventBridge's DLQ: the event
    from_lambda = json.dumps(_event("from-lambda"))  # Lambda's DLQ: the event too
    refused = json.dumps(_event("refused"))
    garbage = "not an event"
    sqs, lam = FakeSqs([from_rule, from_lambda, refused, garbage]), FakeLambda(refuse={"refused"})
    out = io.StringIO()
    result = redrive.redrive(FakeTarget(sqs=sqs, **{"lambda": lam}), "orders", outputs=OUTPUTS, out=out)
    assert [i["event"]["detail"]["metadata"]["X-Shopify-Event-Id"] for i in lam.invoked] == ["from-rule", "from-lambda"]
    assert {i["function"] for i in lam.invoked} == {"acme-test-shopify-order-processor"}
    assert sqs.deleted == ["r0", "r1"]
    assert result.accepted == 2
    assert len(result.refused) == 2
    assert not result.ok
    assert "2 redriven, 2 left in the queue" in out.getvalue()


def test_redrive_respects_max_and_dry_run() -> None:
    sqs, lam = FakeSqs([json.dumps(_event(f"e{i}")) for i in range(25)]), FakeLambda()
    result = redrive.redrive(
        FakeTarget(sqs=sqs, **{"lambda": lam}), "orders", limit=12, outputs=OUTPUTS, out=io.StringIO()
    )
    assert result.accepted == 12
    assert len(sqs.deleted) == 12
    sqs2, lam2 = FakeSqs([json.dumps(_event("x"))]), FakeLambda()
    dry = redrive.redrive(
        FakeTarget(sqs=sqs2, **{"lambda": lam2}), "orders", dry_run=True, outputs=OUTPUTS, out=io.StringIO()
    )
    assert (dry.accepted, lam2.invoked, sqs2.deleted) == (1, [], [])


def test_a_destination_record_is_unwrapped() -> None:
    record = {"requestContext": {"condition": "RetriesExhausted"}, "requestPayload": _event("wrapped")}
    event = redrive.original_event(json.dumps(record))
    assert event is not None
    assert event["detail"]["metadata"]["X-Shopify-Event-Id"] == "wrapped"
    assert redrive.original_event(json.dumps({"detail": "text"})) is None


def test_redrive_refuses_an_unknown_queue() -> None:
    with pytest.raises(UserError, match="unknown DLQ"):
        redrive.redrive(FakeTarget(), "invoices", outputs=OUTPUTS)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-05-01", datetime(2026, 5, 1, tzinfo=UTC)),
        ("2026-05-01T10:00:00Z", datetime(2026, 5, 1, 10, tzinfo=UTC)),
        ("2026-05-01T12:00:00+02:00", datetime(2026, 5, 1, 10, tzinfo=UTC)),
    ],
)
def test_replay_times_are_utc(text: str, expected: datetime) -> None:
    assert replay.parse_time(text, "--since") == expected


def test_replay_rejects_bad_windows() -> None:
    with pytest.raises(UserError):
        replay.parse_time("last week", "--since")
    since = datetime(2026, 5, 2, tzinfo=UTC)
    with pytest.raises(UserError, match="later than"):
        replay._window(since, datetime(2026, 5, 1, tzinfo=UTC))


def test_replay_names_are_valid_for_eventbridge() -> None:
    since, until = datetime(2026, 5, 1, tzinfo=UTC), datetime(2026, 5, 2, 6, 30, tzinfo=UTC)
    now = datetime(2026, 5, 3, 1, 2, 3, tzinfo=UTC)
    assert (
        replay.replay_name(list(redrive.ENTITIES), since, until, now)
        == "shopify-all-20260501T0000-20260502T0630-010203"
    )
    name = replay.replay_name(["orders", "carts"], since, until, now)
    assert name == "shopify-carts-orders-20260501T0000-20260502T0630-010203"
    assert len(replay.replay_name(["customers", "fulfillments", "products", "orders"], since, until, now)) <= 64


def test_both_commands_are_registered() -> None:
    parser = build_parser()
    args = parser.parse_args(["redrive", "--env", "local", "--dlq", "carts", "--max", "5"])
    assert (args.dlq, args.max) == ("carts", 5)
    args = parser.parse_args(
        ["replay", "--env", "prod", "--since", "2026-01-01", "--until", "2026-01-02", "--entity", "orders"]
    )
    assert (args.entity, args.from_lake) == (["orders"], False)
