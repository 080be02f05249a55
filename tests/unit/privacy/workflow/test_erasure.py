"""An erasure through the workflow's steps, as the state machine runs them: plan -> erase (until nothing
remains) -> finish. Afterwards no version of any object, no item and no message holds the person's
e-mail, phone, name or street; everything of the other customer is byte-identical; money stays."""

from __future__ import annotations

import gzip
import json
from types import ModuleType
from typing import Any

import pytest
from moto import mock_aws

from tests.unit.privacy.workflow.conftest import (
    BUCKET,
    DIGESTER,
    DLQS,
    OTHER,
    PERSON,
    Context,
    Keys,
    World,
    make_world,
    populate,
)

TINY = Context(remaining_ms=1_000)  # under the 60 s reserve: one task per step


def run(world: World, app: ModuleType, request_key: str, *, context: Context | None = None) -> dict[str, Any]:
    """The state machine's path for an erasure; returns every step's answer."""
    workflow = world.workflow(app)
    plan = workflow.handle({"step": "plan", "request_key": request_key, "full_scan": False})
    answers: dict[str, Any] = {"plan": plan, "erase": []}
    if plan["status"] == "already_done":
        return answers
    assert plan["kind"] == "erase"
    erase = {"remaining": plan["remaining"]}
    while erase["remaining"] > 0:
        erase = workflow.handle({"step": "erase", "request_id": plan["request_id"]}, context or Context())
        answers["erase"].append(erase)
        assert len(answers["erase"]) < 200
    answers["finish"] = workflow.handle({"step": "finish", "request_id": plan["request_id"]})
    return answers


def _text(key: str, body: bytes) -> str:
    if key.endswith(".gz") or body[:2] == b"\x1f\x8b":
        body = gzip.decompress(body)
    return body.decode("utf-8", errors="replace")


def person_hits(world: World) -> list[tuple[str, Any]]:
    """Every place the person's contact data still is: object versions, items, messages."""
    hits: list[tuple[str, Any]] = []
    for key, version, body in world.versions():
        found = PERSON.hits(_text(key, body))
        if found:
            hits.append((f"s3:{key}@{version}", found))
    for table, item in world.items():
        found = PERSON.hits(json.dumps(item, default=str))
        if found:
            hits.append((f"dynamodb:{table}", found))
    for queue in DLQS:
        for message in world.messages(queue):
            found = PERSON.hits(message["Body"] + json.dumps(message.get("MessageAttributes", {})))
            if found:
                hits.append((f"sqs:{queue}", found))
    return hits


def others(world: World) -> dict[str, Any]:
    """Everything of the other customer: their objects' versions, items and messages, as stored."""
    return {
        "objects": sorted(
            (key, body) for key, _, body in world.versions() if OTHER.hits(_text(key, body)) and "bulk" not in key
        ),
        "bulk_lines": sorted(
            line
            for key, _, body in world.versions("raw/shopify/bulk/")
            for line in gzip.decompress(body).splitlines()
            if OTHER.hits(line.decode())
        ),
        "items": sorted(json.dumps(item, sort_keys=True, default=str) for _, item in world.items() if _is_other(item)),
        "messages": sorted(
            (m["Body"], json.dumps(m.get("MessageAttributes"), sort_keys=True))
            for queue in DLQS
            for m in world.messages(queue)
            if OTHER.hits(m["Body"])
        ),
    }


def _is_other(item: dict[str, Any]) -> bool:
    return any(str(value) in json.dumps(item, default=str) for value in (OTHER.customer_id, OTHER.recharge_id))


def money(world: World, keys: Keys) -> dict[str, Any]:
    """The person's order money and status fields, wherever they are stored."""
    order = json.loads(world.current(keys.order))["detail"]["payload"]
    bulk = [json.loads(line) for line in gzip.decompress(world.current(keys.bulk)).splitlines()]
    item = world.dynamodb.get_item(
        TableName="acme-test-orders", Key={"order_id": {"S": str(PERSON.order_id)}, "record": {"S": "ORDER"}}
    )["Item"]
    return {
        "webhook": {
            k: order[k] for k in ("id", "name", "total_price", "subtotal_price", "financial_status", "currency")
        },
        "webhook_customer_id": order["customer"]["id"],
        "webhook_line_items": [(li["id"], li["price"], li["quantity"], li["sku"]) for li in order["line_items"]],
        "bulk": [
            {k: v for k, v in line.items() if k.endswith("Set") or k.startswith(("display", "__")) or k == "id"}
            for line in bulk
            if str(PERSON.order_id) in line["id"] or line.get("__parentId", "").endswith(str(PERSON.order_id))
        ],
        "item": {k: v for k, v in item.items() if k in ("total_price", "financial_status", "currency", "name")},
    }


# ----------------------------------------------------------------------------------------------- tests


