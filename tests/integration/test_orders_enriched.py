"""orders_enriched on the local cloud: events through the bus and the order processor into the lake, then the
deployed job's script (as uploaded to the emulated lake) on local Spark, its Parquet back in the lake."""

from __future__ import annotations

import copy
import json
import random
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from platformctl.commands import glue
from tests.conftest import COPIED_FIXTURES
from tests.unit.shopify import support

pytestmark = pytest.mark.integration


def _order(order_id: int, **changes: Any) -> dict[str, Any]:
    order = copy.deepcopy(json.loads((COPIED_FIXTURES / "shopify" / "order__shopify-python-api.json").read_text()))
    return dict(order["order"], id=order_id, name=f"#{order_id}", order_number=order_id, **changes)


def _put(cloud: Any, *events: dict[str, Any]) -> None:
    bus = cloud.endpoints()["event_bus"]
    entries = [
        {"Source": e["source"], "DetailType": e["detail-type"], "Detail": json.dumps(e["detail"]), "EventBusName": bus}
        for e in events
    ]
    response = cloud.target.client("events").put_events(Entries=entries)
    assert response["FailedEntryCount"] == 0, response
    assert cloud.wait_idle(120)


def _output(cloud: Any, spark: Any, into: Path) -> dict[str, dict[str, Any]]:
    s3 = cloud.target.client("s3")
    glue._download_prefix(s3, cloud.endpoints()["bucket"], glue.WRITES, into)
    rows = spark.read.parquet(f"file://{into / glue.WRITES}").collect()
    return {row["order_id"]: row.asDict() for row in rows}


def test_the_deployed_job_builds_orders_from_the_lake_and_an_incremental_rerun_keeps_them(
    local_cloud: Any, spark: Any, tmp_path: Path
) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    triggered = now.isoformat().replace("+00:00", "Z")
    kept, deleted = random.randrange(10**12, 10**13), random.randrange(10**12, 10**13)
    created = (now - timedelta(hours=2)).isoformat()
    older = _order(kept, updated_at=created, created_at=created)
    first = support.envelope("orders/create", older, triggered_at=triggered)
    newer = _order(kept, updated_at=now.isoformat(), created_at=created, financial_status="refunded")
    second = support.envelope("orders/updated", newer, triggered_at=triggered)
    gone = support.envelope("orders/create", _order(deleted, created_at=created), triggered_at=triggered)
    delete = support.envelope("orders/delete", {"id": deleted}, triggered_at=triggered)
    _put(local_cloud, second, first, gone)  # the update before the create: late delivery
    _put(local_cloud, delete)

    summary = glue.run_locally(local_cloud.target, lookback_days=3)
    assert summary["webhook_versions"] >= 3
    rows = _output(local_cloud, spark, tmp_path / "first")
    assert rows[str(kept)]["financial_status"] == "refunded"
    assert rows[str(kept)]["source_event_id"] == second["detail"]["metadata"]["X-Shopify-Event-Id"]
    assert rows[str(deleted)]["deleted"] is True
    assert str(rows[str(kept)]["dt"]) == created[:10]

    again = glue.run_locally(local_cloud.target, lookback_days=3)
    assert again["previous_orders"] == summary["orders_written"]
    assert again["orders_written"] == summary["orders_written"]
    assert _output(local_cloud, spark, tmp_path / "second") == rows
