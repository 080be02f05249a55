"""The reconciliation core (``common.shopify.reconcile``) against moto: items equal to the processors',
newest wins whatever arrives when, resumable with the same end, batched reads, writes only for changes."""

from __future__ import annotations

import json
import random
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any
from unittest import mock

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from moto import mock_aws

from common.shopify.reconcile import Reconciler, RunNotReconcilableError, bulk_event_id, result_key, work_prefix
from tests.unit.shopify import support
from tests.unit.shopify_reconcile import shop

NOW = datetime(2025, 3, 9, 0, 0, tzinfo=UTC)
UNTIL = datetime(2025, 3, 8, 0, 0, tzinfo=UTC)
TABLES = {"orders": support.TABLES["orders"], "customers": support.TABLES["customers"]}


@contextmanager
def account() -> Iterator[tuple[support.CachedSession, Any, Any]]:
    """A fresh moto account with the lake and hot stores, and the two processors."""
    with mock.patch.dict("os.environ", support.environment()), mock_aws():
        support.create_stores(support.SESSION)
        yield support.SESSION, support.processor("order"), support.processor("customer")


def reconciler(session: support.CachedSession, roots_per_partition: int = 100_000, **kw: Any) -> Reconciler:
    return Reconciler(
        s3=session.client("s3"),
        dynamodb=session.client("dynamodb"),
        bucket=support.BUCKET,
        tables=TABLES,
        carts_table=support.TABLES["abandoned_carts"],
        cart_ttl_days=30,
        clock=lambda: NOW,
        roots_per_partition=roots_per_partition,
        write_workers=kw.pop("write_workers", 4),
        **kw,
    )


def never() -> bool:
    return False


def deliver(module: Any, topic: str, payload: dict[str, Any], event_id: str, at: datetime) -> str:
    event = support.envelope(topic, payload, event_id=event_id, triggered_at=shop.iso(at))
    return str(module.handler(json.loads(json.dumps(event)), support.Context())["outcome"])


def order_event(v: shop.OrderVersion) -> tuple[str, dict[str, Any], str, datetime]:
    return ("orders/updated", shop.order_payload(v), f"evt-{v.order_id}-{v.version:03d}", v.updated_at)


def items(session: support.CachedSession, table: str) -> list[dict[str, Any]]:
    """The table, without the bookkeeping of who wrote a version (its event id) and when."""
    return [{k: v for k, v in item.items() if k != "source_event_id"} for item in support.table_items(session, table)]


def reconcile(session: support.CachedSession, run_id: str = "1001", **kw: Any) -> dict[str, Any]:
    outcome = reconciler(session, **kw).step(run_id, never)
    assert outcome.done
    assert outcome.result is not None
    return outcome.result


# ----------------------------------------------------------------------------------- item shape


def test_a_bulk_line_stores_the_item_the_processor_stores_for_the_same_order() -> None:
    rng = random.Random(3)
    versions = [shop.order_history(order_id, 3, rng)[-1] for order_id in range(1001, 1013)]
    versions[0] = shop.OrderVersion(1001, 2, versions[0].updated_at, "PARTIALLY_REFUNDED", (2, 1), 7001, cancelled=True)
    with account() as (session, orders, _):
        for v in versions:
            assert deliver(orders, *order_event(v)) == "written"
        from_webhooks = items(session, "orders")
    with account() as (session, _, _):
        shop.put_run(session.client("s3"), support.BUCKET, "1001", shop.run_lines(versions), since=None, until=UNTIL)
        result = reconcile(session)
        from_bulk = items(session, "orders")
        event_ids = {i["source_event_id"] for i in support.table_items(session, "orders")}
    assert from_bulk == from_webhooks
    assert event_ids == {bulk_event_id("1001")}
    assert result["entities"]["orders"] | {} == {
        "exported": 12, "in_window": 12, "missing": 12, "stale": 0, "current": 0, "newer_in_store": 0,
        "written": 12, "skipped_invalid": 0, "current_by_bulk": 0, "carts_marked": 0,
    }  # fmt: skip


