"""Demo step: a day of Shopify webhooks through the local Shopify event bus, and what landed where.

The traffic is generated deterministically (a fixed seed) from the shapes of the real samples in
tests/fixtures/shopify/: customers who sign up and change their marketing consent, carts of which some
convert into orders (paid, fulfilled, one cancelled) and the rest are abandoned, checkouts, product
updates, plus what Shopify really does to a receiver: a few redeliveries of the same event, late
deliveries of older versions, one payload reduced to its id (fetched back from the Admin API simulator),
one malformed event (quarantined) and one poison event (Shopify answers 503 while it is fetched, so it
fails every attempt and lands in the DLQ; the step then redrives it), and an outage: the orders/*
subscription is gone for a few hours (``OUTAGE_HOURS``), so every orders/* delivery Shopify triggers then
is lost, leaving orders missing or stale in the hot store until the next bulk run heals them (the
``shopify.bulk`` step). Every order's newest version is stored in the Shopify simulator as the shop's
truth (the reduced payload's lookup and the bulk export read it). The report shows rows per table,
objects per lake prefix, the quarantine and DLQ contents before and after the redrive, and the DLQ's
alarm going to ALARM once the poison event lands and back to OK after the redrive, with the alert the
alerts topic delivered each time.
"""

from __future__ import annotations

import copy
import io
import json
import random
import time
import urllib.request
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

from platformctl.manifest import REPO_ROOT
from platformctl.scenarios.report import Report

ORDER = 10
SEED = 20260601
# The 24 hours before the current hour: the day's shape is fixed by SEED, its dates are recent, so the lake
# partitions and the data-quality freshness checks see it as live traffic.
DAY = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - timedelta(hours=24)
SHOP = "example.myshopify.com"  # the shop of the local ShopifyAdminApiSecret (ShopDomain parameter)
FIXTURES = REPO_ROOT / "tests" / "fixtures" / "shopify"
# The source the local bus's rules and the processors accept: .local-cloud/endpoints.json names it as
# event_source (the stack's ShopifyEventSource output); this is the local parameter file's value.
LOCAL_EVENT_SOURCE = "aws.partner/shopify.com/1234567/acme-local"
CUSTOMERS, CARTS, CONVERTING, PRODUCTS = 10, 27, 20, 3
CART_SPACING_HOURS = 0.5  # the last cart opens before 22:00 of the day, its order is final before the end
# Hours of the day during which the orders/* subscription is gone: those deliveries are lost.
OUTAGE_HOURS = (14.0, 18.0)
LOST_TOPICS = "orders/"
ALARM_WAIT_SECONDS = 60  # a DLQ alarm's five-minute period lasts seconds locally (docs/local-cloud.md)


def _sample(name: str) -> Any:
    return json.loads((FIXTURES / f"{name}__shopify-python-api.json").read_text(encoding="utf-8"))


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


