"""The erasure proof on the local cloud (issue 14): one person's data goes through every path the platform
has — Shopify customer, order, checkout and fulfillment events over the bus, a bulk export that includes
their orders, Recharge customer, subscription and charge over the HTTP API, a poison event that ends in a
DLQ, the Glue job's processed orders — then Shopify's signed ``customers/redact`` arrives, the privacy
workflow runs, and every object version, every item of every table and every queue message is searched
for the person's name, e-mail, phone and street: no hit. Another customer's data is byte-identical, the
orders' money fields are unchanged, and a forged request changes nothing.

The person is taken from the simulator's bulk result (its generated name, e-mail and street, which their
webhooks then repeat), so the bulk path carries the same person as the real-time paths.
"""

from __future__ import annotations

import base64
import copy
import gzip
import hashlib
import hmac
import json
import random
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import requests
from boto3.dynamodb.types import TypeDeserializer

from platformctl.commands import glue
from platformctl.commands.recharge import path_token, signed_headers
from platformctl.manifest import REPO_ROOT
from tests.conftest import COPIED_FIXTURES
from tests.unit.shopify import support

pytestmark = pytest.mark.integration

TIMEOUT = (3.05, 30.0)
WAIT = 300.0  # bounds on waiting, not assertions on speed
BULK_SINCE = "2024-01-01T00:00:00Z"
RECHARGE = REPO_ROOT / "tests" / "fixtures" / "recharge"


# ------------------------------------------------------------------------------------------- the cloud


