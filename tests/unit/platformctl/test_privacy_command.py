"""``platformctl privacy``: operator requests (erase, export), status, resume, fetch and the shop purge,
under moto; the purge's refusals before any AWS call."""

from __future__ import annotations

import hashlib
import hmac
import io
import json
import stat
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from platformctl.cli import build_parser, main
from platformctl.commands import privacy
from platformctl.errors import UserError

REGION = "us-east-1"
ACCOUNT = "123456789012"
BUCKET = f"acme-data-lake-{ACCOUNT}"
SHOP = "example.myshopify.com"  # ci/environments/prod/settings.json
DIGEST_KEY = "d" * 40 + "0123456789abcdefghijklmn"  # 64 characters, as CloudFormation makes it
MACHINE = "acme-privacy-requests"
MACHINE_ARN = f"arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:{MACHINE}"
EMAIL = "Jane.Doe@Example.com"
OTHER_EMAIL = "jane@work.example.org"
PHONE = "+1 (555) 625-1199"
TABLES = {
    "acme-prod-orders": [("order_id", "HASH"), ("record", "RANGE")],
    "acme-prod-customers": [("customer_key", "HASH")],
    "acme-prod-abandoned-carts": [("cart_token", "HASH")],
    "acme-prod-subscriptions": [("subscription_id", "HASH")],
    "acme-prod-charges": [("charge_id", "HASH")],
    "acme-prod-invoices": [("order_id", "HASH")],
}
INDEX = "acme-prod-privacy-index"


def keyed(kind: str, normalised: str) -> str:
    """A keyed subject computed here, apart from common.privacy.digest, so that the two check each other."""
    message = kind.encode() + b"\x00" + normalised.encode()
    return f"{kind}:{hmac.new(DIGEST_KEY.encode(), message, hashlib.sha256).hexdigest()}"


@dataclass
class World:
    platform: privacy.Platform
    s3: Any
    sfn: Any
    dynamodb: Any
    sqs: Any

    def objects(self, prefix: str = "") -> dict[str, bytes]:
        found = {}
        for page in self.s3.get_paginator("list_objects_v2").paginate(Bucket=BUCKET, Prefix=prefix):
            for entry in page.get("Contents", []):
                found[entry["Key"]] = self.s3.get_object(Bucket=BUCKET, Key=entry["Key"])["Body"].read()
        return found

    def versions(self, prefix: str = "") -> list[tuple[str, str]]:
        found = []
        for page in self.s3.get_paginator("list_object_versions").paginate(Bucket=BUCKET, Prefix=prefix):
            found += [(v["Key"], "version") for v in page.get("Versions", [])]
            found += [(m["Key"], "marker") for m in page.get("DeleteMarkers", [])]
        return found

    def executions(self) -> dict[str, dict[str, Any]]:
        listed = self.sfn.list_executions(stateMachineArn=MACHINE_ARN)["executions"]
        found = {}
        for item in listed:
            description = self.sfn.describe_execution(executionArn=item["executionArn"])
            found[item["name"]] = {"status": description["status"], "input": json.loads(description["input"])}
        return found

    def stop(self, name: str) -> None:
        self.sfn.stop_execution(executionArn=f"{MACHINE_ARN.replace(':stateMachine:', ':execution:')}:{name}")

    def items(self, table: str) -> int:
        return int(self.dynamodb.scan(TableName=table, Select="COUNT")["Count"])

    def queue_messages(self, name: str) -> int:
        url = self.sqs.get_queue_url(QueueName=name)["QueueUrl"]
        attributes = self.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"])
        return int(attributes["Attributes"]["ApproximateNumberOfMessages"])


def _state_machine(sfn: Any) -> None:
    iam = boto3.client("iam", region_name=REGION)
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": {"Service": "states.amazonaws.com"}, "Action": "sts:AssumeRole"}
        ],
    }
    role = iam.create_role(RoleName="privacy-sfn", AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]
    definition = json.dumps({"StartAt": "Done", "States": {"Done": {"Type": "Succeed"}}})
    assert sfn.create_state_machine(name=MACHINE, definition=definition, roleArn=role)["stateMachineArn"] == MACHINE_ARN