def test_the_person_is_there_before_the_erasure(world: World) -> None:
    """The lake is built right: every path holds the person, and the other customer's copies hold none of
    the person's values."""
    keys = populate(world)
    places = {place.split("@")[0] for place, _ in person_hits(world)}
    for key in (
        keys.order,
        keys.guest_order,
        keys.fulfillment,
        keys.customer,
        keys.recharge,
        keys.bulk,
        keys.quarantine,
    ):
        assert f"s3:{key}" in places
    assert f"s3:{keys.checkpoint}" in places  # behind its delete marker
    assert "sqs:acme-shopify-orders-events-dlq" in places
    assert "dynamodb:acme-test-customers" in places
    for key in (keys.other_order, keys.other_customer, keys.other_recharge):
        assert PERSON.hits(world.current(key).decode()) == []


def test_an_erasure_reaches_every_copy_and_nothing_else(world: World, app: ModuleType) -> None:
    keys = populate(world)
    before = others(world)
    money_before = money(world, keys)

    answers = run(world, app, world.request())

    assert answers["plan"]["status"] == "planned"
    assert answers["erase"][-1] == {
        "request_id": answers["plan"]["request_id"],
        "kind": "erase",
        "status": "erased",
        "remaining": 0,
    }
    assert person_hits(world) == []
    assert others(world) == before
    assert money(world, keys) == money_before
    # Ids stay: the orders keep the customer id (documented), the bulk line its customer gid.
    assert json.loads(world.current(keys.order))["detail"]["payload"]["customer"]["id"] == PERSON.customer_id

    summary = answers["finish"]
    assert summary["status"] == "done"
    assert summary["remaining"] == 0
    totals = summary["totals"]
    assert totals["changes"] > 0
    assert (
        totals["objects_rewritten"] == 8
    )  # order, update, guest order, fulfillment, customer, recharge, bulk, quarantine
    assert totals["versions_deleted"] == 9  # each rewritten object's original, and the order's redelivery
    assert totals["messages_redacted"] == 1
    assert totals["checkpoint_versions_deleted"] == 1
    assert totals["items_changed"] == 2  # shopify:<id> (default_address) and recharge:<id> (retired contact fields)
    assert totals["queues_checked"] == len(DLQS)
    # the index forgets the person's e-mail and phone digests; their ids stay (their orders keep them)
    contact = [str(DIGESTER.email(PERSON.email))]
    assert world.index.locations(contact) == set()
    assert world.index.locations([f"shopify-customer:{PERSON.customer_id}"])
    assert json.loads(world.current(summary["audit_key"]))["index_entries_removed"] > 0


def test_the_plan_follows_ids_from_document_to_document(world: World, app: ModuleType) -> None:
    """The guest order is found by the e-mail digest only; its fulfillment by the order id learnt from it;
    the Recharge customer by the Shopify customer id; the checkout by the token in the orders item."""
    keys = populate(world)
    workflow = world.workflow(app)
    answer = workflow.handle({"step": "plan", "request_key": world.request()})
    plan = workflow.work.plan(answer["request_id"])
    assert plan is not None
    assert {f"s3:{k}" for k in (keys.guest_order, keys.fulfillment, keys.recharge, keys.bulk, keys.quarantine)} <= set(
        plan.locations
    )
    assert not {f"s3:{k}" for k in (keys.other_order, keys.other_customer, keys.other_recharge)} & set(plan.locations)
    assert plan.converged
    assert plan.rounds >= 2
    subjects = plan.person.subjects
    assert f"shopify-order:{PERSON.guest_order_id}" in subjects
    assert f"recharge-customer:{PERSON.recharge_id}" in subjects
    assert f"checkout:{PERSON.checkout_token}" in subjects
    labels = {item.label() for item in plan.items}
    assert f"customers:customer_key=recharge:{PERSON.recharge_id}" in labels
    assert f"subscriptions:subscription_id=sub-{PERSON.recharge_id}" in labels
    assert f"abandoned_carts:cart_token=checkout:{PERSON.checkout_token}" in labels
    assert f"orders:order_id={PERSON.order_id},record=FULFILLMENT#255858046" in labels
    assert not any(str(OTHER.customer_id) in label or str(OTHER.recharge_id) in label for label in labels)
    assert plan.queues == list(DLQS)
    # The work documents name the person by ids and keyed digests only.
    for key, _, body in world.versions("metadata/privacy/"):
        assert PERSON.hits(body.decode()) == [], key


def snapshot(world: World) -> dict[str, Any]:
    """The end state, without version ids and the workflow's own bookkeeping."""
    objects: dict[str, list[bytes]] = {}
    for key, _, body in world.versions():
        if not key.startswith("metadata/privacy/"):
            objects.setdefault(key, []).append(body)
    return {
        "objects": {key: sorted(bodies) for key, bodies in objects.items()},
        "items": sorted(json.dumps([t, i], sort_keys=True, default=str) for t, i in world.items()),
        "messages": {
            q: sorted((m["Body"], json.dumps(m.get("MessageAttributes"), sort_keys=True)) for m in world.messages(q))
            for q in DLQS
        },
    }