class Cloud:
    def __init__(self, local_cloud: Any) -> None:
        self.cloud = local_cloud
        self.endpoints = local_cloud.endpoints()
        self.outputs = local_cloud.stack_outputs()
        self.bucket: str = self.endpoints["bucket"]
        settings = json.loads((REPO_ROOT / "ci" / "environments" / "local" / "settings.json").read_text())
        self.shop = {p["ParameterKey"]: p["ParameterValue"] for p in settings}["ShopDomain"]

    def client(self, name: str) -> Any:
        return self.cloud.target.client(name)

    def secret_value(self, output: str, field: str) -> str:
        arn = self.outputs["shared/secrets-manager"][output]
        return str(json.loads(self.client("secretsmanager").get_secret_value(SecretId=arn)["SecretString"])[field])

    def put_events(self, *events: dict[str, Any]) -> None:
        bus = self.endpoints["event_bus"]
        entries = [
            {
                "Source": e["source"],
                "DetailType": e["detail-type"],
                "Detail": json.dumps(e["detail"]),
                "EventBusName": bus,
            }
            for e in events
        ]
        for start in range(0, len(entries), 10):
            response = self.client("events").put_events(Entries=entries[start : start + 10])
            assert response["FailedEntryCount"] == 0, response
        self.idle()

    def idle(self) -> None:
        assert self.cloud.wait_idle(180)

    def post_recharge(self, resource: str, record: dict[str, Any]) -> None:
        document = json.loads(
            self.client("secretsmanager").get_secret_value(
                SecretId=self.outputs["shared/secrets-manager"]["RechargeWebhookSecretArn"]
            )["SecretString"]
        )
        body = json.dumps({resource: record}).encode()
        headers = signed_headers(str(document["webhook_secret"]), body, topic=f"{resource}/updated", scheme="both")
        headers["Content-Type"] = "application/json"
        url = f"{self.endpoints['http_apis']['recharge']}/{path_token(document)}"
        response = requests.post(url, data=body, headers=headers, timeout=TIMEOUT)
        assert response.status_code == 200, response.text

    def post_compliance(self, body: bytes, topic: str, *, secret: str | None = None) -> requests.Response:
        key = secret or self.secret_value("ShopifyAppClientSecretArn", "client_secret")
        signature = base64.b64encode(hmac.new(key.encode(), body, hashlib.sha256).digest()).decode()
        headers = {
            "Content-Type": "application/json",
            "X-Shopify-Topic": topic,
            "X-Shopify-Hmac-Sha256": signature,
            "X-Shopify-Shop-Domain": self.shop,
            "X-Shopify-Event-Id": str(uuid.uuid4()),
            "X-Shopify-Webhook-Id": str(uuid.uuid4()),
            "X-Shopify-API-Version": "2026-01",
        }
        return requests.post(
            self.endpoints["http_apis"]["shopify_compliance"], data=body, headers=headers, timeout=TIMEOUT
        )

    def run_bulk(self) -> str:
        """One bulk export run over the simulated shop; its run id."""
        until = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        sfn = self.client("stepfunctions")
        arn = sfn.start_execution(
            stateMachineArn=self.endpoints["state_machines"]["shopify_bulk"],
            name=f"privacy-proof-{uuid.uuid4().hex[:8]}",
            input=json.dumps({"since": BULK_SINCE, "until": until}),
        )["executionArn"]
        description = self.wait_execution(arn)
        assert description["status"] == "SUCCEEDED", description
        return str(json.loads(description["output"])["run_id"])

    def wait_execution(self, arn: str) -> dict[str, Any]:
        sfn = self.client("stepfunctions")
        deadline = time.monotonic() + WAIT
        description = sfn.describe_execution(executionArn=arn)
        while description["status"] == "RUNNING":
            assert time.monotonic() < deadline, f"{arn} still running"
            time.sleep(0.5)
            description = sfn.describe_execution(executionArn=arn)
        return dict(description)

    # ---------------------------------------------------------------------------- what is stored

    def versions(self) -> Iterator[tuple[str, str, bytes]]:
        """Every version of every object in the lake: (key, version id, bytes as stored)."""
        s3 = self.client("s3")
        for page in s3.get_paginator("list_object_versions").paginate(Bucket=self.bucket):
            for version in page.get("Versions", []):
                body = s3.get_object(Bucket=self.bucket, Key=version["Key"], VersionId=version["VersionId"])["Body"]
                yield version["Key"], version["VersionId"], body.read()

    def items(self) -> Iterator[tuple[str, dict[str, Any]]]:
        dynamodb = self.client("dynamodb")
        deserialize = TypeDeserializer().deserialize
        for table in dynamodb.list_tables()["TableNames"]:
            for page in dynamodb.get_paginator("scan").paginate(TableName=table):
                for raw in page.get("Items", []):
                    yield table, {k: deserialize(v) for k, v in raw.items()}

    def messages(self) -> Iterator[tuple[str, str]]:
        """Every message of every queue, each returned to its queue visible again."""
        sqs = self.client("sqs")
        for url in sqs.list_queues().get("QueueUrls", []):
            seen: dict[str, str] = {}
            while True:
                batch = sqs.receive_message(
                    QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=60, MessageAttributeNames=["All"]
                ).get("Messages", [])
                if not batch:
                    break
                for message in batch:
                    seen[message["MessageId"]] = message["ReceiptHandle"]
                    yield url, message["Body"] + json.dumps(message.get("MessageAttributes", {}))
            for handle in seen.values():
                sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=handle, VisibilityTimeout=0)


def _text(key: str, body: bytes) -> str:
    if key.endswith(".gz"):
        body = gzip.decompress(body)
    return body.decode("utf-8", errors="replace").lower()


@pytest.fixture(scope="module")
def cloud(local_cloud: Any) -> Cloud:
    endpoints = local_cloud.endpoints()
    if "privacy" not in endpoints["state_machines"] or "shopify_bulk" not in endpoints["state_machines"]:
        pytest.skip("the privacy and bulk stacks are not deployed (PLATFORM_LOCAL_STACKS)")
    return Cloud(local_cloud)


# ------------------------------------------------------------------------------------------ the people


