"""Download a bulk result into the lake in bounded steps, then write the run's manifest.

Input: ``{"run": $.run, "poll": $.poll, "previous": $.download, "execution": $$.Execution.Id}``. None of
it holds the result URL: a step reads it from ``bulkOperation(id:)`` itself (``url``, or
``partialDataUrl`` for a partial run), so the signed link to every order's personal data never enters
Step Functions state, input, output or history. It is fetched only when ``ResultUrlPolicy`` allows its
origin (https on Shopify's result storage, or an origin the stack's ``BulkResultHosts`` adds); any other
URL, or a redirect to one, fails the run with ``ResultUrlNotAllowedError`` naming only the origin. The
request to it carries no Shopify token (only the Admin API calls do).

One invocation is one step: it restores the previous step's checkpoint (if any), streams the result from
that byte offset (``Range``) through ``common.shopify.bulk_stream`` into
``raw/shopify/bulk/<type>/run=<id>/part-NNNNN.jsonl.gz``, and stops

- at the end of the file: completes the uploads, writes ``metadata/shopify/bulk/run=<id>/manifest.json``
  (resource, window, objects per type against ``objectCount``, bytes, parts, partial or not), advances
  the resource's watermark when the run is complete and its counts agree, deletes the checkpoints, and returns
  ``done``; counts that disagree fail the run (``BulkCountMismatchError``) after the manifest says so;
- well before the function's deadline (``STEP_SAFETY_SECONDS``) or after ``options.max_bytes_per_step``:
  writes a checkpoint and returns ``done: false``; the state machine calls the next step;
- when the URL is refused (expired): writes a checkpoint and returns ``url_expired``; the state machine
  reads the operation's status again (poll: an EXPIRED operation ends the run) and calls the next step,
  which asks Shopify for a freshly signed URL and resumes where this one stopped.

Nothing of the file is kept whole, in memory or on disk; every step's output bytes are the same as an
uninterrupted download's.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from common import aws
from common.config import env_field, load_settings
from common.errors import transient_aws_errors
from common.http_session import retrying_session
from common.observability import MetricUnit, logger, metrics, tracer
from common.secret_cache import CachedSecret
from common.settings import LakeSettings, ShopAdminSettings
from common.shopify.admin import ShopifyAdminClient, shop_admin_client
from common.shopify.bulk import (
    BulkCountMismatchError,
    ResultUrlPolicy,
    ResultUrlRejectedError,
    advance_watermark,
    checkpoint_key,
    fetch_operation,
    manifest_key,
    object_exists,
    resource_name,
    run_prefix,
    with_fresh_token,
)
from common.shopify.bulk_stream import (
    DEFAULT_PART_BYTES,
    READ_CHUNK_BYTES,
    BulkSplitter,
    ResultReader,
    StreamSettings,
    run_step,
)
from common.timeutil import iso_utc, parse_timestamp, utc_now

if TYPE_CHECKING:
    import requests
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_s3.type_defs import ObjectIdentifierTypeDef

MAX_STALLED_REFRESHES = 3  # refused URLs in a row without progress before the run fails
MIB = 1024 * 1024


@dataclass(frozen=True, kw_only=True)
class Settings(ShopAdminSettings, LakeSettings):
    gzip_level: int = env_field("GZIP_LEVEL", default=6)
    part_target_mib: int = env_field("PART_TARGET_MIB", default=128)
    step_safety_seconds: int = env_field("STEP_SAFETY_SECONDS", default=120)
    max_bytes_per_step: int = env_field("MAX_BYTES_PER_STEP", default=0)
    # Origins beyond Shopify's result storage that results may come from (BulkResultHosts; comma list).
    result_hosts: str = env_field("BULK_RESULT_HOSTS", default="")


class AlreadyFinishedError(Exception):
    """The step's checkpoint is gone because a repeat of the final step already finished the run."""

    def __init__(self, manifest: dict[str, Any]) -> None:
        super().__init__("the run is already finished")
        self.manifest = manifest


def _finished_result(manifest: dict[str, Any], poll: dict[str, Any]) -> dict[str, Any]:
    if not manifest.get("partial") and not manifest.get("counts_match"):
        raise BulkCountMismatchError(
            f"run {manifest.get('run_id')}: wrote {manifest.get('objects_written')} objects but Shopify reported "
            f"{manifest.get('object_count_reported')}; see the run's manifest"
        )
    return {
        "done": True,
        "url_expired": False,
        "partial": bool(manifest.get("partial")),
        "manifest_key": manifest_key(str(manifest["run_id"])),
        "checkpoint_key": None,
        "step": manifest.get("steps"),
        "offset": manifest.get("bytes_read"),
        "objects": manifest.get("objects_written"),
        "file_size": poll.get("file_size"),
        "stalled_refreshes": 0,
    }


