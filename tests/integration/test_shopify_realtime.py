"""Shopify real-time ingestion on the local cloud: the deployed stack, PutEvents in, tables and lake out,
a poison event through Lambda's retries into the DLQ and back with `platformctl redrive`, archive and lake
replays. Narrow the deploy while developing (PLATFORM_LOCAL_STACKS=shared,monitoring,shopify/eventbridge-rules).
"""

from __future__ import annotations

import copy
import io
import json
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

import platformctl.simulators.shopify_resources  # noqa: F401 - registers the order/customer/... lookups
from platformctl.aws_target import Target
from platformctl.commands import redrive, replay
from tests.unit.shopify import support

pytestmark = pytest.mark.integration
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "shopify"


def _put(cloud: Any, *events: dict[str, Any]) -> None:
    """Put the events on the local bus with their own source (support.envelope's is the local one)."""
    bus = cloud.endpoints()["event_bus"]
    entries = [
        {"Source": e["source"], "DetailType": e["detail-type"], "Detail": json.dumps(e["detail"]), "EventBusName": bus}
        for e in events
    ]
    for start in range(0, len(entries), 10):
        response = cloud.target.client("events").put_events(Entries=entries[start : start + 10])
        assert response["FailedEntryCount"] == 0, response
    assert cloud.wait_idle(120)


def _order(order_id: int, **changes: Any) -> dict[str, Any]:
    order = copy.deepcopy(json.loads((FIXTURES / "order__shopify-python-api.json").read_text())["order"])
    order.update({"id": order_id, "name": f"#{order_id}", "order_number": order_id, **changes})
    return order


def _item(cloud: Any, table: str, key: dict[str, str]) -> dict[str, Any] | None:
    from boto3.dynamodb.types import TypeDeserializer

    name = cloud.endpoints()["tables"][table]
    raw = (
        cloud.target.client("dynamodb").get_item(TableName=name, Key={k: {"S": v} for k, v in key.items()}).get("Item")
    )
    return {k: TypeDeserializer().deserialize(v) for k, v in raw.items()} if raw else None


def _keys(cloud: Any, prefix: str) -> list[str]:
    s3 = cloud.target.client("s3")
    pages = s3.get_paginator("list_objects_v2").paginate(Bucket=cloud.endpoints()["bucket"], Prefix=prefix)
    return [o["Key"] for page in pages for o in page.get("Contents", [])]


def _log_lines(cloud: Any, function: str, event_id: str) -> list[dict[str, Any]]:
    path = cloud.state_dir / "logs" / f"{function}.log"
    lines = []
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines() if path.exists() else []:
        if line.startswith('{"level"') and f'"event_id":"{event_id}"' in line.replace(" ", ""):
            lines.append(json.loads(line))
    return lines


def _outputs(cloud: Any) -> dict[str, str]:
    return dict(cloud.stack_outputs()["shopify/eventbridge-rules"])


def _dlq_messages(cloud: Any, entity: str) -> int:
    url = cloud.endpoints()["dlqs"][entity]
    attributes = cloud.target.client("sqs").get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    return int(attributes["ApproximateNumberOfMessages"]) + int(attributes["ApproximateNumberOfMessagesNotVisible"])


def _uid() -> str:
    return uuid.uuid4().hex[:12]


def test_the_stack_publishes_its_bus_and_dlqs(local_cloud: Any) -> None:
    endpoints = local_cloud.endpoints()
    assert endpoints["event_bus"] == "acme-local-shopify-events"
    assert set(endpoints["dlqs"]) >= {"orders", "fulfillments", "customers", "products", "carts"}
    archives = local_cloud.target.client("events").list_archives()["Archives"]
    assert "acme-local-shopify" in {a["ArchiveName"] for a in archives}
    config = local_cloud.target.client("lambda").get_function_configuration(
        FunctionName=_outputs(local_cloud)["OrderProcessorFunctionName"]
    )
    assert config["Environment"]["Variables"]["SHOPIFY_ADMIN_BASE_URL"] == endpoints["simulators"]["shopify"]
    assert config["DeadLetterConfig"]["TargetArn"].endswith(":acme-shopify-orders-events-dlq")


