"""Demo step: a bulk backfill of the simulated shop through the real state machine, into the lake, then
the next incremental run, which heals what the webhook day lost.

The local Shopify simulator exports its orders; the state machine exports, polls and downloads them in
bounded steps (a small step size makes the resumable loop visible), and the step reports the parts per
object type, the counts against Shopify's objectCount, and the run's manifest. The backfill covers the
history before the webhook day (``shopify_realtime.DAY``).

Then the run a schedule would start next: the window of the webhook day, whose orders/* subscription
was gone for hours (``shopify_realtime.OUTAGE_HOURS``). The simulator exports the orders it holds (the
day's newest versions, which the realtime step stored: ``export_stored``), the reconciliation heals the
hot store, and the step reports missing -> healed: the day's orders in Shopify, how many the hot store
held at Shopify's version, stale or not at all before the run (read from the table, not from the run),
the run's ``reconciliation.json`` and ``ReconciledMissing``/``ReconciledStale`` metrics, and the
table after the run (nothing missing, nothing stale). The step checks that the run's counts are the ones
read from the table. The carts and checkouts of those orders: converted before the run (by a delivered
webhook), marked by the run (``carts_marked``: those of the orders it found missing), converted after it
(all of them: no bought cart still looks abandoned).
"""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import requests

from platformctl.scenarios.report import Report
from platformctl.scenarios.shopify_realtime import DAY

ORDER = 20
ORDERS = 600  # about 2.3 MB of JSONL
STEP_BYTES = 1024 * 1024  # three or so download steps
WAIT_SECONDS = 300
BACKFILL_SINCE = "2024-01-01T00:00:00Z"


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _execute(cloud: Any, machine: str, name: str, document: dict[str, Any]) -> tuple[dict[str, Any], float]:
    """Run the state machine to its end (bounded); its description and how long it took."""
    sfn = cloud.target.client("stepfunctions")
    started = time.monotonic()
    execution = sfn.start_execution(stateMachineArn=machine, name=name, input=json.dumps(document))
    description = sfn.describe_execution(executionArn=execution["executionArn"])
    while description["status"] == "RUNNING" and time.monotonic() - started < WAIT_SECONDS:
        time.sleep(0.5)
        description = sfn.describe_execution(executionArn=execution["executionArn"])
    return dict(description), time.monotonic() - started