def _table(dynamodb: Any, name: str, keys: list[tuple[str, str]]) -> None:
    dynamodb.create_table(
        TableName=name,
        KeySchema=[{"AttributeName": key, "KeyType": kind} for key, kind in keys],
        AttributeDefinitions=[{"AttributeName": key, "AttributeType": "S"} for key, _ in keys],
        BillingMode="PAY_PER_REQUEST",
    )


@pytest.fixture
def world() -> Iterator[World]:
    with mock_aws():
        s3 = boto3.client("s3", region_name=REGION)
        s3.create_bucket(Bucket=BUCKET)
        s3.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})
        boto3.client("secretsmanager", region_name=REGION).create_secret(
            Name="acme/prod/PrivacyDigestKey", SecretString=json.dumps({"digest_key": DIGEST_KEY})
        )
        sfn = boto3.client("stepfunctions", region_name=REGION)
        _state_machine(sfn)
        dynamodb = boto3.client("dynamodb", region_name=REGION)
        for name, keys in TABLES.items():
            _table(dynamodb, name, keys)
        _table(dynamodb, INDEX, [("subject", "HASH"), ("location", "RANGE")])
        sqs = boto3.client("sqs", region_name=REGION)
        for entity in privacy.DLQ_ENTITIES:
            sqs.create_queue(QueueName=f"acme-shopify-{entity}-events-dlq")
        platform = privacy.Platform(
            environment="prod",
            brand="acme",
            shop_domain=SHOP,
            client=lambda service: boto3.client(service, region_name=REGION),
            bucket=BUCKET,
            state_machine_arn=MACHINE_ARN,
            index_table=INDEX,
            hot_stores=tuple(TABLES),
        )
        yield World(platform=platform, s3=s3, sfn=sfn, dynamodb=dynamodb, sqs=sqs)


def _person(**given: Any) -> privacy.Person:
    values = {"customer_ids": ("191167",), "emails": (EMAIL, OTHER_EMAIL), "phones": (PHONE,)} | given
    return privacy.Person(**{name: tuple(value) for name, value in values.items()})


def _submit(world: World, kind: str = "erase", person: privacy.Person | None = None, **options: Any) -> tuple[int, str]:
    out = io.StringIO()
    code = privacy.submit(world.platform, kind, person or _person(), out, poll_seconds=0, **options)
    return code, out.getvalue()


class Finishing:
    """The Step Functions client, except that a running execution ends after a few polls."""

    def __init__(self, real: Any, status: str, output: dict[str, Any] | None = None) -> None:
        self.real, self.status, self.output, self.polls = real, status, output or {}, 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self.real, name)

    def describe_execution(self, **kwargs: Any) -> dict[str, Any]:
        description = dict(self.real.describe_execution(**kwargs))
        self.polls += 1
        if self.polls >= 3 and description["status"] == "RUNNING":
            ended = {"status": self.status, "output": json.dumps(self.output)}
            if self.status != "SUCCEEDED":
                ended = {"status": self.status, "error": "PrivacyStepFailed", "cause": "the erase step raised"}
            description |= ended
        return description


def _finishing(world: World, status: str, output: dict[str, Any] | None = None) -> None:
    sfn = Finishing(world.sfn, status, output)
    real = world.platform.client
    world.platform.client = lambda service: sfn if service == "stepfunctions" else real(service)


# ------------------------------------------------------------------------------------------ parser


def test_the_subcommands_are_registered() -> None:
    parser = build_parser()
    args = parser.parse_args(
        ["privacy", "erase", "--env", "prod", "--customer-id", "1", "--email", "a@b.c", "--email", "d@e.f"]
    )
    assert args.func is privacy.cmd_erase
    assert args.email == ["a@b.c", "d@e.f"]
    assert not args.full_scan
    assert not args.wait
    assert parser.parse_args(["privacy", "export", "--env", "prod", "--customer-id", "1"]).func is privacy.cmd_export
    assert parser.parse_args(["privacy", "status", "--env", "p", "--request-id", "x"]).func is privacy.cmd_status
    assert parser.parse_args(["privacy", "resume", "--env", "p", "--request-id", "x"]).func is privacy.cmd_resume
    fetch = parser.parse_args(["privacy", "fetch", "--env", "p", "--request-id", "x", "--out", "f"])
    assert fetch.func is privacy.cmd_fetch
    purge = parser.parse_args(["privacy", "purge-shop", "--env", "prod", "--confirm", SHOP, "--dry-run"])
    assert purge.func is privacy.cmd_purge_shop
    assert purge.dry_run
    with pytest.raises(SystemExit):
        parser.parse_args(["privacy", "export", "--env", "prod", "--customer-id", "1", "--full-scan"])