def test_put_events_land_in_the_raw_lake_and_the_tables(local_cloud: Any) -> None:
    uid = _uid()
    order_id = int(uuid.uuid4().int % 10**12)
    cart = {"id": f"cart-{uid}", "token": f"cart-{uid}", "line_items": [], "updated_at": "2025-01-01T10:00:00Z"}
    order = _order(order_id, cart_token=f"cart-{uid}", checkout_token=None)
    customer = json.loads((FIXTURES / "customer__shopify-python-api.json").read_text())["customer"]
    events = [
        support.envelope("carts/create", cart, event_id=f"cart-{uid}"),
        support.envelope("orders/create", order, event_id=f"order-{uid}"),
        # the Events system's casing: lower case, no X- prefix
        support.envelope("customers/update", customer, event_id=f"customer-{uid}", lowercase=True),
    ]
    _put(local_cloud, *events)

    assert _keys(local_cloud, f"raw/shopify/webhooks/orders/topic=orders_create/dt=2024-09-26/order-{uid}.json")
    assert _keys(local_cloud, f"raw/shopify/webhooks/customers/topic=customers_update/dt=2024-09-26/customer-{uid}")
    item = _item(local_cloud, "orders", {"order_id": str(order_id), "record": "ORDER"})
    assert item is not None
    assert (item["order_number"], item["customer_id"], item["source_event_id"]) == (
        str(order_id),
        "207119551",
        f"order-{uid}",
    )
    converted = _item(local_cloud, "abandoned_carts", {"cart_token": f"cart-{uid}"})
    assert converted is not None
    assert converted["converted_order_id"] == str(order_id)
    assert _item(local_cloud, "customers", {"customer_key": "shopify:207119551"}) is not None


def test_only_the_configured_source_reaches_the_processors(local_cloud: Any) -> None:
    """On the local custom bus any principal may put events; the rules route only the partner source's."""
    endpoints = local_cloud.endpoints()
    assert _outputs(local_cloud)["ShopifyEventSource"] == support.EVENT_SOURCE
    assert endpoints.get("event_source", support.EVENT_SOURCE) == support.EVENT_SOURCE
    config = local_cloud.target.client("lambda").get_function_configuration(
        FunctionName=_outputs(local_cloud)["OrderProcessorFunctionName"]
    )
    assert config["Environment"]["Variables"]["SHOPIFY_EVENT_SOURCE"] == support.EVENT_SOURCE
    uid = _uid()
    order_id = int(uuid.uuid4().int % 10**12)
    _put(local_cloud, support.envelope("orders/create", _order(order_id), event_id=f"create-{uid}"))
    foreign = [
        support.envelope("orders/delete", {"id": order_id}, event_id=f"forged-{uid}-{n}", source=source)
        for n, source in enumerate(["custom.attacker", "aws.partner/shopify.com/7654321/other-app"])
    ]
    later = _order(order_id, updated_at="2030-01-01T00:00:00Z", financial_status="refunded")
    _put(local_cloud, *foreign, support.envelope("orders/updated", later, event_id=f"update-{uid}"))

    item = _item(local_cloud, "orders", {"order_id": str(order_id), "record": "ORDER"})
    assert item is not None
    assert "deleted" not in item, "a forged orders/delete tombstones nothing"
    assert (item["financial_status"], item["source_event_id"]) == ("refunded", f"update-{uid}")
    assert not [k for k in _keys(local_cloud, "raw/shopify/webhooks/orders/") if f"forged-{uid}" in k]
    assert not _log_lines(local_cloud, _outputs(local_cloud)["OrderProcessorFunctionName"], f"forged-{uid}-0")


def test_bad_input_is_quarantined_not_dead_lettered(local_cloud: Any) -> None:
    uid = _uid()
    before = _dlq_messages(local_cloud, "orders")
    _put(local_cloud, support.envelope("orders/create", _order(1, id="not-an-id"), event_id=f"bad-{uid}"))
    assert any("/bad-id/" in k for k in _keys(local_cloud, "quarantine/shopify/"))
    assert _dlq_messages(local_cloud, "orders") == before
    [line] = [
        line
        for line in _log_lines(local_cloud, "acme-local-shopify-order-processor", f"bad-{uid}")
        if line["message"].endswith("quarantined")
    ]
    assert line["reason"] == "bad-id"


DLQ_ALARM = "acme-local-shopify-orders-dlq-not-empty"


