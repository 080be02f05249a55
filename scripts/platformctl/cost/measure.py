"""Measure the per-unit figures of the cost model on the local cloud: a fixed, real-shaped scenario through the
deployed stacks, counted by the call ledger (``localcloud/call_ledger.py``).

Each unit is measured on its own, one event at a time, after a warm-up event of the same kind (so a
function's one-off start-up calls, such as a secret fetched once per execution environment, are not charged
to every event; cold starts are an assumption of the model). A unit's figures are the ledger's difference
over the measured events, divided by their number:

- ``shopify:<topic>``: a webhook of that topic through the Shopify event bus (the demo's day of traffic,
  with fresh ids): its processor, what the processor's lake write sets off (the privacy indexer, through the
  S3 event), and everything they call;
- ``recharge:webhook``: one signed Recharge delivery through the HTTP API (the mix of the five resources'
  ``created`` and ``updated`` topics);
- ``shopify:bulk_run``: one run of the bulk state machine over ``bulk_orders`` orders of the simulator;
- ``glue:orders_enriched``: one full rebuild (``--lookback_days 0``) of the Glue job orders-enriched on local
  Spark right after the bulk run (the lake then holds its seeded orders only): the Parquet bytes it writes per
  order (``orders_enriched`` and ``order_line_items``). Glue's billed minutes are
  not measured: local Spark's time says nothing of Glue's (an assumption, docs/cost.md);
- ``triplewhale:pull``: one scheduled Triple Whale run (its lookback of days);
- ``data_quality:run``: one scheduled data-quality run.

What is counted per unit: AWS calls per caller (the function whose role signed them) and operation, with
request and response bytes; lake objects and bytes written per zone; invocations per function, their mean
warm duration (local: an estimate, see docs/cost.md) and the log bytes they wrote; DynamoDB items and item
bytes added per table; bus events, HTTP API requests and state transitions.
"""

from __future__ import annotations

import copy
import json
import secrets
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any

import requests

from platformctl.cost.item_size import item_bytes
from platformctl.localcloud import call_ledger

WARM_UP = 1
# The Shopify topics measured, in an order that keeps the traffic real: customers and carts exist before
# the orders that name them, an order exists before its update and its fulfillment. Count = measured events.
# A topic's first event warms its function up (and is not measured) when the function has not run yet.
SHOPIFY_TOPICS: tuple[tuple[str, int], ...] = (
    ("customers/create", 1),
    ("products/update", 1),
    ("carts/create", 2),
    ("carts/update", 1),
    ("checkouts/create", 1),
    ("orders/create", 2),
    ("orders/paid", 1),
    ("fulfillments/create", 1),
)
# Made once per execution environment (a function caches the secret), so its count follows how many
# environments Lambda starts: the model charges it per cold start (an assumption), not per event.
PER_ENVIRONMENT_CALLS = frozenset({"secretsmanager:GetSecretValue"})
PROCESSORS = {"customers": "customer", "products": "product", "carts": "cart", "checkouts": "cart"}
PROCESSORS |= {"orders": "order", "fulfillments": "fulfillment"}
BULK_ORDERS = 40
RECHARGE_RESOURCES = 5  # subscription, charge, order, customer, address: created + updated each
DYNAMODB_WRITES = frozenset(
    {"PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem", "TransactWriteItems", "ExecuteStatement"}
)
ID_KEYS = frozenset({"id", "order_id", "customer_id", "product_id"})
TIMEOUT = (3.05, 30.0)


