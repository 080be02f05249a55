"""Reconciliation on the local cloud: the deployed reconcile function under its own role (IAM enforced),
webhooks through the bus and the deployed processors, the state machine's Reconcile state.

- seeded scenarios: drop a subset of an order set's webhooks, deliver the rest in any order before and
  after a complete bulk run, reconcile it in several steps (one answer lost and the step repeated): the
  hot store then holds what delivering everything holds (delivering everything again changes nothing but
  who wrote an equal version), a bulk line older than a webhook never overwrote it, and the counts say so;
- a real run of the state machine reconciles its export: every exported order is in the hot store;
- an order whose orders/create was dropped while its cart (created by the cart processor) and checkout
  were not ends with both marked converted by the reconciliation (the function's role may update the
  abandoned-carts table), as delivering the webhook would have.

The unit tests (tests/unit/shopify_reconcile, moto) explore the same properties far more widely.
Narrow the deploy with PLATFORM_LOCAL_STACKS=shared,monitoring,shopify/eventbridge-rules,shopify/bulk-workflow.
"""

from __future__ import annotations

import json
import random
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from boto3.dynamodb.types import TypeDeserializer

from tests.unit.shopify import support
from tests.unit.shopify_reconcile import shop

pytestmark = pytest.mark.integration
UNTIL = datetime(2025, 3, 8, tzinfo=UTC)


@pytest.fixture(scope="module")
def cloud(local_cloud: Any) -> Any:
    outputs = local_cloud.stack_outputs()
    if "shopify/bulk-workflow" not in outputs or "shopify/eventbridge-rules" not in outputs:
        pytest.skip("needs the shopify/eventbridge-rules and shopify/bulk-workflow stacks (PLATFORM_LOCAL_STACKS)")
    return local_cloud


@pytest.fixture
def run_id(cloud: Any) -> Iterator[str]:
    """A run id of this test only; its manifest and result are removed afterwards, so no other test
    (the coverage check reads the newest complete runs) sees this synthetic run."""
    value = str(900_000_000 + uuid.uuid4().int % 10**8)
    yield value
    s3, bucket = cloud.target.client("s3"), cloud.endpoints()["bucket"]
    for prefix in (
        f"metadata/shopify/bulk/run={value}/",
        "raw/shopify/bulk/order/run=",
        "raw/shopify/bulk/line_item/run=",
    ):
        pages = s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
        for page in pages:
            for item in page.get("Contents", []):
                if f"run={value}/" in item["Key"]:
                    s3.delete_object(Bucket=bucket, Key=item["Key"])


def _put(cloud: Any, events: list[dict[str, Any]]) -> None:
    bus = cloud.endpoints()["event_bus"]
    entries = [
        {"Source": e["source"], "DetailType": e["detail-type"], "Detail": json.dumps(e["detail"]), "EventBusName": bus}
        for e in events
    ]
    for start in range(0, len(entries), 10):
        response = cloud.target.client("events").put_events(Entries=entries[start : start + 10])
        assert response["FailedEntryCount"] == 0, response
    assert cloud.wait_idle(120)


def _event(v: shop.OrderVersion) -> dict[str, Any]:
    return support.envelope(
        "orders/updated", shop.order_payload(v), event_id=f"evt-{v.order_id}-{v.version:03d}",
        triggered_at=shop.iso(v.updated_at),
    )  # fmt: skip


def _items(cloud: Any, ids: list[int]) -> dict[str, dict[str, Any]]:
    table = cloud.endpoints()["tables"]["orders"]
    keys = [{"order_id": {"S": str(i)}, "record": {"S": "ORDER"}} for i in ids]
    found: dict[str, dict[str, Any]] = {}
    for start in range(0, len(keys), 100):
        response = cloud.target.client("dynamodb").batch_get_item(
            RequestItems={table: {"Keys": keys[start : start + 100]}}
        )
        for raw in response["Responses"][table]:
            item = {k: TypeDeserializer().deserialize(v) for k, v in raw.items()}
            found[item["order_id"]] = item
    return found


