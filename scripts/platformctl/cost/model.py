"""The monthly bill for a number of orders a day: measured per-unit figures (``units.json``) times how often
each unit happens (``assumptions.json`` and the templates' schedules) times the prices of a region
(``prices.json``). Pure arithmetic: no AWS call, no clock.

A line is one billed quantity of one service (``Line``); the services' sums make the bill. The rules
behind each line are in docs/cost.md.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from platformctl.cost.item_size import STORAGE_OVERHEAD_BYTES
from platformctl.cost.template_facts import Facts
from platformctl.errors import UserError

HERE = Path(__file__).parent
GB = 1024**3
SMALL_OBJECT_BYTES = 128 * 1024  # S3 lifecycle does not transition smaller objects (its default since 2024-09)
S3_PUT_CLASS = frozenset(
    {"PutObject", "CopyObject", "CreateMultipartUpload", "UploadPart", "CompleteMultipartUpload", "ListObjectsV2"}
    | {"ListObjects", "ListObjectVersions"}
)
S3_GET_CLASS = frozenset({"GetObject", "HeadObject", "GetObjectTagging"})
DYNAMODB_WRITES = frozenset({"PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem"})
DYNAMODB_TRANSACTIONS = frozenset({"TransactWriteItems"})
DYNAMODB_READS = frozenset({"GetItem", "BatchGetItem", "Query", "Scan"})
SERVICES = (
    "Lambda",
    "DynamoDB",
    "S3",
    "EventBridge",
    "API Gateway",
    "Step Functions",
    "Glue",
    "CloudWatch",
    "KMS",
    "SQS",
    "Secrets Manager",
)


@dataclass(frozen=True)
class Line:
    service: str
    item: str
    quantity: float
    unit: str
    price: float  # USD per unit
    note: str = ""

    @property
    def usd(self) -> float:
        return self.quantity * self.price


@dataclass(frozen=True)
class Estimate:
    orders_per_day: float
    region: str
    lines: tuple[Line, ...]
    days_per_month: float = 30.4167

    @property
    def per_order(self) -> float:
        return self.total / (self.orders_per_day * self.days_per_month)

    def by_service(self) -> dict[str, float]:
        totals = dict.fromkeys(SERVICES, 0.0)
        for line in self.lines:
            totals[line.service] = totals.get(line.service, 0.0) + line.usd
        return totals

    @property
    def total(self) -> float:
        return sum(line.usd for line in self.lines)


def load_json(name: str) -> dict[str, Any]:
    return dict(json.loads((HERE / name).read_text(encoding="utf-8")))


def assumption_values(document: dict[str, Any]) -> dict[str, Any]:
    return {name: entry["value"] for name, entry in document["values"].items()}


@dataclass
class _Rates:
    """How often each unit happens a day."""

    per_day: dict[str, float]
    bulk_scale: float  # the bulk run's size against the measured one


def _rates(units: dict[str, Any], assume: dict[str, Any], facts: Facts, orders: float) -> _Rates:
    per_day: dict[str, float] = {}
    for topic, per_order in assume["webhooks_per_order"].items():
        per_day[f"shopify:{topic}"] = orders * float(per_order)
    per_day["shopify:products/update"] = float(assume["product_updates_per_day"])
    per_day["recharge:webhook"] = orders * float(assume["recharge_webhooks_per_order"])
    per_day["shopify:bulk_run"] = facts.schedules.get("bulk_export", 0.0)
    per_day["triplewhale:pull"] = facts.schedules.get("triplewhale", 0.0)
    per_day["data_quality:run"] = facts.schedules.get("data_quality", 0.0)
    missing = sorted(name for name, rate in per_day.items() if rate and name not in units)
    if missing:
        raise UserError(f"units.json has no figures for {', '.join(missing)}: run `platformctl cost measure --write`")
    measured_orders = float(units.get("shopify:bulk_run", {}).get("extra", {}).get("orders", 1.0))
    run_orders = orders if assume["bulk_orders_per_run"] == "orders_per_day" else float(assume["bulk_orders_per_run"])
    return _Rates(per_day, run_orders / measured_orders)


def _scaled(unit: str, rates: _Rates, key: str) -> float:
    """A bulk run's figures grow with its orders except its call counts to S3 and the like (parts stay one
    per type up to PartTargetMiB): DynamoDB items (the privacy index), bytes and durations scale."""
    if unit != "shopify:bulk_run":
        return 1.0
    return rates.bulk_scale if key.startswith("dynamodb:") or key in ("bytes", "duration") else 1.0


# Where a call's count goes, by service (S3 and DynamoDB have their own rules in ``_Bill._call``).
_CALL_TOTALS = {"cloudwatch": "cloudwatch_api", "kms": "kms_requests", "sqs": "sqs_requests"}
_CALL_TOTALS["secretsmanager"] = "secrets_api"


class _Bill:
    """The monthly quantities, summed over the units (``tally``), then priced into lines."""

    def __init__(
        self, orders: float, units: dict[str, Any], price: dict[str, Any], assume: dict[str, Any], facts: Facts
    ) -> None:
        self.orders, self.measured, self.price, self.assume, self.facts = orders, units, price, assume, facts
        self.rates = _rates(units, assume, facts, orders)
        self.days = float(assume["days_per_month"])
        self.history_days = float(assume["history_months"]) * self.days
        self.totals: dict[str, float] = {}
        self.logs: dict[str, float] = {}  # function -> log bytes a month
        self.mean_item = _mean_item_bytes(units)

    def add(self, name: str, amount: float) -> None:
        self.totals[name] = self.totals.get(name, 0.0) + amount

    def get(self, name: str) -> float:
        return self.totals.get(name, 0.0)

    # ------------------------------------------------------------------ quantities

    def tally(self) -> None:
        for unit, per_day in self.rates.per_day.items():
            figures = self.measured.get(unit)
            if figures and per_day:
                self._unit(unit, figures, per_day)

    def _unit(self, unit: str, figures: dict[str, Any], per_day: float) -> None:
        month = per_day * self.days
        for function, inv in figures["invocations"].items():
            self._invocations(unit, function, inv, month)
        for caller in figures["calls"].values():
            for key, per_unit in caller.items():
                self._call(key, float(per_unit) * month * _scaled(unit, self.rates, key))
        for zone, written in figures["s3_written"].items():
            objects = float(written["objects"]) * per_day
            size = float(written["bytes"]) * per_day * _scaled(unit, self.rates, "bytes")
            large = objects > 0 and size / objects >= SMALL_OBJECT_BYTES
            self.add(f"s3_daily_bytes:{zone}:{'large' if large else 'small'}", size)
            if large:
                self.add("s3_daily_transitions", objects)
        for table, grown in figures["dynamodb_items"].items():
            items = max(0.0, float(grown["items"])) * per_day * _scaled(unit, self.rates, "dynamodb:")
            size = max(0.0, float(grown["bytes"])) * per_day * _scaled(unit, self.rates, "bytes")
            self.add(f"dynamodb_daily_bytes:{table}", size + items * STORAGE_OVERHEAD_BYTES)
        extra = figures.get("extra", {})
        self.add("state_transitions", float(extra.get("state_transitions", 0.0)) * month)
        self.add("api_requests", float(extra.get("api_requests", 0.0)) * month)
        if unit.startswith("shopify:") and "bus_events" in extra:
            self.add("partner_events", float(extra["bus_events"]) * month)
            self.add("archive_bytes", _raw_bytes(figures) * month)

    def _invocations(self, unit: str, function: str, inv: dict[str, Any], month: float) -> None:
        count = float(inv["count"]) * month
        known = self.facts.functions.get(function)
        memory = known.memory_mb if known else int(inv["memory_mb"])
        billed_ms = math.ceil(float(inv["duration_ms"]) * _scaled(unit, self.rates, "duration"))
        self.add("lambda_requests", count)
        self.add("lambda_gb_s", count * billed_ms / 1000 * memory / 1024)
        extra_log = float(self.assume["lambda_platform_log_bytes_per_invocation"])
        self.logs[function] = self.logs.get(function, 0.0) + (float(inv["log_bytes"]) + extra_log) * count

    def _call(self, key: str, amount: float) -> None:
        service, operation, *rest = key.split(":")
        if service == "s3":
            if operation in S3_PUT_CLASS:
                self.add("s3_put", amount)
            elif operation in S3_GET_CLASS:
                self.add("s3_get", amount)
        elif service == "dynamodb":
            item = self.mean_item.get(rest[0] if rest else "", 0.0)
            if operation in DYNAMODB_WRITES | DYNAMODB_TRANSACTIONS:
                factor = 2 if operation in DYNAMODB_TRANSACTIONS else 1
                self.add("dynamodb_wru", factor * amount * max(1, math.ceil(item / 1024)))
            elif operation in DYNAMODB_READS:
                self.add("dynamodb_rru", amount * max(1, math.ceil(item / 4096)))
        elif service == "events" and operation == "PutEvents":
            self.add("bus_events", amount)
        elif service in _CALL_TOTALS:
            self.add(_CALL_TOTALS[service], amount)

    # ------------------------------------------------------------------ lines

    def lines(self) -> list[Line]:
        return [
            *self._compute(),
            *self._dynamodb(),
            *_s3_lines(
                self.price["s3"],
                self.totals,
                self.facts,
                self.assume,
                self.orders,
                self.history_days,
                _processed_bytes_per_order(self.measured),
            ),
            *self._events(),
            *self._glue(),
            *self._cloudwatch(),
            *self._keys_and_secrets(),
        ]

    def _compute(self) -> list[Line]:
        p = self.price
        requests = self.get("lambda_requests") / 1e6
        return [
            Line("Lambda", "requests", requests, "million", p["lambda"]["requests_per_million"]),
            Line("Lambda", "compute (GB-seconds)", self.get("lambda_gb_s"), "GB-s", p["lambda"]["gb_second"]),
            Line("API Gateway", "HTTP API requests", self.get("api_requests") / 1e6, "million",
                 p["apigateway"]["http_requests_per_million"]),
            Line("Step Functions", "state transitions", self.get("state_transitions") / 1000, "thousand",
                 p["stepfunctions"]["transitions_per_1000"]),
            Line("SQS", "requests", self.get("sqs_requests") / 1e6, "million", p["sqs"]["requests_per_million"]),
        ]  # fmt: skip

    def _dynamodb(self) -> list[Line]:
        p = self.price["dynamodb"]
        ttl = self.facts.parameters.get("shopify/eventbridge-rules.CartTtlDays")
        ttl_days = float(ttl) if ttl else self.history_days
        table_gb = 0.0
        for name, daily in self.totals.items():
            if name.startswith("dynamodb_daily_bytes:"):
                kept = min(ttl_days, self.history_days) if name.endswith("abandoned-carts") else self.history_days
                table_gb += daily * kept / GB
        return [
            Line("DynamoDB", "write request units", self.get("dynamodb_wru") / 1e6, "million", p["wru_per_million"]),
            Line("DynamoDB", "read request units", self.get("dynamodb_rru") / 1e6, "million", p["rru_per_million"]),
            Line("DynamoDB", "storage", table_gb, "GB-month", p["storage_gb_month"]),
            Line("DynamoDB", "point-in-time recovery", table_gb, "GB-month", p["pitr_gb_month"]),
        ]

    def _events(self) -> list[Line]:
        p = self.price["eventbridge"]
        events = self.get("partner_events") + self.get("bus_events")
        archived_gb = self.get("archive_bytes") / GB
        retention = float(self.facts.parameters.get("shopify/eventbridge-rules.ArchiveRetentionDays") or 0)
        kept = archived_gb / self.days * min(retention or self.history_days, self.history_days)
        return [
            Line("EventBridge", "partner and custom events", events / 1e6, "million", p["events_per_million"]),
            Line("EventBridge", "archive (events archived)", archived_gb, "GB", p["archive_gb"]),
            Line("EventBridge", "archive storage", kept, "GB-month", p["archive_storage_gb_month"]),
        ]

    def _glue(self) -> list[Line]:
        p, facts, assume = self.price["glue"], self.facts, self.assume
        job_minutes = max(1.0, float(assume["glue_job_minutes_per_run"]))  # Glue 5.0: 1-minute minimum
        crawl_minutes = max(10.0, float(assume["glue_crawler_minutes_per_run"]))  # crawlers: 10-minute minimum
        crawls = facts.crawlers * facts.schedules.get("glue_crawler", 0.0) * self.days
        crawl_hours = crawls * float(assume["glue_crawler_dpus"]) * crawl_minutes / 60
        jobs = [
            Line(
                "Glue",
                f"{job.name} job",
                job.runs_per_day * self.days * job.dpus * job_minutes / 60,
                "DPU-hour",
                p["dpu_hour"],
            )
            for job in sorted(facts.glue_jobs.values(), key=lambda job: job.name)
        ]
        return [*jobs, Line("Glue", f"crawlers ({facts.crawlers})", crawl_hours, "DPU-hour", p["dpu_hour"])]

    def _cloudwatch(self) -> list[Line]:
        p, counts = self.price["cloudwatch"], self.facts.counts
        stored = 0.0
        for function, monthly in self.logs.items():
            known = self.facts.functions.get(function)
            retention = float(known.log_retention_days) if known and known.log_retention_days else self.history_days
            stored += monthly / self.days * min(retention, self.history_days) / GB
        alarms = float(counts.get("AWS::CloudWatch::Alarm", 0))
        dashboards = float(counts.get("AWS::CloudWatch::Dashboard", 0))
        return [
            Line("CloudWatch", "Lambda logs ingested", sum(self.logs.values()) / GB, "GB", p["logs_ingestion_gb"]),
            Line("CloudWatch", "Lambda logs stored (retention from the templates)", stored, "GB-month",
                 p["logs_storage_gb_month"]),
            Line("CloudWatch", "custom metrics", float(self.assume["custom_metrics"]), "metric-month",
                 p["metric_month"]),
            Line("CloudWatch", "alarms (standard resolution)", alarms, "alarm-month", p["alarm_month"]),
            Line("CloudWatch", "dashboards", dashboards, "dashboard-month", p["dashboard_month"]),
            Line("CloudWatch", "PutMetricData requests", self.get("cloudwatch_api") / 1000, "thousand",
                 p["api_requests_per_1000"]),
        ]  # fmt: skip

    def _keys_and_secrets(self) -> list[Line]:
        kms, secrets = self.price["kms"], self.price["secretsmanager"]
        cold_starts = float(self.assume["cold_starts_per_function_per_day"]) * self.days
        fetches = _secret_fetching_functions(self.measured) * cold_starts
        bus = self.get("partner_events") * float(self.assume["kms_requests_per_bus_event"])
        kms_requests = self.get("kms_requests") + fetches + bus
        keys = float(self.facts.counts.get("AWS::KMS::Key", 0))
        stored = float(self.facts.counts.get("AWS::SecretsManager::Secret", 0))
        api = self.get("secrets_api") + fetches
        return [
            Line("KMS", "customer managed keys", keys, "key-month", kms["key_month"]),
            Line("KMS", "requests", kms_requests / 10000, "10,000", kms["requests_per_10000"]),
            Line("Secrets Manager", "secrets", stored, "secret-month", secrets["secret_month"]),
            Line("Secrets Manager", "API calls", api / 10000, "10,000", secrets["api_calls_per_10000"]),
        ]


def estimate(
    orders_per_day: float,
    region: str,
    *,
    units: dict[str, Any],
    prices: dict[str, Any],
    assumptions: dict[str, Any],
    facts: Facts,
) -> Estimate:
    if region not in prices["regions"]:
        raise UserError(f"no prices for region {region!r}; prices.json has {', '.join(sorted(prices['regions']))}")
    bill = _Bill(orders_per_day, units["units"], prices["regions"][region], assumptions, facts)
    bill.tally()
    order = {service: index for index, service in enumerate(SERVICES)}
    lines = sorted(bill.lines(), key=lambda line: order[line.service])  # stable: items keep their order
    return Estimate(orders_per_day, region, tuple(lines), bill.days)


def _processed_bytes_per_order(measured: dict[str, Any]) -> float:
    """Parquet bytes per order in processed/ (orders_enriched and order_line_items), from the measured Glue run."""
    extra = measured.get("glue:orders_enriched", {}).get("extra", {})
    if "processed_bytes_per_order" not in extra:
        raise UserError("units.json has no glue:orders_enriched unit: run `platformctl cost measure --write`")
    return float(extra["processed_bytes_per_order"])


def _raw_bytes(figures: dict[str, Any]) -> float:
    """A webhook's size: the lake keeps the EventBridge event verbatim under raw/."""
    return float(figures["s3_written"].get("raw", {}).get("bytes", 0.0))


