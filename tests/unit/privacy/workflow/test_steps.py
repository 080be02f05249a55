"""The steps at their edges: full-scan mode for data the index never saw, the deployed entry point, what
is refused, and what the logs say (ids and counts, never the person)."""

from __future__ import annotations

import json
from types import ModuleType
from typing import Any

import pytest

from tests.unit.privacy.workflow.conftest import (
    BUCKET,
    INDEX_TABLE,
    OTHER,
    PERSON,
    SHOP,
    Context,
    World,
    erase_all,
    populate,
)
from tests.unit.privacy.workflow.test_erasure import others, person_hits, run


def _forget_the_index(world: World) -> None:
    """As if every object had landed before the index existed."""
    for page in world.dynamodb.get_paginator("scan").paginate(TableName=INDEX_TABLE):
        for item in page.get("Items", []):
            world.dynamodb.delete_item(
                TableName=INDEX_TABLE, Key={"subject": item["subject"], "location": item["location"]}
            )


def test_without_the_index_only_a_full_scan_finds_the_lake_objects(world: World, app: ModuleType) -> None:
    keys = populate(world)
    _forget_the_index(world)
    workflow = world.workflow(app)
    by_index = workflow.planner.plan(
        workflow_request(world), request_key="unused", full_scan=False, digester=workflow.digester(), now=world.clock[0]
    )
    assert by_index.locations == []
    before = others(world)

    # as the state machine passes it: the execution's input, whole
    answer = workflow.handle({"step": "plan", "input": {"request_key": world.request(), "full_scan": True}})
    plan = workflow.work.plan(answer["request_id"])
    assert plan is not None
    assert plan.full_scan is True
    located = set(plan.locations)
    for key in (
        keys.order,
        keys.guest_order,
        keys.fulfillment,
        keys.customer,
        keys.recharge,
        keys.bulk,
        keys.quarantine,
    ):
        assert f"s3:{key}" in located
    # Small objects that are not about the person are left out; bulk parts are in (the erase step reads them).
    assert f"s3:{keys.other_order}" not in located
    assert f"s3:{keys.other_recharge}" not in located

    answers = run(world, app, world.request())
    assert answers["plan"]["resumed"] is True
    assert person_hits(world) == []
    assert others(world) == before
    audit = json.loads(world.current(answers["finish"]["audit_key"]))
    assert audit["plan"]["full_scan"] is True


def workflow_request(world: World) -> Any:
    from common.privacy.requests import load_request

    return load_request(world.s3, BUCKET, world.request(seed="probe"))


def test_the_deployed_entry_point(world: World, app: ModuleType, monkeypatch: pytest.MonkeyPatch) -> None:
    populate(world)
    monkeypatch.setattr(app, "_workflow", world.workflow(app))
    key = world.request()
    plan = app.handler({"step": "plan", "request_key": key, "full_scan": False}, Context())
    assert plan["status"] == "planned"
    erase = app.handler({"step": "erase", "request_id": plan["request_id"]}, Context())
    assert erase["remaining"] == 0
    finish = app.handler({"step": "finish", "request_id": plan["request_id"]}, Context())
    assert finish["status"] == "done"
    assert app.workflow() is app._workflow


def test_the_settings_are_those_the_stack_sets(app: ModuleType) -> None:
    settings = app.settings
    assert settings.dlq_names == tuple(
        f"acme-shopify-{e}-events-dlq" for e in ("orders", "fulfillments", "customers", "products", "carts")
    )
    assert settings.stale_checkpoint_hours == 24
    assert settings.export_retention_days == 14
    assert settings.time_reserve_seconds == 60


def test_a_busy_step_is_counted_for_the_errors_alarm(
    world: World, app: ModuleType, capsys: pytest.CaptureFixture[str]
) -> None:
    from common.observability import metrics

    populate(world)
    world.sqs.receive_message(QueueUrl=world.queue_url("acme-shopify-orders-events-dlq"), VisibilityTimeout=300)
    workflow = world.workflow(app)
    plan = workflow.handle({"step": "plan", "request_key": world.request()})
    with pytest.raises(app.PrivacyStepBusy):
        erase_all(workflow, plan["request_id"])
    metrics.flush_metrics()
    emitted = [json.loads(line) for line in capsys.readouterr().out.splitlines() if '"_aws"' in line]
    assert any(entry.get("StepBusy") == [1.0] or entry.get("StepBusy") == 1.0 for entry in emitted)


def test_unknown_steps_and_requests_this_workflow_does_not_handle(world: World, app: ModuleType) -> None:
    workflow = world.workflow(app)
    with pytest.raises(ValueError, match="unknown step"):
        workflow.handle({"step": "purge"})
    with pytest.raises(ValueError, match="no plan"):
        workflow.handle({"step": "erase", "request_id": "0" * 32})
    from common.privacy.requests import PrivacyRequest, request_key

    purge = PrivacyRequest(
        schema=2,
        request_id="f" * 32,
        kind="shop_purge",
        origin="shopify",
        topic="shop/redact",
        shop_domain=SHOP,
        subjects=(),
        received_at="2026-03-04T11:59:00+00:00",
        delivery=None,
        data_request_id=None,
    )
    key = request_key("shop/redact", purge.request_id)
    world.s3.put_object(Bucket=BUCKET, Key=key, Body=json.dumps(purge.to_json()).encode())
    with pytest.raises(ValueError, match="shop_purge"):
        workflow.handle({"step": "plan", "request_key": key})


def test_no_log_line_carries_the_person(world: World, app: ModuleType, caplog: pytest.LogCaptureFixture) -> None:
    from common.observability import logger

    populate(world)
    with caplog.at_level("DEBUG", logger=logger.name):
        run(world, app, world.request())
        workflow = world.workflow(app)
        plan = workflow.handle({"step": "plan", "request_key": world.request("customers/data_request")})
        workflow.handle({"step": "export", "request_id": plan["request_id"]})
    logged = "\n".join(json.dumps(record.__dict__, default=str) for record in caplog.records)
    assert "request planned" in logged
    assert "export written" in logged
    assert PERSON.hits(logged) == []
    assert OTHER.hits(logged) == []