def test_a_bulk_customer_line_stores_the_item_the_processor_stores() -> None:
    versions = [shop.CustomerVersion(7000 + i, 1, shop.START + timedelta(hours=i), i, i % 2 == 0) for i in range(4)]
    with account() as (session, _, customers):
        for v in versions:
            deliver(customers, "customers/update", shop.customer_payload(v), f"evt-c{v.customer_id}", v.updated_at)
        from_webhooks = items(session, "customers")
    with account() as (session, _, _):
        lines = {"customer": [shop.customer_line(v) for v in versions]}
        shop.put_run(session.client("s3"), support.BUCKET, "2002", lines, since=None, until=UNTIL, resource="customers")
        result = reconcile(session, "2002")
        from_bulk = items(session, "customers")
    strip = {"email_marketing_consent_event_id"}
    assert [{k: v for k, v in i.items() if k not in strip} for i in from_bulk] == [
        {k: v for k, v in i.items() if k not in strip} for i in from_webhooks
    ]
    assert result["resource"] == "customers"
    assert result["entities"]["customers"]["missing"] == 4
    assert result["entities"]["customers"]["written"] == 4


# ------------------------------------------------------------------------------------- classification


def test_counts_reads_and_writes_of_a_store_holding_most_orders_half_of_them_stale() -> None:
    rng = random.Random(5)
    histories = [shop.order_history(order_id, 2, rng) for order_id in range(1, 201)]
    with account() as (session, orders, _):
        for index, history in enumerate(histories):
            if index % 10 == 9:
                continue  # missing
            older = history[0] if index % 2 == 0 else history[1]  # stale or current
            deliver(orders, *order_event(older))
        newer = histories[3][1]
        newer_than_bulk = shop.OrderVersion(
            newer.order_id, 9, newer.updated_at + timedelta(hours=1), "PAID", (5,), None
        )
        deliver(orders, *order_event(newer_than_bulk))
        shop.put_run(
            session.client("s3"), support.BUCKET, "1001", shop.run_lines([h[-1] for h in histories]), since=None,
            until=UNTIL,
        )  # fmt: skip
        worker = reconciler(session)
        outcome = worker.step("1001", never)
        kept = [i for i in support.table_items(session, "orders") if i["order_id"] == str(newer.order_id)]
    counts = outcome.result["entities"]["orders"] if outcome.result else {}
    assert counts["exported"] == counts["in_window"] == 200
    assert counts["missing"] == 20
    assert counts["stale"] == 100
    assert counts["newer_in_store"] == 1  # a webhook newer than the export: never overwritten
    assert counts["current"] == 200 - 20 - 100 - 1
    assert counts["written"] == 120
    # 100 keys a read; writes only for changes (these orders have no cart: no conversion marks)
    assert worker.requests == {"batch_get": 2, "write": 120, "cart_mark": 0}
    assert kept[0]["source_version"] > 0
    assert kept[0]["financial_status"] == "paid"
    assert kept[0]["total_quantity"] == 5


def test_the_window_decides_in_window_and_everything_newer_is_written() -> None:
    rng = random.Random(1)
    versions = [h[-1] for h in (shop.order_history(i, 1, rng) for i in range(1, 21))]
    since = sorted(v.updated_at for v in versions)[10]
    with account() as (session, _, _):
        shop.put_run(session.client("s3"), support.BUCKET, "1001", shop.run_lines(versions), since=since, until=UNTIL)
        counts = reconcile(session)["entities"]["orders"]
    assert counts["exported"] == 20
    assert counts["in_window"] == sum(1 for v in versions if v.updated_at >= since)
    assert counts["missing"] == counts["in_window"]
    assert counts["written"] == 20