def test_the_environment_is_required() -> None:
    with pytest.raises(SystemExit):
        build_parser().parse_args(["privacy", "erase", "--customer-id", "1"])


# ----------------------------------------------------------------------------------- erase / export


def test_erase_records_keyed_subjects_and_starts_the_execution(world: World) -> None:
    from common.privacy.requests import load_request

    person = _person(recharge_customer_ids=("88001",), order_ids=("gid://shopify/Order/450789469",))
    code, printed = _submit(world, person=person)
    assert code == 0
    expected = sorted(
        [
            "shopify-customer:191167",
            "shopify-order:450789469",
            "recharge-customer:88001",
            keyed("email", "jane.doe@example.com"),
            keyed("email", "jane@work.example.org"),
            keyed("phone", "+15556251199"),
        ]
    )
    request_id = hashlib.sha256("\n".join([*expected, "erase"]).encode()).hexdigest()[:32]
    key = f"metadata/privacy/requests/operator_erase/{request_id}.json"
    assert list(world.objects()) == [key]
    request = load_request(world.s3, BUCKET, key)
    assert request.subjects == tuple(expected)
    assert (request.kind, request.origin, request.topic) == ("erase", "operator", "operator/erase")
    assert request.shop_domain == SHOP
    assert request.delivery is None
    assert world.executions() == {request_id: {"status": "RUNNING", "input": {"request_key": key}}}
    assert f"request {request_id} (erase;" in printed
    assert f"execution arn:aws:states:{REGION}:{ACCOUNT}:execution:{MACHINE}:{request_id}" in printed
    assert "follow it with: platformctl privacy status --env prod" in printed


def test_the_clear_contact_values_are_never_printed_or_written(world: World) -> None:
    code, printed = _submit(world, "export")
    assert code == 0
    stored = b"".join(world.objects().values()) + json.dumps(world.executions()).encode()
    for clear in (EMAIL, EMAIL.lower(), OTHER_EMAIL, PHONE, "5556251199", "625-1199", DIGEST_KEY):
        assert clear not in printed
        assert clear.encode() not in stored


def test_the_same_command_twice_is_the_same_request(world: World) -> None:
    assert _submit(world)[0] == 0
    before = world.objects()
    reordered = _person(emails=(OTHER_EMAIL, f"  {EMAIL.upper()} "))  # order and spelling do not matter
    code, printed = _submit(world, person=reordered)
    assert code == 0
    assert "(recorded before)" in printed
    assert "it exists already: RUNNING" in printed
    assert world.objects() == before
    assert len(world.executions()) == 1


def test_erase_and_export_of_one_person_are_two_requests(world: World) -> None:
    _submit(world, "erase")
    _submit(world, "export")
    assert sorted(key.split("/")[3] for key in world.objects()) == ["operator_erase", "operator_export"]
    assert len(world.executions()) == 2


def test_full_scan_is_in_the_execution_input(world: World) -> None:
    _submit(world, full_scan=True)
    ((execution),) = world.executions().values()
    assert execution["input"]["full_scan"] is True


def test_wait_prints_the_summary(world: World) -> None:
    summary = {"request_id": "x", "status": "done", "totals": {"objects_rewritten": 3}}
    _finishing(world, "SUCCEEDED", summary)
    code, printed = _submit(world, wait_for_end=True)
    assert code == 0
    assert "succeeded" in printed
    assert '"objects_rewritten": 3' in printed


def test_an_export_that_succeeded_says_where_it_is_and_how_to_fetch_it(world: World) -> None:
    _finishing(world, "SUCCEEDED", {"status": "done"})
    code, printed = _submit(world, "export", wait_for_end=True)
    assert code == 0
    (key,) = world.objects()
    request_id = Path(key).stem
    assert f"export at s3://{BUCKET}/exports/privacy/{request_id}/export.json" in printed
    assert f"platformctl privacy fetch --env prod --request-id {request_id} --out <file>" in printed


def test_a_lambda_error_cause_is_shown_without_its_stack_trace() -> None:
    cause = json.dumps({"errorType": "ClientError", "errorMessage": "Forbidden", "stackTrace": ["  File x"]})
    assert privacy.cause_text(cause) == "ClientError: Forbidden"
    assert privacy.cause_text("States.Timeout " * 100, 30) == ("States.Timeout " * 2)[:30]


