"""Shopify processors: cold start and warm cost per event, each beside a baseline measured in the same run.

Cold start: the time to import a processor's app.py in a fresh interpreter (what Lambda's init phase
does: the libraries, the settings, the module-level AWS clients), against importing boto3 alone (goal:
at most 1.5x). Runs are interleaved and the median of ``BENCH_RUNS`` (5) is kept, because this machine
is noisy. The shares of what every handler of the platform loads are shown apart: the X-Ray SDK that
``common.observability``'s Tracer imports, and the module-level clients ``common.aws`` makes.

Warm: the order processor's CPU time per event over ``BENCH_EVENTS`` (10,000) realistic orders/*
events with redeliveries and late versions, AWS calls against in-process moto, against a minimal
handler that only ``json.loads`` the event and does one ``put_item`` (goal: at most 2x). Both run the
same number of events; ``BENCH_SECONDS`` (180; 0: no bound) bounds the processor's run, and the report
says when it stopped early. moto's cost per call grows with the size of an update expression, so the time spent in
the SDK and moto is reported apart from the handler's own.

    python -m bench.shopify_processor        # or: make bench
"""

from __future__ import annotations

import contextlib
import copy
import json
import os
import random
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
RUNS = int(os.environ.get("BENCH_RUNS", "5"))
EVENTS = int(os.environ.get("BENCH_EVENTS", "10000"))
SECONDS = float(os.environ.get("BENCH_SECONDS", "180"))
PROCESSORS = ("order", "fulfillment", "customer", "product", "cart")
ENVIRONMENT = {
    "AWS_ACCESS_KEY_ID": "bench",
    "AWS_SECRET_ACCESS_KEY": "bench",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_REGION": "us-east-1",
    "POWERTOOLS_SERVICE_NAME": "shopify-bench",
    "POWERTOOLS_METRICS_NAMESPACE": "bench/Shopify",
    "POWERTOOLS_LOG_LEVEL": "INFO",
    "POWERTOOLS_TRACE_DISABLED": "true",
    "DATA_LAKE_BUCKET_NAME": "bench-data-lake",
    "ORDERS_TABLE_NAME": "bench-orders",
    "CUSTOMERS_TABLE_NAME": "bench-customers",
    "ABANDONED_CARTS_TABLE_NAME": "bench-abandoned-carts",
    "CART_TTL_DAYS": "30",
    "SHOPIFY_ADMIN_API_SECRET_ARN": "arn:aws:secretsmanager:us-east-1:000000000000:secret:bench",
    "SHOPIFY_API_VERSION": "2026-10",
    "SHOPIFY_ADMIN_BASE_URL": "",
}