def test_a_stopped_erase_resumes_where_it_stopped_and_ends_in_the_same_state(app: ModuleType) -> None:
    """Steps with a budget for one task each: many steps, each resuming from the saved cursor; the end state
    equals that of one uninterrupted step."""
    with mock_aws():
        world = make_world()
        populate(world)
        key = world.request()
        workflow = world.workflow(app)
        plan = workflow.handle({"step": "plan", "request_key": key})
        first = workflow.handle({"step": "erase", "request_id": plan["request_id"]}, TINY)
        assert first["remaining"] == plan["remaining"] - 1
        assert first["status"] == "erasing"
        progress = workflow.work.progress(plan["request_id"])
        assert progress is not None
        assert progress.cursor == 1
        assert len(progress.results) == 1
        answers = run(world, app, key, context=TINY)
        assert answers["plan"]["resumed"] is True
        assert len(answers["erase"]) == plan["remaining"] - 1
        stepped = snapshot(world)
        stepped_totals = answers["finish"]["totals"]
        assert person_hits(world) == []
    with mock_aws():
        world = make_world()
        populate(world)
        answers = run(world, app, world.request())
        assert len(answers["erase"]) == 1
        assert snapshot(world) == stepped
        assert answers["finish"]["totals"] == stepped_totals


def test_a_step_that_dies_half_way_through_an_object_converges(
    world: World, app: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The redacted copy is written, then the step dies before the original version is deleted: the
    retry finds the redacted copy current and deletes the original."""
    keys = populate(world)
    key = world.request()
    workflow = world.workflow(app)
    plan = workflow.handle({"step": "plan", "request_key": key})
    real_delete = world.s3.delete_object
    calls = {"n": 0}

    def dying_delete(**kwargs: Any) -> Any:
        calls["n"] += 1
        if calls["n"] == 1:
            raise RuntimeError("the step died")
        return real_delete(**kwargs)

    monkeypatch.setattr(world.s3, "delete_object", dying_delete)
    with pytest.raises(RuntimeError, match="the step died"):
        workflow.handle({"step": "erase", "request_id": plan["request_id"]}, Context())
    monkeypatch.setattr(world.s3, "delete_object", real_delete)
    answers = run(world, app, key)
    assert person_hits(world) == []
    assert answers["finish"]["totals"]["objects_rewritten"] == 8 - 1  # one was rewritten by the step that died
    versions = [v for k, v, _ in world.versions() if k == keys.guest_order]
    assert len(versions) == 1


def test_the_same_request_again_is_already_done(world: World, app: ModuleType) -> None:
    populate(world)
    key = world.request()
    first = run(world, app, key)
    state = snapshot(world)
    again = run(world, app, key)
    assert again["plan"] == {
        "request_id": first["plan"]["request_id"],
        "kind": "erase",
        "status": "already_done",
        "remaining": 0,
        "audit_key": f"metadata/privacy/audit/{first['plan']['request_id']}.json",
    }
    assert snapshot(world) == state
    workflow = world.workflow(app)
    assert workflow.handle({"step": "finish", "request_id": first["plan"]["request_id"]}) == first["finish"]


def test_a_second_request_for_a_person_already_erased_changes_nothing_and_checks_everything(
    world: World, app: ModuleType
) -> None:
    populate(world)
    first = run(world, app, world.request(seed="first"))
    state = snapshot(world)
    second = run(world, app, world.request(seed="second"))
    assert second["plan"]["request_id"] != first["plan"]["request_id"]
    assert snapshot(world) == state
    totals = second["finish"]["totals"]
    assert totals["changes"] == 0
    assert totals["locations_checked"] == first["finish"]["totals"]["locations_checked"] > 0
    assert totals["items_checked"] == first["finish"]["totals"]["items_checked"] > 0
    assert totals["queues_checked"] == len(DLQS)
    audit = json.loads(world.current(second["finish"]["audit_key"]))
    assert all(not o["rewritten"] and not o["versions_deleted"] for o in audit["erasure"]["objects"])


def test_the_audit_says_what_changed_where_without_personal_data(world: World, app: ModuleType) -> None:
    keys = populate(world)
    answers = run(world, app, world.request())
    body = world.current(answers["finish"]["audit_key"])
    assert PERSON.hits(body.decode()) == []
    assert b"email:" not in body  # not even the keyed digests
    assert b"phone:" not in body
    audit = json.loads(body)
    assert audit["kind"] == "erase"
    assert audit["origin"] == "shopify"
    objects = {o["key"]: o for o in audit["erasure"]["objects"]}
    order = objects[keys.order]
    assert order["rewritten"] is True
    assert len(order["versions_deleted"]) == 2
    assert "detail.payload.customer.email" in order["fields"]
    assert "detail.payload.billing_address" in order["fields"]
    items = {json.dumps(i["key"], sort_keys=True): i for i in audit["erasure"]["items"]}
    recharge = items[json.dumps({"customer_key": f"recharge:{PERSON.recharge_id}"})]
    assert recharge["removed"] == ["email", "first_name", "last_name"]
    assert recharge["table"] == "acme-test-customers"
    queues = {q["queue"]: q for q in audit["erasure"]["queues"]}
    assert queues[DLQS[0]] == {"kind": "queue", "queue": DLQS[0], "messages": 2, "redacted": 1, "unparsable": 0}
    assert audit["erasure"]["checkpoints"][0]["versions_deleted"] == [
        {"key": keys.checkpoint, "version_id": audit["erasure"]["checkpoints"][0]["versions_deleted"][0]["version_id"]}
    ]
    assert audit["erasure"]["processed"]["checked"] is True
    assert audit["finished_at"] == "2026-03-04T12:00:00.000000Z"
    assert audit["plan"]["subject_kinds"]["email"] == 1


def test_the_redacted_dead_letter_keeps_its_attributes(world: World, app: ModuleType) -> None:
    populate(world)
    before = {json.loads(m["Body"])["id"]: m for m in world.messages(DLQS[0])}
    run(world, app, world.request())
    after = {json.loads(m["Body"])["id"]: m for m in world.messages(DLQS[0])}
    assert set(after) == set(before)
    mine = "envelope-evt-person-poison"
    assert after[mine]["MessageAttributes"] == before[mine]["MessageAttributes"]
    body = json.loads(after[mine]["Body"])
    assert body["detail"]["payload"]["email"] is None
    assert body["detail"]["payload"]["total_price"] == "409.94"
    theirs = "envelope-evt-other-poison"
    assert after[theirs]["Body"] == before[theirs]["Body"]
    assert after[theirs]["MessageId"] == before[theirs]["MessageId"]


def test_hot_store_items_lose_contact_attributes_only(world: World, app: ModuleType) -> None:
    populate(world)
    run(world, app, world.request())
    items = {
        (table, json.dumps({k: v for k, v in item.items() if k in ("customer_key", "order_id", "record")})): item
        for table, item in world.items()
    }
    recharge = items[("acme-test-customers", json.dumps({"customer_key": f"recharge:{PERSON.recharge_id}"}))]
    assert "email" not in recharge
    assert "first_name" not in recharge
    assert recharge["erased_at"] == "2026-03-04T12:00:00.000000Z"
    assert recharge["shopify_customer_id"] == str(PERSON.customer_id)
    assert recharge["subscriptions_active_count"] == 1
    shopify = items[("acme-test-customers", json.dumps({"customer_key": f"shopify:{PERSON.customer_id}"}))]
    assert "default_address" not in shopify
    order = items[("acme-test-orders", json.dumps({"order_id": str(PERSON.order_id), "record": "ORDER"}))]
    assert "erased_at" not in order  # nothing to remove: untouched
    assert order["name"] == "#1001"
    other = items[("acme-test-customers", json.dumps({"customer_key": f"recharge:{OTHER.recharge_id}"}))]
    assert other["email"] == OTHER.email
    assert "erased_at" not in other


def test_progress_is_kept_when_an_execution_is_resumed(world: World, app: ModuleType) -> None:
    """A resumed execution (``<id>-resume-1``) starts at Plan again: the plan and its progress stay."""
    populate(world)
    key = world.request()
    workflow = world.workflow(app)
    plan = workflow.handle({"step": "plan", "request_key": key})
    workflow.handle({"step": "erase", "request_id": plan["request_id"]}, TINY)
    workflow.handle({"step": "erase", "request_id": plan["request_id"]}, TINY)
    again = workflow.handle({"step": "plan", "request_key": key, "full_scan": True})
    assert again["status"] == "planned"
    assert again["resumed"] is True
    assert again["remaining"] == plan["remaining"] - 2


def test_nothing_is_read_from_an_object_the_bucket_no_longer_has(world: World, app: ModuleType) -> None:
    """An indexed object that was deleted since (lifecycle) is checked and reported missing, not an error."""
    keys = populate(world)
    for key, version, _ in world.versions():
        if key == keys.customer:
            world.s3.delete_object(Bucket=BUCKET, Key=key, VersionId=version)
    answers = run(world, app, world.request())
    audit = json.loads(world.current(answers["finish"]["audit_key"]))
    objects = {o["key"]: o for o in audit["erasure"]["objects"]}
    assert objects[keys.customer]["missing"] is True
    assert person_hits(world) == []
