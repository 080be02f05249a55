"""The bulk download: throughput and peak memory of streaming a result into the lake, at 100 MB and 1 GB.

The simulated shop exports its orders through the real bulk flow (bulkOperationRunQuery, bulkOperation,
the signed result URL with Range support); the download function's handler streams the result into
emulated S3 (moto on 127.0.0.1) in one step. As deployed, its input carries no URL (the poll says
``has_result``): the handler asks the simulator's ``bulkOperation(id:)`` for it through the Admin API
client, with the token from the Shopify Admin secret (in moto's Secrets Manager), and fetches it only
because the simulator's origin is on its allow-list (``BULK_RESULT_HOSTS``); that one Admin API call is
inside the measured time. The baselines are given the URL. Beside it, measured in the same run on the same file:

- floor: read the same bytes over HTTP and gzip them (same level, same chunk size) to a discarding
  sink; a streaming download cannot beat it;
- naive: fetch the whole body, parse every line, split it in memory, gzip and upload each type.

Each measurement runs in a fresh process, so its peak RSS (``ru_maxrss``) is its own; the figures are
MB/s (10^6 bytes), peak RSS, and the ratios the issue sets goals for: streaming >= 60 % of the floor,
peak RSS <= 256 MB and flat in size (1 GB within 15 % of 100 MB).

    python -m bench.bulk_download            # 100 MB and 1 GB (generating 1 GB takes about two minutes once;
                                             # files are kept in $BENCH_DATA_DIR, default <tmp>/shopify-bulk-bench)
    BENCH_SIZES_MB=50,200 BENCH_RUNS=2 python -m bench.bulk_download
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO / "lambdas"), str(REPO / "scripts")]

BUCKET = "acme-data-lake-bench"
SHOP_DOMAIN = "bench.myshopify.com"
API_VERSION = "2026-01"
SECRET_NAME = "bench/ShopifyAdminApiSecret"
TOKEN = "shpat_bench_token_0123456789"  # the simulator's test token
SIZES_MB = [int(x) for x in os.environ.get("BENCH_SIZES_MB", "100,1000").split(",") if x.strip()]
RUNS = int(os.environ.get("BENCH_RUNS", "1"))
LEVEL = 6  # the download's default GZIP_LEVEL
CHUNK = 256 * 1024  # the download's read chunk
CHILD_TIMEOUT = 1800  # seconds; a bound on any one measurement
# The download function's environment sets this (infrastructure/shopify/shopify-bulk-workflow.yaml): part
# buffers are mmapped and returned when freed. Every child gets it, the baselines too.
MALLOC_MMAP_THRESHOLD = "1048576"
NAIVE_MAX_MB = int(os.environ.get("BENCH_NAIVE_MAX_MB", "1000"))  # the naive baseline needs ~4x the file in RAM


# ---------------------------------------------------------------------------------------- children


def _peak_rss_mb() -> float:
    """This process's peak resident set (VmHWM). Not ru_maxrss: Linux carries that across fork and exec,
    so a child would report the parent's size (moto and the simulator) as its own."""
    for line in Path("/proc/self/status").read_text(encoding="ascii").splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024.0
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def child_floor(url: str) -> dict[str, Any]:
    import zlib

    import requests

    start_rss = _peak_rss_mb()
    started = time.perf_counter()
    compressor = zlib.compressobj(LEVEL, zlib.DEFLATED, 31)
    total = compressed = 0
    with requests.get(url, stream=True, timeout=(3.05, 60)) as response:
        response.raise_for_status()
        for chunk in response.iter_content(CHUNK):
            total += len(chunk)
            compressed += len(compressor.compress(chunk))  # the sink: counted, then dropped
    compressed += len(compressor.flush())
    return {"seconds": time.perf_counter() - started, "bytes": total, "out": compressed, "start_rss": start_rss}


def child_stream(url: str, document: dict[str, Any]) -> dict[str, Any]:
    import importlib.util

    spec = importlib.util.spec_from_file_location("bulk_download_app", REPO / "lambdas/shopify/bulk_download/app.py")
    assert spec is not None
    assert spec.loader is not None
    app = importlib.util.module_from_spec(spec)
    sys.modules["bulk_download_app"] = app
    spec.loader.exec_module(app)

    Context = lambda_context("bench-bulk-download")  # noqa: N806 - a class, as Lambda passes one

    app.aws.s3().head_bucket(Bucket=BUCKET)  # a warm function: clients made, service models loaded
    start_rss = _peak_rss_mb()
    started = time.perf_counter()
    result = app.handler(document, Context())
    seconds = time.perf_counter() - started
    assert result["done"], result
    return {"seconds": seconds, "bytes": result["offset"], "objects": result["objects"], "start_rss": start_rss}


