"""The cost model's arithmetic on a tiny price table, each figure worked out by hand below."""

from __future__ import annotations

from typing import Any

import pytest

from platformctl.cost.model import GB, estimate
from platformctl.cost.schedules import runs_per_day
from platformctl.cost.template_facts import Facts, Function, GlueJob
from platformctl.errors import UserError

PRICES: dict[str, Any] = {
    "regions": {
        "test-1": {
            "lambda": {"gb_second": 0.01, "requests_per_million": 2.0},
            "dynamodb": {
                "wru_per_million": 10.0,
                "rru_per_million": 1.0,
                "storage_gb_month": 3.0,
                "pitr_gb_month": 1.0,
            },
            "s3": {
                "standard_gb_month": 100.0,
                "standard_ia_gb_month": 50.0,
                "glacier_ir_gb_month": 10.0,
                "put_per_1000": 5.0,
                "get_per_1000": 0.5,
                "transition_ia_per_1000": 1.0,
                "transition_glacier_ir_per_1000": 3.0,
            },
            "eventbridge": {"events_per_million": 7.0, "archive_gb": 2.0, "archive_storage_gb_month": 4.0},
            "apigateway": {"http_requests_per_million": 1.0},
            "stepfunctions": {"transitions_per_1000": 1.0},
            "glue": {"dpu_hour": 0.5},
            "cloudwatch": {
                "logs_ingestion_gb": 20.0,
                "logs_storage_gb_month": 6.0,
                "metric_month": 0.3,
                "alarm_month": 0.1,
                "dashboard_month": 3.0,
                "api_requests_per_1000": 0.01,
            },
            "kms": {"key_month": 1.0, "requests_per_10000": 0.03},
            "sqs": {"requests_per_million": 0.4},
            "secretsmanager": {"secret_month": 0.4, "api_calls_per_10000": 0.05},
        }
    }
}

UNITS: dict[str, Any] = {
    "units": {
        "shopify:orders/create": {
            "measured_events": 2,
            "calls": {"order": {"s3:PutObject:raw": 1.0, "dynamodb:PutItem:orders": 1.0, "s3:GetObject:raw": 2.0}},
            "request_bytes": {},
            "response_bytes": {},
            "s3_written": {"raw": {"objects": 1.0, "bytes": 1000.0}},
            "invocations": {"order": {"count": 1.0, "memory_mb": 1024, "duration_ms": 99.2, "log_bytes": 680.0}},
            "dynamodb_items": {"orders": {"items": 1.0, "bytes": 1000.0, "mean_item_bytes": 1500.0}},
            "per_environment_calls": {"order": ["secretsmanager:GetSecretValue"]},
            "extra": {"bus_events": 1.0},
        },
        "glue:orders_enriched": {
            "measured_events": 1,
            "calls": {},
            "request_bytes": {},
            "response_bytes": {},
            "s3_written": {},
            "invocations": {},
            "dynamodb_items": {},
            "extra": {"orders": 60.0, "processed_bytes_per_order": 0.0},
        },
    }
}

ASSUMPTIONS: dict[str, Any] = {
    "webhooks_per_order": {"orders/create": 1},
    "product_updates_per_day": 0,
    "recharge_webhooks_per_order": 0,
    "bulk_orders_per_run": "orders_per_day",
    "cold_starts_per_function_per_day": 10,
    "glue_job_minutes_per_run": 0.5,
    "glue_crawler_minutes_per_run": 3,
    "glue_crawler_dpus": 2,
    "lambda_platform_log_bytes_per_invocation": 320,
    "custom_metrics": 10,
    "kms_requests_per_bus_event": 2,
    "history_months": 1,
    "days_per_month": 30,
}


def facts() -> Facts:
    found = Facts("test")
    # The template's memory wins over the local run's (2048, not the measured 1024).
    found.functions["order"] = Function("order", 2048, 10)
    found.schedules = {"glue_crawler": 1.0}
    found.glue_jobs = {"orders-enriched": GlueJob("orders-enriched", 3.0, 2.0), "idle": GlueJob("idle", 10.0, 0.0)}
    found.crawlers = 2
    found.counts = {"AWS::CloudWatch::Alarm": 4, "AWS::CloudWatch::Dashboard": 1, "AWS::KMS::Key": 2}
    found.counts["AWS::SecretsManager::Secret"] = 3
    found.parameters = {"shopify/eventbridge-rules.ArchiveRetentionDays": "15"}
    return found


def lines(orders: float = 100) -> dict[tuple[str, str], Any]:
    result = estimate(orders, "test-1", units=UNITS, prices=PRICES, assumptions=ASSUMPTIONS, facts=facts())
    return {(line.service, line.item.split(" (")[0]): line for line in result.lines}


def test_lambda_requests_and_billed_duration() -> None:
    found = lines()
    # 100 orders a day x 30 days = 3,000 invocations; 99.2 ms is billed as 100 ms (rounded up to the ms).
    assert found[("Lambda", "requests")].quantity == pytest.approx(3000 / 1e6)
    assert found[("Lambda", "requests")].usd == pytest.approx(0.006)
    assert found[("Lambda", "compute")].quantity == pytest.approx(3000 * 0.100 * 2.0)  # 600 GB-s at 2 GB
    assert found[("Lambda", "compute")].usd == pytest.approx(6.0)


