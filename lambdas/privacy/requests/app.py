"""The privacy workflow's steps (``${Brand}-privacy-requests``): one function, called by every Task with a step.

Events and answers (the state machine in ``infrastructure/privacy/privacy-requests.yaml`` reads
``status``, ``kind``, ``request_id`` and ``remaining``):

- ``{"step": "plan", "input": {"request_key": ..., "full_scan": bool (optional)}}`` (the execution's input,
  whole: an optional field read in the state machine would need a Choice) -> ``{"request_id", "kind", "status":
  "planned" | "already_done", "remaining"}``. Loads the request record; when its audit entry exists the
  request was handled already (``already_done``). Otherwise finds the person's data
  (``plan``) and writes ``metadata/privacy/work/<id>/plan.json`` and ``progress.json``. A plan
  already written (a resumed execution, ``<id>-resume-<n>``) is kept, with its progress.
- ``{"step": "erase", "request_id"}`` -> ``{"request_id", "kind", "status": "erasing" | "erased",
  "remaining"}``: continues from the progress, stops when ``TIME_RESERVE_SECONDS`` (60 s) of the
  invocation are left, saves progress after each task (``erase``). ``PrivacyStepBusy`` when a
  bulk download is running or a dead-letter queue's messages are held: the state machine retries.
- ``{"step": "export", "request_id"}`` -> ``{"request_id", "kind", "status": "exported", "remaining": 0,
  "export_key"}``: one JSON document, SSE-KMS with the lake's key, then the alerts topic
  (``export``); a retry after the write only notifies.
- ``{"step": "finish", "request_id"}`` -> ``{"request_id", "kind", "status": "done", "remaining": 0,
  "audit_key", "totals", "export"}``: the audit entry (``audit``); a repeat returns the entry's
  summary.

Time comes from an injectable clock. Logs carry request ids, keys, counts and reasons, never personal
data.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from common import aws
from common.config import env_field, load_settings
from common.observability import MetricUnit, logger, metrics, tracer
from common.privacy.digest import SubjectDigester, digester_from_secret
from common.privacy.index import PrivacyIndex
from common.privacy.requests import ERASE, EXPORT, audit_key, load_request
from common.secret_cache import CachedSecret
from common.settings import LakeSettings
from common.timeutil import iso_utc, utc_now
from privacy.requests import audit, work
from privacy.requests.checkpoints import CheckpointSweeper
from privacy.requests.erase import Eraser
from privacy.requests.errors import PrivacyStepBusy
from privacy.requests.export import Exporter
from privacy.requests.plan import Planner
from privacy.requests.queues import DeadLetterQueues
from privacy.requests.stores import HotStores

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_sns import SNSClient
    from mypy_boto3_sqs import SQSClient

__all__ = ["PrivacyStepBusy", "Settings", "Workflow", "build_workflow", "handler"]

PLANNED = "planned"
ALREADY_DONE = "already_done"
STEPS = ("plan", "erase", "export", "finish")


@dataclass(frozen=True, kw_only=True)
class Settings(LakeSettings):
    kms_key_arn: str = env_field("DATA_LAKE_KMS_KEY_ARN")
    index_table: str = env_field("PRIVACY_INDEX_TABLE_NAME")
    digest_secret_arn: str = env_field("DIGEST_KEY_SECRET_ARN")
    orders_table: str = env_field("ORDERS_TABLE_NAME")
    customers_table: str = env_field("CUSTOMERS_TABLE_NAME")
    abandoned_carts_table: str = env_field("ABANDONED_CARTS_TABLE_NAME")
    subscriptions_table: str = env_field("SUBSCRIPTIONS_TABLE_NAME")
    charges_table: str = env_field("CHARGES_TABLE_NAME")
    invoices_table: str = env_field("INVOICES_TABLE_NAME")
    dlq_names: tuple[str, ...] = env_field("DLQ_NAMES", default=())
    alerts_topic_arn: str = env_field("ALERTS_TOPIC_ARN", default="")
    export_retention_days: int = env_field("PRIVACY_EXPORT_RETENTION_DAYS", default=30)
    stale_checkpoint_hours: float = env_field("STALE_CHECKPOINT_HOURS", default=24.0)
    time_reserve_seconds: float = env_field("TIME_RESERVE_SECONDS", default=60.0)
    max_plan_rounds: int = env_field("MAX_PLAN_ROUNDS", default=6)
    small_object_bytes: int = env_field("SMALL_OBJECT_BYTES", default=1024 * 1024)
    dlq_visibility_seconds: int = env_field("DLQ_VISIBILITY_SECONDS", default=300)
    dlq_wait_seconds: int = env_field("DLQ_WAIT_SECONDS", default=1)
    secret_cache_seconds: float = env_field("SECRET_CACHE_SECONDS", default=300.0)

    def tables(self) -> dict[str, str]:
        return {
            "orders": self.orders_table,
            "customers": self.customers_table,
            "abandoned_carts": self.abandoned_carts_table,
            "subscriptions": self.subscriptions_table,
            "charges": self.charges_table,
            "invoices": self.invoices_table,
        }


def _answer(request_id: str, kind: str, status: str, remaining: int, **extra: Any) -> dict[str, Any]:
    return {"request_id": request_id, "kind": kind, "status": status, "remaining": remaining, **extra}


class Workflow:
    """The four steps; all collaborators are given, so tests build their own."""

    def __init__(
        self,
        settings: Settings,
        *,
        s3: S3Client,
        dynamodb: DynamoDBClient,
        sqs: SQSClient,
        sns: SNSClient | None,
        index: PrivacyIndex,
        digester: Callable[[], SubjectDigester],
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self.settings = settings
        self.s3 = s3
        self.digester = digester
        self.clock = clock
        self.index = index
        self.work = work.WorkStore(s3, settings.bucket)
        self.stores = HotStores(dynamodb, settings.tables())
        self.queues = DeadLetterQueues(
            sqs, visibility_seconds=settings.dlq_visibility_seconds, wait_seconds=settings.dlq_wait_seconds
        )
        self.planner = Planner(
            s3,
            settings.bucket,
            index,
            self.stores,
            queues=settings.dlq_names,
            max_rounds=settings.max_plan_rounds,
            small_bytes=settings.small_object_bytes,
        )
        self.eraser = Eraser(
            s3,
            settings.bucket,
            self.stores,
            self.queues,
            CheckpointSweeper(s3, settings.bucket, timedelta(hours=settings.stale_checkpoint_hours)),
        )
        self.exporter = Exporter(
            s3,
            settings.bucket,
            settings.kms_key_arn,
            self.stores,
            self.queues,
            sns,
            settings.alerts_topic_arn,
            settings.export_retention_days,
        )

    def handle(self, event: Mapping[str, Any], context: Any = None) -> dict[str, Any]:
        step = event.get("step")
        try:
            if step == "plan":
                given = event.get("input", event)
                return self.plan(str(given["request_key"]), full_scan=given.get("full_scan") is True)
            if step == "erase":
                return self.erase(str(event["request_id"]), context)
            if step == "export":
                return self.export(str(event["request_id"]))
            if step == "finish":
                return self.finish(str(event["request_id"]))
        except PrivacyStepBusy as exc:
            metrics.add_metric(name="StepBusy", unit=MetricUnit.Count, value=1)
            logger.info("step busy: the state machine retries it", extra={"step": step, "reason": str(exc)})
            raise
        raise ValueError(f"unknown step {step!r}: expected one of {', '.join(STEPS)}")

    # ------------------------------------------------------------------------------------ plan

    def plan(self, request_key: str, *, full_scan: bool = False) -> dict[str, Any]:
        request = load_request(self.s3, self.settings.bucket, request_key)
        logger.append_keys(privacy_request_id=request.request_id, kind=request.kind)
        if request.kind not in (ERASE, EXPORT):
            raise ValueError(f"a {request.kind} request is not handled by this workflow (an operator command is)")
        if self.work.audit_exists(request.request_id):
            logger.info("request already handled", extra={"audit_key": audit_key(request.request_id)})
            metrics.add_metric(name="AlreadyDone", unit=MetricUnit.Count, value=1)
            return _answer(request.request_id, request.kind, ALREADY_DONE, 0, audit_key=audit_key(request.request_id))
        plan = self.work.plan(request.request_id)
        progress = self.work.progress(request.request_id)
        if plan is not None and progress is not None:
            logger.info("plan kept from an earlier execution", extra={"remaining": progress.remaining})
            remaining = progress.remaining if plan.kind == ERASE else 0
            return _answer(request.request_id, request.kind, PLANNED, remaining, resumed=True)
        plan = self.planner.plan(
            request, request_key=request_key, full_scan=full_scan, digester=self.digester(), now=self.clock()
        )
        progress = work.Progress(request.request_id, tasks=plan.tasks(), updated_at=plan.planned_at)
        self.work.save_plan(plan)
        self.work.save_progress(progress)
        logger.info(
            "request planned",
            extra={
                "locations": len(plan.locations),
                "hot_store_items": len(plan.items),
                "queues": len(plan.queues),
                "rounds": plan.rounds,
                "converged": plan.converged,
                "full_scan": full_scan,
            },
        )
        metrics.add_metric(name="RequestPlanned", unit=MetricUnit.Count, value=1)
        metrics.add_metric(name="PlannedLocations", unit=MetricUnit.Count, value=len(plan.locations))
        remaining = progress.remaining if plan.kind == ERASE else 0
        return _answer(request.request_id, request.kind, PLANNED, remaining, resumed=False)

    def _load(self, request_id: str) -> tuple[work.Plan, work.Progress]:
        logger.append_keys(privacy_request_id=request_id)
        plan = self.work.plan(request_id)
        progress = self.work.progress(request_id)
        if plan is None or progress is None:
            raise ValueError(f"request {request_id} has no plan: the plan step runs first")
        logger.append_keys(kind=plan.kind)
        return plan, progress

    # ------------------------------------------------------------------------------------ erase

    def erase(self, request_id: str, context: Any = None) -> dict[str, Any]:
        plan, progress = self._load(request_id)
        if plan.kind != ERASE:
            raise ValueError(f"request {request_id} is a {plan.kind} request, not an erasure")
        if self.work.audit_exists(request_id):
            return _answer(request_id, plan.kind, ALREADY_DONE, 0)
        reserve_ms = self.settings.time_reserve_seconds * 1000

        def should_stop() -> bool:
            return context is not None and context.get_remaining_time_in_millis() < reserve_ms

        before = progress.cursor
        progress.steps += 1
        self.eraser.run(
            plan,
            progress,
            digester=self.digester(),
            clock=self.clock,
            should_stop=should_stop,
            save=self.work.save_progress,
        )
        self._count(progress.results[before:])
        status = "erased" if progress.remaining == 0 else "erasing"
        return _answer(request_id, plan.kind, status, progress.remaining)

    def _count(self, results: list[dict[str, Any]]) -> None:
        counts = {
            "ObjectsRewritten": sum(1 for r in results if r.get("rewritten")),
            "VersionsDeleted": sum(len(r.get("versions_deleted", [])) for r in results),
            "ItemsErased": sum(1 for r in results if r.get("removed")),
            "MessagesRedacted": sum(int(r.get("redacted", 0)) for r in results),
        }
        for name, value in counts.items():
            if value:
                metrics.add_metric(name=name, unit=MetricUnit.Count, value=value)

    # ------------------------------------------------------------------------------------ export

    def export(self, request_id: str) -> dict[str, Any]:
        plan, progress = self._load(request_id)
        if plan.kind != EXPORT:
            raise ValueError(f"request {request_id} is a {plan.kind} request, not an export")
        done = progress.export or {}
        if not done.get("key"):
            now = self.clock()
            document = self.exporter.document(plan, self.digester(), now=now)
            key = self.exporter.write(request_id, document)
            done = {
                "key": key,
                "written_at": iso_utc(now),
                "expires_at": iso_utc(self.exporter.expires(now)),
                "counts": {
                    "documents": len(document["documents"]),
                    "hot_store_items": len(document["hot_store_items"]),
                    "queue_messages": len(document["queue_messages"]),
                },
                "notified": False,
            }
            progress.export = done
            self.work.save_progress(progress)
            logger.info("export written", extra={"export_key": key, **done["counts"]})
            metrics.add_metric(name="ExportWritten", unit=MetricUnit.Count, value=1)
        if not done.get("notified"):
            written_at = datetime.fromisoformat(str(done["written_at"]).replace("Z", "+00:00"))
            done["notified"] = self.exporter.notify(
                request_id, str(done["key"]), expires=self.exporter.expires(written_at), counts=dict(done["counts"])
            )
            progress.export = done
            self.work.save_progress(progress)
        return _answer(request_id, plan.kind, "exported", 0, export_key=done["key"])

    # ------------------------------------------------------------------------------------ finish

    def finish(self, request_id: str) -> dict[str, Any]:
        existing = self.work.audit(request_id)
        if existing is not None:
            return audit.summary(existing)
        plan, progress = self._load(request_id)
        if plan.kind == ERASE and progress.remaining:
            raise ValueError(f"request {request_id} still has {progress.remaining} erase task(s) to do")
        if plan.kind == EXPORT and not (progress.export or {}).get("key"):
            raise ValueError(f"request {request_id} has no export yet")
        request = load_request(self.s3, self.settings.bucket, plan.request_key)
        document = audit.audit_document(request, plan, progress, finished_at=self.clock())
        if plan.kind == ERASE:
            # The person's ids stay indexed (their orders keep the Shopify customer id); the digests of
            # their e-mails and phones go: nothing they point at holds those values any more.
            contact = [s for s in plan.person.subjects if s.split(":", 1)[0] in CONTACT_SUBJECT_KINDS]
            document["index_entries_removed"] = self.index.forget(contact)
        self.work.save_audit(request_id, document)
        logger.info("request finished", extra={"totals": document["totals"]})
        metrics.add_metric(name="RequestFinished", unit=MetricUnit.Count, value=1)
        return audit.summary(document)


def build_workflow(settings: Settings) -> Workflow:
    """The workflow of a deployed function: clients from the environment, the digest key from its secret.

    SQS must be among ``common.aws.SERVICES`` (the image keeps the SDK data of those only): the dead-letter
    queues are read and rewritten here.
    """
    cached = CachedSecret(
        aws.secretsmanager(), settings.digest_secret_arn, max_age_seconds=settings.secret_cache_seconds
    )
    index_table = aws.table(settings.index_table)
    return Workflow(
        settings,
        s3=aws.s3(),
        dynamodb=aws.dynamodb(),
        sqs=aws.client("sqs"),
        sns=aws.sns() if settings.alerts_topic_arn else None,
        index=PrivacyIndex(index_table),
        digester=lambda: digester_from_secret(cached),
    )


CONTACT_SUBJECT_KINDS = frozenset({"email", "phone"})

settings = load_settings(Settings)
_workflow: Workflow | None = None


def workflow() -> Workflow:
    """Built on the first invocation (not at import), once per execution environment."""
    global _workflow  # noqa: PLW0603 - one per execution environment, like the clients
    if _workflow is None:
        _workflow = build_workflow(settings)
    return _workflow


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    request_id = event.get("request_id")
    if request_id:
        logger.set_correlation_id(str(request_id))
    return workflow().handle(event, context)