def step(cloud: Any, report: Report) -> None:
    report.section("Shopify bulk backfill (state machine export -> poll -> download)")
    endpoints = cloud.endpoints()
    machine = endpoints.get("state_machines", {}).get("shopify_bulk")
    simulator = endpoints.get("simulators", {}).get("shopify")
    report.expect(bool(machine), "the bulk state machine is not deployed (no state_machines.shopify_bulk)")
    report.expect(bool(simulator), "the Shopify simulator is not running (no simulators.shopify)")
    if not machine or not simulator:
        return
    requests.post(f"{simulator}/_simulator/reset", json={}, timeout=10).raise_for_status()
    requests.post(f"{simulator}/_simulator/control", json={"orders": ORDERS}, timeout=10).raise_for_status()
    sfn = cloud.target.client("stepfunctions")
    document = {"since": BACKFILL_SINCE, "until": _iso(DAY), "options": {"max_bytes_per_step": STEP_BYTES}}
    report.line(f"backfill {document['since']} .. {document['until']} (the history before the webhook day)")
    description, took = _execute(cloud, machine, f"demo-backfill-{int(time.time())}", document)
    status = description["status"]
    report.line(f"status {status} after {took:.1f}s")
    report.expect(status == "SUCCEEDED", f"bulk backfill ended {status}: {description.get('cause', '')[:300]}")
    if status != "SUCCEEDED":
        return
    result = json.loads(description["output"])
    history = sfn.get_execution_history(executionArn=description["executionArn"], maxResults=1000)["events"]
    steps = [e for e in history if (e.get("stateEnteredEventDetails") or {}).get("name") == "Download"]
    polls = [e for e in history if (e.get("stateEnteredEventDetails") or {}).get("name") == "Poll"]
    report.line(f"{len(polls)} status read(s), {len(steps)} download step(s) of about {STEP_BYTES // 1024} KiB each")
    s3 = cloud.target.client("s3")
    manifest = json.loads(s3.get_object(Bucket=endpoints["bucket"], Key=result["manifest_key"])["Body"].read())
    rows = []
    for name, entry in sorted(manifest["types"].items()):
        for part in entry["parts"]:
            head = s3.head_object(Bucket=endpoints["bucket"], Key=part["key"])
            report.expect(head["ContentLength"] == part["bytes"], f"{part['key']} is not the size the manifest says")
        rows.append((name, entry["prefix"], entry["objects"], len(entry["parts"]), entry["compressed_bytes"]))
    report.table(("TYPE", "PREFIX", "OBJECTS", "PARTS", "GZIP BYTES"), rows)
    report.line(
        f"manifest {result['manifest_key']}: {manifest['objects_written']} objects written, Shopify reported "
        f"{manifest['object_count_reported']}; {manifest['bytes_read']} bytes read in {manifest['steps']} steps; "
        f"partial {manifest['partial']}; watermark advanced {manifest['watermark_advanced']}"
    )
    report.expect(manifest["counts_match"], "the manifest's counts disagree with Shopify's objectCount")
    report.expect(manifest["objects_written"] == manifest["object_count_reported"], "objects written != objectCount")
    report.expect(len(steps) > 1, "the download did not run in several steps")
    report.expect({"Order", "LineItem"} <= set(manifest["types"]), "orders or line items are missing")
    _heal(cloud, report, machine, simulator)


# ------------------------------------------------------------------------------- the next run heals


def _shop_orders(simulator: str, since: datetime, until: datetime) -> dict[str, str]:
    """Order id -> updated_at of the orders the simulator holds (the shop's truth) updated in the window."""
    stored = requests.get(f"{simulator}/_simulator/resources/orders", timeout=10)
    stored.raise_for_status()
    found = {}
    for order in stored.json():
        updated = datetime.fromisoformat(str(order.get("updated_at")).replace("Z", "+00:00"))
        if since <= updated < until:
            found[str(order["id"])] = _iso_micros(updated)
    return found