class Day:
    """The day's events, in the order Shopify triggers them (deliveries are reordered later)."""

    def __init__(self) -> None:
        self.rng = random.Random(SEED)  # noqa: S311 - deterministic demo data, not security
        self.events: list[dict[str, Any]] = []
        self.shop_orders: dict[str, dict[str, Any]] = {}  # order id -> its newest version (Shopify's)
        self.expected: dict[str, Any] = {"orders": [], "converted": set(), "abandoned": set(), "checkouts": 0}
        self.order_shape = _sample("order")["order"]
        self.customer_shape = _sample("customer")["customer"]
        self.fulfillment_shape = _sample("fulfillment")["fulfillment"]
        self.product_shape = _sample("product")["product"]
        self.checkout_shape = _sample("checkouts")["checkouts"][0]

    def event(self, topic: str, payload: dict[str, Any], at: datetime) -> dict[str, Any]:
        number = len(self.events) + 1
        event = {
            "version": "0",
            "id": f"demo-envelope-{number:04d}",
            "detail-type": "shopifyWebhook",
            "source": LOCAL_EVENT_SOURCE,
            "detail": {
                "payload": payload,
                "metadata": {
                    "Content-Type": "application/json",
                    "X-Shopify-Topic": topic,
                    "X-Shopify-Shop-Domain": SHOP,
                    "X-Shopify-API-Version": "2026-10",
                    "X-Shopify-Webhook-Id": f"demo-webhook-{number:04d}",
                    "X-Shopify-Event-Id": f"demo-{number:04d}",
                    "X-Shopify-Triggered-At": _iso(at),
                },
            },
        }
        self.events.append(event)
        return event

    def at(self, hour: float) -> datetime:
        return DAY + timedelta(hours=hour, seconds=self.rng.randint(0, 3599))

    def build(self) -> None:
        customers = []
        for index in range(CUSTOMERS):
            customer_id = 7_100_000_000 + index
            signup = self.at(1 + index)
            customer = copy.deepcopy(self.customer_shape)
            customer.update(id=customer_id, created_at=_iso(signup), updated_at=_iso(signup), orders_count=0)
            customer.update(email=f"customer{index}@example.com", first_name=f"Customer{index}", last_name="Demo")
            customer["email_marketing_consent"] = {
                "state": "not_subscribed",
                "opt_in_level": None,
                "consent_updated_at": None,
            }
            self.event("customers/create", customer, signup)
            customers.append(customer)
            if index % 4 == 0:
                consent_at = signup + timedelta(minutes=5)
                consent = {
                    "state": "subscribed",
                    "opt_in_level": "single_opt_in",
                    "consent_updated_at": _iso(consent_at),
                }
                payload = {
                    "customer_id": customer_id,
                    "email_address": customer["email"],
                    "email_marketing_consent": consent,
                }
                self.event("customers_email_marketing_consent/update", payload, consent_at)
        for index in range(PRODUCTS):
            product = copy.deepcopy(self.product_shape)
            product.update(id=6_300_000_000 + index, title=f"Demo product {index}", updated_at=_iso(self.at(index)))
            self.event("products/update", product, DAY + timedelta(hours=index))
        for index in range(CARTS):
            self.cart(index, customers[index % CUSTOMERS])

    def cart(self, index: int, customer: dict[str, Any]) -> None:
        token = f"demo-cart-{index:02d}"
        opened = self.at(6 + index * CART_SPACING_HOURS)
        quantity = self.rng.randint(1, 3)
        line = {
            "product_id": 6_300_000_000 + index % PRODUCTS,
            "variant_id": 808950810,
            "quantity": quantity,
            "price": "19.90",
            "line_price": f"{19.90 * quantity:.2f}",
            "sku": f"DEMO-{index % PRODUCTS}",
        }
        cart = {
            "id": token,
            "token": token,
            "line_items": [line],
            "created_at": _iso(opened),
            "updated_at": _iso(opened),
        }
        self.event("carts/create", cart, opened)
        updated = opened + timedelta(minutes=3)
        self.event("carts/update", dict(cart, updated_at=_iso(updated)), updated)
        checkout_token = None
        if index % 3 == 0:  # a third reach the checkout
            checkout_token = f"demo-checkout-{index:02d}"
            checkout = copy.deepcopy(self.checkout_shape)
            at = updated + timedelta(minutes=4)
            checkout.update(id=9_800_000_000 + index, token=checkout_token, cart_token=token, email=customer["email"])
            checkout.update(created_at=_iso(at), updated_at=_iso(at), customer={"id": customer["id"]})
            self.event("checkouts/create", checkout, at)
            self.expected["checkouts"] += 1
        if index >= CONVERTING:
            self.expected["abandoned"].add(token)
            return
        self.order(index, token, checkout_token, customer, updated + timedelta(minutes=10), line)

    def order(
        self, index: int, cart: str, checkout: str | None, customer: dict[str, Any], at: datetime, line: dict[str, Any]
    ) -> None:
        order_id = 5_600_000_000 + index
        order = copy.deepcopy(self.order_shape)
        price = line["line_price"]
        order.update(id=order_id, name=f"#{2000 + index}", order_number=2000 + index, cart_token=cart)
        order.update(checkout_token=checkout, created_at=_iso(at), updated_at=_iso(at), financial_status="pending")
        order.update(fulfillment_status=None, total_price=price, subtotal_price=price, total_tax="0.00", currency="USD")
        order.update(customer={"id": customer["id"], "email": customer["email"]}, email=customer["email"])
        order.pop("total_price_set", None)
        order["line_items"] = [
            dict(self.order_shape["line_items"][0], id=order_id * 10, quantity=line["quantity"], price="19.90")
        ]
        self.expected["converted"].add(cart)
        self.event("orders/create", order, at)
        paid_at = at + timedelta(minutes=1)
        paid = dict(order, financial_status="paid", updated_at=_iso(paid_at))
        self.event("orders/paid", paid, paid_at)
        final = paid
        if index % 2 == 0:  # fulfilled
            shipped = paid_at + timedelta(hours=2)
            fulfillment = copy.deepcopy(self.fulfillment_shape)
            fulfillment.update(id=2_550_000_000 + index, order_id=order_id, status="success")
            fulfillment.update(shipment_status="in_transit", created_at=_iso(shipped), updated_at=_iso(shipped))
            fulfillment.update(tracking_numbers=[f"1Z{order_id}"], tracking_number=f"1Z{order_id}")
            self.event("fulfillments/create", fulfillment, shipped)
            final = dict(paid, fulfillment_status="fulfilled", updated_at=_iso(shipped))
            self.event("orders/fulfilled", final, shipped)
        if index == 5:  # one customer changes their mind
            cancelled_at = paid_at + timedelta(hours=1)
            final = dict(paid, cancelled_at=_iso(cancelled_at), cancel_reason="customer", financial_status="refunded")
            final["updated_at"] = _iso(cancelled_at)
            self.event("orders/cancelled", final, cancelled_at)
        if index == 3:  # this one is big: EventBridge delivers orders/updated reduced to its id
            edited_at = paid_at + timedelta(hours=5)
            final = dict(final, note="gift wrap", updated_at=_iso(edited_at))
            reduced = self.event("orders/updated", {"id": order_id}, edited_at)
            self.expected["reduced"] = (str(order_id), reduced["detail"]["metadata"]["X-Shopify-Event-Id"])
        self.shop_orders[str(order_id)] = final
        self.expected["orders"].append((str(order_id), final["financial_status"], final.get("fulfillment_status")))