class Downloader:
    """Runs one download step; the lake, the Admin API client and its secret, the result files' session,
    their URL policy and the clock are given."""

    def __init__(
        self,
        settings: Settings,
        *,
        s3: S3Client,
        admin: ShopifyAdminClient,
        secret: CachedSecret,
        session: requests.Session,
        policy: ResultUrlPolicy,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self.settings = settings
        self.s3 = s3
        self.admin = admin
        self.secret = secret
        self.session = session
        self.policy = policy
        self.clock = clock

    def handle(self, event: dict[str, Any], context: Any) -> dict[str, Any]:
        # S3 throttling or a 5xx that outlasts botocore's retries: the workflow retries the step, which
        # resumes from its checkpoint.
        with transient_aws_errors(f"bulk run {event['run']['run_id']} download step"):
            return self._step(event, context)

    def result_url(self, operation_id: str, partial: bool) -> str | None:
        """The operation's result URL as Shopify signs it now (``partialDataUrl`` for a partial run)."""
        operation = with_fresh_token(self.secret, lambda: fetch_operation(self.admin, operation_id))
        return operation.partial_data_url if partial else operation.url

    def stream_settings(self) -> StreamSettings:
        return StreamSettings(
            level=self.settings.gzip_level,
            part_bytes=DEFAULT_PART_BYTES,
            file_target_bytes=max(DEFAULT_PART_BYTES, self.settings.part_target_mib * MIB),
        )

    def _load_splitter(self, previous: dict[str, Any], run_id: str) -> BulkSplitter:
        key = previous.get("checkpoint_key")
        if not key:
            return BulkSplitter(self.s3, self.settings.bucket, run_id, self.stream_settings())
        if not object_exists(self.s3, self.settings.bucket, key):
            # The final step deletes the checkpoints after writing the manifest: if the manifest is there,
            # this is a repeat of that step (its answer was lost), and the run is done.
            manifest = manifest_key(run_id)
            if not object_exists(self.s3, self.settings.bucket, manifest):
                raise ValueError(f"checkpoint {key} of run {run_id} is missing and the run has no manifest")
            body = self.s3.get_object(Bucket=self.settings.bucket, Key=manifest)["Body"].read()
            raise AlreadyFinishedError(json.loads(body))
        blob = self.s3.get_object(Bucket=self.settings.bucket, Key=key)["Body"].read()
        splitter = BulkSplitter.restore(self.s3, self.settings.bucket, blob)
        if splitter.run_id != run_id:
            raise ValueError(f"checkpoint {key} belongs to run {splitter.run_id}, not {run_id}")
        return splitter

    def _stop_check(self, context: Any, max_bytes: int) -> Any:
        started = time.monotonic()
        remaining = context.get_remaining_time_in_millis() / 1000.0 if context is not None else 900.0
        budget = max(1.0, remaining - self.settings.step_safety_seconds)

        def should_stop(consumed: int) -> bool:
            return (max_bytes > 0 and consumed >= max_bytes) or time.monotonic() - started >= budget

        return should_stop

    def _delete_checkpoints(self, run_id: str) -> None:
        s3 = self.s3
        prefix = run_prefix(run_id) + "checkpoints/"
        keys: list[ObjectIdentifierTypeDef] = [
            {"Key": item["Key"]}
            for page in s3.get_paginator("list_objects_v2").paginate(Bucket=self.settings.bucket, Prefix=prefix)
            for item in page.get("Contents", [])
        ]
        for start in range(0, len(keys), 1000):
            s3.delete_objects(
                Bucket=self.settings.bucket, Delete={"Objects": keys[start : start + 1000], "Quiet": True}
            )

    def _finish(self, splitter: BulkSplitter, event: dict[str, Any], reader: ResultReader | None) -> dict[str, Any]:
        run, poll = event["run"], event["poll"]
        run_id = splitter.run_id
        types = splitter.finish()
        partial = bool(poll.get("partial"))
        objects, roots = splitter.objects, splitter.roots
        reported, reported_roots = poll.get("object_count"), poll.get("root_object_count")
        counts_match = (reported is None or objects == reported) and (reported_roots is None or roots == reported_roots)
        complete = not partial and counts_match
        window = run.get("window") or {}
        resource = resource_name(run.get("resource"))
        now = self.clock()
        watermark_advanced = False
        watermark_note = "not moved: the run is partial" if partial else "not moved: the counts disagree"
        if complete:
            since = parse_timestamp(window["since"]) if window.get("since") else None
            watermark_advanced, watermark_note = advance_watermark(
                self.s3, self.settings.bucket, parse_timestamp(window["until"]), run_id, now, since, resource
            )
        manifest = {
            "run_id": run_id,
            "resource": resource,
            "operation_id": run.get("operation_id"),
            "execution": event.get("execution"),
            "status": poll.get("status"),
            "error_code": poll.get("error_code"),
            "partial": partial,
            "complete": complete,
            "window": window,
            "api_version": run.get("api_version"),
            "requested_at": run.get("requested_at"),
            "finished_at": iso_utc(now),
            "object_count_reported": reported,
            "root_object_count_reported": reported_roots,
            "objects_written": objects,
            "root_objects_written": roots,
            "counts_match": counts_match,
            "bytes_read": splitter.offset,
            "file_size_reported": poll.get("file_size"),
            "compressed_bytes": sum(t["compressed_bytes"] for t in types.values()),
            "steps": splitter.steps,
            "lines_parsed_in_full": splitter.router.parsed,
            "untyped_lines": splitter.router.untyped,
            "watermark_advanced": watermark_advanced,
            "watermark_note": watermark_note,
            "types": types,
        }
        key = manifest_key(run_id)
        self.s3.put_object(
            Bucket=self.settings.bucket,
            Key=key,
            Body=json.dumps(manifest, indent=2).encode("utf-8"),
            ContentType="application/json",
        )
        self._delete_checkpoints(run_id)
        metrics.add_metric(name="BulkObjectsWritten", unit=MetricUnit.Count, value=objects)
        logger.info(
            "bulk download finished",
            extra={
                "run_id": run_id,
                "resource": resource,
                "objects": objects,
                "reported": reported,
                "partial": partial,
                "counts_match": counts_match,
                "parts": sum(len(t["parts"]) for t in types.values()),
                "requests": reader.requests if reader else 0,
            },
        )
        if not partial and not counts_match:
            raise BulkCountMismatchError(
                f"run {run_id}: wrote {objects} objects ({roots} roots) but Shopify reported {reported} "
                f"({reported_roots} roots); the parts stay for inspection, the manifest {key} says counts_match "
                "false, and the watermark did not move"
            )
        return {
            "done": True,
            "url_expired": False,
            "partial": partial,
            "manifest_key": key,
            "checkpoint_key": None,
            "step": splitter.steps,
            "offset": splitter.offset,
            "objects": objects,
            "file_size": poll.get("file_size"),
            "stalled_refreshes": 0,
        }

    def _step(self, event: dict[str, Any], context: Any) -> dict[str, Any]:
        run, poll = event["run"], event["poll"]
        previous = event.get("previous") or {}
        run_id = str(run["run_id"])
        options = run.get("options") or {}
        max_bytes = int(options.get("max_bytes_per_step") or self.settings.max_bytes_per_step)
        metrics.add_metric(name="BulkDownloadSteps", unit=MetricUnit.Count, value=1)
        try:
            splitter = self._load_splitter(previous, run_id)
        except AlreadyFinishedError as finished:
            return _finished_result(finished.manifest, poll)
        try:
            url = (
                self.result_url(str(run["operation_id"]), bool(poll.get("partial"))) if poll.get("has_result") else None
            )
            if not url:  # COMPLETED with nothing matched: Shopify gives no URL (a count check still applies)
                return self._finish(splitter, event, None)
            self.policy.check(url)  # ResultUrlNotAllowedError: the run fails, naming the origin only
            reader = ResultReader(
                self.session, url, policy=self.policy, chunk_bytes=min(READ_CHUNK_BYTES, max_bytes or READ_CHUNK_BYTES)
            )
            started_at = splitter.offset
            outcome = run_step(reader, splitter, self._stop_check(context, max_bytes))
            metrics.add_metric(name="BulkBytesRead", unit=MetricUnit.Bytes, value=splitter.offset - started_at)
            if outcome == "eof":
                return self._finish(splitter, event, reader)
            stalled = 0
            if outcome == "url_expired":
                progressed = splitter.offset > int(previous.get("offset") or 0)
                stalled = 0 if progressed else int(previous.get("stalled_refreshes") or 0) + 1
                if stalled >= MAX_STALLED_REFRESHES:
                    raise ResultUrlRejectedError(
                        f"run {run_id}: the result URL was refused {stalled} times in a row without progress at "
                        f"byte {splitter.offset}, even after refreshing it"
                    )
            step = splitter.steps + 1
            key = checkpoint_key(run_id, step)
            self.s3.put_object(Bucket=self.settings.bucket, Key=key, Body=splitter.checkpoint())
            logger.info(
                "bulk download step ended",
                extra={"run_id": run_id, "step": step, "offset": splitter.offset, "reason": outcome},
            )
            return {
                "done": False,
                "url_expired": outcome == "url_expired",
                "partial": bool(poll.get("partial")),
                "manifest_key": None,
                "checkpoint_key": key,
                "step": step,
                "offset": splitter.offset,
                "objects": splitter.objects,
                "file_size": poll.get("file_size"),
                "stalled_refreshes": stalled,
            }
        finally:
            splitter.close()


def build_downloader(settings: Settings) -> Downloader:
    """The downloader of a deployed function: clients through ``common.aws``."""
    secret = CachedSecret(aws.secretsmanager(), settings.secret_arn)
    return Downloader(
        settings,
        s3=aws.s3(),
        admin=shop_admin_client(settings, secret),
        secret=secret,
        # The result file's session: no Shopify token, no auth of any kind (the URL's signature is its key).
        session=retrying_session(timeout=(3.05, 60.0)),
        policy=ResultUrlPolicy.from_setting(settings.result_hosts),
    )


settings = load_settings(Settings)
downloader = build_downloader(settings)


@logger.inject_lambda_context(log_event=False)
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return downloader.handle(event, context)