def _mean_item_bytes(measured: dict[str, Any]) -> dict[str, float]:
    found: dict[str, float] = {}
    for figures in measured.values():
        for table, grown in figures.get("dynamodb_items", {}).items():
            if grown.get("mean_item_bytes"):
                found[table] = max(found.get(table, 0.0), float(grown["mean_item_bytes"]))
    return found


def _secret_fetching_functions(measured: dict[str, Any]) -> int:
    return len({f for figures in measured.values() for f in figures.get("per_environment_calls", {})})


def _s3_lines(
    p: dict[str, float],
    totals: dict[str, float],
    facts: Facts,
    assumptions: dict[str, Any],
    orders_per_day: float,
    history_days: float,
    processed_bytes_per_order: float,
) -> list[Line]:
    lake = "shared/data-lake."
    ia_after = float(facts.parameters.get(lake + "RawInfrequentAccessDays", 30))
    glacier_after = float(facts.parameters.get(lake + "RawGlacierDays", 180))
    raw_retention = float(facts.parameters.get(lake + "RawRetentionDays", 0)) or history_days
    quarantine_retention = float(facts.parameters.get(lake + "QuarantineRetentionDays", 90))
    standard = infrequent = glacier = 0.0
    by_zone: dict[str, float] = {}
    for name, daily in totals.items():
        if not name.startswith("s3_daily_bytes:"):
            continue
        _, zone, size = name.split(":")
        kept = min(
            history_days,
            raw_retention if zone == "raw" else quarantine_retention if zone == "quarantine" else history_days,
        )
        gb = daily * kept / GB
        by_zone[zone] = by_zone.get(zone, 0.0) + gb
        if zone == "raw" and size == "large":  # the raw-tiering rule, for objects it moves
            standard += daily * min(kept, ia_after) / GB
            infrequent += daily * max(0.0, min(kept, glacier_after) - ia_after) / GB
            glacier += daily * max(0.0, kept - glacier_after) / GB
        else:
            standard += gb
    processed = orders_per_day * processed_bytes_per_order * history_days / GB
    standard += processed
    by_zone["processed"] = by_zone.get("processed", 0.0) + processed
    zones = ", ".join(f"{zone} {gb:,.1f}" for zone, gb in sorted(by_zone.items()))
    transitions = totals.get("s3_daily_transitions", 0.0) * float(assumptions["days_per_month"])
    return [
        Line("S3", "PUT, COPY, POST, LIST requests", totals.get("s3_put", 0.0) / 1000, "thousand", p["put_per_1000"]),
        Line("S3", "GET requests", totals.get("s3_get", 0.0) / 1000, "thousand", p["get_per_1000"]),
        Line("S3", "Standard storage", standard, "GB-month", p["standard_gb_month"], f"GB by zone: {zones}"),
        Line("S3", "Standard-IA storage (raw/ after tiering)", infrequent, "GB-month", p["standard_ia_gb_month"]),
        Line("S3", "Glacier Instant Retrieval storage", glacier, "GB-month", p["glacier_ir_gb_month"]),
        Line("S3", "lifecycle transitions", transitions * 2 / 1000, "thousand",
             (p["transition_ia_per_1000"] + p["transition_glacier_ir_per_1000"]) / 2),
    ]  # fmt: skip