def lost(event: dict[str, Any]) -> bool:
    """Whether the outage loses the event: an orders/* webhook triggered while the subscription is gone."""
    metadata = event["detail"]["metadata"]
    start, end = (DAY + timedelta(hours=h) for h in OUTAGE_HOURS)
    triggered = datetime.fromisoformat(metadata["X-Shopify-Triggered-At"].replace("Z", "+00:00"))
    return bool(metadata["X-Shopify-Topic"].startswith(LOST_TOPICS) and start <= triggered < end)


def _order_id(event: dict[str, Any]) -> str | None:
    metadata, payload = event["detail"]["metadata"], event["detail"]["payload"]
    return str(payload.get("id")) if metadata["X-Shopify-Topic"].startswith("orders/") else None


def delivered_orders(day: Day) -> dict[str, dict[str, Any]]:
    """Per order, the newest version a delivered orders/* webhook carried (the reduced one's lookup is
    the shop's newest): what the hot store holds after the day. Orders no delivery reached are absent."""
    newest: dict[str, dict[str, Any]] = {}
    for event in day.events:
        order_id = _order_id(event)
        if order_id is None or lost(event):
            continue
        payload = event["detail"]["payload"]
        version = day.shop_orders[order_id] if set(payload) == {"id"} else payload
        if order_id not in newest or version["updated_at"] > newest[order_id]["updated_at"]:
            newest[order_id] = version
    return newest


