"""An order the reconciliation writes marks its cart and checkout converted, as the order processor does:
a cart whose order's webhooks were lost no longer looks abandoned after the bulk run."""

from __future__ import annotations

import random
from typing import Any
from unittest import mock

import pytest

from tests.unit.shopify import support
from tests.unit.shopify_reconcile import shop
from tests.unit.shopify_reconcile.test_reconcile import (
    UNTIL,
    _CrashError,
    _stops_after,
    account,
    deliver,
    never,
    order_event,
    reconcile,
    reconciler,
)

CARTS = "abandoned_carts"


def with_cart(v: shop.OrderVersion, *, cart: bool = True, checkout: bool = True) -> shop.OrderVersion:
    return shop.OrderVersion(
        v.order_id, v.version, v.updated_at, v.status, v.quantities, v.customer_id, v.cancelled,
        cart_token=f"cart{v.order_id}" if cart else None,
        checkout_token=f"co{v.order_id}" if checkout else None,
    )  # fmt: skip


def carts(session: support.CachedSession) -> dict[str, dict[str, Any]]:
    return {item["cart_token"]: item for item in support.table_items(session, CARTS)}


def converted(session: support.CachedSession) -> dict[str, str]:
    return {
        key: str(item["converted_order_id"]) for key, item in carts(session).items() if "converted_order_id" in item
    }


def put_run(session: support.CachedSession, versions: list[shop.OrderVersion], run_id: str = "1001") -> None:
    shop.put_run(session.client("s3"), support.BUCKET, run_id, shop.run_lines(versions), since=None, until=UNTIL)


def test_a_healed_missing_order_marks_its_cart_and_checkout_as_the_processor_does() -> None:
    versions = [with_cart(shop.order_history(order_id, 2, random.Random(order_id))[-1]) for order_id in (11, 12)]
    versions.append(shop.order_history(13, 1, random.Random(13))[0])  # no cart: nothing to mark
    with account() as (session, orders, _):
        for v in versions:
            deliver(orders, *order_event(v))
        by_webhooks = carts(session)
    with account() as (session, _, _):
        dynamodb = session.client("dynamodb")
        # the cart processor's item of a cart the customer abandoned, then bought from
        dynamodb.put_item(
            TableName=support.TABLES[CARTS], Item={"cart_token": {"S": "cart11"}, "line_count": {"N": "2"}}
        )
        put_run(session, versions)
        worker = reconciler(session)
        outcome = worker.step("1001", never)
        by_bulk = carts(session)
    assert outcome.result is not None
    counts = outcome.result["entities"]["orders"]
    assert (counts["missing"], counts["written"], counts["carts_marked"]) == (3, 3, 4)
    assert worker.requests == {"batch_get": 1, "write": 3, "cart_mark": 4}
    assert set(by_bulk) == {"cart11", "checkout:co11", "cart12", "checkout:co12"}
    assert by_bulk["cart11"].pop("line_count") == 2  # what the cart processor knew stays
    assert by_bulk == by_webhooks  # the marks the order processor sets, to the attribute
    assert by_bulk["checkout:co12"]["converted_order_id"] == "12"
    assert by_bulk["checkout:co12"]["converted_at"] == "2025-03-01T08:00:00.000000Z"  # the order's creation


def test_a_healed_stale_order_marks_carts_its_stored_version_did_not_carry() -> None:
    old, new = shop.order_history(21, 2, random.Random(21))
    with account() as (session, orders, _):
        deliver(orders, *order_event(old))  # the stored version knew no cart
        assert converted(session) == {}
        put_run(session, [with_cart(new)])
        worker = reconciler(session)
        counts = worker.step("1001", never).result or {}
        assert converted(session) == {"cart21": "21", "checkout:co21": "21"}
    assert counts["entities"]["orders"]["stale"] == 1
    assert counts["entities"]["orders"]["carts_marked"] == 2
    assert worker.requests["cart_mark"] == 2


def test_a_stale_order_whose_stored_version_carried_the_same_tokens_is_not_marked_again() -> None:
    old, new = (with_cart(v) for v in shop.order_history(22, 2, random.Random(22)))
    with account() as (session, orders, _):
        deliver(orders, *order_event(old))  # its webhook marked the carts
        before = carts(session)
        put_run(session, [new])
        worker = reconciler(session)
        counts = (worker.step("1001", never).result or {})["entities"]["orders"]
        after = carts(session)
    assert (counts["stale"], counts["written"], counts["carts_marked"]) == (1, 1, 0)
    assert worker.requests["cart_mark"] == 0
    assert after == before
    assert {key: item["converted_order_id"] for key, item in after.items()} == {"cart22": "22", "checkout:co22": "22"}


