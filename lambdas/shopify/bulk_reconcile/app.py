"""Reconcile the hot stores with a complete bulk run, in bounded resumable steps: the step after Download.

Input: ``{"run": $.run}`` (only ``run_id`` and ``options`` are read). The progress lives in the lake,
under ``metadata/shopify/bulk/run=<id>/reconcile/``, not in the input, so every step (a retry too)
resumes where the work stopped. One invocation is one step: it
reconciles partitions (``common.shopify.reconcile``) until none is left or the function's remaining time
falls to ``STEP_SAFETY_SECONDS``, or after ``run.options.reconcile_partitions_per_step`` partitions
(tests and demos; ``run.options.reconcile_roots_per_partition`` sets the partition size). It answers
``{"done": bool, "partitions": N, "partitions_done": N, "result_key": key | null}``; the state machine
calls the next step until ``done``.

An order it writes marks its cart and checkout converted in the abandoned-carts table
(``ABANDONED_CARTS_TABLE_NAME``, ``CART_TTL_DAYS`` as the order processor's), as the order processor does.

The last step writes ``metadata/shopify/bulk/run=<id>/reconciliation.json`` (per entity: exported,
in_window, missing, stale, current, newer_in_store, written, skipped_invalid, current_by_bulk, and for
orders carts_marked) and the metrics ``ReconciledMissing`` and ``ReconciledStale`` (namespace
``<Brand>/Shopify``, dimension ``Entity``).
A repeat of the final step finds the result written and changes nothing (and counts nothing twice).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from aws_lambda_powertools.metrics import single_metric

from common import aws
from common.config import env_field, load_settings
from common.errors import transient_aws_errors
from common.observability import MetricUnit, logger, metrics, tracer
from common.settings import LakeSettings
from common.shopify.reconcile import ROOTS_PER_PARTITION, WRITE_WORKERS, Reconciler, StepOutcome, result_key
from common.timeutil import utc_now


@dataclass(frozen=True, kw_only=True)
class Settings(LakeSettings):
    orders_table: str = env_field("ORDERS_TABLE_NAME")
    customers_table: str = env_field("CUSTOMERS_TABLE_NAME")
    abandoned_carts_table: str = env_field("ABANDONED_CARTS_TABLE_NAME")
    cart_ttl_days: int = env_field("CART_TTL_DAYS")
    namespace: str = env_field("POWERTOOLS_METRICS_NAMESPACE")
    step_safety_seconds: int = env_field("STEP_SAFETY_SECONDS", default=60)
    roots_per_partition: int = env_field("ROOTS_PER_PARTITION", default=ROOTS_PER_PARTITION)
    write_workers: int = env_field("WRITE_WORKERS", default=WRITE_WORKERS)


def _option(options: Mapping[str, Any], name: str, default: int) -> int:
    value = options.get(name)
    return int(value) if isinstance(value, int) and not isinstance(value, bool) and value > 0 else default


def stop_check(context: Any, safety_seconds: int, max_partitions: int) -> Callable[[], bool]:
    """Stop before a partition once the remaining time nears the safety margin, or after
    ``max_partitions`` partitions (0: no limit). Each call is asked before one more partition."""
    started = time.monotonic()
    remaining = context.get_remaining_time_in_millis() / 1000.0 if context is not None else 900.0
    budget = max(1.0, remaining - safety_seconds)
    asked = 0

    def should_stop() -> bool:
        nonlocal asked
        asked += 1
        return (max_partitions > 0 and asked > max_partitions) or time.monotonic() - started >= budget

    return should_stop


def emit_metrics(result: Mapping[str, Any], namespace: str) -> None:
    for entity, counts in (result.get("entities") or {}).items():
        for name, key in (("ReconciledMissing", "missing"), ("ReconciledStale", "stale")):
            with single_metric(
                name=name, unit=MetricUnit.Count, value=int(counts.get(key, 0)), namespace=namespace
            ) as metric:
                metric.add_dimension(name="Entity", value=str(entity))


@dataclass
class ReconcileStep:
    """What one invocation does; the reconciler (lake, tables, clock) is injected."""

    settings: Settings
    make_reconciler: Callable[[int], Reconciler]  # roots per partition -> reconciler

    def handle(self, event: Mapping[str, Any], context: Any) -> dict[str, Any]:
        run = event["run"]
        run_id = str(run["run_id"])
        options = run.get("options") or {}
        reconciler = self.make_reconciler(
            _option(options, "reconcile_roots_per_partition", self.settings.roots_per_partition)
        )
        should_stop = stop_check(
            context, self.settings.step_safety_seconds, _option(options, "reconcile_partitions_per_step", 0)
        )
        metrics.add_metric(name="BulkReconcileSteps", unit=MetricUnit.Count, value=1)
        outcome: StepOutcome = reconciler.step(run_id, should_stop)
        if outcome.done and outcome.partitions:  # a repeat of the final step (partitions 0) counts nothing
            emit_metrics(outcome.result or {}, self.settings.namespace)
        logger.info(
            "bulk reconcile step ended",
            extra={
                "run_id": run_id,
                "done": outcome.done,
                "partitions": outcome.partitions,
                "partitions_done": outcome.partitions_done,
                "batch_gets": reconciler.requests["batch_get"],
                "writes": reconciler.requests["write"],
                "cart_marks": reconciler.requests["cart_mark"],
                "entities": (outcome.result or {}).get("entities"),
            },
        )
        return {
            "done": outcome.done,
            "partitions": outcome.partitions,
            "partitions_done": outcome.partitions_done,
            "result_key": result_key(run_id) if outcome.done else None,
        }


def build_step(settings: Settings) -> ReconcileStep:
    """The step of a deployed function: clients from the environment, the wall clock."""

    def make(roots_per_partition: int) -> Reconciler:
        return Reconciler(
            s3=aws.s3(),
            dynamodb=aws.dynamodb(),
            bucket=settings.bucket,
            tables={"orders": settings.orders_table, "customers": settings.customers_table},
            carts_table=settings.abandoned_carts_table,
            cart_ttl_days=settings.cart_ttl_days,
            clock=utc_now,
            roots_per_partition=roots_per_partition,
            write_workers=settings.write_workers,
        )

    return ReconcileStep(settings, make)


SETTINGS = load_settings(Settings)
STEP = build_step(SETTINGS)  # bench/bulk_reconcile.py wraps its make_reconciler


@logger.inject_lambda_context(log_event=False)
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    # S3 or DynamoDB throttling or a 5xx that outlasts botocore's retries: the workflow retries the
    # step, which resumes at the first unfinished partition.
    with transient_aws_errors(f"bulk run {event['run']['run_id']} reconcile step"):
        return STEP.handle(event, context)