def test_dynamodb_units_and_storage() -> None:
    found = lines()
    # Items of 1,500 bytes take 2 write units each: 3,000 writes -> 6,000 WRU.
    assert found[("DynamoDB", "write request units")].usd == pytest.approx(6000 / 1e6 * 10.0)
    # 100 items a day of 1,000 bytes + 100 bytes overhead, kept the 30 days of history.
    table_gb = 100 * 1100 * 30 / GB
    assert found[("DynamoDB", "storage")].quantity == pytest.approx(table_gb)
    assert found[("DynamoDB", "point-in-time recovery")].usd == pytest.approx(table_gb * 1.0)


def test_s3_requests_and_storage() -> None:
    found = lines()
    assert found[("S3", "PUT, COPY, POST, LIST requests")].usd == pytest.approx(3.0 * 5.0)  # 3,000 PUTs
    assert found[("S3", "GET requests")].usd == pytest.approx(6.0 * 0.5)  # 6,000 GETs
    # 1,000-byte objects stay in STANDARD (lifecycle moves nothing under 128 KB).
    assert found[("S3", "Standard storage")].quantity == pytest.approx(100 * 1000 * 30 / GB)
    assert found[("S3", "Standard-IA storage")].quantity == 0
    assert found[("S3", "lifecycle transitions")].quantity == 0


def test_events_logs_glue_and_fixed_costs() -> None:
    found = lines()
    assert found[("EventBridge", "partner and custom events")].usd == pytest.approx(3000 / 1e6 * 7.0)
    archived = 3000 * 1000 / GB  # each event archived at its raw size
    assert found[("EventBridge", "archive")].usd == pytest.approx(archived * 2.0)
    assert found[("EventBridge", "archive storage")].quantity == pytest.approx(archived / 30 * 15)
    logged = 3000 * (680 + 320) / GB
    assert found[("CloudWatch", "Lambda logs ingested")].usd == pytest.approx(logged * 20.0)
    assert found[("CloudWatch", "Lambda logs stored")].quantity == pytest.approx(logged / 30 * 10)  # 10 days kept
    assert found[("CloudWatch", "alarms")].usd == pytest.approx(0.4)
    assert found[("CloudWatch", "dashboards")].usd == pytest.approx(3.0)
    # 2 runs a day x 30 days x 3 DPUs x 1 minute (the minimum, for 0.5) = 3 DPU-hours.
    assert found[("Glue", "orders-enriched job")].quantity == pytest.approx(3.0)
    assert found[("Glue", "idle job")].quantity == 0  # not scheduled
    # 2 crawlers x 1 run x 30 days x 2 DPUs x 10 minutes (the minimum, for 3) = 20 DPU-hours.
    assert found[("Glue", "crawlers")].quantity == pytest.approx(20.0)
    # One function fetches a secret per cold start: 10 x 30 = 300 calls and as many KMS decrypts,
    # plus 2 KMS requests per bus event.
    assert found[("Secrets Manager", "API calls")].quantity == pytest.approx(300 / 10000)
    assert found[("KMS", "requests")].quantity == pytest.approx((300 + 2 * 3000) / 10000)
    assert found[("KMS", "customer managed keys")].usd == pytest.approx(2.0)


def test_total_is_the_sum_and_scales_with_orders() -> None:
    small = estimate(100, "test-1", units=UNITS, prices=PRICES, assumptions=ASSUMPTIONS, facts=facts())
    large = estimate(1000, "test-1", units=UNITS, prices=PRICES, assumptions=ASSUMPTIONS, facts=facts())
    assert small.total == pytest.approx(sum(small.by_service().values()))
    fixed = small.by_service()["Glue"]
    assert large.by_service()["Glue"] == pytest.approx(fixed)  # schedules, not orders
    assert large.by_service()["Lambda"] == pytest.approx(10 * small.by_service()["Lambda"])


def test_unknown_region_and_missing_unit_are_refused() -> None:
    with pytest.raises(UserError, match="no prices for region"):
        estimate(1, "mars-1", units=UNITS, prices=PRICES, assumptions=ASSUMPTIONS, facts=facts())
    more = dict(ASSUMPTIONS, webhooks_per_order={"orders/create": 1, "orders/paid": 2})
    with pytest.raises(UserError, match="orders/paid"):
        estimate(1, "test-1", units=UNITS, prices=PRICES, assumptions=more, facts=facts())


@pytest.mark.parametrize(
    ("expression", "runs"),
    [("rate(1 hour)", 24), ("rate(15 minutes)", 96), ("rate(1 day)", 1), ("cron(0 3 * * ? *)", 1),
     ("cron(0/30 * * * ? *)", 48), ("cron(0 6,18 * * ? *)", 2), ("", 0)],
)  # fmt: skip
def test_schedules(expression: str, runs: float) -> None:
    assert runs_per_day(expression) == runs


def test_every_glue_job_of_the_templates_is_priced_on_its_own_schedule() -> None:
    from platformctl.cost.schedules import runs_per_day
    from platformctl.cost.template_facts import collect
    from platformctl.manifest import load_manifest

    found = collect(load_manifest(), "prod")
    assert set(found.glue_jobs) == {"orders-enriched", "shopify-curated", "recharge-curated", "marketing-daily"}
    for name, parameter in (
        ("orders-enriched", "shopify/glue-jobs.OrdersEnrichedScheduleExpression"),
        ("shopify-curated", "analytics/curated-tables.ShopifyCuratedScheduleExpression"),
    ):
        assert found.glue_jobs[name].runs_per_day == runs_per_day(found.parameters[parameter]) > 0
    local = collect(load_manifest(), "local")
    assert all(job.runs_per_day == 0 for job in local.glue_jobs.values())  # the local cloud schedules none