def test_a_failed_execution_is_exit_1_with_the_runbook_and_the_resume_command(world: World) -> None:
    _finishing(world, "FAILED")
    code, printed = _submit(world, wait_for_end=True)
    assert code == 1
    assert "ended FAILED: PrivacyStepFailed" in printed
    assert privacy.FAILED_RUNBOOK in printed
    assert "platformctl privacy resume --env prod --request-id" in printed


@pytest.mark.parametrize(
    ("given", "message"),
    [
        ({"emails": ("not-an-address",)}, "--email number 1 is not an e-mail address"),
        ({"emails": (EMAIL, "jane at example.com")}, "--email number 2 is not an e-mail address"),
        ({"phones": ("12-34",)}, "--phone number 1 is not a phone number"),
    ],
)
def test_a_bad_contact_value_is_refused_without_repeating_it(world: World, given: dict[str, Any], message: str) -> None:
    with pytest.raises(UserError, match=message) as refused:
        _submit(world, person=_person(**given))
    for value in (*given.get("emails", ()), *given.get("phones", ())):
        assert value not in str(refused.value)
    assert world.objects() == {}
    assert world.executions() == {}


@pytest.mark.parametrize(
    ("given", "message"),
    [
        ({"customer_ids": ("abc",)}, "--customer-id 'abc' is not an id"),
        ({"customer_ids": ("0",)}, "is not an id"),
        ({"customer_ids": ("gid://shopify/Order/1",)}, "is not an id"),
        ({"order_ids": ("1" * 21,)}, "--order-id"),
        ({"recharge_customer_ids": ("-5",)}, "--recharge-customer-id"),
        ({"customer_ids": (), "emails": (), "phones": ()}, "name the person"),
    ],
)
def test_a_bad_id_or_no_person_is_refused_before_any_aws_call(given: dict[str, Any], message: str) -> None:
    with pytest.raises(UserError, match=message):
        privacy.id_subjects(_person(**given))