def child_naive(url: str, endpoint: str) -> dict[str, Any]:
    import gzip

    import boto3
    import requests

    s3 = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1")
    s3.head_bucket(Bucket=BUCKET)
    start_rss = _peak_rss_mb()
    started = time.perf_counter()
    body = requests.get(url, timeout=(3.05, 600)).content
    groups: dict[str, list[bytes]] = {}
    for line in body.splitlines():
        document = json.loads(line)
        name = document.get("__typename") or str(document.get("id", "gid://shopify/untyped/")).split("/")[3]
        groups.setdefault(name, []).append(line)
    for name, lines in groups.items():
        data = gzip.compress(b"\n".join(lines) + b"\n", compresslevel=LEVEL)
        s3.put_object(Bucket=BUCKET, Key=f"raw/shopify/bulk/naive/{name}/part-00001.jsonl.gz", Body=data)
    return {"seconds": time.perf_counter() - started, "bytes": len(body), "start_rss": start_rss}


def _current_rss_mb() -> float:
    for line in Path("/proc/self/status").read_text(encoding="ascii").splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024.0
    return 0.0


def _trace_rss(samples: list[float], every: float = 1.0) -> None:
    import threading

    def sample() -> None:
        while True:
            samples.append(round(_current_rss_mb()))
            time.sleep(every)

    threading.Thread(target=sample, daemon=True).start()


def run_child(argv: list[str]) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("mode", choices=["floor", "stream", "naive"])
    parser.add_argument("--url", required=True)
    parser.add_argument("--endpoint", required=True)
    parser.add_argument("--document", default="{}")
    args = parser.parse_args(argv)
    samples: list[float] = []
    if os.environ.get("BENCH_RSS_TRACE"):
        _trace_rss(samples)
    if args.mode == "floor":
        figures = child_floor(args.url)
    elif args.mode == "stream":
        figures = child_stream(args.url, json.loads(args.document))
    else:
        figures = child_naive(args.url, args.endpoint)
    figures["peak_rss"] = _peak_rss_mb()
    figures["rss_trace"] = samples
    print("RESULT " + json.dumps(figures), flush=True)
    return 0


# ------------------------------------------------------------------------------------------- parent


def lambda_context(function_name: str) -> type:
    """A stand-in for the Lambda context a handler reads: its name, memory and 15 minutes left."""

    class Context:
        memory_limit_in_mb = 1024
        invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:bench"
        aws_request_id = "bench"

        @staticmethod
        def get_remaining_time_in_millis() -> int:
            return 15 * 60 * 1000

    Context.function_name = function_name  # type: ignore[attr-defined]
    return Context


def _free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def measure(
    mode: str,
    url: str,
    endpoint: str,
    document: dict[str, Any] | None = None,
    function_env: dict[str, str] | None = None,
) -> dict[str, Any]:
    env = dict(
        os.environ,
        AWS_ENDPOINT_URL=endpoint,
        AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY="testing",
        AWS_DEFAULT_REGION="us-east-1",
        AWS_REGION="us-east-1",
        DATA_LAKE_BUCKET_NAME=BUCKET,
        GZIP_LEVEL=str(LEVEL),
        POWERTOOLS_TRACE_DISABLED="true",
        POWERTOOLS_METRICS_NAMESPACE="bench/Shopify",
        POWERTOOLS_SERVICE_NAME="bench-bulk-download",
        POWERTOOLS_LOG_LEVEL="WARNING",
        MALLOC_MMAP_THRESHOLD_=MALLOC_MMAP_THRESHOLD,
        PYTHONPATH=os.pathsep.join([str(REPO / "lambdas"), str(REPO / "scripts"), str(REPO)]),
    )
    env.update(function_env or {})
    command = [sys.executable, "-m", "bench.bulk_download", "--child", mode, "--url", url, "--endpoint", endpoint]
    if document is not None:
        command += ["--document", json.dumps(document)]
    completed = subprocess.run(
        command, cwd=REPO, env=env, capture_output=True, text=True, timeout=CHILD_TIMEOUT, check=False
    )
    lines = [line for line in completed.stdout.splitlines() if line.startswith("RESULT ")]
    if completed.returncode != 0 or not lines:
        raise RuntimeError(f"{mode} failed ({completed.returncode}):\n{completed.stderr[-3000:]}")
    return dict(json.loads(lines[-1].removeprefix("RESULT ")))