def _invoke(cloud: Any, payload: dict[str, Any]) -> dict[str, Any]:
    name = cloud.stack_outputs()["shopify/bulk-workflow"]["ReconcileFunctionName"]
    response = cloud.target.client("lambda").invoke(FunctionName=name, Payload=json.dumps(payload).encode())
    body = json.loads(response["Payload"].read())
    assert "FunctionError" not in response, body
    return dict(body)


def _without(item: dict[str, Any], *names: str) -> dict[str, Any]:
    return {k: v for k, v in item.items() if k not in (*names, "ingested_at")}


@pytest.mark.parametrize("seed", [1, 2])
def test_dropped_webhooks_are_healed_in_resumable_steps_and_the_newest_always_wins(
    cloud: Any, run_id: str, seed: int
) -> None:
    rng = random.Random(seed)
    base = 10**9 + rng.randrange(10**8) * 100
    histories = [shop.order_history(base + i, rng.randint(1, 3), rng) for i in range(6)]
    events = [v for h in histories for v in h]
    kept = [v for v in events if rng.random() < 0.5]
    rng.shuffle(kept)
    cut = rng.randint(0, len(kept))
    # a webhook newer than the export (Shopify changed the order while the export ran)
    newest = histories[0][-1]
    after_export = shop.OrderVersion(newest.order_id, 9, newest.updated_at.replace(year=2026), "PAID", (4,), None)

    _put(cloud, [_event(v) for v in kept[:cut]] + [_event(after_export)])
    s3, bucket = cloud.target.client("s3"), cloud.endpoints()["bucket"]
    shop.put_run(s3, bucket, run_id, shop.run_lines([h[-1] for h in histories]), since=None, until=UNTIL, rng=rng)

    # Reconcile in steps of one partition of 2 orders; the answer of the second step is "lost" and the
    # step repeated with its old input, as a Step Functions retry does.
    run = {"run_id": run_id, "options": {"reconcile_roots_per_partition": 2, "reconcile_partitions_per_step": 1}}
    answers = [_invoke(cloud, {"run": run, "previous": None})]
    _invoke(cloud, {"run": run, "previous": answers[-1]})
    while not answers[-1]["done"]:
        answers.append(_invoke(cloud, {"run": run, "previous": answers[-1]}))
    # three partitions: the first step did one, the lost one another, its repeat the last (and finished)
    assert [(a["partitions"], a["partitions_done"], a["done"]) for a in answers] == [(3, 1, False), (3, 3, True)]
    result_body = s3.get_object(Bucket=bucket, Key=answers[-1]["result_key"])["Body"].read()
    counts = json.loads(result_body)["entities"]["orders"]

    _put(cloud, [_event(v) for v in kept[cut:]])
    ids = [h[0].order_id for h in histories]
    healed = _items(cloud, ids)
    assert set(healed) == {str(i) for i in ids}  # nothing missing any more
    # the webhook newer than the export was never overwritten by the export's older line
    assert healed[str(newest.order_id)]["source_event_id"] == f"evt-{newest.order_id}-009"
    assert counts["newer_in_store"] >= 1
    assert counts["exported"] == counts["in_window"] == 6
    assert counts["missing"] + counts["stale"] + counts["current"] + counts["newer_in_store"] == 6
    assert counts["written"] == counts["missing"] + counts["stale"]

    # Delivering every webhook now changes nothing but who wrote an equal version: the store already
    # holds the newest state of every order.
    _put(cloud, [_event(v) for v in events])
    everything = _items(cloud, ids)
    assert {k: _without(v, "source_event_id") for k, v in healed.items()} == {
        k: _without(v, "source_event_id") for k, v in everything.items()
    }


def _carts(cloud: Any, keys: list[str]) -> dict[str, dict[str, Any]]:
    table = cloud.endpoints()["tables"]["abandoned_carts"]
    response = cloud.target.client("dynamodb").batch_get_item(
        RequestItems={table: {"Keys": [{"cart_token": {"S": k}} for k in keys], "ConsistentRead": True}}
    )
    items = [{k: TypeDeserializer().deserialize(v) for k, v in raw.items()} for raw in response["Responses"][table]]
    return {str(item["cart_token"]): item for item in items}