def test_the_command_refuses_a_bad_id_before_resolving_the_environment(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(privacy, "resolve", _no_aws)
    assert main(["privacy", "erase", "--env", "prod", "--customer-id", "x1"]) == 1
    assert "is not an id" in capsys.readouterr().err
    assert main(["privacy", "export", "--env", "prod"]) == 1
    assert "name the person" in capsys.readouterr().err


def test_without_the_privacy_job_nothing_is_written(world: World) -> None:
    world.platform.state_machine_arn = None
    with pytest.raises(UserError, match="deploy --env prod --job privacy"):
        _submit(world)
    assert world.objects() == {}


# ------------------------------------------------------------------------------- status and resume


def _request_id(world: World) -> str:
    (key,) = [k for k in world.objects() if k.startswith("metadata/privacy/requests/")]
    return Path(key).stem


def test_status_shows_the_record_the_executions_and_the_audit(world: World) -> None:
    _submit(world, "export")
    request_id = _request_id(world)
    out = io.StringIO()
    assert privacy.status(world.platform, request_id, out) == 0
    shown = out.getvalue()
    assert f"request    {request_id}" in shown
    assert "kind       export (operator/export, from operator)" in shown
    assert "1 shopify-customer" in shown
    assert "2 email" in shown
    assert f"execution  {request_id}  RUNNING" in shown
    assert "audit      none yet" in shown
    audit = {
        "request_id": request_id,
        "finished_at": "2026-12-05T12:00:00Z",
        "plan": {"locations": 4, "hot_store_items": 2, "full_scan": False},
        "totals": {"objects_rewritten": 3, "items_changed": 2},
    }
    world.s3.put_object(Bucket=BUCKET, Key=f"metadata/privacy/audit/{request_id}.json", Body=json.dumps(audit))
    out = io.StringIO()
    privacy.status(world.platform, request_id, out)
    shown = out.getvalue()
    assert "finished 2026-12-05T12:00:00Z" in shown
    assert "4 objects, 2 hot-store items, full scan false" in shown
    assert "objects_rewritten" in shown
    assert f"export will be at s3://{BUCKET}/exports/privacy/{request_id}/export.json" in shown
    for clear in (EMAIL, OTHER_EMAIL, PHONE):
        assert clear not in shown


def test_status_of_an_unknown_or_malformed_request_id(world: World) -> None:
    with pytest.raises(UserError, match="no request"):
        privacy.status(world.platform, "0" * 32, io.StringIO())
    for bad in ("../../raw", "ABCDEF" * 6, "1234"):
        with pytest.raises(UserError, match="not a request id"):
            privacy.check_request_id(bad)


def test_resume_starts_the_next_free_name_with_the_same_input(world: World) -> None:
    _submit(world, full_scan=True)
    request_id = _request_id(world)
    with pytest.raises(UserError, match="still running"):
        privacy.resume(world.platform, request_id, io.StringIO())
    world.stop(request_id)
    out = io.StringIO()
    assert privacy.resume(world.platform, request_id, out) == 0
    assert f"started {request_id}-resume-1" in out.getvalue()
    world.stop(f"{request_id}-resume-1")
    privacy.resume(world.platform, request_id, io.StringIO())
    executions = world.executions()
    assert sorted(executions) == [request_id, f"{request_id}-resume-1", f"{request_id}-resume-2"]
    assert {json.dumps(e["input"], sort_keys=True) for e in executions.values()} == {
        json.dumps(executions[request_id]["input"], sort_keys=True)
    }
    assert executions[request_id]["input"]["full_scan"] is True
    out = io.StringIO()
    privacy.status(world.platform, request_id, out)
    assert out.getvalue().count("execution  ") == 3


def test_resume_of_a_request_never_started_starts_it_under_its_own_name(world: World) -> None:
    """A webhook request whose start failed (the privacy job deployed later): resume is the manual start."""
    world.platform.state_machine_arn = None
    operator = privacy.operator_request("erase", ["shopify-customer:5"], SHOP, datetime.now(UTC))
    assert privacy.record_request(world.platform, operator)
    world.platform.state_machine_arn = MACHINE_ARN
    out = io.StringIO()
    privacy.resume(world.platform, operator.request_id, out)
    assert world.executions() == {operator.request_id: {"status": "RUNNING", "input": {"request_key": operator.key}}}
    with pytest.raises(UserError, match="no request"):
        privacy.resume(world.platform, "f" * 32, io.StringIO())


# -------------------------------------------------------------------------------------------- fetch


def test_fetch_writes_a_new_file_only_its_owner_reads(world: World, tmp_path: Path) -> None:
    request_id = "a" * 32
    export = b'{"request_id": "aaaa", "documents": []}'
    world.s3.put_object(Bucket=BUCKET, Key=f"exports/privacy/{request_id}/export.json", Body=export)
    target = tmp_path / "export.json"
    out = io.StringIO()
    assert privacy.fetch(world.platform, request_id, target, out) == 0
    assert target.read_bytes() == export
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    assert f"wrote {len(export)} bytes" in out.getvalue()
    with pytest.raises(UserError, match="exists"):
        privacy.fetch(world.platform, request_id, target, io.StringIO())
    assert target.read_bytes() == export


def test_fetch_of_a_missing_export(world: World, tmp_path: Path) -> None:
    with pytest.raises(UserError, match="no export"):
        privacy.fetch(world.platform, "b" * 32, tmp_path / "x.json", io.StringIO())
    assert not (tmp_path / "x.json").exists()


# ---------------------------------------------------------------------------------------- purge-shop


KEPT = {
    "metadata/privacy/requests/shop_redact/" + "c" * 32 + ".json": b'{"kind": "shop_purge"}',
    "metadata/privacy/audit/" + "d" * 32 + ".json": b"{}",
    "artifacts/glue-scripts/orders_enriched_job.py": b"print()",
    "metadata/data-quality/dt=2026-12-05/run=1/results.json": b"{}",
}
PURGED = [
    "raw/shopify/webhooks/orders/topic=orders_create/dt=2026-12-05/e1.json",
    "raw/recharge/customer/topic=customer_created/dt=2026-12-05/1-x.json",
    "quarantine/shopify/dt=2026-12-05/bad-json/e2.json",
    "processed/shopify/orders_enriched/dt=2026-12-05/part-0.parquet",
    "exports/privacy/" + "e" * 32 + "/export.json",
    "metadata/shopify/bulk/run=1/manifest.json",
]


def _populate(world: World) -> None:
    for key, body in KEPT.items():
        world.s3.put_object(Bucket=BUCKET, Key=key, Body=body)
    for key in PURGED:
        world.s3.put_object(Bucket=BUCKET, Key=key, Body=b'{"email": "jane@example.com"}')
        world.s3.put_object(Bucket=BUCKET, Key=key, Body=b'{"email": null}')  # a second version
    world.s3.delete_object(Bucket=BUCKET, Key=PURGED[0])  # a delete marker over two versions
    rows = {
        "acme-prod-orders": [
            {"order_id": {"S": "1"}, "record": {"S": "ORDER"}},
            {"order_id": {"S": "2"}, "record": {"S": "ORDER"}},
        ],
        "acme-prod-customers": [{"customer_key": {"S": f"shopify:{n}"}} for n in range(30)],  # more than a batch
        "acme-prod-abandoned-carts": [{"cart_token": {"S": "t1"}}],
    }
    for table, items in rows.items():
        for item in items:
            world.dynamodb.put_item(TableName=table, Item=item)
    world.dynamodb.put_item(
        TableName=INDEX, Item={"subject": {"S": "shopify-customer:1"}, "location": {"S": "s3:raw/x"}}
    )
    url = world.sqs.get_queue_url(QueueName="acme-shopify-orders-events-dlq")["QueueUrl"]
    for n in range(3):
        world.sqs.send_message(QueueUrl=url, MessageBody=json.dumps({"detail": {"n": n}}))


def test_a_dry_run_counts_and_deletes_nothing(world: World) -> None:
    _populate(world)
    before = (world.versions(), {t: world.items(t) for t in (*TABLES, INDEX)})
    out = io.StringIO()
    counts = privacy.purge_shop(world.platform, SHOP, out, dry_run=True)
    assert counts.objects["raw/"] == {"versions": 4, "delete_markers": 1}
    assert counts.objects["exports/"] == {"versions": 2, "delete_markers": 0}
    assert counts.tables["acme-prod-customers"] == 30
    assert counts.tables[INDEX] == 1
    assert counts.queues["acme-shopify-orders-events-dlq"] == 3
    assert (world.versions(), {t: world.items(t) for t in (*TABLES, INDEX)}) == before
    assert world.queue_messages("acme-shopify-orders-events-dlq") == 3
    assert "dry run" in out.getvalue()
    assert "would delete 4 object version(s), 1 delete marker(s)" in out.getvalue()
    assert not [key for key in world.objects() if "shop-purge" in key]


def test_the_purge_deletes_every_version_item_and_message_and_keeps_the_proof(world: World) -> None:
    _populate(world)
    out = io.StringIO()
    counts = privacy.purge_shop(world.platform, SHOP, out)
    remaining = {key for key, _ in world.versions()}
    audits = [key for key in remaining if key.startswith("metadata/privacy/audit/shop-purge-")]
    assert remaining == set(KEPT) | set(audits)
    assert len(audits) == 1
    assert all(world.items(table) == 0 for table in (*TABLES, INDEX))
    assert world.queue_messages("acme-shopify-orders-events-dlq") == 0
    audit = json.loads(world.objects()[audits[0]])
    assert audit["kind"] == "shop_purge"
    assert audit["shop_domain"] == SHOP
    assert audit["shop_redact_requests"] == ["c" * 32]
    assert audit["objects"] == counts.objects
    assert audit["tables"]["acme-prod-orders"] == 2
    assert audit["queues"]["acme-shopify-orders-events-dlq"] == 3
    assert audit["kept_prefixes"] == ["metadata/privacy/", "artifacts/"]
    assert "jane" not in json.dumps(audit)
    printed = out.getvalue()
    assert "deleted 4 object version(s), 1 delete marker(s)" in printed
    assert "table acme-prod-customers: deleted 30 item(s)" in printed
    assert f"audit s3://{BUCKET}/{audits[0]}" in printed
    # Run again: nothing left to delete (a purge that stopped half way is finished the same way).
    again = privacy.purge_shop(world.platform, SHOP, io.StringIO(), dry_run=True)
    assert all(c == {"versions": 0, "delete_markers": 0} for c in again.objects.values())
    assert not any(again.tables.values())


def test_missing_tables_and_queues_are_said_not_fatal(world: World) -> None:
    world.dynamodb.delete_table(TableName=INDEX)
    world.sqs.delete_queue(QueueUrl=world.sqs.get_queue_url(QueueName="acme-shopify-carts-events-dlq")["QueueUrl"])
    out = io.StringIO()
    counts = privacy.purge_shop(world.platform, SHOP, out)
    assert INDEX not in counts.tables
    assert counts.queues["acme-shopify-carts-events-dlq"] is None
    assert f"table {INDEX}: does not exist" in out.getvalue()


@pytest.mark.parametrize(
    "confirm",
    [
        "other.myshopify.com",
        "Example.myshopify.com",
        "EXAMPLE.MYSHOPIFY.COM",
        f"{SHOP} ",
        f" {SHOP}",
        f"{SHOP}\n",
        "",
        "example",
    ],
    ids=["other-shop", "capitalised", "upper-case", "trailing-space", "leading-space", "newline", "empty", "prefix"],
)
def test_the_purge_refuses_anything_but_the_exact_domain(world: World, confirm: str) -> None:
    _populate(world)
    before = world.versions()
    with pytest.raises(UserError, match=r"nothing was deleted|needs --confirm"):
        privacy.purge_shop(world.platform, confirm, io.StringIO())
    assert world.versions() == before
    assert world.items("acme-prod-customers") == 30


def _no_aws(environment: str) -> privacy.Platform:
    raise AssertionError("the command reached for AWS before refusing")


@pytest.mark.parametrize("confirm", ["other.myshopify.com", "Example.myshopify.com", f"{SHOP} ", ""])
def test_the_command_refuses_before_any_aws_call(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], confirm: str
) -> None:
    monkeypatch.setattr(privacy, "resolve", _no_aws)
    assert main(["privacy", "purge-shop", "--env", "prod", "--confirm", confirm]) == 1
    error = capsys.readouterr().err
    assert error.startswith("platformctl: ")
    assert "nothing was deleted" in error or "needs --confirm" in error


