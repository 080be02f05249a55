"""``platformctl dashboard --env local``: the local cloud's dashboards as one HTML page, parsed back.

A few Shopify order events go through the local bus first. Should the local cloud not publish Lambda
metrics for them (that is another part of the platform's work), the test puts three datapoints itself, so the
page is checked against data either way: every generated widget of every dashboard is on the page, the order
processor's invocations chart has its points, each alarm shows the state DescribeAlarms gives, and nothing is
loaded from the network.
"""

from __future__ import annotations

import argparse
import json
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from platformctl import dashboard_data
from platformctl.commands import dashboard as command
from platformctl.manifest import load_manifest
from tests.unit.platformctl.test_dashboard_html import parse
from tests.unit.shopify import support

pytestmark = pytest.mark.integration

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "shopify"
FUNCTION = "acme-local-shopify-order-processor"
WIDGET = "shopify-order-processor: invocations, errors, throttles"


def _send_orders(cloud: Any, count: int) -> None:
    order = json.loads((FIXTURES / "order__shopify-python-api.json").read_text())["order"]
    bus, uid = cloud.endpoints()["event_bus"], uuid.uuid4().hex[:8]
    entries = []
    for index in range(count):
        event = support.envelope("orders/create", {**order, "id": 9_100_000 + index}, event_id=f"dash-{uid}-{index}")
        detail = json.dumps(event["detail"])
        entries.append(
            {"Source": event["source"], "DetailType": event["detail-type"], "Detail": detail, "EventBusName": bus}
        )
    assert cloud.target.client("events").put_events(Entries=entries)["FailedEntryCount"] == 0
    assert cloud.wait_idle(120)


def _invocations(cloud: Any, since: datetime, until: datetime) -> list[dict[str, Any]]:
    return list(
        cloud.target.client("cloudwatch").get_metric_statistics(
            Namespace="AWS/Lambda",
            MetricName="Invocations",
            Dimensions=[{"Name": "FunctionName", "Value": FUNCTION}],
            StartTime=since,
            EndTime=until,
            Period=300,
            Statistics=["Sum"],
        )["Datapoints"]
    )


def test_the_local_cloud_dashboards_render_as_one_page(
    local_cloud: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _send_orders(local_cloud, 2)
    now = datetime.now(UTC)
    put_here = not _invocations(local_cloud, now - timedelta(hours=1), now + timedelta(minutes=1))
    if put_here:
        local_cloud.target.client("cloudwatch").put_metric_data(
            Namespace="AWS/Lambda",
            MetricData=[
                {
                    "MetricName": "Invocations",
                    "Dimensions": [{"Name": "FunctionName", "Value": FUNCTION}],
                    "Value": 1.0,
                    "Timestamp": now - timedelta(minutes=2 + 5 * i),  # five minutes apart: one a period
                }
                for i in range(3)
            ],
        )

    endpoints = local_cloud.state_dir / "endpoints.json"
    assert endpoints.is_file()
    monkeypatch.setenv("PLATFORMCTL_ENDPOINTS_FILE", str(endpoints))
    rendering = datetime.now(UTC)
    assert command.command(argparse.Namespace(env="local", out=None, since="1h")) == 0
    out = endpoints.parent / "dashboard.html"
    assert f"wrote {out}" in capsys.readouterr().out
    parsed = parse(out.read_text(encoding="utf-8"))

    names = dashboard_data.Names("acme", "local", "us-east-1", local_cloud.target.account_id)
    boards = dashboard_data.definitions(names, load_manifest())
    assert list(parsed.sections) == [b.name for b in boards]
    for board in boards:
        assert [f.attrs["data-widget-type"] for f in parsed.sections[board.name]] == [w["type"] for w in board.widgets]

    figure = next(f for f in parsed.sections["acme-local-shopify"] if f.attrs["data-widget"] == WIDGET)
    if put_here:
        assert figure.series["Invocations"] == 3
    else:
        assert figure.series["Invocations"] >= 1

    shown = {name: state for figures in parsed.sections.values() for f in figures for name, state in f.alarms.items()}
    cloudwatch, described = local_cloud.target.client("cloudwatch"), []
    for start in range(0, len(shown), 100):
        described += cloudwatch.describe_alarms(AlarmNames=sorted(shown)[start : start + 100])["MetricAlarms"]
    assert described
    for alarm in described:
        # An alarm the local cloud re-evaluated while the page was drawn may show its previous state.
        if alarm["StateUpdatedTimestamp"] < rendering:
            assert shown[alarm["AlarmName"]] == alarm["StateValue"], alarm["AlarmName"]
    assert not [link for link in parsed.links if not link.startswith("#")]
    assert "script" not in parsed.tags
    logs = [f for figures in parsed.sections.values() for f in figures if f.attrs["data-widget-type"] == "log"]
    assert all(f.query.startswith("SOURCE ") for f in logs)
