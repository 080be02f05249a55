"""The reconcile function's handler: steps until done, the metrics of contract item 4 once per run."""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from types import ModuleType
from typing import Any
from unittest import mock

import pytest
from moto import mock_aws

from tests.unit.lambda_loader import load_app
from tests.unit.shopify import support
from tests.unit.shopify_reconcile import shop
from tests.unit.shopify_reconcile.test_reconcile import UNTIL


class Context(support.Context):
    def get_remaining_time_in_millis(self) -> int:
        return 15 * 60 * 1000


@pytest.fixture
def app() -> Iterator[ModuleType]:
    env = support.environment() | {"POWERTOOLS_METRICS_NAMESPACE": "acme/Shopify", "POWERTOOLS_LOG_LEVEL": "WARNING"}
    with mock.patch.dict("os.environ", env), mock_aws():
        support.create_stores(support.SESSION)
        module = load_app("shopify/bulk_reconcile", name="bulk_reconcile_app_test", fresh=True)
        yield module


def _metrics(output: str) -> list[dict[str, Any]]:
    found = []
    for line in output.splitlines():
        if line.startswith('{"_aws"'):
            document = json.loads(line)
            for metric in document["_aws"]["CloudWatchMetrics"][0]["Metrics"]:
                if metric["Name"].startswith("Reconciled"):
                    found.append(
                        {"name": metric["Name"], "entity": document.get("Entity"), "value": document[metric["Name"]]}
                    )
    return found


def test_steps_until_done_and_counts_the_healed_orders_once(
    app: ModuleType, capsys: pytest.CaptureFixture[str]
) -> None:
    versions = [h[-1] for h in (shop.order_history(i, 2, random.Random(i)) for i in range(1, 7))]
    shop.put_run(
        support.SESSION.client("s3"), support.BUCKET, "1001", shop.run_lines(versions), since=None, until=UNTIL
    )
    run = {"run_id": "1001", "options": {"reconcile_roots_per_partition": 2, "reconcile_partitions_per_step": 1}}
    answers = [app.handler({"run": run, "previous": None}, Context())]
    while not answers[-1]["done"]:
        answers.append(app.handler({"run": run, "previous": answers[-1]}, Context()))
    assert [a["partitions_done"] for a in answers] == [1, 2, 3]
    assert answers[-1]["result_key"] == "metadata/shopify/bulk/run=1001/reconciliation.json"
    assert sorted(_metrics(capsys.readouterr().out), key=lambda m: m["name"]) == [
        {"name": "ReconciledMissing", "entity": "orders", "value": [6.0]},
        {"name": "ReconciledStale", "entity": "orders", "value": [0.0]},
    ]
    # a repeat of the final step (its answer lost) finds the result and counts nothing again
    assert app.handler({"run": run, "previous": answers[-2]}, Context())["done"] is True
    assert _metrics(capsys.readouterr().out) == []


def test_a_step_stops_before_the_safety_margin(app: ModuleType) -> None:
    class Late(Context):
        def get_remaining_time_in_millis(self) -> int:
            return 61_000  # one second beyond the 60 s margin

    with mock.patch("time.monotonic", side_effect=[0.0, 0.5, 2.0]):
        stop = app.stop_check(Late(), 60, 0)
        assert stop() is False
        assert stop() is True
    assert app.stop_check(Context(), 60, 2)() is False