def test_a_dropped_orders_create_whose_cart_was_created_ends_with_the_cart_converted(cloud: Any, run_id: str) -> None:
    uid = uuid.uuid4().hex[:12]
    order_id = 10**9 + uuid.uuid4().int % 10**8
    # Placed yesterday: an order older than the carts' time to live marks nothing (its cart has expired).
    yesterday = datetime.now(UTC) - timedelta(days=1)
    v = shop.OrderVersion(
        order_id, 0, yesterday, "PAID", (2,), None, cart_token=f"cart-{uid}", checkout_token=f"co-{uid}",
        created_at=shop.iso(yesterday - timedelta(hours=1)),
    )  # fmt: skip
    cart: dict[str, Any] = {
        "id": v.cart_token,
        "token": v.cart_token,
        "line_items": [],
        "updated_at": shop.iso(v.updated_at),
    }
    _put(cloud, [support.envelope("carts/create", cart, event_id=f"cart-{uid}")])  # the orders/create is lost
    keys = [f"cart-{uid}", f"checkout:co-{uid}"]
    before = _carts(cloud, keys)
    assert set(before) == {f"cart-{uid}"}
    assert "converted_order_id" not in before[f"cart-{uid}"]

    s3, bucket = cloud.target.client("s3"), cloud.endpoints()["bucket"]
    shop.put_run(s3, bucket, run_id, shop.run_lines([v]), since=None, until=UNTIL)
    answer = _invoke(cloud, {"run": {"run_id": run_id}, "previous": None})
    assert answer["done"] is True
    counts = json.loads(s3.get_object(Bucket=bucket, Key=answer["result_key"])["Body"].read())["entities"]["orders"]
    assert (counts["missing"], counts["written"], counts["carts_marked"]) == (1, 1, 2)
    after = _carts(cloud, keys)
    assert {k: after[k].get("converted_order_id") for k in keys} == {k: str(order_id) for k in keys}
    assert after[f"cart-{uid}"]["source_updated_at"] == before[f"cart-{uid}"]["source_updated_at"]  # the cart stays

    # the webhook delivered late marks nothing new: the first mark stays
    _put(cloud, [_event(v)])
    assert _carts(cloud, keys) == after


def test_a_state_machine_run_reconciles_what_it_exported(cloud: Any) -> None:
    from tests.integration import test_shopify_bulk as bulk

    env = {
        "machine": cloud.endpoints()["state_machines"]["shopify_bulk"],
        "sfn": cloud.target.client("stepfunctions"),
        "simulator": cloud.endpoints()["simulators"]["shopify"],
    }
    bulk.control(env, orders=120)
    try:
        description, history = bulk.run(env, {**bulk.WINDOW, "options": {"max_bytes_per_step": 40_000}})
    finally:
        import requests

        requests.post(f"{env['simulator']}/_simulator/reset", json={"operations": True}, timeout=10)
    assert description["status"] == "SUCCEEDED", description.get("cause")
    assert bulk.entered(history, "Reconcile") >= 1
    output = json.loads(description["output"])
    s3, bucket = cloud.target.client("s3"), cloud.endpoints()["bucket"]
    result = json.loads(s3.get_object(Bucket=bucket, Key=output["reconciliation_key"])["Body"].read())
    counts = result["entities"]["orders"]
    assert counts["exported"] == 120
    assert counts["skipped_invalid"] == 0
    # every exported order is in the hot store now, at the export's version or newer
    run_id = output["run_id"]
    manifest = json.loads(s3.get_object(Bucket=bucket, Key=output["manifest_key"])["Body"].read())
    ids: list[int] = []
    for summary in manifest["types"].values():
        if summary["folder"] == "order":
            for part in summary["parts"]:
                import gzip

                body = gzip.decompress(s3.get_object(Bucket=bucket, Key=part["key"])["Body"].read())
                ids += [int(json.loads(line)["id"].rsplit("/", 1)[1]) for line in body.splitlines() if line.strip()]
    assert len(ids) == 120
    assert set(_items(cloud, ids)) == {str(i) for i in ids}
    assert run_id == result["run_id"]
