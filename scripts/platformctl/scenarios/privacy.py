"""Demo step: one access request and one erasure, end to end.

A customer of the demo shop (an invented person, so nothing else of the demo is touched) signs up and
orders through the bus. Shopify's signed ``customers/data_request`` reaches the compliance webhook, the
privacy workflow exports what the platform holds about them to ``exports/privacy/<id>/`` and the alerts
topic says where it is. Then an operator erases them (``platformctl privacy erase --wait``, the path of a
request that arrived by e-mail): the report shows what the audit says was changed, and that none of the
person's contact values is left in the lake, while the order keeps its money fields.
"""

from __future__ import annotations

import base64
import copy
import gzip
import hashlib
import hmac
import io
import json
import time
import urllib.request
from datetime import UTC, datetime
from typing import Any

from platformctl.commands import privacy
from platformctl.manifest import REPO_ROOT
from platformctl.scenarios.report import Report
from platformctl.scenarios.shopify_realtime import event_source

ORDER = 95
FIXTURES = REPO_ROOT / "tests" / "fixtures" / "shopify"
CUSTOMER_ID = 7_770_001_234
ORDER_ID = 9_770_001_234
PERSON = {
    "first_name": "Marguerite",
    "last_name": "Okonkwo-Hale",
    "email": "marguerite.okonkwo-hale@example.org",
    "phone": "+16135550199",
    "address1": "77 Wellington Street",
}
WAIT_SECONDS = 180.0  # a bound on waiting, not an expectation on speed


def _address() -> dict[str, Any]:
    return {
        "first_name": PERSON["first_name"],
        "last_name": PERSON["last_name"],
        "name": f"{PERSON['first_name']} {PERSON['last_name']}",
        "address1": PERSON["address1"],
        "city": "Ottawa",
        "province": "Ontario",
        "country": "Canada",
        "zip": "K1A 0A9",
        "phone": PERSON["phone"],
    }


def _events(shop: str, now: datetime) -> list[dict[str, Any]]:
    stamp = now.strftime("%Y-%m-%dT%H:%M:%S.000Z")
    customer = json.loads((FIXTURES / "customer__shopify-python-api.json").read_text(encoding="utf-8"))["customer"]
    customer = dict(customer, id=CUSTOMER_ID, updated_at=stamp, default_address=_address(), addresses=[_address()])
    customer.update({k: PERSON[k] for k in ("first_name", "last_name", "email", "phone")})
    order = copy.deepcopy(
        json.loads((FIXTURES / "order__shopify-python-api.json").read_text(encoding="utf-8"))["order"]
    )
    order.update(
        id=ORDER_ID,
        name="#7701",
        order_number=7701,
        email=PERSON["email"],
        phone=PERSON["phone"],
        created_at=stamp,
        updated_at=stamp,
        billing_address=_address(),
        shipping_address=_address(),
        customer={"id": CUSTOMER_ID, "email": PERSON["email"], "first_name": PERSON["first_name"]},
    )
    return [
        _envelope("customers/create", customer, shop, stamp, "demo-privacy-customer"),
        _envelope("orders/create", order, shop, stamp, "demo-privacy-order"),
    ]


def _envelope(topic: str, payload: dict[str, Any], shop: str, stamp: str, event_id: str) -> dict[str, Any]:
    headers = {
        "Content-Type": "application/json",
        "X-Shopify-Topic": topic,
        "X-Shopify-Shop-Domain": shop,
        "X-Shopify-API-Version": "2026-10",
        "X-Shopify-Webhook-Id": f"{event_id}-webhook",
        "X-Shopify-Event-Id": event_id,
        "X-Shopify-Triggered-At": stamp,
    }
    return {"detail-type": "shopifyWebhook", "detail": {"payload": payload, "metadata": headers}}


def _signed_post(cloud: Any, url: str, topic: str, body: bytes, shop: str) -> dict[str, Any]:
    secrets = cloud.stack_outputs()["shared/secrets-manager"]
    value = cloud.target.client("secretsmanager").get_secret_value(SecretId=secrets["ShopifyAppClientSecretArn"])
    key = json.loads(value["SecretString"])["client_secret"].encode()
    headers = {
        "Content-Type": "application/json",
        "X-Shopify-Topic": topic,
        "X-Shopify-Hmac-Sha256": base64.b64encode(hmac.new(key, body, hashlib.sha256).digest()).decode(),
        "X-Shopify-Shop-Domain": shop,
        "X-Shopify-Event-Id": f"demo-{topic.replace('/', '-')}",
        "X-Shopify-Webhook-Id": "demo-compliance",
        "X-Shopify-API-Version": "2026-01",
    }
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")  # noqa: S310 - local URL
    with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
        return dict(json.loads(response.read()))


def _wait(cloud: Any, execution_arn: str) -> dict[str, Any]:
    sfn = cloud.target.client("stepfunctions")
    deadline = time.monotonic() + WAIT_SECONDS
    while True:
        try:
            description = dict(sfn.describe_execution(executionArn=execution_arn))
        except sfn.exceptions.ExecutionDoesNotExist:
            description = {"status": "MISSING"}
        if description["status"] not in {"RUNNING", "MISSING"} or time.monotonic() > deadline:
            return description
        time.sleep(0.5)