class Measurement:
    """The ledger, log files and tables read before and after each unit."""

    def __init__(self, cloud: Any) -> None:
        call_ledger.install()
        self.cloud = cloud
        self.endpoints = cloud.endpoints()
        self.prefix = f"{self.endpoints['brand']}-{self.endpoints['environment']}-"
        self.log_dir = Path(cloud.state_dir) / "logs"
        self.units: dict[str, dict[str, Any]] = {}
        self.table_sizes: dict[str, tuple[int, int]] | None = None

    def name(self, full: str) -> str:
        return full[len(self.prefix) :] if full.startswith(self.prefix) else full

    def settle(self) -> None:
        if not self.cloud.wait_idle(300):
            raise RuntimeError("the local cloud did not settle within 5 minutes")

    def _logs(self) -> dict[str, int]:
        return {p.stem: p.stat().st_size for p in self.log_dir.glob("*.log")}

    def _tables(self, written: set[str] | None = None) -> dict[str, tuple[int, int]]:
        """Items and bytes per table; only the ``written`` ones are scanned again (the rest did not change)."""
        dynamodb = self.cloud.target.client("dynamodb")
        sizes = dict(self.table_sizes or {})
        for page in dynamodb.get_paginator("list_tables").paginate():
            for table in page.get("TableNames", []):
                if self.table_sizes is not None and written is not None and table not in written:
                    continue
                items = [i for p in dynamodb.get_paginator("scan").paginate(TableName=table) for i in p["Items"]]
                sizes[self.name(table)] = (len(items), sum(item_bytes(i) for i in items))
        self.table_sizes = sizes
        return sizes

    def unit(self, name: str, count: int, act: Callable[[], None], extra: dict[str, float] | None = None) -> None:
        """Run ``act`` (the measured events, ``count`` of them) and keep what it did, per event."""
        self.settle()
        tables = dict(self.table_sizes) if self.table_sizes is not None else self._tables()
        calls, logs = call_ledger.snapshot(), self._logs()
        act()
        self.settle()
        delta = call_ledger.snapshot().minus(calls)
        writes = [key for key in delta.calls if key[1] == "dynamodb" and key[2] in DYNAMODB_WRITES]
        # A transaction names no one table (the ledger keys it without one): every table is scanned again.
        transacted = any(key[2].startswith("Transact") for key in writes)
        written = None if transacted else {key[3] for key in writes}
        logs_after, tables_after = self._logs(), self._tables(written)
        self.units[name] = self._per_unit(delta, count, logs, logs_after, tables, tables_after, extra or {})

    def _per_unit(
        self,
        delta: call_ledger.Snapshot,
        count: int,
        logs: dict[str, int],
        logs_after: dict[str, int],
        tables: dict[str, tuple[int, int]],
        tables_after: dict[str, tuple[int, int]],
        extra: dict[str, float],
    ) -> dict[str, Any]:
        calls: dict[str, dict[str, float]] = {}
        request_bytes: dict[str, float] = {}
        response_bytes: dict[str, float] = {}
        written: dict[str, dict[str, float]] = {}
        per_environment: dict[str, list[str]] = {}
        for (caller, service, operation, resource), totals in sorted(delta.calls.items()):
            if caller == call_ledger.OPERATOR:
                continue  # the scenario's own driving calls (Shopify's PutEvents, reads for the report)
            if f"{service}:{operation}" in PER_ENVIRONMENT_CALLS:
                per_environment.setdefault(self._function_of(caller), []).append(f"{service}:{operation}")
                continue
            where = self.name(resource)
            key = f"{service}:{operation}" + (f":{where}" if where else "")
            per_caller = calls.setdefault(self._function_of(caller), {})
            per_caller[key] = _round(per_caller.get(key, 0.0) + totals.items / count)
            request_bytes[key] = _round(request_bytes.get(key, 0.0) + totals.request_bytes / count)
            response_bytes[key] = _round(response_bytes.get(key, 0.0) + totals.response_bytes / count)
            if service == "s3" and operation in ("PutObject", "CompleteMultipartUpload", "CopyObject"):
                zone = written.setdefault(resource or "(root)", {"objects": 0.0, "bytes": 0.0})
                zone["objects"] = _round(zone["objects"] + totals.count / count)
                zone["bytes"] = _round(zone["bytes"] + totals.request_bytes / count)
            if service == "s3" and operation == "UploadPart":
                zone = written.setdefault(resource or "(root)", {"objects": 0.0, "bytes": 0.0})
                zone["bytes"] = _round(zone["bytes"] + totals.request_bytes / count)
        invocations = {}
        for function, inv in sorted(delta.invocations.items()):
            short = self.name(function)
            warm = inv.count - inv.cold
            seconds = inv.warm_seconds / warm if warm else inv.cold_seconds / inv.count
            invocations[short] = {
                "count": _round(inv.count / count),
                "memory_mb": inv.memory_mb,
                # A cold invocation's time includes starting the worker process: an upper bound.
                "duration_ms": _round(1000 * seconds),
                "duration_of": "warm" if warm else "cold",
                "log_bytes": _round((logs_after.get(function, 0) - logs.get(function, 0)) / inv.count),
            }
        items = {}
        for table, (n_after, bytes_after) in sorted(tables_after.items()):
            n_before, bytes_before = tables.get(table, (0, 0))
            if (n_after, bytes_after) != (n_before, bytes_before):
                items[table] = {
                    "items": _round((n_after - n_before) / count),
                    "bytes": _round((bytes_after - bytes_before) / count),
                    "mean_item_bytes": _round(bytes_after / n_after) if n_after else 0.0,
                }
        return {
            "measured_events": count,
            "calls": calls,
            "request_bytes": request_bytes,
            "response_bytes": response_bytes,
            "s3_written": written,
            "invocations": invocations,
            "dynamodb_items": items,
            "per_environment_calls": {k: sorted(set(v)) for k, v in sorted(per_environment.items())},
            **({"extra": extra} if extra else {}),
        }

    def _function_of(self, role: str) -> str:
        """The function a role belongs to (roles carry CloudFormation's random suffix; functions do not)."""
        functions = self._role_functions()
        return functions.get(role, self.name(role))

    def _role_functions(self) -> dict[str, str]:
        if not hasattr(self, "_roles"):
            roles: dict[str, str] = {}
            pages = self.cloud.target.client("lambda").get_paginator("list_functions").paginate()
            for page in pages:
                for function in page.get("Functions", []):
                    roles[function["Role"].rsplit("/", 1)[-1]] = self.name(function["FunctionName"])
            self._roles = roles
        return self._roles