def _wait_alarm(cloud: Any, name: str, state: str, timeout: float = 120.0) -> None:
    """Wait (bounded) until the alarm is in ``state``; a bound on waiting, not a speed assertion."""
    cloudwatch = cloud.target.client("cloudwatch")
    deadline = time.monotonic() + timeout
    current = None
    while time.monotonic() < deadline:
        current = cloudwatch.describe_alarms(AlarmNames=[name])["MetricAlarms"][0]["StateValue"]
        if current == state:
            return
        time.sleep(0.25)
    raise AssertionError(f"{name} stayed {current}, never {state}, within {timeout:.0f}s")


def test_a_poison_event_is_retried_dead_lettered_and_redriven_once(local_cloud: Any) -> None:
    """Shopify answers 503 while a reduced payload is fetched: every attempt fails (Lambda's async
    invoke: 1 + 2 retries), the event lands in the orders DLQ, and redrive processes it exactly once."""
    uid = _uid()
    order_id = int(uuid.uuid4().int % 10**12)
    simulator = local_cloud.simulators["shopify"]
    simulator.state.add_resources("orders", _order(order_id))
    attempts_before = simulator.state.counters["http_503"]
    # 3 Lambda attempts x 3 HTTP tries each (the processors' short client retries): then Shopify is back
    simulator.state.configure(http_error={"status": 503, "times": 9})
    event = support.envelope("orders/updated", {"id": order_id}, event_id=f"poison-{uid}")
    try:
        _put(local_cloud, event)
        assert simulator.state.counters["http_503"] - attempts_before == 9
    finally:
        simulator.state.configure(http_error=None)
    assert _item(local_cloud, "orders", {"order_id": str(order_id), "record": "ORDER"}) is None
    raw = _keys(local_cloud, f"raw/shopify/webhooks/orders/topic=orders_updated/dt=2024-09-26/poison-{uid}.json")
    assert len(raw) == 1  # written first, on every attempt, to the same key

    # the DLQ holds the original event (Lambda's failure attributes beside it)
    sqs = local_cloud.target.client("sqs")
    peek = sqs.receive_message(
        QueueUrl=local_cloud.endpoints()["dlqs"]["orders"],
        MaxNumberOfMessages=10,
        VisibilityTimeout=0,
        MessageAttributeNames=["All"],
    )
    bodies = [json.loads(m["Body"]) for m in peek.get("Messages", [])]
    [dead] = [b for b in bodies if b.get("detail", {}).get("metadata", {}).get("X-Shopify-Event-Id") == f"poison-{uid}"]
    assert dead["detail"] == event["detail"]
    # the DLQ's alarm pages the on-call engineer (periods are compressed locally: seconds, not minutes)
    _wait_alarm(local_cloud, DLQ_ALARM, "ALARM")

    target = Target("local", endpoint_url=local_cloud.endpoint_url, region="us-east-1")
    result = redrive.redrive(target, "orders", outputs=_outputs(local_cloud), out=io.StringIO())
    assert result.ok
    assert result.accepted >= 1
    assert local_cloud.wait_idle(120)

    assert _dlq_messages(local_cloud, "orders") == 0
    _wait_alarm(local_cloud, DLQ_ALARM, "OK")  # and stands down once the redrive emptied the queue
    item = _item(local_cloud, "orders", {"order_id": str(order_id), "record": "ORDER"})
    assert item is not None
    assert item["source_event_id"] == f"poison-{uid}"
    processed = [
        line
        for line in _log_lines(local_cloud, "acme-local-shopify-order-processor", f"poison-{uid}")
        if line["message"] == "shopify event processed"
    ]
    assert [line["outcome"] for line in processed] == ["written"]  # processed once
    assert (
        len(_keys(local_cloud, f"raw/shopify/webhooks/orders/topic=orders_updated/dt=2024-09-26/poison-{uid}.json"))
        == 1
    )
    # nothing left to redrive
    assert redrive.redrive(target, "orders", outputs=_outputs(local_cloud), out=io.StringIO()).accepted == 0