def _deliveries(day: Day) -> list[dict[str, Any]]:
    """The day as Shopify delivers it: mostly in order, some redelivered, some late, and none of the
    outage's orders/* webhooks (nor their redeliveries)."""
    rng = random.Random(SEED + 1)  # noqa: S311 - deterministic demo data, not security
    deliveries = list(day.events)
    late = [e for e in deliveries if e["detail"]["metadata"]["X-Shopify-Topic"] == "orders/create"][:3]
    for event in late:  # Shopify's retry delivers the create after the later updates
        deliveries.remove(event)
        deliveries.append(event)
    for event in rng.sample(day.events, 6):  # redeliveries: the same event id again
        deliveries.insert(rng.randrange(len(deliveries) + 1), copy.deepcopy(event))
    return [event for event in deliveries if not lost(event)]


def _malformed(day: Day) -> dict[str, Any]:
    event = day.event("orders/create", dict(day.order_shape, id="order-without-an-id"), DAY + timedelta(hours=23))
    day.events.remove(event)
    return event


def _poison(day: Day) -> tuple[dict[str, Any], dict[str, Any]]:
    order = copy.deepcopy(day.order_shape)
    order.update(id=5_699_999_999, name="#2999", order_number=2999, cart_token=None, checkout_token=None)
    order.update(updated_at=_iso(DAY + timedelta(hours=22)), financial_status="paid")
    event = day.event("orders/updated", {"id": order["id"]}, DAY + timedelta(hours=22))
    day.events.remove(event)
    return event, order


def _post(url: str, body: Any) -> None:
    request = urllib.request.Request(  # noqa: S310 - the local simulator's URL, http://127.0.0.1:<port>
        url, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"}, method="POST"
    )
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
        response.read()


def event_source(endpoints: dict[str, Any]) -> str:
    """The source Shopify events on the local bus must carry (anything else is ignored by the rules)."""
    return str(endpoints.get("event_source") or LOCAL_EVENT_SOURCE)


def _put(cloud: Any, bus: str, events: list[dict[str, Any]], source: str) -> None:
    client = cloud.target.client("events")
    for start in range(0, len(events), 10):
        entries = [
            {
                "Source": source,
                "DetailType": e["detail-type"],
                "Detail": json.dumps(e["detail"]),
                "EventBusName": bus,
            }
            for e in events[start : start + 10]
        ]
        failed = client.put_events(Entries=entries)["FailedEntryCount"]
        if failed:
            raise RuntimeError(f"PutEvents refused {failed} event(s)")


def _scan(cloud: Any, table: str) -> list[dict[str, Any]]:
    from boto3.dynamodb.types import TypeDeserializer

    deserializer = TypeDeserializer()
    pages = cloud.target.client("dynamodb").get_paginator("scan").paginate(TableName=table)
    return [{k: deserializer.deserialize(v) for k, v in item.items()} for page in pages for item in page["Items"]]


def _objects(cloud: Any, bucket: str, prefix: str) -> list[str]:
    pages = cloud.target.client("s3").get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
    return [o["Key"] for page in pages for o in page.get("Contents", [])]


def _dlq(cloud: Any, url: str) -> list[dict[str, Any]]:
    response = cloud.target.client("sqs").receive_message(
        QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=0, MessageAttributeNames=["All"]
    )
    return list(response.get("Messages", []))


