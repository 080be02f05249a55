"""The curated tables (infrastructure/analytics/curated-tables.yaml, and order_line_items beside orders_enriched
in infrastructure/shopify/glue-jobs.yaml): the catalog lists exactly the columns the jobs write, where the
jobs write them, with orders_enriched's partition projection; the per-job blocks of the stack differ only in
the job's name; and, asked of the IAM policy evaluator with the role's policies, the permissions boundary and
the lake's bucket policy, the jobs' role reads its inputs and nothing else of the personal zones, and writes
only its outputs."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from platformctl.commands.glue import JOBS
from platformctl.iam.evaluation import Decision, Request, evaluate
from platformctl.iam.template_policies import TemplateResolver
from platformctl.manifest import REPO_ROOT
from tests.templates import iam_fixtures as iam
from tests.templates.test_contracts import _glue_script

CURATED = REPO_ROOT / "infrastructure" / "analytics" / "curated-tables.yaml"
GLUE_JOBS = REPO_ROOT / "infrastructure" / "shopify" / "glue-jobs.yaml"
STACK = "analytics/curated-tables"
TLS = {"aws:SecureTransport": "true", "s3:TlsVersion": "1.2"}

# table -> (template, logical id, the module that writes it, the name of its column list there). A module
# that writes two tables keys OUTPUT_COLUMNS by table; orders_enriched keeps the line items' list apart.
TABLES = {
    "order_line_items": (GLUE_JOBS, "OrderLineItemsTable", "orders_enriched", "LINE_ITEM_OUTPUT_COLUMNS"),
    "customers": (CURATED, "CustomersTable", "shopify_curated", "OUTPUT_COLUMNS"),
    "products": (CURATED, "ProductsTable", "shopify_curated", "OUTPUT_COLUMNS"),
    "subscriptions": (CURATED, "SubscriptionsTable", "recharge_curated", "OUTPUT_COLUMNS"),
    "subscription_charges": (CURATED, "SubscriptionChargesTable", "recharge_curated", "OUTPUT_COLUMNS"),
    "marketing_daily": (CURATED, "MarketingDailyTable", "marketing_daily", "OUTPUT_COLUMNS"),
}
LINEAGE = ["updated_at", "source", "source_event_id"]
PER_JOB = {
    "ShopifyCurated": "shopify-curated",
    "RechargeCurated": "recharge-curated",
    "MarketingDaily": "marketing-daily",
}


def _table(templates: dict[Path, Any], table: str) -> dict[str, Any]:
    path, logical_id, _, _ = TABLES[table]
    return dict(templates[path]["Resources"][logical_id]["Properties"]["TableInput"])


def _written(table: str) -> list[str]:
    _, _, module, attribute = TABLES[table]
    columns = getattr(_glue_script(module), attribute)
    return list(columns[table] if isinstance(columns, dict) else columns)


# ------------------------------------------------------------------------------------------ the tables


@pytest.mark.parametrize("table", sorted(TABLES))
def test_the_table_has_the_columns_the_job_writes(templates: dict[Path, Any], table: str) -> None:
    """Exactly the job's output columns, in its order, with dt as the partition key; lineage columns last and
    every column commented. Their types against what Spark writes: tests/glue."""
    definition = _table(templates, table)
    assert definition["Name"] == table
    assert [key["Name"] for key in definition["PartitionKeys"]] == ["dt"]
    columns = definition["StorageDescriptor"]["Columns"]
    names = [c["Name"] for c in columns]
    assert len(names) == len(set(names)), "a column is listed twice"
    assert names == [c for c in _written(table) if c != "dt"]
    assert names[-3:] == LINEAGE
    assert all(c.get("Comment") for c in [*columns, *definition["PartitionKeys"]]), "every column has a Comment"


@pytest.mark.parametrize("table", sorted(TABLES))
def test_the_table_lies_where_its_job_writes_with_orders_enricheds_projection(
    templates: dict[Path, Any], table: str
) -> None:
    definition = _table(templates, table)
    prefixes = [prefix for job in JOBS.values() for prefix in job.writes if prefix.endswith(f"/{table}/")]
    assert len(prefixes) == 1, f"no job of platformctl glue writes {table}"
    assert definition["StorageDescriptor"]["Location"] == {"Fn::Sub": f"s3://${{DataLakeBucketName}}/{prefixes[0]}"}
    parameters = dict(definition["Parameters"])
    assert parameters.pop("storage.location.template") == {
        "Fn::Sub": f"s3://${{DataLakeBucketName}}/{prefixes[0]}dt=${{!dt}}/"
    }
    reference = dict(_table_of_orders_enriched(templates)["Parameters"])
    reference.pop("storage.location.template")
    assert parameters == reference
    assert definition["PartitionKeys"][0]["Type"] == "string"


def _table_of_orders_enriched(templates: dict[Path, Any]) -> dict[str, Any]:
    return dict(templates[GLUE_JOBS]["Resources"]["OrdersEnrichedTable"]["Properties"]["TableInput"])


def test_no_table_has_a_contact_detail_column(templates: dict[Path, Any]) -> None:
    """Analysts read the processed zone: no names, e-mail addresses, phone numbers or addresses."""
    contact = ("name", "email", "phone", "address", "zip", "city")
    for table in TABLES:
        for column in _table(templates, table)["StorageDescriptor"]["Columns"]:
            name = column["Name"]
            allowed = name in {"address_id", "email_marketing_state", "accepts_email_marketing"}
            assert allowed or not any(part in name for part in contact), f"{table}.{name}"


# ------------------------------------------------------------------------------------ the per-job blocks


def _with_job_as_placeholder(node: Any, prefix: str, job: str) -> str:
    return json.dumps(node, sort_keys=True).replace(prefix, "<Job>").replace(job, "<job>")


def test_the_per_job_blocks_differ_only_in_the_jobs_name(templates: dict[Path, Any]) -> None:
    """Schedule, succeeded rule and stale alarm of each job (issue 18: no copy-paste that drifts)."""
    resources = templates[CURATED]["Resources"]
    for kind in ("Schedule", "SucceededRule", "StaleAlarm"):
        shapes = {
            prefix: _with_job_as_placeholder(resources[f"{prefix}{kind}"], prefix, job)
            for prefix, job in PER_JOB.items()
        }
        assert len(set(shapes.values())) == 1, f"the {kind} blocks differ beyond the job's name"
    names = {resources[f"{prefix}Job"]["Properties"]["Name"]["Fn::Sub"] for prefix in PER_JOB}
    assert names == {f"${{Brand}}-${{Environment}}-{job}" for job in PER_JOB.values()}
    assert {JOBS[job].stack for job in PER_JOB.values()} == {tuple(STACK.split("/"))}


def test_one_rule_alerts_the_failures_of_every_job_and_names_the_job(templates: dict[Path, Any]) -> None:
    rule = templates[CURATED]["Resources"]["FailedRule"]["Properties"]
    assert rule["EventPattern"]["detail"]["jobName"] == [{"Ref": f"{prefix}Job"} for prefix in PER_JOB]
    target = rule["Targets"][0]["InputTransformer"]
    assert target["InputPathsMap"]["job"] == "$.detail.jobName"
    assert "<job>" in target["InputTemplate"]


# ------------------------------------------------------------------------------------------ the role


@cache
def _stack() -> TemplateResolver:
    return iam.resolvers()[STACK]


def _lake() -> str:
    return f"arn:aws:s3:::{iam.output(iam.resolvers()['shared/data-lake'], 'DataLakeBucketName')}"


def _as_job(action: str, key: str) -> Decision:
    role = _stack().ref("JobRole")
    return evaluate(
        Request(
            action=action,
            resource=f"{_lake()}/{key}",
            context=TLS,
            principal=f"arn:aws:sts::{iam.ACCOUNT}:assumed-role/{role}/GlueJobRunnerSession",
        ),
        _stack().policy_documents("JobRole"),
        iam.boundary_document(),
        dict(iam.resolvers()["shared/data-lake"].properties("DataLakeBucketPolicy")["PolicyDocument"]),
    )


INPUTS = sorted({prefix for job in PER_JOB.values() for prefix in JOBS[job].reads})
OUTPUTS = sorted({prefix for job in PER_JOB.values() for prefix in JOBS[job].writes})
# Personal data the jobs have no business with (the zones and the raw folders beside their inputs).
NOT_INPUTS = [
    "raw/shopify/webhooks/orders/topic=orders_create/dt=2026-12-05/b54557e4.json",
    "raw/shopify/fetched/orders/topic=orders_create/dt=2026-12-05/b54557e4.json",
    "raw/shopify/webhooks/carts/topic=carts_update/dt=2026-12-05/c1.json",
    "raw/shopify/webhooks/checkouts/topic=checkouts_create/dt=2026-12-05/c2.json",
    "raw/shopify/webhooks/fulfillments/topic=fulfillments_create/dt=2026-12-05/c3.json",
    "raw/shopify/bulk/order/run=gid-shopify-BulkOperation-9/part-00000.jsonl.gz",
    "raw/shopify/bulk/line_item/run=gid-shopify-BulkOperation-9/part-00000.jsonl.gz",
    "raw/recharge/customer/topic=customer_created/dt=2026-12-05/1-2026.json",
    "raw/recharge/address/topic=address_created/dt=2026-12-05/1-2026.json",
    "raw/recharge/order/topic=order_created/dt=2026-12-05/1-2026.json",
    "quarantine/shopify/dt=2026-12-05/foreign-source/x.json",
    "exports/privacy/0123456789abcdef0123456789abcdef/export.json",
    "metadata/privacy/audit/0123456789abcdef0123456789abcdef.json",
    "metadata/triplewhale/summary-page/example.myshopify.com/watermark.json",
    "processed/shopify/order_line_items/dt=2026-12-05/part-0.parquet",
]


@pytest.mark.parametrize("prefix", INPUTS + OUTPUTS)
def test_the_role_reads_the_jobs_inputs_and_outputs(prefix: str) -> None:
    decision = _as_job("s3:GetObject", f"{prefix}dt=2026-12-05/part-0.json")
    assert decision.allowed, decision.reason


@pytest.mark.parametrize("key", NOT_INPUTS)
def test_the_role_reads_nothing_else_of_the_lake(key: str) -> None:
    assert not _as_job("s3:GetObject", key).allowed


@pytest.mark.parametrize("prefix", OUTPUTS)
def test_the_role_replaces_its_outputs(prefix: str) -> None:
    for action in ("s3:PutObject", "s3:DeleteObject"):
        decision = _as_job(action, f"{prefix}dt=2026-12-05/part-0.parquet")
        assert decision.allowed, decision.reason


@pytest.mark.parametrize("prefix", [p for p in INPUTS if p not in OUTPUTS] + ["processed/shopify/order_line_items/"])
def test_the_role_writes_nothing_it_only_reads(prefix: str) -> None:
    for action in ("s3:PutObject", "s3:DeleteObject"):
        assert not _as_job(action, f"{prefix}dt=2026-12-05/x.json").allowed, f"{action} {prefix}"


def test_the_role_reads_the_processed_catalog_only() -> None:
    def glue(action: str, resource: str) -> bool:
        return evaluate(
            Request(action=action, resource=f"arn:aws:glue:{iam.REGION}:{iam.ACCOUNT}:{resource}"),
            _stack().policy_documents("JobRole"),
            iam.boundary_document(),
        ).allowed

    processed = iam.output(iam.resolvers()["shared/glue-catalog"], "ProcessedDatabaseName")
    raw = iam.output(iam.resolvers()["shared/glue-catalog"], "RawDatabaseName")
    assert glue("glue:GetTable", f"table/{processed}/customers")
    assert not glue("glue:GetTable", f"table/{raw}/shopify_webhooks_orders")
    assert not glue("glue:UpdateTable", f"table/{processed}/customers")
    assert not glue("glue:DeleteTable", f"table/{processed}/customers")


def test_each_marketing_column_names_the_triple_whale_metric_that_feeds_it(templates: dict[Path, Any]) -> None:
    metrics = _glue_script("marketing_daily").METRICS
    comments = {c["Name"]: c["Comment"] for c in _table(templates, "marketing_daily")["StorageDescriptor"]["Columns"]}
    for column, (metric_id, *_) in metrics.items():
        assert f"metric {metric_id}" in comments[column], f"marketing_daily.{column}: name Triple Whale's {metric_id}"