CHILD = """
import resource, sys, time
sys.path[:0] = {paths!r}
started = time.perf_counter()
{statement}
elapsed = time.perf_counter() - started
print(elapsed, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""


# ----------------------------------------------------------------------------------------- cold start


def _child(statement: str, paths: list[str]) -> tuple[float, int]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "POWERTOOLS_"))}
    env.update(ENVIRONMENT, PYTHONDONTWRITEBYTECODE="1")
    code = CHILD.format(paths=paths, statement=statement)
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True, cwd=REPO)
    seconds, rss = result.stdout.split()[-2:]
    return float(seconds), int(rss)


def cold_start() -> None:
    lambdas = str(REPO / "lambdas")
    cases: dict[str, tuple[str, list[str]]] = {"boto3 alone (baseline)": ("import boto3", [])}
    cases["boto3 + Powertools Tracer (X-Ray SDK)"] = (
        "import boto3; from aws_lambda_powertools import Tracer; Tracer()",
        [],
    )
    cases["boto3 + s3 and dynamodb clients (common.aws)"] = (
        "from common.aws import dynamodb, s3; s3(); dynamodb()",
        [lambdas],
    )
    cases["  + Tracer, Logger, Metrics (common.observability)"] = (
        "from common.aws import dynamodb, s3; s3(); dynamodb(); import common.observability",
        [lambdas],
    )
    for name in PROCESSORS:
        folder = str(REPO / "lambdas" / "shopify" / f"{name}_processor")
        cases[f"{name} processor app.py"] = ("import app", [folder, lambdas])
    samples: dict[str, list[tuple[float, int]]] = {case: [] for case in cases}
    for _ in range(RUNS):  # interleaved, so drift and noise hit every case alike
        for case, (statement, paths) in cases.items():
            samples[case].append(_child(statement, paths))
    baseline = statistics.median(s for s, _ in samples["boto3 alone (baseline)"])
    print(f"cold start: import in a fresh interpreter, median of {RUNS} interleaved runs", flush=True)
    print(f"  {'case':<52} {'seconds':>8} {'x boto3':>8} {'peak RSS':>9}")
    for case, values in samples.items():
        seconds = statistics.median(s for s, _ in values)
        rss = max(r for _, r in values) / 1024
        print(f"  {case:<52} {seconds:>8.3f} {seconds / baseline:>7.2f}x {rss:>7.0f}MB")
    print("  goal: a processor at most 1.50x boto3 alone", flush=True)


# ---------------------------------------------------------------------------------------------- warm


def _events(count: int) -> list[str]:
    """orders/* events as EventBridge delivers them, JSON text: versions, redeliveries, late versions."""
    sys.path[:0] = [str(REPO)]
    from tests.unit.shopify.support import envelope

    shape = json.loads((REPO / "tests/fixtures/shopify/order__shopify-python-api.json").read_text())["order"]
    rng = random.Random(7)
    events: list[str] = []
    version = 0
    while len(events) < count:
        order_id = 6_000_000_000 + len(events)
        for step in range(rng.randint(1, 3)):
            version += 1
            order = copy.deepcopy(shape)
            order.update(id=order_id, name=f"#{order_id}", order_number=order_id, cart_token=f"cart-{order_id}")
            order.update(updated_at=f"2026-06-01T{step:02d}:{version % 60:02d}:00Z", financial_status="paid")
            topic = "orders/create" if step == 0 else "orders/updated"
            text = json.dumps(envelope(topic, order, event_id=f"bench-{version:07d}"))
            events.append(text)
            if rng.random() < 0.1:  # a redelivery
                events.append(text)
    return events[:count]


class SdkTimer:
    """CPU time spent inside botocore calls (the SDK and, here, moto answering them)."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self.calls = 0

    @contextlib.contextmanager
    def installed(self) -> Iterator[None]:
        from botocore.client import BaseClient

        original = BaseClient._make_api_call
        timer = self

        def timed(client: Any, operation: str, params: Any) -> Any:
            started = time.process_time()
            try:
                return original(client, operation, params)
            finally:
                timer.seconds += time.process_time() - started
                timer.calls += 1

        BaseClient._make_api_call = timed  # type: ignore[method-assign]
        try:
            yield
        finally:
            BaseClient._make_api_call = original  # type: ignore[method-assign]


def _run(handler: Callable[[str], Any], events: list[str], budget: float | None) -> tuple[int, float, SdkTimer]:
    timer = SdkTimer()
    with timer.installed(), open(os.devnull, "w") as sink, contextlib.redirect_stdout(sink):
        started_wall = time.monotonic()
        started = time.process_time()
        done = 0
        for event in events:
            handler(event)
            done += 1
            if budget is not None and time.monotonic() - started_wall > budget:
                break
        cpu = time.process_time() - started
    return done, cpu, timer


def warm() -> None:
    os.environ.update(ENVIRONMENT)
    sys.path[:0] = [str(REPO / "lambdas"), str(REPO / "scripts"), str(REPO)]
    import boto3
    from moto import mock_aws
    from tests.unit.shopify import support

    events = _events(EVENTS)
    os.environ.update(support.environment(), POWERTOOLS_LOG_LEVEL="INFO")
    with mock_aws():
        session = boto3.session.Session(region_name="us-east-1")
        support.create_stores(session)
        module = support.load_processor("order")
        from common.observability import logger

        logger.registered_handler.setStream(open(os.devnull, "w"))  # noqa: SIM115 - lives as long as the run
        context = support.Context()
        budget = SECONDS if SECONDS > 0 else None
        done, cpu, sdk = _run(lambda text: module.handler(json.loads(text), context), events, budget)

        dynamodb = session.client("dynamodb")
        baseline_table = "bench-minimal"
        dynamodb.create_table(
            TableName=baseline_table,
            AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
            KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
            BillingMode="PAY_PER_REQUEST",
        )

        def minimal(text: str) -> None:
            event = json.loads(text)
            dynamodb.put_item(
                TableName=baseline_table,
                Item={"id": {"S": event["detail"]["metadata"]["X-Shopify-Event-Id"]}, "body": {"S": text[:1000]}},
            )

        base_done, base_cpu, base_sdk = _run(minimal, events[:done], None)

    per, base = cpu / done * 1000, base_cpu / base_done * 1000
    own, base_own = (cpu - sdk.seconds) / done * 1000, (base_cpu - base_sdk.seconds) / base_done * 1000
    stopped = "" if done == EVENTS else f" (stopped at the {SECONDS:.0f}s budget of BENCH_SECONDS)"
    print(f"\nwarm: CPU per event over {done} orders/* events{stopped}, AWS calls against in-process moto", flush=True)
    print(f"  {'handler':<34} {'ms/event':>9} {'x minimal':>10} {'AWS calls':>10} {'own ms':>8} {'own x':>7}")
    print(
        f"  {'minimal (json.loads + put_item)':<34} {base:>9.2f} {1:>9.2f}x "
        f"{base_sdk.calls / base_done:>10.1f} {base_own:>8.3f} {1:>6.2f}x"
    )
    print(
        f"  {'order processor':<34} {per:>9.2f} {per / base:>9.2f}x {sdk.calls / done:>10.1f} "
        f"{own:>8.3f} {own / base_own:>6.2f}x"
    )
    print("  own = outside botocore/moto: parsing, validation, normalisation, logging, metrics")
    print("  goal: at most 2.00x the minimal handler per event", flush=True)


def main() -> None:
    cold_start()
    warm()


if __name__ == "__main__":
    main()