def _send(cloud: Any, endpoints: dict[str, Any], report: Report, day: Day) -> tuple[dict[str, Any], float]:
    """Send the day, the malformed event and the poison event; the poison event's order for the end and
    when it was sent (epoch seconds)."""
    bus, simulator = endpoints["event_bus"], endpoints["simulators"]["shopify"]
    malformed = _malformed(day)
    poison, poison_order = _poison(day)
    deliveries = _deliveries(day)
    _post(f"{simulator}/_simulator/resources/orders", [*day.shop_orders.values(), poison_order])
    report.section("shopify real-time: a day of webhooks through the local Shopify event bus")
    topics = Counter(e["detail"]["metadata"]["X-Shopify-Topic"] for e in day.events)
    dropped = Counter(e["detail"]["metadata"]["X-Shopify-Topic"] for e in day.events if lost(e))
    distinct = {e["id"] for e in deliveries}
    report.line(
        f"{len(day.events)} events of {len(topics)} topics as {len(deliveries)} deliveries "
        f"({len(deliveries) - len(distinct)} redeliveries, 3 late), one malformed and one poison event"
    )
    start, end = (DAY + timedelta(hours=h) for h in OUTAGE_HOURS)
    report.line(
        f"outage: the orders/* subscription is gone {start:%H:%M}-{end:%H:%M} UTC; "
        f"{sum(dropped.values())} orders/* webhooks of {sum(topics[t] for t in topics if t.startswith(LOST_TOPICS))} "
        "are never delivered"
    )
    report.table(("TOPIC", "EVENTS", "LOST"), [(t, n, dropped.get(t, 0)) for t, n in sorted(topics.items())])
    source = event_source(endpoints)
    _put(cloud, bus, deliveries, source)
    _put(cloud, bus, [malformed], source)
    # Shopify answers 503 on every try while the poison event's order is fetched (3 Lambda attempts x
    # 3 HTTP tries each). Sent once the rest has settled, so no other fetch meets the outage.
    cloud.wait_idle(300)
    _post(f"{simulator}/_simulator/control", {"http_error": {"status": 503, "times": 9}})
    sent = time.time()
    _put(cloud, bus, [poison], source)
    cloud.wait_idle(300)
    _post(f"{simulator}/_simulator/control", {"http_error": None})
    return poison_order, sent


def _report_tables(cloud: Any, tables: dict[str, str], report: Report, day: Day) -> None:
    orders = _scan(cloud, tables["orders"])
    order_items = {i["order_id"]: i for i in orders if i["record"] == "ORDER"}
    fulfillments = [i for i in orders if i["record"].startswith("FULFILLMENT#")]
    carts = _scan(cloud, tables["abandoned_carts"])
    customers = [c for c in _scan(cloud, tables["customers"]) if str(c["customer_key"]).startswith("shopify:71")]
    subscribed = sum(1 for c in customers if (c.get("email_marketing_consent") or {}).get("state") == "subscribed")
    demo_carts = [c for c in carts if str(c["cart_token"]).startswith("demo-cart-")]
    demo_checkouts = [c for c in carts if str(c["cart_token"]).startswith("checkout:demo-checkout-")]
    converted = {c["cart_token"] for c in demo_carts if c.get("converted_order_id")}
    abandoned = {c["cart_token"] for c in demo_carts if not c.get("converted_order_id")}
    report.section("hot stores")
    report.table(
        ("TABLE", "ITEMS", "DETAIL"),
        [
            ("orders", len(order_items), f"+ {len(fulfillments)} fulfillment items"),
            ("customers", len(customers), f"{subscribed} subscribed to e-mail"),
            (
                "abandoned_carts",
                len(demo_carts) + len(demo_checkouts),
                f"{len(demo_carts)} carts ({len(converted)} converted, {len(abandoned)} abandoned), "
                f"{len(demo_checkouts)} checkouts",
            ),
        ],
    )
    expected = day.expected
    delivered = delivered_orders(day)
    # A cart is marked converted by any delivered orders/* webhook of its order, so the outage leaves the
    # carts of orders no delivery reached looking abandoned until the next bulk run heals those orders and
    # marks their carts (shopify_bulk checks it; docs/shopify-bulk.md).
    unmarked = {o["cart_token"] for i, o in day.shop_orders.items() if i not in delivered}
    report.expect(converted == expected["converted"] - unmarked, f"converted carts {sorted(converted)}")
    report.expect(abandoned == expected["abandoned"] | unmarked, f"abandoned carts {sorted(abandoned)}")
    report.expect(len(customers) == CUSTOMERS, f"{len(customers)} customers, expected {CUSTOMERS}")
    missing = stale = 0
    for order_id, _status, _fulfillment in expected["orders"]:
        item = order_items.get(order_id)
        found = (item["financial_status"], item["fulfillment_status"]) if item else None
        version = delivered.get(order_id)
        want = (version["financial_status"], version.get("fulfillment_status")) if version else None
        missing += version is None
        stale += version is not None and version["updated_at"] != day.shop_orders[order_id]["updated_at"]
        report.expect(
            found == want, f"order {order_id} is {found}, expected {want}: a late, repeated or lost delivery won"
        )
    report.line(
        f"orders: {len(expected['orders']) - missing - stale} as Shopify has them, {stale} at an older version, "
        f"{missing} missing (the outage); the next bulk run heals them"
    )
    order_id, event_id = expected["reduced"]
    if order_id in delivered:
        reduced = order_items.get(order_id, {})
        report.expect(
            reduced.get("source_event_id") == event_id, f"the reduced orders/updated {event_id} was not applied"
        )
        report.line(f"the reduced orders/updated of order {order_id} was completed from the Admin API and applied")


