"""Each metric view on a fixed dataset, written as Parquet with the catalog's columns, run by the local engine
from its one SQL file, equals figures worked out by hand in this file (not by the views' code)."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from platformctl.analytics.local_engine import LocalEngine
from tests.unit.analytics.lake import engine_over, write_table


def _order(order_id: str, created: str, **fields: Any) -> dict[str, Any]:
    row = {
        "order_id": order_id,
        "created_at": datetime.fromisoformat(created),
        "currency": "USD",
        "total_price": Decimal("0"),
        "total_discounts": Decimal("0"),
        "total_refunded": Decimal("0"),
        "test": False,
        "cancelled": False,
        "deleted": False,
    }
    row.update(fields)
    return row


def _rows(engine: LocalEngine, sql: str) -> list[tuple[Any, ...]]:
    return engine.query(sql).rows


def test_daily_sales_counts_orders_per_utc_day_and_currency(tmp_path: Path) -> None:
    write_table(
        tmp_path,
        "orders_enriched",
        [
            _order("1", "2026-03-01 10:00:00", total_price=Decimal("100.00"), total_discounts=Decimal("10.00")),
            # cancelled orders count; their refunds show as refunds. 23:59:59 UTC is still March 1st.
            _order(
                "2",
                "2026-03-01 23:59:59",
                total_price=Decimal("50.50"),
                total_refunded=Decimal("20.25"),
                cancelled=True,
            ),
            _order("3", "2026-03-01 12:00:00", total_price=Decimal("999.00"), test=True),
            _order("4", "2026-03-01 13:00:00", total_price=Decimal("888.00"), deleted=True),
            _order(
                "5",
                "2026-03-01 08:00:00",
                currency="EUR",
                total_price=Decimal("40.00"),
                total_discounts=Decimal("5.00"),
                total_refunded=Decimal("40.00"),
            ),
            # amounts missing from a version count as zero
            _order("6", "2026-03-02 00:00:00", total_price=Decimal("30.00"), total_discounts=None, total_refunded=None),
        ],
    )
    rows = _rows(engine_over(tmp_path), "SELECT * FROM daily_sales ORDER BY day, currency")
    assert rows == [
        # day, currency, orders, gross (price + discounts), discounts, refunds, net (price - refunds), AOV
        (
            date(2026, 3, 1),
            "EUR",
            1,
            Decimal("45.0000"),
            Decimal("5.0000"),
            Decimal("40.0000"),
            Decimal("0.0000"),
            40.0,
        ),
        (
            date(2026, 3, 1),
            "USD",
            2,
            Decimal("160.5000"),
            Decimal("10.0000"),
            Decimal("20.2500"),
            Decimal("130.2500"),
            75.25,
        ),
        (
            date(2026, 3, 2),
            "USD",
            1,
            Decimal("30.0000"),
            Decimal("0.0000"),
            Decimal("0.0000"),
            Decimal("30.0000"),
            30.0,
        ),
    ]


def test_customer_cohorts_follow_each_first_order_month(tmp_path: Path) -> None:
    write_table(
        tmp_path,
        "orders_enriched",
        [
            _order("a1", "2026-01-05 09:00:00", customer_id="c1"),
            _order("a2", "2026-01-20 09:00:00", customer_id="c1"),
            _order("a3", "2026-03-10 09:00:00", customer_id="c1"),
            _order("b1", "2026-01-31 23:30:00", customer_id="c2"),
            _order("b2", "2026-02-01 00:10:00", customer_id="c2"),
            _order("t1", "2026-01-01 09:00:00", customer_id="c3", test=True),  # not c3's first order
            _order("c1", "2026-02-14 09:00:00", customer_id="c3"),
            _order("d0", "2025-12-01 09:00:00", customer_id="c4", deleted=True),  # not c4's first order
            _order("d1", "2026-03-03 09:00:00", customer_id="c4"),
            _order("e1", "2025-12-15 09:00:00", customer_id="c5"),
            _order("e2", "2026-01-10 09:00:00", customer_id="c5"),
            _order("g1", "2026-02-02 09:00:00", customer_id=None),  # a guest: no cohort
        ],
    )
    rows = _rows(engine_over(tmp_path), "SELECT * FROM customer_cohorts ORDER BY cohort_month, activity_month")
    dec, jan, feb, mar = date(2025, 12, 1), date(2026, 1, 1), date(2026, 2, 1), date(2026, 3, 1)
    assert rows == [
        # cohort, months since, month, cohort customers, active, retention, orders
        (dec, 0, dec, 1, 1, 1.0, 1),
        (dec, 1, jan, 1, 1, 1.0, 1),
        (dec, 2, feb, 1, 0, 0.0, 0),
        (dec, 3, mar, 1, 0, 0.0, 0),
        (jan, 0, jan, 2, 2, 1.0, 3),
        (jan, 1, feb, 2, 1, 0.5, 1),
        (jan, 2, mar, 2, 1, 0.5, 1),
        (feb, 0, feb, 1, 1, 1.0, 1),
        (feb, 1, mar, 1, 0, 0.0, 0),
        (mar, 0, mar, 1, 1, 1.0, 1),
    ]


def _subscription(subscription_id: str, customer: str, created: str, **fields: Any) -> dict[str, Any]:
    row = {
        "subscription_id": subscription_id,
        "customer_id": customer,
        "currency": "USD",
        "quantity": 1,
        "price": Decimal("0"),
        "status": "active",
        "order_interval_unit": "month",
        "order_interval_frequency": 1,
        "created_at": datetime.fromisoformat(created),
        "updated_at": datetime.fromisoformat(created),
        "deleted": False,
    }
    row.update(fields)
    return row


def _at(text: str) -> datetime:
    return datetime.fromisoformat(text)


def test_subscription_mrr_new_churned_and_reactivated(tmp_path: Path) -> None:
    write_table(
        tmp_path,
        "subscriptions",
        [
            _subscription("s1", "A", "2026-01-10 00:00:00", price=Decimal("30.00")),  # 30.0000 a month
            # 10.00 x 2 every 2 weeks: 20 x (30.4375 / 7) / 2 = 43.482142... -> 43.4821
            _subscription(
                "s2",
                "A",
                "2026-02-05 00:00:00",
                price=Decimal("10.00"),
                quantity=2,
                order_interval_unit="week",
                order_interval_frequency=2,
                status="cancelled",
                cancelled_at=_at("2026-03-15 00:00:00"),
                updated_at=_at("2026-03-15 00:00:00"),
            ),
            _subscription(
                "s3",
                "B",
                "2026-01-20 00:00:00",
                price=Decimal("25.00"),
                status="cancelled",
                cancelled_at=_at("2026-02-10 00:00:00"),
                updated_at=_at("2026-02-10 00:00:00"),
            ),
            # quarterly: 27.00 / 3 = 9.0000; B comes back in April through a new subscription
            _subscription(
                "s4",
                "B",
                "2026-04-02 00:00:00",
                price=Decimal("27.00"),
                order_interval_frequency=3,
                updated_at=_at("2026-04-20 00:00:00"),
            ),
            # 12.00 every 30 days: 12 x 30.4375 / 30 = 12.175; expired without cancelled_at: ends at updated_at
            _subscription(
                "s5",
                "C",
                "2026-02-28 23:59:59",
                currency="EUR",
                price=Decimal("12.00"),
                order_interval_unit="day",
                order_interval_frequency=30,
                status="expired",
                updated_at=_at("2026-03-20 00:00:00"),
            ),
            _subscription("s6", "D", "2026-01-01 00:00:00", price=Decimal("99.00"), deleted=True),
            # never active at a month's end, so E's April subscription is a return, not a first
            _subscription(
                "s7",
                "E",
                "2026-03-01 00:00:00",
                price=Decimal("8.00"),
                status="cancelled",
                cancelled_at=_at("2026-03-20 00:00:00"),
                updated_at=_at("2026-03-20 00:00:00"),
            ),
            _subscription("s8", "E", "2026-04-10 00:00:00", price=Decimal("5.00")),
        ],
    )
    rows = _rows(engine_over(tmp_path), "SELECT * FROM subscription_mrr ORDER BY month, currency")
    zero = Decimal("0.0000")
    assert rows == [
        # month, currency, subscribers, subscriptions, mrr, new, new mrr, reactivated, its mrr, churned, its mrr
        (date(2026, 1, 1), "USD", 2, 2, Decimal("55.0000"), 2, Decimal("55.0000"), 0, zero, 0, zero),
        (date(2026, 2, 1), "EUR", 1, 1, Decimal("12.1750"), 1, Decimal("12.1750"), 0, zero, 0, zero),
        (date(2026, 2, 1), "USD", 1, 2, Decimal("73.4821"), 0, zero, 0, zero, 1, Decimal("25.0000")),
        (date(2026, 3, 1), "EUR", 0, 0, zero, 0, zero, 0, zero, 1, Decimal("12.1750")),
        (date(2026, 3, 1), "USD", 1, 1, Decimal("30.0000"), 0, zero, 0, zero, 0, zero),
        (date(2026, 4, 1), "USD", 3, 3, Decimal("44.0000"), 0, zero, 2, Decimal("14.0000"), 0, zero),
    ]


def test_blended_roas_sets_spend_against_net_sales(tmp_path: Path) -> None:
    write_table(
        tmp_path,
        "orders_enriched",
        [
            _order("1", "2026-03-01 10:00:00", total_price=Decimal("100.00"), total_refunded=Decimal("10.00")),
            _order("2", "2026-03-01 11:00:00", total_price=Decimal("60.00")),
            _order("3", "2026-03-02 11:00:00", total_price=Decimal("80.00")),
        ],
    )
    write_table(
        tmp_path,
        "marketing_daily",
        [
            {
                "shop_domain": "a.myshopify.com",
                "day": date(2026, 3, 1),
                "currency": "USD",
                "blended_ad_spend": Decimal("40.00"),
            },
            {
                "shop_domain": "b.myshopify.com",
                "day": date(2026, 3, 1),
                "currency": "USD",
                "blended_ad_spend": Decimal("20.00"),
            },
            {
                "shop_domain": "a.myshopify.com",
                "day": date(2026, 3, 2),
                "currency": "USD",
                "blended_ad_spend": Decimal("0.00"),
            },
            {
                "shop_domain": "a.myshopify.com",
                "day": date(2026, 3, 3),
                "currency": None,  # the summary page names no currency: the shop's (USD, most orders)
                "blended_ad_spend": Decimal("25.00"),
            },
        ],
        day_column="day",
    )
    rows = _rows(engine_over(tmp_path), "SELECT * FROM blended_roas ORDER BY day")
    assert rows == [
        # day, currency, spend, net sales, orders, roas (net / spend), cost per order (spend / orders)
        (date(2026, 3, 1), "USD", Decimal("60.0000"), Decimal("150.0000"), 2, 2.5, 30.0),
        (date(2026, 3, 2), "USD", Decimal("0.0000"), Decimal("80.0000"), 1, None, 0.0),
        (date(2026, 3, 3), "USD", Decimal("25.0000"), Decimal("0.0000"), 0, 0.0, None),
    ]


def test_the_views_read_an_empty_lake(tmp_path: Path) -> None:
    engine = engine_over(tmp_path)
    for view in ("daily_sales", "customer_cohorts", "subscription_mrr", "blended_roas"):
        assert _rows(engine, f"SELECT * FROM {view}") == [], view


@pytest.mark.parametrize("sql", ["SELECT * FROM no_such_table", "SELECT nonsense FROM daily_sales", "SELEC 1"])
def test_a_bad_query_is_a_clear_error(tmp_path: Path, sql: str) -> None:
    from platformctl.errors import UserError

    with pytest.raises(UserError) as refused:
        engine_over(tmp_path).query(sql)
    assert str(refused.value)