def _round(value: float) -> float:
    return round(float(value), 3)


# ------------------------------------------------------------------------------------------ Shopify webhooks


def _fresh(event: dict[str, Any], offset: int, tag: str) -> dict[str, Any]:
    """The event with ids no earlier run used (same lengths, so the same bytes)."""

    def shift(node: Any) -> Any:
        if isinstance(node, dict):
            return {
                k: (v + offset if k in ID_KEYS and isinstance(v, int) and not isinstance(v, bool) else shift(v))
                for k, v in node.items()
            }
        if isinstance(node, list):
            return [shift(v) for v in node]
        return node

    return dict(json.loads(json.dumps(shift(copy.deepcopy(event))).replace("demo-", f"{tag}-")))


def shopify_webhooks(measurement: Measurement) -> None:
    from platformctl.scenarios import shopify_realtime as realtime

    day = realtime.Day()
    day.build()
    run = 100 + secrets.randbelow(900)
    offset, tag = run * 1000, f"c{run}"  # "demo" and "c<run>" have the same length
    by_topic: dict[str, list[dict[str, Any]]] = {}
    for event in day.events:
        fresh = _fresh(event, offset, tag)
        by_topic.setdefault(fresh["detail"]["metadata"]["X-Shopify-Topic"], []).append(fresh)
    source = realtime.event_source(measurement.endpoints)
    bus = measurement.endpoints["event_bus"]

    def send(events: list[dict[str, Any]]) -> None:
        for event in events:
            realtime._put(measurement.cloud, bus, [event], source)
            measurement.settle()

    warm: set[str] = set()
    for topic, count in SHOPIFY_TOPICS:
        function = PROCESSORS[topic.split("/", 1)[0]]
        warm_up = 0 if function in warm else WARM_UP
        warm.add(function)
        events = by_topic[topic][: warm_up + count]
        if len(events) < warm_up + count:
            raise RuntimeError(f"the demo day has too few {topic} events")
        send(events[:warm_up])
        measured = events[warm_up:]
        measurement.unit(f"shopify:{topic}", count, partial(send, measured), {"bus_events": 1.0})


# ------------------------------------------------------------------------------------------ Recharge


def recharge_webhooks(measurement: Measurement) -> None:
    from platformctl.commands.recharge import path_token
    from platformctl.scenarios.recharge import _deliveries

    endpoints, cloud = measurement.endpoints, measurement.cloud
    arn = cloud.stack_outputs()["shared/secrets-manager"]["RechargeWebhookSecretArn"]
    document = json.loads(cloud.target.client("secretsmanager").get_secret_value(SecretId=arn)["SecretString"])
    url = f"{endpoints['http_apis']['recharge']}/{path_token(document)}"
    count = 2 * RECHARGE_RESOURCES

    def send(now: datetime) -> None:
        written = [d for d in _deliveries(url, document["webhook_secret"], now) if d.expect_answer == "written"]
        with requests.Session() as http:
            for delivery in written[:count]:
                answer = http.post(delivery.url, data=delivery.body, headers=delivery.headers, timeout=TIMEOUT)
                if answer.status_code != 200:
                    raise RuntimeError(f"recharge {delivery.topic}: HTTP {answer.status_code} {answer.text[:200]}")
                measurement.settle()

    start = datetime.now(UTC)
    send(start - timedelta(seconds=30))  # the warm-up: one of each
    measurement.unit("recharge:webhook", count, lambda: send(start), {"api_requests": 1.0})


# ------------------------------------------------------------------------------------------ bulk, schedules