def _report_lake(cloud: Any, bucket: str, report: Report, day: Day) -> None:
    demo_raw = [k for k in _objects(cloud, bucket, "raw/shopify/webhooks/") if "/demo-" in k]
    per_entity = Counter(k.split("/")[3] for k in demo_raw)
    report.section("lake")
    report.table(("PREFIX", "OBJECTS"), [(f"raw/shopify/webhooks/{e}/", n) for e, n in sorted(per_entity.items())])
    snapshots = _objects(cloud, bucket, "processed/shopify/product_snapshots/")
    report.line(f"processed/shopify/product_snapshots/: {len(snapshots)} snapshots")
    distinct = sum(1 for e in day.events if not lost(e)) + 1  # and the poison event's raw object
    report.expect(
        len(demo_raw) == distinct, f"{len(demo_raw)} raw objects for {distinct} events: a redelivery duplicated"
    )
    quarantined = _objects(cloud, bucket, "quarantine/shopify/")
    report.line(f"quarantine/shopify/: {len(quarantined)} object(s)")
    for key in quarantined[-3:]:
        report.line(f"  {key}")
    report.expect(any("/bad-id/" in k for k in quarantined), "the malformed event is not in quarantine")


def _dlq_alarm(cloud: Any, queue_url: str) -> str | None:
    """The name of the template's alarm on the queue's depth (found by its metric, not by name)."""
    queue = queue_url.rsplit("/", 1)[1]
    dimensions = [{"Name": "QueueName", "Value": queue}]
    found = cloud.target.client("cloudwatch").describe_alarms_for_metric(
        MetricName="ApproximateNumberOfMessagesVisible", Namespace="AWS/SQS", Dimensions=dimensions
    )["MetricAlarms"]
    names = [a["AlarmName"] for a in found if a.get("Dimensions") == dimensions]
    return names[0] if names else None


def _alarm_reaches(cloud: Any, name: str, state: str, since: float) -> tuple[dict[str, Any], float] | None:
    """Wait (bounded) for the alarm to be in ``state``; the alarm and how long after ``since`` (epoch
    seconds) its state changed."""
    cloudwatch = cloud.target.client("cloudwatch")
    deadline = time.monotonic() + ALARM_WAIT_SECONDS
    while time.monotonic() < deadline:
        alarm = cloudwatch.describe_alarms(AlarmNames=[name])["MetricAlarms"][0]
        if alarm["StateValue"] == state:
            return alarm, alarm["StateUpdatedTimestamp"].timestamp() - since
        time.sleep(0.25)
    return None


