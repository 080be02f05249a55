"""The demo's completeness story on the local cloud: the webhook day loses its orders/* deliveries for
some hours (``shopify_realtime``), the next bulk run heals the hot store (``shopify.bulk``), and the
data-quality coverage check and its alarm notice the loss (``data_quality``). The steps run as ``make
demo`` runs them, one after the other on one cloud; the test reads their report and checks its figures
against what the day's deterministic traffic says was lost.

    PLATFORM_LOCAL_STACKS=shared,monitoring,shopify,data-quality .venv/bin/pytest -m integration \\
        tests/integration/test_demo_healing.py
"""

from __future__ import annotations

import io
import re
from typing import Any

import pytest

from platformctl.scenarios import data_quality, shopify_bulk, shopify_realtime
from platformctl.scenarios.report import Report

pytestmark = pytest.mark.integration


def _row(text: str, label: str) -> list[int]:
    """The numbers of the report's table row that starts with ``label``."""
    line = next(line for line in text.splitlines() if line.strip().startswith(label))
    return [int(n) for n in re.findall(r"\b[0-9]+\b", line[line.index(label) + len(label) :])]


@pytest.fixture(scope="module")
def demo(local_cloud: Any) -> dict[str, Any]:
    endpoints, outputs = local_cloud.endpoints(), local_cloud.stack_outputs()
    if not endpoints.get("state_machines", {}).get("shopify_bulk") or "data-quality/data-quality" not in outputs:
        pytest.skip("the shopify and data-quality stacks are not deployed (PLATFORM_LOCAL_STACKS)")
    out = io.StringIO()
    report = Report(out)
    for step in (shopify_realtime.step, shopify_bulk.step, data_quality.step):
        step(local_cloud, report)
        local_cloud.wait_idle()
    return {"text": out.getvalue(), "problems": report.problems}


def test_the_steps_hold_every_expectation(demo: dict[str, Any]) -> None:
    # The data-quality step also wants the Recharge deliveries of its own demo step, not run here.
    problems = [p for p in demo["problems"] if not p.startswith("freshness-recharge-")]
    assert problems == [], demo["text"]


def test_the_report_shows_missing_then_healed(demo: dict[str, Any]) -> None:
    day = shopify_realtime.Day()
    day.build()
    delivered = shopify_realtime.delivered_orders(day)
    missing = [i for i in day.shop_orders if i not in delivered]
    stale = [i for i in delivered if delivered[i]["updated_at"] != day.shop_orders[i]["updated_at"]]
    assert missing, "the outage must lose every webhook of some orders"
    assert stale, "and the last webhooks of others"
    text = demo["text"]
    in_window = len(day.shop_orders) + 1  # and the poison order, redriven before the run
    # before the run (read from the table), the run's reconciliation.json, after the run
    assert _row(text, "updated in Shopify in the window") == [in_window, in_window, in_window]
    assert _row(text, "missing (every webhook lost)") == [len(missing), len(missing), 0]
    assert _row(text, "stale (a later webhook lost)") == [len(stale), len(stale), 0]
    current = in_window - len(missing) - len(stale)
    assert _row(text, "in the hot store at Shopify's version") == [current, current, in_window]
    healed = f"of this run: ReconciledMissing {len(missing)}, ReconciledStale {len(stale)}"
    assert healed in text


def test_the_carts_of_the_healed_orders_end_converted(demo: dict[str, Any]) -> None:
    day = shopify_realtime.Day()
    day.build()
    delivered = shopify_realtime.delivered_orders(day)

    def carts(order: dict[str, Any]) -> list[str]:
        keys = [str(order["cart_token"])] if order.get("cart_token") else []
        return keys + ([f"checkout:{order['checkout_token']}"] if order.get("checkout_token") else [])

    every = [k for order in day.shop_orders.values() for k in carts(order)]
    of_missing = [k for i, order in day.shop_orders.items() if i not in delivered for k in carts(order)]
    assert of_missing, "the outage must lose every webhook of some order that had a cart"
    # converted before the run (a delivered webhook marked them), marked by the run, converted after it
    assert _row(demo["text"], "their carts and checkouts converted") == [
        len(every) - len(of_missing),
        len(of_missing),
        len(every),
    ]


def test_the_coverage_check_and_its_alarm_notice_the_outage(demo: dict[str, Any]) -> None:
    day = shopify_realtime.Day()
    day.build()
    delivered = shopify_realtime.delivered_orders(day)
    covered = sum(1 for i, v in delivered.items() if v["updated_at"] == day.shop_orders[i]["updated_at"]) + 1
    coverage = round(covered / (len(day.shop_orders) + 1), 4)
    text = demo["text"]
    assert f"webhook-coverage-orders: FAIL, coverage {coverage} (threshold 0.95" in text
    assert re.search(r"alarm \S+-data-quality-webhook-coverage: \S+ -> ALARM", text), text
    assert "the alerts topic delivered" in text