def _contact_hits(cloud: Any, bucket: str) -> list[str]:
    """Lake keys (any version) where one of the person's contact values is still written."""
    s3 = cloud.target.client("s3")
    needles = [v.lower().encode() for v in (PERSON["email"], PERSON["address1"], PERSON["phone"].lstrip("+"))]
    needles.append(f"{PERSON['first_name']} {PERSON['last_name']}".lower().encode())
    hits = []
    for page in s3.get_paginator("list_object_versions").paginate(Bucket=bucket, Prefix="raw/"):
        for version in page.get("Versions", []):
            body = s3.get_object(Bucket=bucket, Key=version["Key"], VersionId=version["VersionId"])["Body"].read()
            if version["Key"].endswith(".gz"):
                body = gzip.decompress(body)
            if any(needle in body.lower() for needle in needles):
                hits.append(version["Key"])
    return hits


def _audit(cloud: Any, bucket: str, printed: str) -> dict[str, Any]:
    """The audit entry of the request the erase command printed (``request <id> (...)``)."""
    words = printed.split()
    request_id = words[words.index("request") + 1] if "request" in words else ""
    key = f"metadata/privacy/audit/{request_id}.json"
    try:
        body = cloud.target.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read()
    except cloud.target.client("s3").exceptions.NoSuchKey:
        return {}
    return {**json.loads(body), "key": key}


def _order_total(cloud: Any, table: str) -> Any:
    item = cloud.target.client("dynamodb").get_item(
        TableName=table, Key={"order_id": {"S": str(ORDER_ID)}, "record": {"S": "ORDER"}}
    )
    return {k: v for k, v in item.get("Item", {}).items() if "total" in k or "price" in k}


def step(cloud: Any, report: Report) -> None:
    report.section("Privacy: one access request (Shopify) and one erasure (operator)")
    endpoints = cloud.endpoints()
    machine = endpoints.get("state_machines", {}).get("privacy")
    url = endpoints.get("http_apis", {}).get("shopify_compliance")
    report.expect(bool(machine and url), "the privacy workflow or the compliance webhook is not deployed")
    if not (machine and url):
        return
    platform = privacy.resolve("local", endpoint_url=cloud.endpoint_url)
    shop, bucket = platform.shop_domain, platform.bucket
    events = _events(shop, datetime.now(UTC))
    source = event_source(endpoints)
    entries = [
        {
            "Source": source,
            "DetailType": e["detail-type"],
            "Detail": json.dumps(e["detail"]),
            "EventBusName": endpoints["event_bus"],
        }
        for e in events
    ]
    cloud.target.client("events").put_events(Entries=entries)
    cloud.wait_idle()
    before = _contact_hits(cloud, bucket)
    money_before = _order_total(cloud, endpoints["tables"]["orders"])
    report.line(
        f"{PERSON['first_name']} (customer {CUSTOMER_ID}) signed up and ordered: "
        f"contact data in {len(before)} raw object(s)"
    )

    body = json.dumps(
        {
            "shop_id": 954889,
            "shop_domain": shop,
            "customer": {"id": CUSTOMER_ID, "email": PERSON["email"], "phone": PERSON["phone"]},
            "orders_requested": [ORDER_ID],
            "data_request": {"id": 7701},
        }
    ).encode()
    answer = _signed_post(cloud, url, "customers/data_request", body, shop)
    request_id = str(answer.get("request_id", ""))
    export = _wait(cloud, platform.execution_arn(request_id))
    report.expect(export["status"] == "SUCCEEDED", f"the access request's execution ended {export['status']}")
    export_key = f"exports/privacy/{request_id}/export.json"
    head = cloud.target.client("s3").head_object(Bucket=bucket, Key=export_key)
    report.line(f"customers/data_request {request_id}: export s3://{bucket}/{export_key}")
    report.line(
        f"   encrypted {head.get('ServerSideEncryption')}, expires by lifecycle; the alerts topic says where it is"
    )
    report.expect(head.get("ServerSideEncryption") == "aws:kms", "the export is not KMS-encrypted")

    out = io.StringIO()
    person = privacy.Person(customer_ids=(str(CUSTOMER_ID),), emails=(PERSON["email"],), phones=(PERSON["phone"],))
    code = privacy.submit(platform, "erase", person, out, wait_for_end=True, poll_seconds=0.5)
    cloud.wait_idle()
    for line in out.getvalue().splitlines():
        if line.startswith(("request", "  record", "  execution")):  # the execution's JSON summary follows
            report.line(f"platformctl privacy erase: {line.strip()}")
    report.expect(code == 0, "the operator's erasure did not succeed")
    audit = _audit(cloud, bucket, out.getvalue())
    totals = audit.get("totals", {})
    report.line(
        f"audit {audit.get('key')}: {totals.get('objects_rewritten', 0)} object(s) rewritten, "
        f"{totals.get('versions_deleted', 0)} earlier version(s) deleted, {totals.get('items_changed', 0)} item(s) "
        f"and {totals.get('messages_redacted', 0)} DLQ message(s) changed; {totals.get('locations_checked', 0)} "
        f"location(s), {totals.get('items_checked', 0)} item(s) and {totals.get('queues_checked', 0)} queue(s) checked"
    )
    after = _contact_hits(cloud, bucket)
    report.line(f"after the erasure: contact data in {len(after)} object version(s) of raw/ (was {len(before)})")
    report.expect(bool(before) and not after, f"contact data left after the erasure in {sorted(set(after))[:3]}")
    report.expect(
        _order_total(cloud, endpoints["tables"]["orders"]) == money_before, "the order's money fields changed"
    )
