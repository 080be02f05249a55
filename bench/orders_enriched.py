"""The Glue job orders_enriched on local Spark: a rebuild and an incremental run, beside reading the input.

A lake on local disk holds ``BENCH_BULK_ORDERS`` (20,000) orders of a bulk backfill (the simulator's
orders: line items as children, one run, gzip parts of many members) and ``BENCH_WEBHOOK_DAYS`` (30) days
of webhooks, ``BENCH_WEBHOOKS_PER_DAY`` (200) a day: new orders and updates of earlier ones. Measured, in
one Spark session, wall time of the best of ``BENCH_RUNS`` (3):
- baseline: reading every input file the rebuild reads and counting its rows (what no job can avoid);
- the rebuild (``--lookback_days 0``): every webhook, every bulk line, written as Parquet;
- an incremental run (``--lookback_days 3``) after it: the window's webhooks and the previous output
  (the backfill's parts are dated ten days back, outside the window), beside reading that input.
The incremental run is what the schedule runs: its input is the window plus one Parquet copy of the
orders, however long the history of events grows.

    python -m bench.orders_enriched
"""

from __future__ import annotations

import copy
import gzip
import json
import os
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
RUNS = int(os.environ.get("BENCH_RUNS", "3"))
BULK_ORDERS = int(os.environ.get("BENCH_BULK_ORDERS", "20000"))
DAYS = int(os.environ.get("BENCH_WEBHOOK_DAYS", "30"))
PER_DAY = int(os.environ.get("BENCH_WEBHOOKS_PER_DAY", "200"))
TODAY = date(2026, 11, 26)


def _build_lake(root: Path) -> dict[str, int]:
    from tests.unit.shopify.support import envelope

    from platformctl.simulators.shopify_admin import order_lines

    by_type: dict[str, list[bytes]] = {"order": [], "line_item": []}
    for index in range(BULK_ORDERS):
        for line in order_lines(11, index, BULK_ORDERS):
            kind = {"Order": "order", "LineItem": "line_item"}.get(line["__typename"])
            if kind:
                by_type[kind].append(json.dumps(line).encode() + b"\n")
    for kind, lines in by_type.items():
        part = root / f"raw/shopify/bulk/{kind}/run=9001/part-00001.jsonl.gz"
        part.parent.mkdir(parents=True, exist_ok=True)
        # one gzip member per 1,000 lines, as the download writes members
        part.write_bytes(b"".join(gzip.compress(b"".join(lines[i : i + 1000])) for i in range(0, len(lines), 1000)))
        backfilled = time.time() - 10 * 86400  # the backfill ran ten days ago: outside a 3-day window
        os.utime(part, (backfilled, backfilled))
    manifest = root / "metadata/shopify/bulk/run=9001/manifest.json"
    manifest.parent.mkdir(parents=True, exist_ok=True)
    manifest.write_text(json.dumps({"run_id": "9001", "complete": True}))

    shape = json.loads((REPO / "tests/fixtures/shopify/order__shopify-python-api.json").read_text())["order"]
    files = 0
    for day in range(DAYS):
        dt = TODAY - timedelta(days=DAYS - 1 - day)
        for n in range(PER_DAY):
            order_id = 7_000_000 + (day * PER_DAY + n) // 2  # every order: a create, then an update
            order: dict[str, Any] = copy.deepcopy(shape)
            order.update(id=order_id, created_at=f"{dt}T00:00:00Z", updated_at=f"{dt}T{n % 24:02d}:00:00Z")
            topic = "orders/create" if n % 2 == 0 else "orders/updated"
            event = envelope(topic, order, event_id=f"b-{day}-{n}")
            path = root / f"raw/shopify/webhooks/orders/topic={topic.replace('/', '_')}/dt={dt}/b-{day}-{n}.json"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(event))
            files += 1
    return {"bulk_lines": sum(len(v) for v in by_type.values()), "webhook_files": files}


def _best(action: Any) -> tuple[float, Any]:
    best, result = float("inf"), None
    for _ in range(RUNS):
        started = time.perf_counter()
        result = action()
        best = min(best, time.perf_counter() - started)
    return best, result


def main() -> None:
    sys.path[:0] = [str(REPO / "glue-scripts"), str(REPO / "scripts"), str(REPO / "lambdas"), str(REPO)]

    import orders_enriched_job as job

    spark = job.local_session(2, **{"spark.driver.memory": "2g"})
    spark.sparkContext.setLogLevel("ERROR")
    with tempfile.TemporaryDirectory(prefix="bench-orders-enriched-") as scratch:
        root = Path(scratch)
        started = time.perf_counter()
        sizes = _build_lake(root)
        print(
            f"lake: {BULK_ORDERS} bulk orders ({sizes['bulk_lines']} lines), {sizes['webhook_files']} webhook "
            f"files over {DAYS} days, built in {time.perf_counter() - started:.1f}s",
            flush=True,
        )
        uri = f"file://{root}"
        inputs = [
            f"{uri}/raw/shopify/webhooks/orders/",
            f"{uri}/raw/shopify/bulk/order/",
            f"{uri}/raw/shopify/bulk/line_item/",
        ]

        def read_inputs() -> int:  # each folder apart: their partition layouts differ
            return sum(int(spark.read.text(folder).count()) for folder in inputs)

        baseline, lines = _best(read_inputs)
        rebuild, summary = _best(lambda: job.run(spark, uri, 0, TODAY))
        window = [f"{uri}/raw/shopify/webhooks/orders/topic=*/dt={TODAY - timedelta(days=n)}/" for n in range(4)]

        def read_window() -> int:  # the window's webhooks and the previous output: the incremental input
            previous = spark.read.parquet(f"{uri}/processed/shopify/orders_enriched/").count()
            return int(spark.read.text(window).count()) + int(previous)

        window_read, _ = _best(read_window)
        incremental, _ = _best(lambda: job.run(spark, uri, 3, TODAY))
    spark.stop()
    print(f"\norders_enriched on local Spark (local[2]), best of {RUNS}; {summary.orders_written} orders written")
    print(f"  {'case':<58} {'seconds':>8} {'x baseline':>11}")
    rows = [
        (f"baseline: read and count every input line ({lines} rows)", baseline, baseline),
        ("rebuild (lookback 0): all webhooks and bulk lines -> Parquet", rebuild, baseline),
        ("baseline: read the window's webhooks and the previous output", window_read, window_read),
        ("incremental (lookback 3): the window + the previous output", incremental, window_read),
    ]
    for name, seconds, base in rows:
        print(f"  {name:<58} {seconds:>8.2f} {seconds / base:>10.2f}x")
    print(f"  incremental / rebuild: {incremental / rebuild:.2f}", flush=True)


if __name__ == "__main__":
    main()
