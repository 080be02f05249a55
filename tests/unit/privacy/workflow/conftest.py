"""The privacy workflow's steps under moto: a small lake that holds one person's data (and another
customer's) in every place the platform writes, the privacy index filled the way the indexer fills it,
and the workflow built with its collaborators, a frozen clock and a test digest key.

``app.py`` is loaded under its own name with the deployed function's environment.
"""

from __future__ import annotations

import copy
import gzip
import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from types import ModuleType
from typing import Any

import boto3
import pytest
from moto import mock_aws

from common.config import load_settings
from common.privacy.digest import SubjectDigester
from common.privacy.index import PrivacyIndex, s3_location
from common.privacy.requests import PrivacyRequest, request_key
from common.privacy.subjects import object_subjects
from common.shopify.bulk_stream import BulkSplitter
from platformctl.manifest import REPO_ROOT
from platformctl.templates import load_template
from tests.conftest import COPIED_FIXTURES
from tests.unit import lambda_loader

REGION = "us-east-1"
BUCKET = "acme-data-lake-123456789012"
SHOP = "acme.myshopify.com"
FROZEN = datetime(2026, 3, 4, 12, 0, 0, tzinfo=UTC)
DIGESTER = SubjectDigester(b"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef")
INDEX_TABLE = "acme-test-privacy-index"
TABLES = {
    "orders": ("acme-test-orders", "OrdersTable"),
    "customers": ("acme-test-customers", "CustomersTable"),
    "abandoned_carts": ("acme-test-abandoned-carts", "AbandonedCartsTable"),
    "subscriptions": ("acme-test-subscriptions", "SubscriptionsTable"),
    "charges": ("acme-test-charges", "ChargesTable"),
    "invoices": ("acme-test-invoices", "InvoicesTable"),
}
DLQS = tuple(
    f"acme-shopify-{entity}-events-dlq" for entity in ("orders", "fulfillments", "customers", "products", "carts")
)


def environment(**overrides: str) -> dict[str, str]:
    """What the stack sets on the function (infrastructure/privacy/privacy-requests.yaml)."""
    return {
        "POWERTOOLS_SERVICE_NAME": "privacy-requests",
        "POWERTOOLS_METRICS_NAMESPACE": "acme/Privacy",
        "POWERTOOLS_TRACE_DISABLED": "true",
        "DATA_LAKE_BUCKET_NAME": BUCKET,
        "DATA_LAKE_KMS_KEY_ARN": "arn:aws:kms:us-east-1:123456789012:key/placeholder",
        "PRIVACY_INDEX_TABLE_NAME": INDEX_TABLE,
        "DIGEST_KEY_SECRET_ARN": "arn:aws:secretsmanager:us-east-1:123456789012:secret:acme/test/PrivacyDigestKey",
        "ORDERS_TABLE_NAME": TABLES["orders"][0],
        "CUSTOMERS_TABLE_NAME": TABLES["customers"][0],
        "ABANDONED_CARTS_TABLE_NAME": TABLES["abandoned_carts"][0],
        "SUBSCRIPTIONS_TABLE_NAME": TABLES["subscriptions"][0],
        "CHARGES_TABLE_NAME": TABLES["charges"][0],
        "INVOICES_TABLE_NAME": TABLES["invoices"][0],
        "DLQ_NAMES": ",".join(DLQS),
        "ALERTS_TOPIC_ARN": "arn:aws:sns:us-east-1:123456789012:acme-data-platform-alerts",
        "PRIVACY_EXPORT_RETENTION_DAYS": "14",
        "STALE_CHECKPOINT_HOURS": "24",
        "DLQ_WAIT_SECONDS": "0",
        **overrides,
    }


@pytest.fixture(scope="session")
def app() -> ModuleType:
    """app.py as the image runs it (settings read at import; clients made on the first invocation)."""
    return lambda_loader.load_app("privacy/requests", environment(), name="privacy_requests_app", fresh=True)


