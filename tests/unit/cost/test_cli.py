"""`platformctl cost`: its outputs, and docs/cost.md's table, which must be what the command prints."""

from __future__ import annotations

import json
import re

import pytest

from platformctl.cli import main
from platformctl.manifest import REPO_ROOT

DOC = REPO_ROOT / "docs" / "cost.md"
SERVICES = ["Lambda", "DynamoDB", "S3", "EventBridge", "API Gateway", "Step Functions", "Glue", "CloudWatch", "KMS"]
SERVICES += ["SQS", "Secrets Manager"]


def run(capsys: pytest.CaptureFixture[str], *args: str) -> str:
    assert main(["cost", *args]) == 0
    return capsys.readouterr().out


def test_the_docs_table_is_what_the_command_prints(capsys: pytest.CaptureFixture[str]) -> None:
    printed = run(capsys, "--orders-per-day", "1000", "10000", "100000", "--markdown")
    found = re.search(r"<!-- cost-table:begin -->\n(.*?)<!-- cost-table:end -->", DOC.read_text(), re.DOTALL)
    assert found, "docs/cost.md lost its cost-table markers"
    assert found[1] == printed, (
        "docs/cost.md is stale: paste `platformctl cost --orders-per-day 1000 10000 100000 --markdown`"
    )


def test_json_lists_every_service_and_adds_up(capsys: pytest.CaptureFixture[str]) -> None:
    document = json.loads(run(capsys, "--orders-per-day", "5000", "--region", "eu-west-1", "--json"))
    assert document["region"] == "eu-west-1"
    assert document["orders_per_day"] == 5000
    assert list(document["services"]) == SERVICES
    assert document["total_usd"] == pytest.approx(sum(document["services"].values()), abs=0.02)
    assert all(line["usd"] >= 0 for line in document["lines"])


def test_more_orders_cost_more_and_regions_differ(capsys: pytest.CaptureFixture[str]) -> None:
    def total(*args: str) -> float:
        return float(json.loads(run(capsys, *args, "--json"))["total_usd"])

    assert total("--orders-per-day", "2000") < total("--orders-per-day", "20000")
    assert total("--orders-per-day", "20000") != total("--orders-per-day", "20000", "--region", "eu-west-1")


def test_text_output_names_the_price_date(capsys: pytest.CaptureFixture[str]) -> None:
    out = run(capsys, "--orders-per-day", "1000")
    assert out.startswith("1,000 orders a day in us-east-1: about $")
    assert "prices of " in out
    assert "free tiers ignored" in out
    for service in SERVICES:
        assert service in out


def test_an_assumption_can_be_overridden(capsys: pytest.CaptureFixture[str]) -> None:
    base = json.loads(run(capsys, "--orders-per-day", "10000", "--json"))
    more = json.loads(run(capsys, "--orders-per-day", "10000", "--json", "--assume", "recharge_webhooks_per_order=3"))
    assert more["services"]["API Gateway"] > base["services"]["API Gateway"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--orders-per-day", "0"], "positive"),
        (["--orders-per-day", "10", "--region", "ap-south-9"], "no prices for region"),
        (["--orders-per-day", "10", "--assume", "nonsense=1"], "--assume"),
        ([], "--orders-per-day"),
    ],
)
def test_bad_input_is_a_clear_error(capsys: pytest.CaptureFixture[str], args: list[str], message: str) -> None:
    assert main(["cost", *args]) == 1
    assert message in capsys.readouterr().err