class Person:
    """Someone whose data the platform holds: the values the scan looks for, and their ids."""

    def __init__(self, order_line: dict[str, Any], phone: str) -> None:
        address = order_line["shippingAddress"]
        self.customer_id = int(order_line["customer"]["id"].rsplit("/", 1)[1])
        self.first, self.last = address["firstName"], address["lastName"]
        self.email = order_line["email"]
        self.street = address["address1"]
        self.zip = address["zip"]
        self.phone = phone
        self.bulk_order_ids = [int(order_line["id"].rsplit("/", 1)[1])]
        self.order_id = random.randrange(10**12, 10**13)
        self.recharge_customer_id = random.randrange(10**8, 10**9)

    @property
    def needles(self) -> dict[str, str]:
        return {
            "name": f"{self.first} {self.last}".lower(),
            "email": self.email.lower(),
            "phone": self.phone.lstrip("+"),
            "street": self.street.lower(),
        }

    def hits(self, text: str) -> list[str]:
        return [what for what, needle in self.needles.items() if needle in text]

    def address(self) -> dict[str, Any]:
        return {
            "first_name": self.first,
            "last_name": self.last,
            "name": f"{self.first} {self.last}",
            "address1": self.street,
            "address2": None,
            "city": "Ottawa",
            "province": "Ontario",
            "country": "Canada",
            "zip": self.zip,
            "phone": self.phone,
            "company": None,
            "country_code": "CA",
            "province_code": "ON",
        }


def _bulk_lines(cloud: Cloud, run_id: str) -> list[dict[str, Any]]:
    """The order lines of a bulk run, as its parts hold them now."""
    s3 = cloud.client("s3")
    lines = []
    pages = s3.get_paginator("list_objects_v2").paginate(
        Bucket=cloud.bucket, Prefix=f"raw/shopify/bulk/order/run={run_id}/"
    )
    for page in pages:
        for entry in page.get("Contents", []):
            body = gzip.decompress(s3.get_object(Bucket=cloud.bucket, Key=entry["Key"])["Body"].read())
            lines.extend(json.loads(line) for line in body.splitlines() if line.strip())
    assert lines, f"bulk run {run_id} wrote no order part"
    return lines


def _choose_people(lines: list[dict[str, Any]]) -> tuple[Person, Person]:
    """Two customers whose name, e-mail and street appear in no other customer's order."""
    orders = [line for line in lines if line.get("customer") and line.get("shippingAddress")]

    def unique(line: dict[str, Any]) -> bool:
        owner = line["customer"]["id"]
        address = line["shippingAddress"]
        values = (line["email"], f"{address['firstName']} {address['lastName']}", address["address1"])
        others = [json.dumps(o).lower() for o in orders if o["customer"]["id"] != owner]
        return not any(value.lower() in other for value in values for other in others)

    candidates = [line for line in orders if unique(line)]
    assert len({c["customer"]["id"] for c in candidates}) >= 2, "the simulated shop has too few distinct customers"
    first = candidates[0]
    second = next(c for c in candidates if c["customer"]["id"] != first["customer"]["id"])
    return Person(first, "+16135550" + f"{random.randrange(100, 999)}"), Person(
        second, "+16135551" + f"{random.randrange(100, 999)}"
    )