@pytest.fixture(autouse=True)
def _metrics_namespace(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    from common.observability import metrics

    monkeypatch.setattr(metrics, "namespace", "acme/Privacy")
    metrics.clear_metrics()
    yield
    metrics.clear_metrics()


# ------------------------------------------------------------------------------------------ the people


def fixture(relative: str) -> Any:
    return json.loads((COPIED_FIXTURES / relative).read_text(encoding="utf-8"))


@dataclass(frozen=True)
class Someone:
    """A customer: the values a search must (or must not) find, and their ids."""

    customer_id: int
    email: str
    first: str
    last: str
    phone: str
    street: str
    order_id: int
    guest_order_id: int
    recharge_id: int
    checkout_token: str
    cart_token: str

    @property
    def needles(self) -> dict[str, str]:
        digits = "".join(c for c in self.phone if c.isdigit())
        return {
            "email": self.email.lower(),
            "name": f"{self.first} {self.last}".lower(),
            "first_name": self.first.lower(),
            "phone": self.phone.lower(),
            "phone digits": digits,
            "street": self.street.lower(),
        }

    def hits(self, text: str) -> list[str]:
        lowered = text.lower()
        return [what for what, needle in self.needles.items() if needle in lowered]


# The fixtures' own customer (Shopify's sample data: Bob Norman) is the person; the other is rewritten.
PERSON = Someone(
    customer_id=207119551,
    email="bob.norman@hostmail.com",
    first="Bob",
    last="Norman",
    phone="555-625-1199",
    street="Chestnut Street 92",
    order_id=450789469,
    guest_order_id=450789470,
    recharge_id=64962974,
    checkout_token="b1946ac92492d2347c6235b4d2611184",
    cart_token="68778783ad298f1c80c3bafcddeea02f",
)
OTHER = Someone(
    customer_id=338273,
    email="alice.quist@example.org",
    first="Alice",
    last="Quist",
    phone="613-555-0147",
    street="Elm Road 7",
    order_id=771122334,
    guest_order_id=771122335,
    recharge_id=55501,
    checkout_token="c2a71fa3b0e94c0f8d1b1f1b33c0ffee",
    cart_token="d3b82fb4c1fa5d1f9e2c2f2c44d1aaaa",
)


def _as(someone: Someone, document: Any) -> Any:
    """A fixture document made about ``someone`` instead of Bob Norman (every value of Bob's replaced)."""
    if someone is PERSON:
        return copy.deepcopy(document)
    text = json.dumps(document)
    for theirs, mine in (
        (PERSON.email, someone.email),
        (PERSON.street, someone.street),
        (PERSON.phone, someone.phone),
        ("Bob", someone.first),
        ("Norman", someone.last),
        (str(PERSON.customer_id), str(someone.customer_id)),
        (str(PERSON.order_id), str(someone.order_id)),
        (str(PERSON.recharge_id), str(someone.recharge_id)),
    ):
        text = text.replace(theirs, mine)
    return json.loads(text)


def order_payload(someone: Someone) -> dict[str, Any]:
    order = _as(someone, fixture("shopify/order__shopify-python-api.json")["order"])
    order["id"] = someone.order_id
    order["phone"] = someone.phone
    order["checkout_token"] = someone.checkout_token
    order["cart_token"] = someone.cart_token
    return dict(order)


def guest_order_payload(someone: Someone) -> dict[str, Any]:
    """A guest checkout's order: the e-mail, no customer: found by the e-mail digest only."""
    order = order_payload(someone)
    order["id"] = someone.guest_order_id
    order["name"] = f"#{someone.guest_order_id % 10000}"
    order.pop("customer", None)
    order["checkout_token"] = None
    order["cart_token"] = None
    return order


def fulfillment_payload(someone: Someone) -> dict[str, Any]:
    """A fulfillment of the guest order: no e-mail, no customer; its order id is its only link."""
    fulfillment = dict(fixture("shopify/fulfillment__shopify-python-api.json")["fulfillment"])
    fulfillment["order_id"] = someone.guest_order_id
    fulfillment["destination"] = {
        "first_name": someone.first,
        "last_name": someone.last,
        "address1": someone.street,
        "city": "Louisville",
        "zip": "40202",
        "country": "United States",
    }
    fulfillment.pop("email", None)
    return fulfillment


def customer_payload(someone: Someone) -> dict[str, Any]:
    customer = _as(someone, fixture("shopify/customer__shopify-python-api.json")["customer"])
    customer["phone"] = someone.phone
    return dict(customer)


def checkout_payload(someone: Someone) -> dict[str, Any]:
    checkout = dict(fixture("shopify/checkouts__shopify-python-api.json")["checkouts"][0])
    checkout.update(
        token=someone.checkout_token,
        cart_token=someone.cart_token,
        email=someone.email,
        phone=someone.phone,
        customer={"id": someone.customer_id, "email": someone.email, "first_name": someone.first},
        billing_address={"first_name": someone.first, "last_name": someone.last, "address1": someone.street},
        shipping_address={"first_name": someone.first, "last_name": someone.last, "address1": someone.street},
    )
    return checkout


def recharge_customer(someone: Someone) -> dict[str, Any]:
    customer = dict(fixture("recharge/customer__airbyte.json"))
    customer.update(
        id=someone.recharge_id,
        email=someone.email,
        first_name=someone.first,
        last_name=someone.last,
        phone=someone.phone,
        external_customer_id={"ecommerce": str(someone.customer_id)},
    )
    return customer


def bulk_order_lines(someone: Someone, number: int) -> list[dict[str, Any]]:
    """An Order line of a bulk export (GraphQL shape, as the simulator writes it) and a child line."""
    address = {
        "firstName": someone.first,
        "lastName": someone.last,
        "address1": someone.street,
        "address2": None,
        "city": "Louisville",
        "province": "Kentucky",
        "provinceCode": "KY",
        "country": "United States",
        "countryCodeV2": "US",
        "zip": "40202",
        "phone": someone.phone,
    }
    order_gid = f"gid://shopify/Order/{someone.order_id}"
    return [
        {
            "__typename": "Order",
            "id": order_gid,
            "name": f"#{number}",
            "email": someone.email,
            "createdAt": "2024-05-01T10:00:00Z",
            "updatedAt": "2024-05-01T10:00:00Z",
            "currencyCode": "USD",
            "displayFinancialStatus": "PAID",
            "displayFulfillmentStatus": "FULFILLED",
            "totalPriceSet": {"shopMoney": {"amount": "409.94", "currencyCode": "USD"}},
            "subtotalPriceSet": {"shopMoney": {"amount": "398.00", "currencyCode": "USD"}},
            "customer": {"id": f"gid://shopify/Customer/{someone.customer_id}"},
            "shippingAddress": address,
            "billingAddress": address,
        },
        {
            "__typename": "LineItem",
            "id": f"gid://shopify/LineItem/{someone.order_id}1",
            "title": "IPod Nano - 8gb",
            "quantity": 1,
            "originalUnitPriceSet": {"shopMoney": {"amount": "199.00", "currencyCode": "USD"}},
            "__parentId": order_gid,
        },
    ]


def envelope(topic: str, payload: Any, event_id: str) -> dict[str, Any]:
    """An EventBridge event as Shopify's partner event source delivers a webhook (stored verbatim)."""
    return {
        "version": "0",
        "id": f"envelope-{event_id}",
        "detail-type": "shopifyWebhook",
        "source": "aws.partner/shopify.com/1234567/acme",
        "account": "123456789012",
        "time": "2024-05-01T10:00:01Z",
        "region": REGION,
        "resources": [],
        "detail": {
            "metadata": {
                "Content-Type": "application/json",
                "X-Shopify-Topic": topic,
                "X-Shopify-Shop-Domain": SHOP,
                "X-Shopify-API-Version": "2026-01",
                "X-Shopify-Webhook-Id": f"wh-{event_id}",
                "X-Shopify-Event-Id": event_id,
                "X-Shopify-Triggered-At": "2024-05-01T10:00:00.000000Z",
            },
            "payload": payload,
        },
    }


def jsonl_gz(lines: list[dict[str, Any]]) -> bytes:
    return gzip.compress(b"".join(json.dumps(line, separators=(",", ":")).encode() + b"\n" for line in lines), mtime=0)


def checkpoint_blob(s3: Any, run_id: str, lines: list[dict[str, Any]]) -> bytes:
    """A bulk download's checkpoint whose tails hold these lines (the bulk download's own writer)."""
    splitter = BulkSplitter(s3, BUCKET, run_id)
    encoded = [json.dumps(line, separators=(",", ":")).encode() for line in lines]
    splitter.feed(encoded, sum(len(line) + 1 for line in encoded))
    try:
        return splitter.checkpoint()
    finally:
        splitter.close()


# ------------------------------------------------------------------------------------------ the world


class Context:
    """A Lambda context whose remaining time is given (ms), so a step's budget is the test's choice."""

    function_name = "acme-test-privacy-requests"
    function_version = "$LATEST"
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:acme-test-privacy-requests"
    memory_limit_in_mb = 2048
    aws_request_id = "request-1"
    log_group_name = "/aws/lambda/acme-test-privacy-requests"
    log_stream_name = "local"

    def __init__(self, remaining_ms: int = 900_000) -> None:
        self.remaining_ms = remaining_ms

    def get_remaining_time_in_millis(self) -> int:
        return self.remaining_ms


def erase_all(workflow: Any, request_id: str) -> dict[str, Any]:
    """Erase steps until nothing remains (or one raises), as the state machine's loop does."""
    for _ in range(200):
        answer: dict[str, Any] = workflow.handle({"step": "erase", "request_id": request_id}, Context())
        if answer["remaining"] == 0:
            return answer
    raise AssertionError("the erase steps did not end")


@dataclass
class World:
    s3: Any
    dynamodb: Any
    sqs: Any
    sns: Any
    kms_key_arn: str
    topic_arn: str
    alerts_queue_url: str
    index: PrivacyIndex
    clock: list[datetime] = field(default_factory=lambda: [FROZEN])

    # --------------------------------------------------------------------------- writing, as the platform

    def put(self, key: str, body: bytes, *, content_type: str = "application/json", index: bool = True) -> str:
        """Write an object as the platform does; the indexer then records its subjects."""
        response = self.s3.put_object(
            Bucket=BUCKET, Key=key, Body=body, ContentType=content_type, Metadata={"source": "test"}
        )
        if index and key.startswith(("raw/", "quarantine/")):
            subjects = object_subjects(key, body, DIGESTER)
            if subjects:
                self.index.record(subjects, s3_location(key), indexed_at=FROZEN, size=len(body))
        return str(response["VersionId"])

    def put_json(self, key: str, document: Any, **kwargs: Any) -> str:
        return self.put(key, json.dumps(document, indent=2).encode(), **kwargs)

    def item(self, table: str, item: dict[str, Any]) -> None:
        from common.hotstore import serialize

        self.dynamodb.put_item(TableName=TABLES[table][0], Item=serialize(item))

    def queue_url(self, name: str) -> str:
        return str(self.sqs.get_queue_url(QueueName=name)["QueueUrl"])

    def dead_letter(self, queue: str, body: Any) -> None:
        self.sqs.send_message(
            QueueUrl=self.queue_url(queue),
            MessageBody=json.dumps(body),
            MessageAttributes={
                "RULE_ARN": {"DataType": "String", "StringValue": "arn:aws:events:us-east-1:123456789012:rule/x"},
                "ERROR_CODE": {"DataType": "String", "StringValue": "Lambda.FunctionError"},
            },
        )

    def request(self, topic: str = "customers/redact", *, someone: Someone = PERSON, seed: str = "1") -> str:
        """A request record as the compliance webhook writes it; returns its key."""
        request_id = hashlib.sha256(f"{topic}:{seed}".encode()).hexdigest()[:32]
        kind = {"customers/redact": "erase", "customers/data_request": "export", "operator/export": "export"}
        origin = "operator" if topic.startswith("operator/") else "shopify"
        email = DIGESTER.email(someone.email)
        assert email is not None
        request = PrivacyRequest(
            schema=2,
            request_id=request_id,
            kind=kind.get(topic, "erase"),
            origin=origin,
            topic=topic,
            shop_domain=SHOP,
            subjects=(f"shopify-customer:{someone.customer_id}", email, f"shopify-order:{someone.order_id}"),
            received_at="2026-03-04T11:59:00+00:00",
            delivery=None,
            data_request_id=9999 if topic == "customers/data_request" else None,
        )
        key = request_key(topic, request_id)
        self.s3.put_object(Bucket=BUCKET, Key=key, Body=json.dumps(request.to_json()).encode())
        return key

    # --------------------------------------------------------------------------- reading, as a scan

    def versions(self, prefix: str = "") -> list[tuple[str, str, bytes]]:
        """(key, version id, bytes) of every object version in the bucket."""
        found = []
        for page in self.s3.get_paginator("list_object_versions").paginate(Bucket=BUCKET, Prefix=prefix):
            for version in page.get("Versions", []):
                body = self.s3.get_object(Bucket=BUCKET, Key=version["Key"], VersionId=version["VersionId"])["Body"]
                found.append((version["Key"], version["VersionId"], body.read()))
        return found

    def current(self, key: str) -> bytes:
        return bytes(self.s3.get_object(Bucket=BUCKET, Key=key)["Body"].read())

    def items(self) -> list[tuple[str, dict[str, Any]]]:
        from common.hotstore import deserialize

        found = []
        for name, _ in TABLES.values():
            for page in self.dynamodb.get_paginator("scan").paginate(TableName=name):
                found += [(name, deserialize(raw)) for raw in page.get("Items", [])]
        return found

    def messages(self, queue: str) -> list[dict[str, Any]]:
        """Every message of a queue (body and attributes), each made visible again afterwards."""
        url = self.queue_url(queue)
        seen: list[dict[str, Any]] = []
        handles = []
        while True:
            batch = self.sqs.receive_message(
                QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=60, MessageAttributeNames=["All"]
            ).get("Messages", [])
            if not batch:
                break
            seen += batch
            handles += [m["ReceiptHandle"] for m in batch]
        for handle in handles:
            self.sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=handle, VisibilityTimeout=0)
        return seen

    def notifications(self) -> list[dict[str, Any]]:
        batch = self.sqs.receive_message(QueueUrl=self.alerts_queue_url, MaxNumberOfMessages=10).get("Messages", [])
        return [json.loads(m["Body"]) for m in batch]

    # --------------------------------------------------------------------------- the workflow

    def workflow(self, app: ModuleType, **overrides: str) -> Any:
        settings = load_settings(app.Settings, environment(DATA_LAKE_KMS_KEY_ARN=self.kms_key_arn, **overrides))
        return app.Workflow(
            settings,
            s3=self.s3,
            dynamodb=self.dynamodb,
            sqs=self.sqs,
            sns=self.sns,
            index=self.index,
            digester=lambda: DIGESTER,
            clock=lambda: self.clock[0],
        )