def export(simulator: Any, client: Any, orders: int) -> dict[str, Any]:
    """Run the bulk export of the whole simulated shop through the Admin API; the COMPLETED operation."""
    from common.shopify.bulk import RUN_QUERY_MUTATION, fetch_operation

    simulator.state.configure(orders=orders, running_polls=0)
    query = "{ orders { edges { node { __typename id } } } }"
    created = client.execute(RUN_QUERY_MUTATION, {"query": query})["bulkOperationRunQuery"]["bulkOperation"]
    while True:
        operation = fetch_operation(client, created["id"])
        if operation.status == "COMPLETED":
            return {"operation": operation}
        if operation.status not in {"CREATED", "RUNNING"}:
            raise RuntimeError(f"the export ended {operation.status}")
        time.sleep(0.5)


@dataclass
class BenchShop:
    """The simulated shop and the emulated AWS a bulk benchmark runs against (moto server on 127.0.0.1)."""

    endpoint: str
    moto: Any  # a boto3 session whose clients need endpoint_url=endpoint
    simulator: Any
    client: Any  # the Admin API client of the simulated shop
    function_env: dict[str, str]  # the bulk functions' environment beyond the lake's


@contextmanager
def bench_shop(data_dir: Path, before_secret: Callable[[Any, str], None] | None = None) -> Iterator[BenchShop]:
    """Start moto (with the lake bucket and the Shopify Admin secret) and the simulated shop; stop both after."""
    import logging

    import boto3
    from moto.moto_server.threaded_moto_server import ThreadedMotoServer

    from common.shopify.admin import ShopifyAdminClient, admin_api_url
    from platformctl.simulators.shopify_admin import ShopifyAdminSimulator, SimulatorState

    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    data_dir.mkdir(parents=True, exist_ok=True)
    port = _free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    endpoint = f"http://127.0.0.1:{port}"
    moto = boto3.Session(aws_access_key_id="t", aws_secret_access_key="t", region_name="us-east-1")
    moto.client("s3", endpoint_url=endpoint).create_bucket(Bucket=BUCKET)
    if before_secret is not None:
        before_secret(moto, endpoint)
    secrets = moto.client("secretsmanager", endpoint_url=endpoint)
    secret_arn = secrets.create_secret(Name=SECRET_NAME, SecretString=json.dumps({"access_token": TOKEN}))["ARN"]
    state = SimulatorState(work_dir=data_dir)
    state.reuse_files = True
    state.access_tokens = {TOKEN}  # the simulator accepts only the secret's token
    simulator = ShopifyAdminSimulator(state=state)
    try:
        yield BenchShop(
            endpoint=endpoint,
            moto=moto,
            simulator=simulator,
            client=ShopifyAdminClient(
                url=admin_api_url(SHOP_DOMAIN, API_VERSION, simulator.url), access_token=lambda: TOKEN
            ),
            # The download function's environment (infrastructure/shopify/shopify-bulk-workflow.yaml).
            function_env={
                "SHOP_DOMAIN": SHOP_DOMAIN,
                "SHOPIFY_API_VERSION": API_VERSION,
                "SHOPIFY_ADMIN_BASE_URL": simulator.url,
                "SHOPIFY_ADMIN_SECRET_ARN": secret_arn,
                "BULK_RESULT_HOSTS": simulator.url,  # the simulator serves results on its own 127.0.0.1 origin
            },
        )
    finally:
        simulator.stop()
        server.stop()


def run_document(operation: Any) -> dict[str, Any]:
    """The download step's input for a COMPLETED operation, as the state machine hands it over."""
    return {
        "run": {
            "operation_id": operation.id,
            "run_id": f"{operation.run_id}",
            "window": {"until": "2025-06-03T00:00:00Z"},
        },
        "poll": {
            "status": "COMPLETED",
            "has_result": True,
            "partial": False,
            "object_count": operation.object_count,
            "root_object_count": operation.root_object_count,
            "file_size": operation.file_size,
        },
        "previous": {},
    }