def test_a_version_an_earlier_run_healed_is_current_but_not_a_webhook() -> None:
    versions = [shop.order_history(i, 1, random.Random(i))[0] for i in range(1, 5)]
    with account() as (session, orders, _):
        deliver(orders, *order_event(versions[0]))
        s3 = session.client("s3")
        shop.put_run(s3, support.BUCKET, "1001", shop.run_lines(versions), since=None, until=UNTIL)
        first = reconcile(session)["entities"]["orders"]
        shop.put_run(s3, support.BUCKET, "1002", shop.run_lines(versions), since=None, until=UNTIL)
        second = reconcile(session, "1002")["entities"]["orders"]
    assert (first["missing"], first["current"], first["current_by_bulk"]) == (3, 1, 0)
    assert (second["missing"], second["current"], second["current_by_bulk"], second["written"]) == (0, 4, 3, 0)


def test_an_invalid_line_is_skipped_and_counted() -> None:
    v = shop.order_history(1, 1, random.Random(0))[0]
    lines = shop.run_lines([v])
    lines["order"].append(b'{"__typename":"Order","id":"gid:\\/\\/shopify\\/Order\\/2","updatedAt":"yesterday"}\n')
    with account() as (session, _, _):
        shop.put_run(session.client("s3"), support.BUCKET, "1001", lines, since=None, until=UNTIL)
        counts = reconcile(session)["entities"]["orders"]
    assert (counts["exported"], counts["written"], counts["skipped_invalid"]) == (2, 1, 1)


def test_a_partial_run_is_never_reconciled() -> None:
    with account() as (session, _, _):
        shop.put_run(
            session.client("s3"), support.BUCKET, "1001", {"order": []}, since=None, until=UNTIL, complete=False
        )
        with pytest.raises(RunNotReconcilableError):
            reconciler(session).step("1001", never)


def test_a_products_run_reconciles_nothing_and_says_so() -> None:
    with account() as (session, _, _):
        shop.put_run(session.client("s3"), support.BUCKET, "3003", {"product": []}, since=None, until=UNTIL,
                     resource="products")  # fmt: skip
        assert reconcile(session, "3003")["entities"] == {}


# ------------------------------------------------------------------------------------ resumability


def _stops_after(steps: int) -> Callable[[], bool]:
    asked = {"n": 0}

    def stop() -> bool:
        asked["n"] += 1
        return asked["n"] > steps

    return stop


class _CrashError(Exception):
    pass


def test_an_interrupted_reconciliation_ends_like_an_uninterrupted_one() -> None:
    rng = random.Random(11)
    histories = [shop.order_history(order_id, 2, rng) for order_id in range(1, 61)]
    run = shop.run_lines([h[-1] for h in histories])

    def seeded(session: support.CachedSession, orders: Any) -> None:
        for index, history in enumerate(histories):
            if index % 3:
                deliver(orders, *order_event(history[index % 2]))
        shop.put_run(session.client("s3"), support.BUCKET, "1001", run, since=None, until=UNTIL)

    with account() as (session, orders, _):
        seeded(session, orders)
        whole = reconcile(session, roots_per_partition=10)
        whole_items = support.table_items(session, "orders")
    with account() as (session, orders, _):
        seeded(session, orders)
        dynamodb = session.client("dynamodb")
        real_put = dynamodb.put_item
        calls = {"n": 0}

        def crashing_put(**kwargs: Any) -> Any:
            calls["n"] += 1
            if calls["n"] == 5:
                raise _CrashError("the step died mid-partition")
            return real_put(**kwargs)

        steps = 0
        with mock.patch.object(dynamodb, "put_item", side_effect=crashing_put), pytest.raises(_CrashError):
            reconciler(session, roots_per_partition=10, write_workers=1).step("1001", never)
        while True:
            steps += 1
            outcome = reconciler(session, roots_per_partition=10).step("1001", _stops_after(2))
            if outcome.done:
                break
        assert outcome.partitions == 6
        assert steps == 3
        assert outcome.result is not None
        assert outcome.result["entities"] == whole["entities"]
        assert support.table_items(session, "orders") == whole_items
        s3 = session.client("s3")
        assert not s3.list_objects_v2(Bucket=support.BUCKET, Prefix=work_prefix("1001")).get("Contents")
        # a repeat of the final step changes nothing
        again = reconciler(session, roots_per_partition=10).step("1001", never)
        assert (again.done, again.partitions, again.result) == (True, 0, outcome.result)
        stored = json.loads(s3.get_object(Bucket=support.BUCKET, Key=result_key("1001"))["Body"].read())
        assert stored == outcome.result