@pytest.fixture
def world() -> Iterator[World]:
    with mock_aws():
        yield make_world()


def make_world() -> World:
    """An empty deployed-like account: the versioned lake, the tables of infrastructure/shared, the
    privacy index, the five Shopify DLQs, the alerts topic (with a queue subscribed to read it)."""
    session = boto3.session.Session(region_name=REGION)
    s3 = session.client("s3")
    s3.create_bucket(Bucket=BUCKET)
    s3.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})
    kms_key_arn = session.client("kms").create_key(Description="lake")["KeyMetadata"]["Arn"]
    dynamodb = session.client("dynamodb")
    template = load_template(REPO_ROOT / "infrastructure" / "shared" / "dynamodb-tables.yaml")
    for name, logical_id in TABLES.values():
        props = template["Resources"][logical_id]["Properties"]
        dynamodb.create_table(
            TableName=name,
            AttributeDefinitions=props["AttributeDefinitions"],
            KeySchema=props["KeySchema"],
            GlobalSecondaryIndexes=props["GlobalSecondaryIndexes"],
            BillingMode="PAY_PER_REQUEST",
        )
    dynamodb.create_table(
        TableName=INDEX_TABLE,
        AttributeDefinitions=[
            {"AttributeName": "subject", "AttributeType": "S"},
            {"AttributeName": "location", "AttributeType": "S"},
        ],
        KeySchema=[{"AttributeName": "subject", "KeyType": "HASH"}, {"AttributeName": "location", "KeyType": "RANGE"}],
        BillingMode="PAY_PER_REQUEST",
    )
    sqs = session.client("sqs")
    for name in DLQS:
        sqs.create_queue(QueueName=name)
    sns = session.client("sns")
    topic_arn = sns.create_topic(Name="acme-data-platform-alerts")["TopicArn"]
    alerts_queue_url = sqs.create_queue(QueueName="alerts-reader")["QueueUrl"]
    alerts_queue_arn = sqs.get_queue_attributes(QueueUrl=alerts_queue_url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    sns.subscribe(TopicArn=topic_arn, Protocol="sqs", Endpoint=alerts_queue_arn)
    index = PrivacyIndex(session.resource("dynamodb").Table(INDEX_TABLE), sleep=lambda _: None)
    return World(
        s3=s3,
        dynamodb=dynamodb,
        sqs=sqs,
        sns=sns,
        kms_key_arn=kms_key_arn,
        topic_arn=topic_arn,
        alerts_queue_url=alerts_queue_url,
        index=index,
    )


# ------------------------------------------------------------------------------------------ the lake


@dataclass(frozen=True)
class Keys:
    order: str
    order_update: str
    guest_order: str
    fulfillment: str
    customer: str
    recharge: str
    bulk: str
    quarantine: str
    checkpoint: str
    other_order: str
    other_customer: str
    other_recharge: str


def webhook_key(entity: str, topic: str, event_id: str) -> str:
    return f"raw/shopify/webhooks/{entity}/topic={topic}/dt=2024-05-01/{event_id}.json"


def populate(world: World) -> Keys:
    """The person's data through every path, and another customer's beside it."""
    keys = Keys(
        order=webhook_key("orders", "orders_create", "evt-person-order"),
        order_update=webhook_key("orders", "orders_updated", "evt-person-order-update"),
        guest_order=webhook_key("orders", "orders_create", "evt-person-guest-order"),
        fulfillment=webhook_key("fulfillments", "fulfillments_create", "evt-person-fulfillment"),
        customer=webhook_key("customers", "customers_update", "evt-person-customer"),
        recharge=f"raw/recharge/customer/topic=customer_updated/dt=2024-05-01/{PERSON.recharge_id}-20240501T100000.json",
        bulk="raw/shopify/bulk/orders/run=4100/part-00001.jsonl.gz",
        quarantine="quarantine/shopify/dt=2024-05-01/unknown-topic/" + "a" * 64 + ".json",
        checkpoint="metadata/shopify/bulk/run=4099/checkpoints/step-00001.ckpt",
        other_order=webhook_key("orders", "orders_create", "evt-other-order"),
        other_customer=webhook_key("customers", "customers_update", "evt-other-customer"),
        other_recharge=f"raw/recharge/customer/topic=customer_updated/dt=2024-05-01/{OTHER.recharge_id}-20240501T100000.json",
    )
    # The person's order webhook, delivered twice (a redelivery keeps the first as an older version).
    world.put_json(keys.order, envelope("orders/create", order_payload(PERSON), "evt-person-order"))
    world.put_json(keys.order, envelope("orders/create", order_payload(PERSON), "evt-person-order"))
    world.put_json(keys.order_update, envelope("orders/updated", order_payload(PERSON), "evt-person-order-update"))
    world.put_json(keys.guest_order, envelope("orders/create", guest_order_payload(PERSON), "evt-person-guest-order"))
    world.put_json(
        keys.fulfillment, envelope("fulfillments/create", fulfillment_payload(PERSON), "evt-person-fulfillment")
    )
    world.put_json(keys.customer, envelope("customers/update", customer_payload(PERSON), "evt-person-customer"))
    world.put_json(keys.recharge, {"customer": recharge_customer(PERSON)})
    world.put(
        keys.bulk,
        jsonl_gz(bulk_order_lines(PERSON, 1001) + bulk_order_lines(OTHER, 1002)),
        content_type="application/gzip",
    )
    world.put(
        keys.quarantine,
        json.dumps(envelope("checkouts/create", checkout_payload(PERSON), "evt-person-checkout")).encode(),
        content_type="application/octet-stream",
    )
    # A finished bulk run: its checkpoint deleted by its last step, its version kept behind the marker.
    world.put(keys.checkpoint, checkpoint_blob(world.s3, "4099", bulk_order_lines(PERSON, 1001)), index=False)
    world.s3.delete_object(Bucket=BUCKET, Key=keys.checkpoint)
    other_checkpoint = "metadata/shopify/bulk/run=4098/checkpoints/step-00001.ckpt"
    world.put(other_checkpoint, checkpoint_blob(world.s3, "4098", bulk_order_lines(OTHER, 1002)), index=False)
    world.s3.delete_object(Bucket=BUCKET, Key=other_checkpoint)
    # The other customer.
    world.put_json(keys.other_order, envelope("orders/create", order_payload(OTHER), "evt-other-order"))
    world.put_json(keys.other_customer, envelope("customers/update", customer_payload(OTHER), "evt-other-customer"))
    world.put_json(keys.other_recharge, {"customer": recharge_customer(OTHER)})
    # Dead letters: the person's poison order event, and the other customer's.
    world.dead_letter(DLQS[0], envelope("orders/updated", order_payload(PERSON), "evt-person-poison"))
    world.dead_letter(DLQS[0], envelope("orders/updated", order_payload(OTHER), "evt-other-poison"))
    world.dead_letter(DLQS[2], envelope("customers/update", customer_payload(OTHER), "evt-other-poison-2"))
    # Hot stores, as the processors and the Recharge function write them.
    for someone in (PERSON, OTHER):
        world.item(
            "orders",
            {
                "order_id": str(someone.order_id),
                "record": "ORDER",
                "customer_id": str(someone.customer_id),
                "created_at": "2024-05-01T10:00:00.000000Z",
                "name": "#1001",
                "currency": "USD",
                "total_price": {"amount": "409.94", "currency": "USD"},
                "financial_status": "paid",
                "checkout_token": someone.checkout_token,
                "cart_token": someone.cart_token,
            },
        )
        world.item(
            "orders",
            {"order_id": str(someone.order_id), "record": "FULFILLMENT#255858046", "status": "success"},
        )
        world.item(
            "customers",
            {
                "customer_key": f"shopify:{someone.customer_id}",
                "shopify_customer_id": str(someone.customer_id),
                "state": "enabled",
                "default_address": {"country_code": "US", "province_code": "KY"},
            },
        )
        # A Recharge customer item written before the contact fields were retired.
        world.item(
            "customers",
            {
                "customer_key": f"recharge:{someone.recharge_id}",
                "shopify_customer_id": str(someone.customer_id),
                "email": someone.email,
                "first_name": someone.first,
                "last_name": someone.last,
                "subscriptions_active_count": 1,
            },
        )
        world.item(
            "subscriptions",
            {
                "subscription_id": f"sub-{someone.recharge_id}",
                "customer_id": str(someone.recharge_id),
                "price": "19.99",
            },
        )
        world.item(
            "charges",
            {"charge_id": f"ch-{someone.recharge_id}", "customer_id": str(someone.recharge_id), "total_price": "19.99"},
        )
        world.item(
            "abandoned_carts",
            {
                "cart_token": f"checkout:{someone.checkout_token}",
                "checkout_token": someone.checkout_token,
                "customer_id": str(someone.customer_id),
                "kind": "checkout",
                "total_price": {"amount": "409.94", "currency": "USD"},
            },
        )
    return keys