def _shopify_events(person: Person, triggered_at: str) -> list[dict[str, Any]]:
    fixtures = COPIED_FIXTURES / "shopify"
    customer = json.loads((fixtures / "customer__shopify-python-api.json").read_text())["customer"]
    customer = dict(
        customer,
        id=person.customer_id,
        email=person.email,
        first_name=person.first,
        last_name=person.last,
        phone=person.phone,
        default_address=dict(person.address(), id=random.randrange(10**9), customer_id=person.customer_id),
        addresses=[dict(person.address(), id=random.randrange(10**9), customer_id=person.customer_id)],
        updated_at=triggered_at,
    )
    order = copy.deepcopy(json.loads((fixtures / "order__shopify-python-api.json").read_text())["order"])
    order.update(
        id=person.order_id,
        name=f"#{person.order_id}",
        order_number=person.order_id,
        email=person.email,
        contact_email=person.email,
        phone=person.phone,
        created_at=triggered_at,
        updated_at=triggered_at,
        billing_address=person.address(),
        shipping_address=person.address(),
        customer={
            "id": person.customer_id,
            "email": person.email,
            "first_name": person.first,
            "last_name": person.last,
            "phone": person.phone,
            "default_address": person.address(),
        },
    )
    checkout = copy.deepcopy(json.loads((fixtures / "checkouts__shopify-python-api.json").read_text())["checkouts"][0])
    token = uuid.uuid4().hex
    checkout.update(
        id=random.randrange(10**12, 10**13),
        token=token,
        cart_token=uuid.uuid4().hex,
        email=person.email,
        billing_address=person.address(),
        shipping_address=person.address(),
        customer={
            "id": person.customer_id,
            "email": person.email,
            "first_name": person.first,
            "last_name": person.last,
        },
        updated_at=triggered_at,
    )
    fulfillment = json.loads((fixtures / "fulfillment__shopify-python-api.json").read_text())["fulfillment"]
    fulfillment = dict(
        fulfillment,
        id=random.randrange(10**12, 10**13),
        order_id=person.order_id,
        destination=person.address(),
        email=person.email,
        updated_at=triggered_at,
    )
    malformed = dict(order, id="not-an-id")  # quarantined verbatim, contact details and all
    return [
        support.envelope("orders/create", malformed, event_id=f"pq-{uuid.uuid4().hex}", triggered_at=triggered_at),
        support.envelope("customers/create", customer, event_id=f"pc-{uuid.uuid4().hex}", triggered_at=triggered_at),
        support.envelope("orders/create", order, event_id=f"po-{uuid.uuid4().hex}", triggered_at=triggered_at),
        support.envelope("checkouts/create", checkout, event_id=f"pk-{uuid.uuid4().hex}", triggered_at=triggered_at),
        support.envelope(
            "fulfillments/create", fulfillment, event_id=f"pf-{uuid.uuid4().hex}", triggered_at=triggered_at
        ),
    ]


def _recharge(cloud: Cloud, person: Person, now: datetime) -> None:
    stamp = now.strftime("%Y-%m-%dT%H:%M:%S")

    def fixture(resource: str) -> dict[str, Any]:
        return dict(json.loads((RECHARGE / f"{resource}__airbyte.json").read_text(encoding="utf-8")))

    customer = fixture("customer")
    customer.update(
        id=person.recharge_customer_id,
        email=person.email,
        first_name=person.first,
        last_name=person.last,
        phone=person.phone,
        external_customer_id={"ecommerce": str(person.customer_id)},
        updated_at=stamp,
    )
    subscription = fixture("subscription")
    subscription.update(id=random.randrange(10**8, 10**9), customer_id=person.recharge_customer_id, updated_at=stamp)
    charge = fixture("charge")
    billing = dict(
        charge["billing_address"],
        first_name=person.first,
        last_name=person.last,
        address1=person.street,
        phone=person.phone,
    )
    charge.update(
        id=random.randrange(10**8, 10**9),
        billing_address=billing,
        shipping_address=dict(billing),
        customer=dict(charge["customer"], id=person.recharge_customer_id, email=person.email),
        updated_at=stamp,
    )
    for resource, record in (("customer", customer), ("subscription", subscription), ("charge", charge)):
        cloud.post_recharge(resource, record)