def data_dir() -> Path:
    return Path(os.environ.get("BENCH_DATA_DIR") or Path(tempfile.gettempdir()) / "shopify-bulk-bench")


def main() -> int:
    from platformctl.simulators.shopify_admin import orders_for_bytes

    rows: dict[int, dict[str, Any]] = {}
    with bench_shop(data_dir()) as shop:
        endpoint = shop.endpoint
        print(
            f"bulk download benchmark: gzip level {LEVEL}, {os.cpu_count()} CPU(s), moto S3 on {endpoint}, "
            f"result files in {data_dir()}",
            flush=True,
        )
        for size_mb in SIZES_MB:
            started = time.monotonic()
            orders = orders_for_bytes(size_mb * 1_000_000)
            operation = export(shop.simulator, shop.client, orders)["operation"]
            print(
                f"  {size_mb} MB: {orders} orders, {operation.object_count} objects, {operation.file_size} bytes "
                f"(export ready in {time.monotonic() - started:.0f}s)",
                flush=True,
            )
            document = run_document(operation)
            figures: dict[str, list[dict[str, Any]]] = {"floor": [], "stream": [], "naive": []}
            for _ in range(RUNS):  # interleaved, so drift on a noisy machine hits all three alike
                figures["floor"].append(measure("floor", str(operation.url), endpoint))
                figures["stream"].append(measure("stream", str(operation.url), endpoint, document, shop.function_env))
                if size_mb <= NAIVE_MAX_MB:
                    figures["naive"].append(measure("naive", str(operation.url), endpoint))
            rows[size_mb] = {name: _best(runs) for name, runs in figures.items() if runs}
            _print_size(size_mb, rows[size_mb])
            if os.environ.get("BENCH_RSS_TRACE"):
                print(f"      RSS every second (streaming): {figures['stream'][-1]['rss_trace']}", flush=True)
    _print_summary(rows)
    return 0


def _best(runs: list[dict[str, Any]]) -> dict[str, Any]:
    fastest = min(runs, key=lambda r: r["seconds"])
    return {
        **fastest,
        "mbps": fastest["bytes"] / 1e6 / fastest["seconds"],
        "peak_rss": max(r["peak_rss"] for r in runs),
    }


def _print_size(size_mb: int, row: dict[str, Any]) -> None:
    floor = row["floor"]["mbps"]
    print(f"  {'':4}{'pass':<34}{'MB/s':>8}{'of floor':>10}{'peak RSS':>11}{'after imports':>15}", flush=True)
    labels = {
        "floor": "floor: read + gzip to a sink",
        "stream": "streaming download (the handler)",
        "naive": "naive: whole body, parse, split",
    }
    for name in ("floor", "stream", "naive"):
        if name in row:
            item = row[name]
            print(
                f"  {'':4}{labels[name]:<34}{item['mbps']:>8.1f}{item['mbps'] / floor:>10.0%}"
                f"{item['peak_rss']:>8.0f} MB{item['start_rss']:>12.0f} MB",
                flush=True,
            )


def _print_summary(rows: dict[int, dict[str, Any]]) -> None:
    print("\nsummary", flush=True)
    for size_mb, row in rows.items():
        stream = row["stream"]
        share = stream["mbps"] / row["floor"]["mbps"]
        line = f"  {size_mb:>5} MB: streaming {stream['mbps']:.1f} MB/s = {share:.0%} of the floor"
        if "naive" in row:
            line += f", {stream['mbps'] / row['naive']['mbps']:.2f}x the naive speed"
            line += f", naive peak RSS {row['naive']['peak_rss']:.0f} MB"
        line += f"; streaming peak RSS {stream['peak_rss']:.0f} MB (goal <= 256 MB)"
        print(line, flush=True)
    sizes = sorted(rows)
    if len(sizes) >= 2:
        small, large = rows[sizes[0]]["stream"]["peak_rss"], rows[sizes[-1]]["stream"]["peak_rss"]
        print(
            f"  peak RSS {sizes[-1]} MB vs {sizes[0]} MB: {large:.0f} / {small:.0f} MB = {large / small:.2f} "
            "(goal: within 15 %)",
            flush=True,
        )


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        sys.exit(run_child(sys.argv[2:]))
    sys.exit(main())