def _delivered(cloud: Any, name: str, state: str) -> dict[str, Any] | None:
    """The alerts topic's last message about the alarm entering ``state`` (from its mailbox)."""
    from platformctl.localcloud.mailbox import mailbox_path, read

    topic = cloud.stack_outputs().get("monitoring/monitoring", {}).get("AlertsTopicArn")
    if not topic:
        return None
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        for entry in reversed(list(read(mailbox_path(cloud.mailbox_dir, topic)))):
            try:
                body = json.loads(entry.get("Message", ""))
            except ValueError:
                continue
            if isinstance(body, dict) and body.get("AlarmName") == name and body.get("NewStateValue") == state:
                return {"Subject": entry.get("Subject"), "OldStateValue": body.get("OldStateValue")}
        time.sleep(0.25)
    return None


def _report_alarm(cloud: Any, report: Report, name: str | None, state: str, since: tuple[float, str]) -> None:
    """Wait for the DLQ alarm to reach ``state``; report the transition and the alert delivered."""
    if name is None:
        report.expect(False, "the orders DLQ has no alarm on its depth")
        return
    reached = _alarm_reaches(cloud, name, state, since[0])
    if reached is None:
        report.expect(False, f"alarm {name} did not reach {state} within {ALARM_WAIT_SECONDS}s")
        return
    alarm, after = reached
    delivered = _delivered(cloud, name, state)
    report.expect(delivered is not None, f"the alerts topic delivered no {state} notification of {name}")
    old = (delivered or {}).get("OldStateValue") or "?"
    report.line(f"alarm {name}: {old} -> {state} {after:.1f}s {since[1]}: {alarm['StateReason']}")
    if delivered:
        report.line(f"  the alerts topic delivered {delivered['Subject']}")


def _report_dlq_and_redrive(
    cloud: Any, endpoints: dict[str, Any], report: Report, poison_order: dict[str, Any], sent: float
) -> None:
    from platformctl.aws_target import Target
    from platformctl.commands.redrive import redrive

    report.section("dead-letter queue (orders), then `platformctl redrive --env local --dlq orders`")
    url = endpoints["dlqs"]["orders"]
    waiting = _dlq(cloud, url)
    for message in waiting:
        metadata = json.loads(message["Body"])["detail"]["metadata"]
        reason = (message.get("MessageAttributes", {}).get("ErrorMessage") or {}).get("StringValue", "")
        report.line(f"  {metadata['X-Shopify-Topic']} {metadata['X-Shopify-Event-Id']}: {reason[:90]}")
    report.expect(len(waiting) == 1, f"{len(waiting)} message(s) in the orders DLQ, expected the poison event only")
    alarm = _dlq_alarm(cloud, url)
    _report_alarm(cloud, report, alarm, "ALARM", (sent, "after the poison event was sent"))
    out = io.StringIO()
    redriven_at = time.time()
    result = redrive(Target("local", endpoint_url=cloud.endpoint_url, region=endpoints["region"]), "orders", out=out)
    cloud.wait_idle(300)
    for line in out.getvalue().splitlines():
        report.line(line)
    after = _dlq(cloud, url)
    orders = {i["order_id"]: i for i in _scan(cloud, endpoints["tables"]["orders"]) if i["record"] == "ORDER"}
    redriven = orders.get(str(poison_order["id"]))
    state = "is" if redriven else "is NOT"
    report.line(f"after the redrive: {len(after)} message(s) in the DLQ; order {poison_order['id']} {state} stored")
    report.expect(result.accepted == 1 and not after, "the redrive did not empty the orders DLQ")
    report.expect(
        redriven is not None and redriven["financial_status"] == "paid", "the redriven event was not processed"
    )
    _report_alarm(cloud, report, alarm, "OK", (redriven_at, "after the redrive started"))


def step(cloud: Any, report: Report) -> None:
    import platformctl.simulators.shopify_resources  # noqa: F401 - the Admin API lookups of reduced payloads

    endpoints = cloud.endpoints()
    day = Day()
    day.build()
    poison_order, sent = _send(cloud, endpoints, report, day)
    _report_tables(cloud, endpoints["tables"], report, day)
    _report_lake(cloud, endpoints["bucket"], report, day)
    _report_dlq_and_redrive(cloud, endpoints, report, poison_order, sent)
