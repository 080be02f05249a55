"""Demo step: Recharge webhooks over real HTTP, signed the way Recharge signs them.

The webhook secret is read from the local Secrets Manager (the ``RechargeWebhookSecret`` the shared stack
generated), as Recharge would hold it, and the webhook URL is the stack's RechargeWebhookUrl followed by the
secret's path token (``platformctl recharge url``). With a plain HTTP client the step sends, for every
resource, a delivery signed as Recharge signs today (both headers) to the common URL and a
timestamp-signed one to the per-topic URL; then a replayed
duplicate, an out-of-order (older) update, a cancellation and a charge at max retries (both alert), an
authentic delivery of an unknown topic (quarantined), one forged signature and one stale timestamp
(both refused, nothing stored). It reports each answer, the resulting hot-store rows, the lake objects
and the alerts.
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import requests

from platformctl.commands.recharge import path_token, signed_headers
from platformctl.manifest import REPO_ROOT
from platformctl.scenarios.report import Report

ORDER = 30

FIXTURES = REPO_ROOT / "tests" / "fixtures" / "recharge"
RESOURCES = ("subscription", "charge", "order", "customer", "address")
TABLES = {"subscription": "subscriptions", "charge": "charges", "order": "invoices", "customer": "customers"}
FORGED_ID, STALE_ID = 990000001, 990000002
TIMEOUT = (3.05, 15.0)


@dataclass(frozen=True)
class Delivery:
    what: str
    topic: str
    body: bytes
    headers: dict[str, str]
    url: str
    expect_status: int
    expect_answer: str  # the outcome, the quarantine reason, or "refused"


def _record(resource: str) -> dict[str, Any]:
    return dict(json.loads((FIXTURES / f"{resource}__airbyte.json").read_text(encoding="utf-8")))


def _stamp(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%f+00:00")


def _body(resource: str, record: dict[str, Any]) -> bytes:
    return json.dumps({resource: record}).encode()


def _deliveries(url: str, secret: str, now: datetime) -> list[Delivery]:
    """Versions stamped relative to now, so the demo's own writes are the newest whatever ran before
    (another run of this step included)."""
    base, newer, newest = now - timedelta(seconds=3), now - timedelta(seconds=2), now - timedelta(seconds=1)
    epoch = int(now.timestamp())
    found: list[Delivery] = []

    def add(what: str, topic: str, body: bytes, *, scheme: str, status: int, answer: str, **options: Any) -> None:
        per_topic = options.pop("per_topic", False)
        headers = signed_headers(
            options.pop("signed_with", secret),
            body,
            topic=topic,
            timestamp=options.pop("timestamp", epoch),
            scheme=scheme,
        )
        found.append(Delivery(what, topic, body, headers, f"{url}/{topic}" if per_topic else url, status, answer))

    for resource in RESOURCES:
        record = _record(resource)
        add(
            f"{resource}: signed as Recharge does (both), common URL",
            f"{resource}/created",
            _body(resource, dict(record, updated_at=_stamp(base))),
            scheme="both",
            status=200,
            answer="written",
        )
        if resource == "customer":  # a naive timestamp, as older Recharge payloads send: read in New York time
            naive = newer.astimezone(ZoneInfo("America/New_York")).strftime("%Y-%m-%dT%H:%M:%S.%f")
            updated = dict(record, updated_at=naive)
        else:
            updated = dict(record, updated_at=_stamp(newer))
        add(
            f"{resource}: timestamped signature, per-topic URL",
            f"{resource}/updated",
            _body(resource, updated),
            scheme="timestamped",
            status=200,
            answer="written",
            per_topic=True,
        )
    replay = found[1]  # the subscription/updated delivery, byte for byte and header for header
    found.append(
        Delivery(
            "replayed duplicate of subscription/updated",
            replay.topic,
            replay.body,
            replay.headers,
            replay.url,
            200,
            "duplicate",
        )
    )
    charge = _record("charge")
    add(
        "out-of-order: an older charge/updated arrives late",
        "charge/updated",
        _body("charge", dict(charge, status="error", updated_at=_stamp(base - timedelta(days=1)))),
        scheme="both",
        status=200,
        answer="stale",
    )
    add(
        "subscription cancelled (alert)",
        "subscription/cancelled",
        _body(
            "subscription",
            dict(_record("subscription"), status="cancelled", cancelled_at=_stamp(newest), updated_at=_stamp(newest)),
        ),
        scheme="both",
        status=200,
        answer="written",
        per_topic=True,
    )
    add(
        "charge at max retries (alert)",
        "charge/max_retries_reached",
        _body("charge", dict(charge, status="error", updated_at=_stamp(newest))),
        scheme="both",
        status=200,
        answer="written",
        per_topic=True,
    )
    add(
        "authentic, unknown topic",
        "subscription/teleported",
        _body("subscription", dict(_record("subscription"), updated_at=_stamp(newest))),
        scheme="both",
        status=200,
        answer="unknown-topic",
        per_topic=True,
    )
    add(
        "forged signature",
        "subscription/updated",
        _body("subscription", dict(_record("subscription"), id=FORGED_ID, updated_at=_stamp(newest))),
        scheme="both",
        status=401,
        answer="refused",
        signed_with="not-the-recharge-secret",
    )
    add(
        "stale timestamp (49 h old)",
        "subscription/updated",
        _body("subscription", dict(_record("subscription"), id=STALE_ID, updated_at=_stamp(newest))),
        scheme="timestamped",
        status=401,
        answer="refused",
        timestamp=epoch - 49 * 3600,
        per_topic=True,
    )
    return found


def _answer(response: requests.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text[:60]
    if not isinstance(body, dict):
        return str(body)[:60]
    if response.status_code == 401:
        return "refused"
    return str(body.get("outcome") or body.get("reason") or body.get("error") or body)


def _alert_queue(cloud: Any, topic_arn: str) -> str:
    """A queue subscribed to the alerts topic, so the demo can show what the handler published."""
    sqs, sns = cloud.target.client("sqs"), cloud.target.client("sns")
    queue_url = str(sqs.create_queue(QueueName="demo-recharge-alerts")["QueueUrl"])
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    subscribed = sns.list_subscriptions_by_topic(TopicArn=topic_arn).get("Subscriptions", [])
    if not any(s.get("Endpoint") == queue_arn for s in subscribed):  # a second run reuses the first's
        sns.subscribe(TopicArn=topic_arn, Protocol="sqs", Endpoint=queue_arn)
    _drain(cloud, queue_url)  # what an earlier run left (PurgeQueue is allowed once a minute)
    return queue_url


def _drain(cloud: Any, queue_url: str) -> list[dict[str, Any]]:
    sqs = cloud.target.client("sqs")
    messages: list[dict[str, Any]] = []
    while True:
        batch = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get("Messages", [])
        if not batch:
            return messages
        for message in batch:
            envelope = json.loads(message["Body"])
            messages.append({"subject": envelope.get("Subject"), **json.loads(envelope.get("Message", "{}"))})
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])


def _keys(cloud: Any, bucket: str, prefix: str) -> list[str]:
    pages = cloud.target.client("s3").get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
    return [entry["Key"] for page in pages for entry in page.get("Contents", [])]


def _row(cloud: Any, table: str, key: dict[str, str]) -> dict[str, Any] | None:
    from boto3.dynamodb.types import TypeDeserializer

    item = (
        cloud.target.client("dynamodb")
        .get_item(TableName=table, Key={k: {"S": v} for k, v in key.items()}, ConsistentRead=True)
        .get("Item")
    )
    return {k: TypeDeserializer().deserialize(v) for k, v in item.items()} if item else None


def step(cloud: Any, report: Report) -> None:
    report.section("Recharge webhooks: signed deliveries over HTTP")
    endpoints = cloud.endpoints()
    url = endpoints.get("http_apis", {}).get("recharge")
    outputs = cloud.stack_outputs()
    secret_arn = outputs.get("shared/secrets-manager", {}).get("RechargeWebhookSecretArn")
    topic_arn = outputs.get("monitoring/monitoring", {}).get("AlertsTopicArn")
    if not url or not secret_arn or not topic_arn:
        report.expect(False, "the recharge/webhook, shared and monitoring stacks must be deployed for this step")
        return
    secrets = cloud.target.client("secretsmanager")
    document = json.loads(secrets.get_secret_value(SecretId=secret_arn)["SecretString"])
    secret = document["webhook_secret"]
    report.line(f"endpoint {url}/<path token> (and .../<resource>/<event>); without the token: 404")
    url = f"{url}/{path_token(document)}"
    report.line("secret: RechargeWebhookSecret from the local Secrets Manager (webhook_secret, path token)")
    queue_url = _alert_queue(cloud, topic_arn)

    rows = []
    deliveries = _deliveries(url, secret, datetime.now(UTC))
    # Quarantine keys are content hashes: a refused body must not be under one either.
    refused = {hashlib.sha256(d.body).hexdigest() for d in deliveries if d.expect_answer == "refused"}
    with requests.Session() as http:
        for number, delivery in enumerate(deliveries, start=1):
            started = time.monotonic()
            response = http.post(delivery.url, data=delivery.body, headers=delivery.headers, timeout=TIMEOUT)
            elapsed = f"{(time.monotonic() - started) * 1000:.0f} ms"
            answer = _answer(response)
            scheme = "+".join(
                name
                for name, header in (("legacy", "X-Recharge-Hmac-Sha256"), ("t", "X-Recharge-Webhook-Signature"))
                if header in delivery.headers
            )
            route = "per-topic" if delivery.url != url else "common"
            rows.append((number, delivery.what, delivery.topic, scheme, route, response.status_code, answer, elapsed))
            report.expect(
                (response.status_code, answer) == (delivery.expect_status, delivery.expect_answer),
                f"recharge delivery {number} ({delivery.what}): expected {delivery.expect_status} "
                f"{delivery.expect_answer}, got {response.status_code} {answer}",
            )
    cloud.wait_idle()
    report.table(("#", "DELIVERY", "TOPIC", "SIGNED", "URL", "HTTP", "ANSWER", "TIME"), rows)
    _report_rows(cloud, report, endpoints)
    _report_lake(cloud, report, endpoints["bucket"], refused)
    _report_alerts(cloud, report, queue_url)


def _report_rows(cloud: Any, report: Report, endpoints: dict[str, Any]) -> None:
    report.section("Recharge: hot-store rows (newest state per resource)")
    keys = {
        "subscription": {"subscription_id": str(_record("subscription")["id"])},
        "charge": {"charge_id": str(_record("charge")["id"])},
        "order": {"order_id": str(_record("order")["id"])},
        "customer": {"customer_key": f"recharge:{_record('customer')['id']}"},
    }
    rows = []
    for resource, key in keys.items():
        table = endpoints["tables"][TABLES[resource]]
        item = _row(cloud, table, key) or {}
        rows.append(
            (table, next(iter(key.values())), item.get("status", "-"), item.get("last_topic", "-"),
             item.get("source_updated_at", "-"), item.get("shopify_order_id") or item.get("shopify_customer_id") or "-")
        )  # fmt: skip
        report.expect(bool(item), f"no {resource} row at {key} in {table}")
    report.table(("TABLE", "KEY", "STATUS", "LAST TOPIC", "SOURCE UPDATED_AT (UTC)", "SHOPIFY ID"), rows)
    customer = _row(cloud, endpoints["tables"]["customers"], keys["customer"]) or {}
    invoice = _row(cloud, endpoints["tables"]["invoices"], keys["order"]) or {}
    report.line(
        "customer/updated carried a naive updated_at (New York time); stored as "
        f"{customer.get('source_updated_at')}, the same instant as order/updated's offset form"
    )
    report.expect(
        customer.get("source_updated_at") == invoice.get("source_updated_at"),
        "the naive timestamp was not normalised to the same UTC instant as its offset twin",
    )
    subscription = _row(cloud, endpoints["tables"]["subscriptions"], keys["subscription"]) or {}
    charge = _row(cloud, endpoints["tables"]["charges"], keys["charge"]) or {}
    report.expect(subscription.get("status") == "cancelled", "the subscription row is not the newest (cancelled)")
    report.expect(charge.get("last_topic") == "charge/max_retries_reached", "the late charge/updated overwrote newer")
    for forged in (FORGED_ID, STALE_ID):
        row = _row(cloud, endpoints["tables"]["subscriptions"], {"subscription_id": str(forged)})
        report.expect(row is None, f"a refused delivery (subscription {forged}) was written to the hot store")


def _report_lake(cloud: Any, report: Report, bucket: str, refused_digests: set[str]) -> None:
    report.section("Recharge: the lake")
    raw = _keys(cloud, bucket, "raw/recharge/")
    quarantined = _keys(cloud, bucket, "quarantine/recharge/")
    for key in raw + quarantined:
        report.line(key)
    report.line(f"{len(raw)} raw object(s), {len(quarantined)} quarantined")
    refused = [k for k in raw if str(FORGED_ID) in k or str(STALE_ID) in k]
    refused += [k for k in quarantined if k.rsplit("/", 1)[-1].removesuffix(".json") in refused_digests]
    report.expect(not refused, f"a refused delivery reached the lake: {refused}")
    report.expect(any("/unknown-topic/" in k for k in quarantined), "the unknown topic was not quarantined")
    report.expect(
        all(any(k.startswith(f"raw/recharge/{r}/") for k in raw) for r in RESOURCES),
        "not every resource has a raw object",
    )


def _report_alerts(cloud: Any, report: Report, queue_url: str) -> None:
    report.section("Recharge: alerts published to the alerts topic")
    delivered = _drain(cloud, queue_url)
    # The topic also carries CloudWatch's alarm notifications (the quarantined delivery above may have set
    # off recharge-webhook-quarantine by now): they are listed, and the function's own alerts checked.
    alarms = [a for a in delivered if "AlarmName" in a]
    alerts = [a for a in delivered if "AlarmName" not in a]
    for alert in alerts:
        report.line(f"{alert.get('subject')}  {json.dumps({k: v for k, v in alert.items() if k != 'subject'})}")
    for alarm in alarms:
        report.line(f"alarm notification: {alarm.get('AlarmName')} -> {alarm.get('NewStateValue')}")
    kinds = sorted(str(a.get("alert")) for a in alerts)
    report.expect(kinds == ["charge-max-retries", "subscription-cancelled"], f"unexpected alerts: {kinds}")