def _poison(cloud: Cloud, person: Person, triggered_at: str) -> None:
    """The person's order update fails on every attempt (the processor's role loses s3:PutObject for the
    while), so Lambda's retries end and the full event, contact details and all, lands in the DLQ."""
    iam = cloud.client("iam")
    function = cloud.outputs["shopify/eventbridge-rules"]["OrderProcessorFunctionName"]
    role = cloud.client("lambda").get_function_configuration(FunctionName=function)["Role"].rsplit("/", 1)[1]
    deny = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Deny", "Action": "s3:PutObject", "Resource": "*"}],
    }
    order = {
        "id": person.order_id,
        "email": person.email,
        "phone": person.phone,
        "updated_at": triggered_at,
        "total_price": "1.00",
        "shipping_address": person.address(),
        "customer": {"id": person.customer_id, "email": person.email, "first_name": person.first},
    }
    iam.put_role_policy(RoleName=role, PolicyName="privacy-proof-outage", PolicyDocument=json.dumps(deny))
    try:
        cloud.put_events(
            support.envelope("orders/updated", order, event_id=f"pp-{uuid.uuid4().hex}", triggered_at=triggered_at)
        )
    finally:
        iam.delete_role_policy(RoleName=role, PolicyName="privacy-proof-outage")
    dlq = cloud.endpoints["dlqs"]["orders"]
    attributes = cloud.client("sqs").get_queue_attributes(QueueUrl=dlq, AttributeNames=["ApproximateNumberOfMessages"])
    assert int(attributes["Attributes"]["ApproximateNumberOfMessages"]) >= 1


def _order_money(cloud: Cloud, order_id: int) -> dict[str, Any]:
    item = cloud.client("dynamodb").get_item(
        TableName=cloud.endpoints["tables"]["orders"], Key={"order_id": {"S": str(order_id)}, "record": {"S": "ORDER"}}
    )["Item"]
    return {
        k: v for k, v in item.items() if any(word in k for word in ("price", "total", "amount", "currency", "status"))
    }


def _bulk_money(lines: list[dict[str, Any]], order_ids: list[int]) -> dict[str, Any]:
    wanted = {f"gid://shopify/Order/{i}" for i in order_ids}
    return {
        line["id"]: {k: v for k, v in line.items() if k.endswith("Set") or k.startswith("display")}
        for line in lines
        if line.get("id") in wanted
    }


# ----------------------------------------------------------------------------------------------- proof