def bulk_run(measurement: Measurement, orders: int = BULK_ORDERS) -> None:
    cloud, endpoints = measurement.cloud, measurement.endpoints
    simulator, machine = endpoints["simulators"]["shopify"], endpoints["state_machines"]["shopify_bulk"]
    sfn = cloud.target.client("stepfunctions")
    extra: dict[str, float] = {"orders": float(orders)}

    def run(orders: int = orders) -> None:
        requests.post(f"{simulator}/_simulator/reset", json={"operations": True}, timeout=TIMEOUT).raise_for_status()
        requests.post(f"{simulator}/_simulator/control", json={"orders": orders}, timeout=TIMEOUT).raise_for_status()
        document = {"since": "2024-01-01T00:00:00Z", "until": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
        execution = sfn.start_execution(stateMachineArn=machine, input=json.dumps(document))["executionArn"]
        deadline = time.monotonic() + 300
        status = "RUNNING"
        while status == "RUNNING" and time.monotonic() < deadline:
            time.sleep(0.5)
            description = sfn.describe_execution(executionArn=execution)
            status = description["status"]
        if status != "SUCCEEDED":
            raise RuntimeError(f"the bulk run ended {status}: {description.get('cause', '')[:300]}")
        history = sfn.get_execution_history(executionArn=execution, maxResults=1000)["events"]
        extra["state_transitions"] = float(sum(1 for e in history if e["type"].endswith("StateEntered")))
        bucket = endpoints["bucket"]
        key = json.loads(description["output"])["manifest_key"]
        manifest = json.loads(cloud.target.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read())
        extra["objects"] = float(manifest["objects_written"])

    measurement.unit("shopify:bulk_run", 1, run, extra)


GLUE_UNIT = "glue:orders_enriched"


def glue_run(measurement: Measurement) -> None:
    from platformctl.commands.glue import job_spec, run_locally

    cloud, bucket = measurement.cloud, measurement.endpoints["bucket"]
    extra: dict[str, float] = {}

    def run() -> None:
        summary = run_locally(cloud.target, 0, "orders-enriched")
        s3 = cloud.target.client("s3")
        written = [
            item["Size"]
            for prefix in job_spec("orders-enriched").writes
            for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
            for item in page.get("Contents", [])
        ]
        orders = int(summary["orders_written"])
        if not orders:
            raise RuntimeError("orders-enriched wrote no order: the units before it left none in the lake")
        extra["orders"] = float(orders)
        extra["processed_bytes_per_order"] = _round(sum(written) / orders)

    measurement.unit(GLUE_UNIT, 1, run, extra)


def scheduled_run(measurement: Measurement, unit: str, stack: str, output: str, reset: str | None = None) -> None:
    from platformctl.localcloud.schedules import fire_schedule

    cloud = measurement.cloud
    schedule = cloud.stack_outputs()[stack][output]

    def fire() -> None:
        if reset:
            simulator = measurement.endpoints["simulators"][reset]
            requests.post(f"{simulator}/_simulator/reset", json={}, timeout=TIMEOUT).raise_for_status()
        fire_schedule(cloud.target, schedule)
        measurement.settle()

    measurement.unit(unit, 1, fire)


# ------------------------------------------------------------------------------------------ the whole scenario


def measure(cloud: Any, *, progress: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Run the scenario on a local cloud with the shared, monitoring, shopify, recharge, triplewhale,
    data-quality and privacy jobs deployed; the units document (what ``units.json`` holds)."""
    measurement = Measurement(cloud)
    steps: list[tuple[str, Callable[[], None]]] = [
        # The Glue run first after the bulk run: its lake then holds the simulator's seeded orders only, on
        # fixed days, so its Parquet (and the bytes per order) does not depend on the hour the scenario runs.
        ("bulk run", lambda: bulk_run(measurement)),
        ("Glue job orders-enriched", lambda: glue_run(measurement)),
        ("Shopify webhooks", lambda: shopify_webhooks(measurement)),
        ("Recharge webhooks", lambda: recharge_webhooks(measurement)),
        (
            "Triple Whale pull",
            lambda: scheduled_run(
                measurement,
                "triplewhale:pull",
                "triplewhale/ingestion",
                "TripleWhaleSummaryScheduleName",
                "triplewhale",
            ),
        ),
        (
            "data-quality run",
            lambda: scheduled_run(
                measurement, "data_quality:run", "data-quality/data-quality", "DataQualityScheduleName"
            ),
        ),
    ]
    for label, step in steps:
        started = time.monotonic()
        step()
        if progress:
            progress(f"{label}: {time.monotonic() - started:.1f}s")
    return {
        "comment": (
            "Per-unit figures measured on the local cloud by `platformctl cost measure --write` "
            "(scripts/platformctl/cost/measure.py); tests/integration/test_cost_units.py re-measures them. "
            "Durations are local and only an estimate of AWS's (docs/cost.md)."
        ),
        "scenario": {
            "warm_up_events": WARM_UP,
            "shopify_topics": dict(SHOPIFY_TOPICS),
            "recharge_webhooks": 2 * RECHARGE_RESOURCES,
            "bulk_orders": BULK_ORDERS,
        },
        "units": measurement.units,
    }
