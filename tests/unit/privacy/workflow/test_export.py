"""An access request through the workflow's steps: plan -> export -> finish. One JSON document of
everything concerning the person, encrypted with the lake's key; a notification without personal data;
nothing in the lake, the tables or the queues changes."""

from __future__ import annotations

import json
from types import ModuleType
from typing import Any

import pytest

from tests.unit.privacy.workflow.conftest import BUCKET, DLQS, OTHER, PERSON, World, populate
from tests.unit.privacy.workflow.test_erasure import snapshot


def export(world: World, app: ModuleType, topic: str = "customers/data_request") -> dict[str, Any]:
    workflow = world.workflow(app)
    plan = workflow.handle({"step": "plan", "request_key": world.request(topic), "full_scan": False})
    assert plan["status"] == "planned"
    assert plan["kind"] == "export"
    assert plan["remaining"] == 0
    exported = workflow.handle({"step": "export", "request_id": plan["request_id"]})
    finished = workflow.handle({"step": "finish", "request_id": plan["request_id"]})
    return {"plan": plan, "export": exported, "finish": finished}


def test_an_export_holds_everything_about_the_person_and_nothing_of_anyone_else(world: World, app: ModuleType) -> None:
    keys = populate(world)
    state = snapshot(world)
    answers = export(world, app)
    request_id = answers["plan"]["request_id"]
    key = f"exports/privacy/{request_id}/export.json"
    assert answers["export"] == {
        "request_id": request_id,
        "kind": "export",
        "status": "exported",
        "remaining": 0,
        "export_key": key,
    }

    head = world.s3.head_object(Bucket=BUCKET, Key=key)
    assert head["ServerSideEncryption"] == "aws:kms"
    assert head["SSEKMSKeyId"] == world.kms_key_arn
    document = json.loads(world.current(key))
    assert set(document) == {"request_id", "generated_at", "subjects", "documents", "hot_store_items", "queue_messages"}
    assert document["request_id"] == request_id
    assert document["generated_at"] == "2026-03-04T12:00:00.000000Z"
    assert f"shopify-customer:{PERSON.customer_id}" in document["subjects"]
    assert f"recharge-customer:{PERSON.recharge_id}" in document["subjects"]
    assert not any(s.startswith(("email:", "phone:")) for s in document["subjects"])

    by_location: dict[str, list[dict[str, Any]]] = {}
    for entry in document["documents"]:
        by_location.setdefault(entry["location"], []).append(entry)
    assert len(by_location[f"s3:{keys.order}"]) == 2  # both versions of the redelivered webhook
    assert by_location[f"s3:{keys.order}"][0]["document"]["detail"]["payload"]["email"] == PERSON.email
    assert by_location[f"s3:{keys.recharge}"][0]["document"]["customer"]["first_name"] == PERSON.first
    bulk = by_location[f"s3:{keys.bulk}"]
    # The person's Order line and its line item (by __parentId), not the other customer's lines 3 and 4.
    assert [entry["line"] for entry in bulk] == [1, 2]
    assert bulk[0]["document"]["email"] == PERSON.email
    for location in (keys.guest_order, keys.fulfillment, keys.customer, keys.quarantine):
        assert f"s3:{location}" in by_location

    tables = {(entry["store"], entry["table"]) for entry in document["hot_store_items"]}
    assert ("customers", "acme-test-customers") in tables
    assert ("subscriptions", "acme-test-subscriptions") in tables
    recharge = next(
        e["item"] for e in document["hot_store_items"] if e["item"].get("customer_key", "").startswith("recharge:")
    )
    assert recharge["email"] == PERSON.email
    assert recharge["subscriptions_active_count"] == 1
    assert [m["queue"] for m in document["queue_messages"]] == [DLQS[0]]
    assert document["queue_messages"][0]["document"]["detail"]["payload"]["email"] == PERSON.email

    assert OTHER.hits(json.dumps(document)) == []
    # Nothing else changed: an access request only reads (the DLQ messages are back, visible).
    after = snapshot(world)
    after["objects"].pop(key)
    assert after == state


def test_the_notification_says_where_the_export_is_and_nothing_personal(world: World, app: ModuleType) -> None:
    populate(world)
    answers = export(world, app)
    request_id = answers["plan"]["request_id"]
    [notification] = world.notifications()
    assert notification["Subject"] == f"Privacy export ready: {request_id}"
    message = notification["Message"]
    assert PERSON.hits(message) == []
    assert str(PERSON.customer_id) not in message
    assert f"s3://{BUCKET}/exports/privacy/{request_id}/export.json" in message
    assert "aws s3 cp" in message
    assert f"platformctl privacy fetch --env <env> --request-id {request_id}" in message
    assert "2026-03-18T12:00:00.000000Z" in message  # written at the frozen clock + 14 days
    assert answers["finish"]["export"]["notified"] is True
    assert answers["finish"]["export"]["expires_at"] == "2026-03-18T12:00:00.000000Z"


def test_a_retried_export_step_only_notifies(world: World, app: ModuleType, monkeypatch: pytest.MonkeyPatch) -> None:
    """The export was written, then the publish failed: the retry does not build the document again."""
    populate(world)
    workflow = world.workflow(app)
    plan = workflow.handle({"step": "plan", "request_key": world.request("operator/export")})

    def refused(**_: Any) -> Any:
        raise RuntimeError("SNS is down")

    monkeypatch.setattr(workflow.exporter.sns, "publish", refused)
    with pytest.raises(RuntimeError):
        workflow.handle({"step": "export", "request_id": plan["request_id"]})
    monkeypatch.undo()
    written = [v for k, v, _ in world.versions("exports/privacy/")]
    assert len(written) == 1
    workflow.handle({"step": "export", "request_id": plan["request_id"]})
    assert [v for k, v, _ in world.versions("exports/privacy/")] == written
    assert len(world.notifications()) == 1


def test_the_audit_of_an_export_names_the_export_not_its_contents(world: World, app: ModuleType) -> None:
    populate(world)
    answers = export(world, app)
    body = world.current(answers["finish"]["audit_key"])
    assert PERSON.hits(body.decode()) == []
    audit = json.loads(body)
    assert audit["kind"] == "export"
    assert "erasure" not in audit
    assert audit["export"]["key"] == answers["export"]["export_key"]
    assert audit["export"]["counts"]["queue_messages"] == 1
    assert audit["totals"]["changes"] == 0


def test_finish_refuses_an_export_that_was_not_written(world: World, app: ModuleType) -> None:
    populate(world)
    workflow = world.workflow(app)
    plan = workflow.handle({"step": "plan", "request_key": world.request("operator/export")})
    with pytest.raises(ValueError, match="no export yet"):
        workflow.handle({"step": "finish", "request_id": plan["request_id"]})
    with pytest.raises(ValueError, match="not an erasure"):
        workflow.handle({"step": "erase", "request_id": plan["request_id"]})