def test_a_redact_request_erases_a_person_everywhere_and_nothing_else(cloud: Cloud, spark: Any, tmp_path: Path) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    triggered_at = now.isoformat().replace("+00:00", "Z")

    run = cloud.run_bulk()
    lines = _bulk_lines(cloud, run)
    person, other = _choose_people(lines)

    cloud.put_events(*_shopify_events(person, triggered_at), *_shopify_events(other, triggered_at))
    _recharge(cloud, person, now)
    _recharge(cloud, other, now)
    _poison(cloud, person, triggered_at)
    glue.run_locally(cloud.cloud.target, lookback_days=3)
    cloud.idle()

    # the person's data is there, through every path (the scan would find it)
    stored = {(key, version): body for key, version, body in cloud.versions()}
    found = {"/".join(key.split("/")[:3]) for (key, _), body in stored.items() if person.hits(_text(key, body))}
    assert {"raw/shopify/webhooks", "raw/shopify/bulk", "raw/recharge/customer", "raw/recharge/charge"} <= found
    assert "quarantine/shopify/dt=" in {zone[: len("quarantine/shopify/dt=")] for zone in found}, found
    assert any(person.hits(body.lower()) for _, body in cloud.messages()), "the poison event is not in a DLQ"

    # The other customer's objects that do not also name the person stay byte-identical. An object naming
    # both cannot: bulk parts are checked line by line below; a download checkpoint that other bulk runs of
    # this session left (pending lines of both) is erased whole, and the hits check covers it.
    others_before = {
        k: b
        for k, b in stored.items()
        if other.hits(_text(k[0], b)) and not person.hits(_text(k[0], b)) and not k[0].startswith("raw/shopify/bulk/")
    }
    assert others_before, "the other customer has no object of their own: the byte-identity check would be empty"
    others_bulk_lines = sorted(
        json.dumps(line, sort_keys=True) for line in lines if other.hits(json.dumps(line).lower())
    )
    money_before = _order_money(cloud, person.order_id)
    bulk_money_before = _bulk_money(lines, person.bulk_order_ids)

    # a forged request changes nothing
    redact = json.dumps(
        {
            "shop_id": 954889,
            "shop_domain": cloud.shop,
            "customer": {"id": person.customer_id, "email": person.email, "phone": person.phone},
            "orders_to_redact": [person.order_id, *person.bulk_order_ids],
        }
    ).encode()
    forged = cloud.post_compliance(redact, "customers/redact", secret="not-the-client-secret")
    assert forged.status_code == 401
    cloud.idle()
    assert {(k, v) for k, v, _ in cloud.versions()} == set(stored)

    # Shopify's signed request: recorded, the workflow started under the request id, and run to its end
    response = cloud.post_compliance(redact, "customers/redact")
    assert response.status_code == 200, response.text
    request_id = response.json()["request_id"]
    machine = cloud.endpoints["state_machines"]["privacy"]
    execution = machine.replace(":stateMachine:", ":execution:") + f":{request_id}"
    assert cloud.wait_execution(execution)["status"] == "SUCCEEDED"
    cloud.idle()

    hits = [
        (key, version, person.hits(_text(key, body)))
        for key, version, body in cloud.versions()
        if not key.endswith(".parquet") and person.hits(_text(key, body))
    ]
    assert hits == []
    assert [t for t, item in cloud.items() if person.hits(json.dumps(item, default=str).lower())] == []
    assert [url for url, body in cloud.messages() if person.hits(body.lower())] == []
    processed = tmp_path / "processed"
    glue._download_prefix(cloud.client("s3"), cloud.bucket, glue.WRITES, processed)
    rows = [
        json.dumps(row.asDict(), default=str).lower()
        for row in spark.read.parquet(f"file://{processed / glue.WRITES}").collect()
    ]
    assert [row for row in rows if person.hits(row)] == []

    # the other customer's objects are byte-identical; their bulk lines too; the money stays
    after = {(key, version): body for key, version, body in cloud.versions()}
    assert {k: after.get(k) for k in others_before} == others_before
    lines_after = _bulk_lines(cloud, run)
    assert (
        sorted(json.dumps(line, sort_keys=True) for line in lines_after if other.hits(json.dumps(line).lower()))
        == others_bulk_lines
    )
    assert _order_money(cloud, person.order_id) == money_before
    assert _bulk_money(lines_after, person.bulk_order_ids) == bulk_money_before

    # the audit says what was erased where, without the personal data
    audit = (
        cloud.client("s3")
        .get_object(Bucket=cloud.bucket, Key=f"metadata/privacy/audit/{request_id}.json")["Body"]
        .read()
    )
    assert person.hits(audit.decode().lower()) == []

    # Shopify's redelivery: no second execution, nothing changes
    again = cloud.post_compliance(redact, "customers/redact")
    assert again.status_code == 200
    assert {(k, v) for k, v, _ in cloud.versions()} == set(after)


def test_the_archive_retention_bounds_what_erasure_cannot_reach(cloud: Cloud) -> None:
    archives = cloud.client("events").list_archives()["Archives"]
    retention = {a["ArchiveName"]: a["RetentionDays"] for a in archives}
    assert retention
    assert all(1 <= days <= 30 for days in retention.values()), retention


def test_the_demo_step_holds_its_expectations(cloud: Cloud) -> None:
    import io

    from platformctl.scenarios import privacy as privacy_step
    from platformctl.scenarios.report import Report

    out = io.StringIO()
    report = Report(out)
    privacy_step.step(cloud.cloud, report)
    assert report.problems == [], out.getvalue()
    assert "contact data in 0 object version(s)" in out.getvalue()