def _iso_micros(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")


def _cart_keys(simulator: str, ids: set[str]) -> dict[str, str]:
    """Abandoned-carts key (``<cart token>``, ``checkout:<checkout token>``) -> the id of the order of
    ``ids`` that converts it, from the orders the simulator holds."""
    stored = requests.get(f"{simulator}/_simulator/resources/orders", timeout=10)
    stored.raise_for_status()
    keys: dict[str, str] = {}
    for order in stored.json():
        if str(order["id"]) in ids:
            if order.get("cart_token"):
                keys[str(order["cart_token"])] = str(order["id"])
            if order.get("checkout_token"):
                keys[f"checkout:{order['checkout_token']}"] = str(order["id"])
    return keys


def _converted(cloud: Any, table: str, keys: list[str]) -> dict[str, str]:
    """Cart key -> ``converted_order_id`` for the keys whose abandoned-carts item has one."""
    client = cloud.target.client("dynamodb")
    found: dict[str, str] = {}
    for start in range(0, len(keys), 100):
        request: dict[str, Any] = {table: {"Keys": [{"cart_token": {"S": k}} for k in keys[start : start + 100]]}}
        while request:
            response = client.batch_get_item(RequestItems=request)
            for item in response["Responses"].get(table, []):
                if "converted_order_id" in item:
                    found[item["cart_token"]["S"]] = item["converted_order_id"]["S"]
            request = response.get("UnprocessedKeys") or {}
    return found


def _stored_versions(cloud: Any, table: str, ids: list[str]) -> dict[str, str]:
    """Order id -> the hot store's ``source_updated_at`` (as _iso_micros) for the ids it holds."""
    client = cloud.target.client("dynamodb")
    found: dict[str, str] = {}
    for start in range(0, len(ids), 100):
        keys = [{"order_id": {"S": i}, "record": {"S": "ORDER"}} for i in ids[start : start + 100]]
        request: dict[str, Any] = {table: {"Keys": keys}}
        while request:
            response = client.batch_get_item(RequestItems=request)
            for item in response["Responses"].get(table, []):
                stamp = item.get("source_updated_at", {}).get("S")
                if stamp:
                    found[item["order_id"]["S"]] = _iso_micros(datetime.fromisoformat(stamp.replace("Z", "+00:00")))
            request = response.get("UnprocessedKeys") or {}
    return found


def _classify(shop: dict[str, str], stored: dict[str, str]) -> dict[str, list[str]]:
    kinds: dict[str, list[str]] = {"current": [], "stale": [], "missing": [], "newer_in_store": []}
    for order_id, updated in sorted(shop.items()):
        held = stored.get(order_id)
        kind = (
            "missing"
            if held is None
            else "stale"
            if held < updated
            else "current"
            if held == updated
            else "newer_in_store"
        )
        kinds[kind].append(order_id)
    return kinds


def _metric(cloud: Any, namespace: str, name: str) -> float | None:
    now = datetime.now(UTC)
    points = cloud.target.client("cloudwatch").get_metric_statistics(
        Namespace=namespace,
        MetricName=name,
        Dimensions=[{"Name": "Entity", "Value": "orders"}],
        StartTime=now - timedelta(minutes=10),
        EndTime=now + timedelta(minutes=1),
        Period=660,
        Statistics=["Sum"],
    )["Datapoints"]
    return sum(float(p["Sum"]) for p in points) if points else None


def _heal(cloud: Any, report: Report, machine: str, simulator: str) -> None:
    endpoints = cloud.endpoints()
    table, bucket = endpoints["tables"]["orders"], endpoints["bucket"]
    until = datetime.now(UTC).replace(microsecond=0)
    shop = _shop_orders(simulator, DAY, until)
    report.section("Shopify: the next bulk run heals what the webhook day lost")
    if not shop:
        report.line("the simulator holds no order of the webhook day (the realtime step did not run): skipped")
        return
    before = _classify(shop, _stored_versions(cloud, table, sorted(shop)))
    carts_table = endpoints["tables"]["abandoned_carts"]
    cart_orders = _cart_keys(simulator, set(shop))
    converted_before = _converted(cloud, carts_table, sorted(cart_orders))
    namespace = _namespace(cloud)
    # The backfill's reconciliation counted into the same metrics minutes ago: this run's are the rise.
    metrics_before = [_metric(cloud, namespace, name) or 0.0 for name in ("ReconciledMissing", "ReconciledStale")]
    requests.post(f"{simulator}/_simulator/control", json={"export_stored": True}, timeout=10).raise_for_status()
    document = {"since": _iso(DAY), "until": _iso(until)}
    report.line(f"incremental run {document['since']} .. {document['until']} (the webhook day, as a schedule runs it)")
    description, took = _execute(cloud, machine, f"demo-heal-{int(time.time())}", document)
    requests.post(f"{simulator}/_simulator/control", json={"export_stored": False}, timeout=10).raise_for_status()
    status = description["status"]
    report.line(f"status {status} after {took:.1f}s (export, download, reconcile)")
    report.expect(status == "SUCCEEDED", f"the healing run ended {status}: {description.get('cause', '')[:300]}")
    if status != "SUCCEEDED":
        return
    output = json.loads(description["output"])
    key = output.get("reconciliation_key") or f"metadata/shopify/bulk/run={output['run_id']}/reconciliation.json"
    result = json.loads(cloud.target.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read())
    counts = result["entities"]["orders"]
    after = _classify(shop, _stored_versions(cloud, table, sorted(shop)))
    converted_after = _converted(cloud, carts_table, sorted(cart_orders))
    healed_missing, healed_stale = (
        (_metric(cloud, namespace, name) or 0.0) - earlier
        for name, earlier in zip(("ReconciledMissing", "ReconciledStale"), metrics_before, strict=True)
    )
    report.line(f"the run's result: {key}")
    report.table(
        ("ORDERS OF THE WEBHOOK DAY", "BEFORE THE RUN", "RECONCILIATION.JSON", "AFTER THE RUN"),
        [
            ("updated in Shopify in the window", len(shop), counts["in_window"], len(shop)),
            ("in the hot store at Shopify's version", len(before["current"]), counts["current"], len(after["current"])),
            ("stale (a later webhook lost)", len(before["stale"]), counts["stale"], len(after["stale"])),
            ("missing (every webhook lost)", len(before["missing"]), counts["missing"], len(after["missing"])),
            (
                "their carts and checkouts converted",
                len(converted_before),
                counts.get("carts_marked", 0),
                len(converted_after),
            ),
        ],
    )
    report.line(
        f"healed: {counts['written']} conditional writes; metrics {namespace} (Entity=orders) of this run: "
        f"ReconciledMissing {healed_missing:g}, ReconciledStale {healed_stale:g}"
    )
    report.expect(bool(before["missing"]) and bool(before["stale"]), "the outage left no missing or no stale order")
    for kind in ("missing", "stale", "current", "newer_in_store"):
        report.expect(
            counts[kind] == len(before[kind]),
            f"the run counted {counts[kind]} {kind}, the table had {len(before[kind])}",
        )
    report.expect(
        counts["in_window"] == len(shop), f"the run saw {counts['in_window']} orders, Shopify has {len(shop)}"
    )
    report.expect(
        counts["written"] == len(before["missing"]) + len(before["stale"]), "not every lost order was written"
    )
    report.expect(
        not after["missing"] and not after["stale"],
        f"after the run: {after['missing']} missing, {after['stale']} stale",
    )
    report.expect(
        (healed_missing, healed_stale) == (float(counts["missing"]), float(counts["stale"])),
        f"ReconciledMissing/ReconciledStale are {healed_missing}/{healed_stale}",
    )
    # A delivered webhook marked its order's carts; the run marks those of the orders none reached.
    of_missing = {k for k, order_id in cart_orders.items() if order_id in set(before["missing"])}
    report.line(
        f"carts and checkouts of these orders marked converted: {len(converted_before)} before the run, "
        f"{counts.get('carts_marked', 0)} by the run (carts_marked), {len(converted_after)} of {len(cart_orders)} after"
    )
    report.expect(bool(of_missing), "no missing order had a cart: the run had no cart to mark")
    report.expect(
        set(converted_before) == set(cart_orders) - of_missing,
        f"before the run, converted carts {sorted(converted_before)}; expected all but those of missing orders",
    )
    report.expect(
        counts.get("carts_marked") == len(of_missing),
        f"the run marked {counts.get('carts_marked')} carts, the missing orders have {len(of_missing)}",
    )
    report.expect(
        converted_after == cart_orders,
        f"after the run, carts still looking abandoned: {sorted(set(cart_orders) - set(converted_after))}",
    )


def _namespace(cloud: Any) -> str:
    """The reconcile function's metrics namespace (``<Brand>/Shopify``), from its configuration."""
    name = cloud.stack_outputs().get("shopify/bulk-workflow", {}).get("ReconcileFunctionName", "")
    if not name:
        return "acme/Shopify"
    configuration = cloud.target.client("lambda").get_function_configuration(FunctionName=name)
    return str(configuration["Environment"]["Variables"]["POWERTOOLS_METRICS_NAMESPACE"])