def test_an_order_already_current_marks_nothing() -> None:
    v = with_cart(shop.order_history(31, 1, random.Random(31))[0])
    with account() as (session, orders, _):
        deliver(orders, *order_event(v))
        session.client("dynamodb").delete_item(
            TableName=support.TABLES[CARTS], Key={"cart_token": {"S": "checkout:co31"}}
        )  # so a mark would show
        before = carts(session)
        put_run(session, [v])
        worker = reconciler(session)
        counts = (worker.step("1001", never).result or {})["entities"]["orders"]
        after = carts(session)
    assert (counts["current"], counts["written"], counts["carts_marked"]) == (1, 0, 0)
    assert worker.requests == {"batch_get": 1, "write": 0, "cart_mark": 0}
    assert after == before


def test_a_cart_another_order_converted_first_keeps_that_order() -> None:
    first = with_cart(shop.order_history(41, 1, random.Random(41))[0], checkout=False)
    shared_cart = shop.order_history(42, 1, random.Random(42))[0]
    second = shop.OrderVersion(
        42, 0, shared_cart.updated_at, "PAID", (1,), None, cart_token="cart41", checkout_token="co42"
    )
    with account() as (session, orders, _):
        deliver(orders, *order_event(first))
        put_run(session, [second])
        counts = reconcile(session)["entities"]["orders"]
        assert converted(session) == {"cart41": "41", "checkout:co42": "42"}
    assert counts["carts_marked"] == 1  # the checkout; the cart stays the first order's


def test_an_interrupted_reconciliation_marks_the_same_carts_and_counts_the_same() -> None:
    rng = random.Random(7)
    histories = [[with_cart(v) for v in shop.order_history(order_id, 2, rng)] for order_id in range(1, 31)]

    def seeded(session: support.CachedSession, orders: Any) -> None:
        for index, history in enumerate(histories):
            if index % 3 == 0:
                deliver(orders, *order_event(with_cart(history[0], cart=False, checkout=False)))  # no cart
        put_run(session, [h[-1] for h in histories])

    with account() as (session, orders, _):
        seeded(session, orders)
        whole = reconcile(session, roots_per_partition=10)
        whole_carts = carts(session)
    assert whole["entities"]["orders"]["carts_marked"] == 60
    with account() as (session, orders, _):
        seeded(session, orders)
        dynamodb = session.client("dynamodb")
        real_update = dynamodb.update_item
        calls = {"n": 0}

        def crashing_update(**kwargs: Any) -> Any:
            if kwargs["TableName"] == support.TABLES[CARTS]:
                calls["n"] += 1
                if calls["n"] == 8:  # an order written, its cart marked, its checkout not yet
                    raise _CrashError("the step died between an order's marks")
            return real_update(**kwargs)

        with mock.patch.object(dynamodb, "update_item", side_effect=crashing_update), pytest.raises(_CrashError):
            reconciler(session, roots_per_partition=10, write_workers=1).step("1001", never)
        assert 0 < len(converted(session)) < 60
        while not (outcome := reconciler(session, roots_per_partition=10).step("1001", _stops_after(1))).done:
            pass
        assert outcome.result is not None
        assert outcome.result["entities"] == whole["entities"]
        assert carts(session) == whole_carts


def test_an_order_older_than_the_carts_time_to_live_marks_nothing() -> None:
    """A backfill of old orders writes no cart item: their carts have expired from the table already."""
    from datetime import timedelta

    from tests.unit.shopify_reconcile.test_reconcile import NOW

    versions = [with_cart(shop.order_history(order_id, 1, random.Random(order_id))[0]) for order_id in (31, 32)]
    with account() as (session, _, _):
        put_run(session, versions)
        # the run happens a day after the carts of these orders (created 2025-03-01) expired
        later = NOW + timedelta(days=30)
        worker = reconciler(session)
        worker.clock = lambda: later
        outcome = worker.step("1001", never)
        left = carts(session)
    assert outcome.result is not None
    counts = outcome.result["entities"]["orders"]
    assert (counts["missing"], counts["written"], counts["carts_marked"]) == (2, 2, 0)
    assert worker.requests.get("cart_mark", 0) == 0
    assert left == {}