def test_the_command_without_confirm_is_a_usage_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(privacy, "resolve", _no_aws)
    with pytest.raises(SystemExit) as usage:
        main(["privacy", "purge-shop", "--env", "prod", "--dry-run"])
    assert usage.value.code == 2


def test_the_command_purges_with_the_exact_domain(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    _populate(world)
    monkeypatch.setattr(privacy, "resolve", lambda environment: world.platform)
    assert main(["privacy", "purge-shop", "--env", "prod", "--confirm", SHOP]) == 0
    assert world.items("acme-prod-customers") == 0


def test_an_unknown_environment_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["privacy", "purge-shop", "--env", "nowhere", "--confirm", SHOP]) == 1
    assert "unknown environment 'nowhere'" in capsys.readouterr().err


# --------------------------------------------------------------------------------- the environment


def _stack(name: str, outputs: dict[str, str]) -> None:
    template = {
        "Resources": {"Queue": {"Type": "AWS::SQS::Queue", "Properties": {"QueueName": f"{name}-q"}}},
        "Outputs": {key: {"Value": value} for key, value in outputs.items()},
    }
    boto3.client("cloudformation", region_name=REGION).create_stack(StackName=name, TemplateBody=json.dumps(template))


def test_resolve_reads_the_deployed_stacks() -> None:
    with mock_aws():
        with pytest.raises(UserError, match="the lake is not deployed in prod"):
            privacy.resolve("prod")
        _stack("acme-prod-shared-data-lake", {"DataLakeBucketName": BUCKET})
        platform = privacy.resolve("prod")
        assert (platform.bucket, platform.brand, platform.shop_domain) == (BUCKET, "acme", SHOP)
        assert platform.state_machine_arn is None
        assert platform.notes == ["the privacy job is not deployed in prod"]
        assert platform.digest_secret == "acme/prod/PrivacyDigestKey"
        assert platform.dlq_names[0] == "acme-shopify-orders-events-dlq"
        _stack("acme-prod-privacy-requests", {"PrivacyStateMachineArn": MACHINE_ARN, "PrivacyIndexTableName": INDEX})
        _stack("acme-prod-shared-dynamodb-tables", {name: f"t-{name}" for name in privacy.HOT_STORE_OUTPUTS})
        platform = privacy.resolve("prod")
        assert platform.state_machine_arn == MACHINE_ARN
        assert platform.index_table == INDEX
        assert platform.hot_stores == tuple(f"t-{name}" for name in privacy.HOT_STORE_OUTPUTS)
        assert platform.execution_arn("abc") == f"arn:aws:states:{REGION}:{ACCOUNT}:execution:{MACHINE}:abc"