def test_an_archive_replay_sends_the_window_of_one_entity_again(local_cloud: Any) -> None:
    uid = _uid()
    order_id = int(uuid.uuid4().int % 10**12)
    product = {"id": order_id, "title": "Tee", "updated_at": "2025-01-01T00:00:00Z", "variants": []}
    since = datetime.now(UTC) - timedelta(seconds=2)
    _put(
        local_cloud,
        support.envelope("orders/create", _order(order_id), event_id=f"replay-order-{uid}"),
        support.envelope("products/update", product, event_id=f"replay-product-{uid}"),
    )
    until = datetime.now(UTC) + timedelta(seconds=2)
    target = Target("local", endpoint_url=local_cloud.endpoint_url, region="us-east-1")
    description = replay.replay_archive(
        target, ["orders"], since, until, outputs=_outputs(local_cloud), out=io.StringIO()
    )
    assert description["State"] == "COMPLETED"
    assert local_cloud.wait_idle(120)

    orders = _log_lines(local_cloud, "acme-local-shopify-order-processor", f"replay-order-{uid}")
    assert [line["outcome"] for line in orders if "outcome" in line] == ["written", "duplicate"]
    products = _log_lines(local_cloud, "acme-local-shopify-product-processor", f"replay-product-{uid}")
    assert [line["outcome"] for line in products if "outcome" in line] == ["snapshot"]  # not in the replay


def test_a_lake_replay_sends_the_raw_events_of_the_window_again(local_cloud: Any) -> None:
    uid = _uid()
    order_id = int(uuid.uuid4().int % 10**12)
    since = datetime.now(UTC) - timedelta(seconds=2)
    _put(local_cloud, support.envelope("orders/create", _order(order_id), event_id=f"lake-{uid}"))
    until = datetime.now(UTC) + timedelta(seconds=2)
    target = Target("local", endpoint_url=local_cloud.endpoint_url, region="us-east-1")
    bucket = local_cloud.endpoints()["bucket"]
    # dt= is the day Shopify triggered the event (2024-09-26 in these envelopes): widen the window's days
    result = replay.replay_lake(
        target,
        ["orders"],
        datetime(2024, 9, 26, tzinfo=UTC),
        until,
        bucket=bucket,
        outputs=_outputs(local_cloud),
        out=io.StringIO(),
    )
    assert result.sent >= 1
    assert local_cloud.wait_idle(120)
    lines = _log_lines(local_cloud, "acme-local-shopify-order-processor", f"lake-{uid}")
    assert [line["outcome"] for line in lines if "outcome" in line] == ["written", "duplicate"]
    assert since < until


def test_a_reduced_payload_is_completed_from_the_simulated_admin_api(local_cloud: Any) -> None:
    uid = _uid()
    order_id = int(uuid.uuid4().int % 10**12)
    local_cloud.simulators["shopify"].state.add_resources("orders", _order(order_id, financial_status="paid"))
    _put(local_cloud, support.envelope("orders/updated", {"id": order_id}, event_id=f"reduced-{uid}"))
    item = _item(local_cloud, "orders", {"order_id": str(order_id), "record": "ORDER"})
    assert item is not None
    assert (item["financial_status"], item["source_event_id"]) == ("paid", f"reduced-{uid}")
    # the fetched order is kept beside the raw event (the local cloud enforces the role's PutObject grant)
    key = f"raw/shopify/fetched/orders/topic=orders_updated/dt=2024-09-26/reduced-{uid}.json"
    assert _keys(local_cloud, key) == [key]
    body = local_cloud.target.client("s3").get_object(Bucket=local_cloud.endpoints()["bucket"], Key=key)["Body"].read()
    assert json.loads(body)["detail"]["payload"]["financial_status"] == "paid"


def test_concurrent_deliveries_of_one_order_keep_the_newest_version(local_cloud: Any) -> None:
    """Lambda runs deliveries side by side; the conditional write must still let only the newest win."""
    uid = _uid()
    order_id = int(uuid.uuid4().int % 10**12)
    start = datetime(2025, 1, 1, tzinfo=UTC)
    versions = [
        support.envelope(
            "orders/updated",
            _order(order_id, updated_at=(start + timedelta(minutes=n)).isoformat(), financial_status=f"v{n:02d}"),
            event_id=f"conc-{uid}-{n:02d}",
        )
        for n in range(20)
    ]
    _put(local_cloud, *reversed(versions))  # newest first: every later delivery must lose
    item = _item(local_cloud, "orders", {"order_id": str(order_id), "record": "ORDER"})
    assert item is not None
    assert (item["financial_status"], item["source_event_id"]) == ("v19", f"conc-{uid}-19")