# ------------------------------------------------------------------------------ newest always wins


@st.composite
def scenarios(draw: Any) -> dict[str, Any]:
    seed = draw(st.integers(0, 10_000), label="seed")
    rng = random.Random(seed)
    count = draw(st.integers(1, 6), label="orders")
    histories = [shop.order_history(1000 + i, draw(st.integers(1, 4), label="versions"), rng) for i in range(count)]
    events = [order_event(v) for h in histories for v in h]
    delivered = draw(st.lists(st.sampled_from(range(len(events))), unique=True, max_size=len(events)), label="kept")
    order = draw(st.permutations(delivered), label="delivery order")
    cut = draw(st.integers(0, len(order)), label="delivered before the bulk run")
    return {"histories": histories, "events": events, "before": order[:cut], "after": order[cut:]}


@pytest.mark.slow
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenario=scenarios())
def test_any_subset_of_webhooks_in_any_order_around_a_bulk_run_ends_as_delivering_everything(
    scenario: dict[str, Any],
) -> None:
    events, histories = scenario["events"], scenario["histories"]
    with account() as (session, orders, _):
        for event in events:
            deliver(orders, *event)
        everything = items(session, "orders")
    with account() as (session, orders, _):
        for index in scenario["before"]:
            deliver(orders, *events[index])
        final = [h[-1] for h in histories]
        shop.put_run(session.client("s3"), support.BUCKET, "1001", shop.run_lines(final), since=None, until=UNTIL)
        reconcile(session, roots_per_partition=2)
        for index in scenario["after"]:
            deliver(orders, *events[index])
        healed = items(session, "orders")
    assert healed == everything


@pytest.mark.slow
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 10_000), exported=st.integers(0, 3), stored=st.integers(0, 3))
def test_a_bulk_line_older_than_a_webhook_never_overwrites_it(seed: int, exported: int, stored: int) -> None:
    history = shop.order_history(42, 4, random.Random(seed))
    with account() as (session, orders, _):
        deliver(orders, *order_event(history[stored]))
        before = support.table_items(session, "orders")
        shop.put_run(session.client("s3"), support.BUCKET, "1001", shop.run_lines([history[exported]]), since=None,
                     until=UNTIL)  # fmt: skip
        counts = reconcile(session)["entities"]["orders"]
        after = support.table_items(session, "orders")
    if exported <= stored:
        assert after == before  # an equal version too: the webhook wins the tie, as in orders_enriched
        assert counts["written"] == 0
        assert counts["newer_in_store" if exported < stored else "current"] == 1
    else:
        assert after[0]["source_event_id"] == bulk_event_id("1001")
        assert counts["stale"] == counts["written"] == 1


def test_on_an_equal_updated_at_a_webhook_after_the_bulk_line_replaces_it() -> None:
    v = shop.order_history(7, 1, random.Random(2))[0]
    with account() as (session, orders, _):
        shop.put_run(session.client("s3"), support.BUCKET, "1001", shop.run_lines([v]), since=None, until=UNTIL)
        reconcile(session)
        assert deliver(orders, *order_event(v)) == "written"
        [item] = support.table_items(session, "orders")
    assert item["source_event_id"] == order_event(v)[2]
