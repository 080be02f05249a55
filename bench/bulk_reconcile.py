"""The bulk reconciliation: what healing the hot store adds to a bulk run, and what it asks of DynamoDB.

A run of 100,000 orders of the simulated shop (with their line items) goes through the real download
handler into emulated S3 (moto server on 127.0.0.1), as ``bench.bulk_download`` does; the orders hot store
(the table of infrastructure/shared/dynamodb-tables.yaml, in the same moto server) holds 90 % of the
exported orders, half of them at an older version; then the reconcile handler reconciles the run in one
step. Measured in the same run, each in a fresh process (its own peak RSS):

- the baseline: the download alone (result file to parts and manifest);
- the reconciliation: its time, the ratio (download + reconciliation) / download (goal <= 1.3x), peak
  RSS, and DynamoDB requests per exported order: BatchGetItem calls (goal <= 0.1; 100 keys a call gives
  0.01) and conditional writes (goal: only the changed orders, 55 % here: 10 % missing + 45 % stale),
  beside a per-order baseline (one GetItem per order: 1.0 reads per order);
- the floor: the emulator's own cost of the same conditional write (reconciled items rewritten as a newer
  version through ``common.hotstore``, one at a time and ``WRITE_WORKERS`` at a time), times the writes.

moto serves every request in Python in its own process on the same (2-CPU) machine: its cost per write
dominates the reconciliation's time (threads do not help: it serves one request at a time), so the ratio
measured here is an upper bound of what the function sees against DynamoDB (there the writes run
``WRITE_WORKERS`` at a time, waiting on the network). The floor line says how much of it is the emulator.

    python -m bench.bulk_reconcile                     # 100,000 orders
    BENCH_ORDERS=20000 python -m bench.bulk_reconcile  # a quicker look
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO / "lambdas"), str(REPO / "scripts"), str(REPO)]

from bench import bulk_download as download  # noqa: E402 - after the path set-up

ORDERS = int(os.environ.get("BENCH_ORDERS", "100000"))
ORDERS_TABLE = "acme-bench-orders"
CUSTOMERS_TABLE = "acme-bench-customers"
CARTS_TABLE = "acme-bench-abandoned-carts"  # the carts a healed order marks converted
HELD = 0.9  # share of the exported orders the hot store holds
STALE = 0.5  # share of the held ones at an older version
CHILD_TIMEOUT = 3600
FLOOR_WRITES = int(os.environ.get("BENCH_FLOOR_WRITES", "2000"))


def child_reconcile(run_id: str) -> dict[str, Any]:
    import importlib.util

    spec = importlib.util.spec_from_file_location("bulk_reconcile_app", REPO / "lambdas/shopify/bulk_reconcile/app.py")
    assert spec is not None
    assert spec.loader is not None
    app = importlib.util.module_from_spec(spec)
    sys.modules["bulk_reconcile_app"] = app
    spec.loader.exec_module(app)
    made: list[Any] = []
    make = app.STEP.make_reconciler

    def keep(roots_per_partition: int) -> Any:
        made.append(make(roots_per_partition))
        return made[-1]

    app.STEP.make_reconciler = keep

    Context = download.lambda_context("bench-bulk-reconcile")  # noqa: N806 - a class, as Lambda passes one

    app.aws.s3().head_bucket(Bucket=download.BUCKET)  # a warm function
    app.aws.dynamodb().describe_table(TableName=ORDERS_TABLE)
    start_rss = download._peak_rss_mb()
    started = time.perf_counter()
    result = app.handler({"run": {"run_id": run_id}, "previous": None}, Context())
    seconds = time.perf_counter() - started
    assert result["done"], result
    return {
        "seconds": seconds,
        "start_rss": start_rss,
        "requests": made[-1].requests,
        "result_key": result["result_key"],
    }


def run_child(argv: list[str]) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("mode", choices=["reconcile"])
    parser.add_argument("--run-id", required=True)
    args = parser.parse_args(argv)
    figures = child_reconcile(args.run_id)
    figures["peak_rss"] = download._peak_rss_mb()
    print("RESULT " + json.dumps(figures), flush=True)
    return 0


def measure_reconcile(run_id: str, endpoint: str) -> dict[str, Any]:
    env = dict(
        os.environ,
        AWS_ENDPOINT_URL=endpoint,
        AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY="testing",
        AWS_DEFAULT_REGION="us-east-1",
        AWS_REGION="us-east-1",
        DATA_LAKE_BUCKET_NAME=download.BUCKET,
        ORDERS_TABLE_NAME=ORDERS_TABLE,
        CUSTOMERS_TABLE_NAME=CUSTOMERS_TABLE,
        ABANDONED_CARTS_TABLE_NAME=CARTS_TABLE,
        CART_TTL_DAYS="30",
        POWERTOOLS_TRACE_DISABLED="true",
        POWERTOOLS_METRICS_NAMESPACE="bench/Shopify",
        POWERTOOLS_SERVICE_NAME="bench-bulk-reconcile",
        POWERTOOLS_LOG_LEVEL="WARNING",
        MALLOC_MMAP_THRESHOLD_=download.MALLOC_MMAP_THRESHOLD,
        PYTHONPATH=os.pathsep.join([str(REPO / "lambdas"), str(REPO / "scripts"), str(REPO)]),
    )
    command = [sys.executable, "-m", "bench.bulk_reconcile", "--child", "reconcile", "--run-id", run_id]
    completed = subprocess.run(
        command, cwd=REPO, env=env, capture_output=True, text=True, timeout=CHILD_TIMEOUT, check=False
    )
    lines = [line for line in completed.stdout.splitlines() if line.startswith("RESULT ")]
    if completed.returncode != 0 or not lines:
        raise RuntimeError(f"reconcile failed ({completed.returncode}):\n{completed.stderr[-3000:]}")
    return dict(json.loads(lines[-1].removeprefix("RESULT ")))


def create_tables(moto: Any, endpoint: str) -> None:
    from platformctl.templates import load_template

    template = load_template(REPO / "infrastructure" / "shared" / "dynamodb-tables.yaml")
    dynamodb = moto.client("dynamodb", endpoint_url=endpoint)
    tables = ((ORDERS_TABLE, "OrdersTable"), (CUSTOMERS_TABLE, "CustomersTable"), (CARTS_TABLE, "AbandonedCartsTable"))
    for name, logical_id in tables:
        props = template["Resources"][logical_id]["Properties"]
        arguments: dict[str, Any] = {
            "TableName": name,
            "AttributeDefinitions": props["AttributeDefinitions"],
            "KeySchema": props["KeySchema"],
            "BillingMode": "PAY_PER_REQUEST",
        }
        if props.get("GlobalSecondaryIndexes"):
            arguments["GlobalSecondaryIndexes"] = props["GlobalSecondaryIndexes"]
        dynamodb.create_table(**arguments)


def seed_hot_store(moto: Any, endpoint: str, manifest: dict[str, Any]) -> dict[str, int]:
    """90 % of the exported orders in the table, half of them one hour older than the export."""
    from common.hotstore import serialize
    from common.timeutil import parse_timestamp, to_epoch_micros

    s3 = moto.client("s3", endpoint_url=endpoint)
    dynamodb = moto.client("dynamodb", endpoint_url=endpoint)
    keys = [p["key"] for t in manifest["types"].values() if t["folder"] == "order" for p in t["parts"]]
    counts = {"held": 0, "stale": 0, "exported": 0}
    batch: list[dict[str, Any]] = []
    for key in keys:
        body = gzip.decompress(s3.get_object(Bucket=download.BUCKET, Key=key)["Body"].read())
        for index, line in enumerate(body.splitlines()):
            counts["exported"] += 1
            if index % 10 == 9:
                continue  # missing: its webhooks were lost
            node = json.loads(line)
            version = to_epoch_micros(parse_timestamp(node["updatedAt"]))
            stale = counts["held"] % 2 == 0  # every other held order
            counts["held"] += 1
            counts["stale"] += stale
            item = {
                "order_id": node["id"].rsplit("/", 1)[1],
                "record": "ORDER",
                "name": node["name"],
                "source_version": version - (3_600_000_000 if stale else 0),
                "source_event_id": "evt-webhook",
            }
            batch.append({"PutRequest": {"Item": serialize(item)}})
            if len(batch) == 25:
                dynamodb.batch_write_item(RequestItems={ORDERS_TABLE: batch})
                batch = []
    if batch:
        dynamodb.batch_write_item(RequestItems={ORDERS_TABLE: batch})
    return counts


def measure_write_floor(moto: Any, endpoint: str, writes: int) -> dict[str, float]:
    """The emulator's own cost of the reconciliation's write: ``writes`` conditional PutItems of reconciled
    order items (each a newer version of itself), one at a time and ``WRITE_WORKERS`` at a time, through the
    hot-store layer the reconciliation uses. Seconds per write."""
    from concurrent.futures import ThreadPoolExecutor
    from datetime import UTC, datetime

    from common import hotstore
    from common.shopify.reconcile import WRITE_WORKERS

    dynamodb = moto.client("dynamodb", endpoint_url=endpoint)
    items: list[dict[str, Any]] = []
    for page in dynamodb.get_paginator("scan").paginate(TableName=ORDERS_TABLE, PaginationConfig={"PageSize": 500}):
        items += [hotstore.deserialize(i) for i in page["Items"] if i["record"]["S"] == "ORDER"]
        if len(items) >= 2 * writes:
            break
    reserved = {"order_id", "record", hotstore.VERSION, hotstore.EVENT_ID, hotstore.UPDATED_AT, hotstore.INGESTED_AT}

    def rewrite(item: dict[str, Any]) -> None:
        version = hotstore.SourceVersion(int(item[hotstore.VERSION]) + 1, "bench-floor")
        hotstore.replace_if_newer(
            dynamodb,
            ORDERS_TABLE,
            {"order_id": item["order_id"], "record": "ORDER"},
            {k: v for k, v in item.items() if k not in reserved},
            version,
            updated_at=datetime(2025, 6, 2, tzinfo=UTC),
        )

    figures = {}
    for name, batch, workers in (("serial", items[:writes], 1), ("pooled", items[writes : 2 * writes], WRITE_WORKERS)):
        started = time.perf_counter()
        with ThreadPoolExecutor(max_workers=workers) as pool:
            list(pool.map(rewrite, batch))
        figures[name] = (time.perf_counter() - started) / max(1, len(batch))
    return figures


def main() -> int:
    from common.shopify.reconcile import WRITE_WORKERS

    print(f"bulk reconcile benchmark: {ORDERS} orders, {os.cpu_count()} CPU(s)", flush=True)
    with download.bench_shop(download.data_dir(), before_secret=create_tables) as shop:
        moto, endpoint = shop.moto, shop.endpoint
        operation = download.export(shop.simulator, shop.client, ORDERS)["operation"]
        document = download.run_document(operation)
        downloaded = download.measure("stream", str(operation.url), endpoint, document, shop.function_env)
        s3 = moto.client("s3", endpoint_url=endpoint)
        manifest_key = f"metadata/shopify/bulk/run={operation.run_id}/manifest.json"
        manifest = json.loads(s3.get_object(Bucket=download.BUCKET, Key=manifest_key)["Body"].read())
        assert manifest["complete"], manifest.get("watermark_note")
        seeding = time.monotonic()
        seeded = seed_hot_store(moto, endpoint, manifest)
        print(f"  hot store seeded in {time.monotonic() - seeding:.0f}s: {seeded}", flush=True)
        reconciled = measure_reconcile(operation.run_id, endpoint)
        result = json.loads(s3.get_object(Bucket=download.BUCKET, Key=reconciled["result_key"])["Body"].read())
        floor = measure_write_floor(moto, endpoint, FLOOR_WRITES)
    counts = result["entities"]["orders"]
    exported = counts["exported"]
    reads, writes = reconciled["requests"]["batch_get"], reconciled["requests"]["write"]
    # Cart marks are writes too; the simulator's orders are older than the carts' TTL, so there are none here.
    cart_marks = reconciled["requests"].get("cart_mark", 0)
    writes += cart_marks
    ratio = (downloaded["seconds"] + reconciled["seconds"]) / downloaded["seconds"]
    per_write = min(floor.values())
    floor_ratio = (downloaded["seconds"] + writes * per_write) / downloaded["seconds"]
    print(f"  counts: {counts}")
    print("| pass | seconds | peak RSS | reads / order | writes / order |")
    print("|---|---|---|---|---|")
    print(f"| download alone (baseline) | {downloaded['seconds']:.1f} | {downloaded['peak_rss']:.0f} MB | - | - |")
    print(
        f"| **reconciliation** | **{reconciled['seconds']:.1f}** | **{reconciled['peak_rss']:.0f} MB** | "
        f"**{reads / exported:.3f}** ({reads} BatchGetItem) | **{writes / exported:.3f}** ({writes}) |"
    )
    print(f"| per-order reads (baseline) | - | - | 1.000 ({exported} GetItem) | - |")
    print(
        f"| the emulator's writes alone (floor) | {writes * per_write:.1f} | - | - | "
        f"{writes} x {per_write * 1000:.2f} ms |"
    )
    print(
        f"  download + reconciliation = {ratio:.2f}x the download alone (goal <= 1.3x); "
        f"writes = {writes} for {counts['missing'] + counts['stale']} changed orders "
        f"({counts['missing']} missing + {counts['stale']} stale, {cart_marks} cart marks; goal: only those)"
    )
    print(
        f"  floor: the same writes on this emulator cost {per_write * 1000:.2f} ms each at best "
        f"(serial {floor['serial'] * 1000:.2f} ms, {WRITE_WORKERS} at a time {floor['pooled'] * 1000:.2f} ms), so "
        f"download + writes alone = {floor_ratio:.2f}x the download: no reconciliation can go below that here; "
        f"the reconciliation is {reconciled['seconds'] / max(1e-9, writes * per_write):.2f}x its writes' floor"
    )
    return 0


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        sys.exit(run_child(sys.argv[2:]))
    sys.exit(main())
