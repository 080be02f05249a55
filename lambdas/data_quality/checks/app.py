"""Data-quality checks of the lake, run on a schedule (docs/data-quality.md).

One invocation is one run:

1. read the spec (``SPEC_KEY`` in the lake, uploaded from ``data-ingestion/data-quality/`` by the deploy
   tool); a spec that is missing or invalid fails the run with every problem named (``SpecError``);
2. evaluate every check (``definitions``) with bounded listings (``lake``): pass, fail or skipped with
   a short reason;
3. write ``metadata/data-quality/dt=<date>/run=<run id>/results.json`` (``report``), put the metrics
   in ``${Brand}/DataQuality`` and, when a check failed, publish ONE message to the alerts topic.

An AWS failure other than a permission error raises, so Lambda's asynchronous retries run the whole run
again (its results key is the same when the scheduler named the run); after the retries the event goes to
the function's dead-letter queue. Logs carry check ids, statuses and reasons, never object contents.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

import botocore.exceptions

from common import aws
from common.config import ConfigError, env_field, load_settings
from common.observability import logger, tracer
from common.timeutil import utc_now
from data_quality.checks import definitions as checks
from data_quality.checks import report
from data_quality.checks.lake import LakeReader
from data_quality.checks.spec import Spec, SpecError, load_spec

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_sns import SNSClient


@dataclass(frozen=True)
class Settings:
    bucket: str = env_field("DATA_LAKE_BUCKET_NAME")
    namespace: str = env_field("POWERTOOLS_METRICS_NAMESPACE")
    spec_key: str = env_field("SPEC_KEY", default="artifacts/data-quality/checks.json")
    alerts_topic_arn: str = env_field("ALERTS_TOPIC_ARN", default="")
    label: str = env_field("ALERT_LABEL", default="data platform")
    freshness_max_age_hours: float = env_field("FRESHNESS_MAX_AGE_HOURS", default=24.0)
    bulk_freshness_max_age_hours: float = env_field("BULK_FRESHNESS_MAX_AGE_HOURS", default=36.0)
    quarantine_max_objects: int = env_field("QUARANTINE_MAX_OBJECTS", default=10)
    bulk_runs_checked: int = env_field("BULK_RUNS_CHECKED", default=1)
    webhook_coverage_min: float = env_field("WEBHOOK_COVERAGE_MIN", default=0.95)
    webhook_coverage_min_sample: int = env_field("WEBHOOK_COVERAGE_MIN_SAMPLE", default=20)
    volume_weeks: int = env_field("VOLUME_WEEKS", default=4)
    volume_lower_band: float = env_field("VOLUME_LOWER_BAND", default=0.5)
    volume_upper_band: float = env_field("VOLUME_UPPER_BAND", default=2.0)
    volume_min_median: int = env_field("VOLUME_MIN_MEDIAN", default=20)
    disabled_sources: tuple[str, ...] = env_field("DISABLED_SOURCES", default=())
    max_pages: int = env_field("MAX_LIST_PAGES", default=50)

    def __post_init__(self) -> None:
        bounds: list[tuple[str, float, float, float]] = [
            ("FRESHNESS_MAX_AGE_HOURS", self.freshness_max_age_hours, 0.1, 168),
            ("BULK_FRESHNESS_MAX_AGE_HOURS", self.bulk_freshness_max_age_hours, 0.1, 168),
            ("QUARANTINE_MAX_OBJECTS", self.quarantine_max_objects, 0, 1_000_000),
            ("BULK_RUNS_CHECKED", self.bulk_runs_checked, 1, 50),
            ("WEBHOOK_COVERAGE_MIN", self.webhook_coverage_min, 0, 1),
            ("WEBHOOK_COVERAGE_MIN_SAMPLE", self.webhook_coverage_min_sample, 1, 1_000_000),
            ("VOLUME_WEEKS", self.volume_weeks, 2, 8),
            ("VOLUME_LOWER_BAND", self.volume_lower_band, 0.01, 1),
            ("VOLUME_UPPER_BAND", self.volume_upper_band, 0.01, 100),
            ("VOLUME_MIN_MEDIAN", self.volume_min_median, 0, 1_000_000),
            ("MAX_LIST_PAGES", self.max_pages, 1, 1000),
        ]
        for variable, value, low, high in bounds:
            if not low <= value <= high:
                raise ConfigError(f"environment variable {variable}={value!r} must be between {low:g} and {high:g}")
        if not self.namespace.endswith("/DataQuality"):
            raise ConfigError(
                f"environment variable POWERTOOLS_METRICS_NAMESPACE={self.namespace!r} must be <Brand>/DataQuality"
            )
        if not self.spec_key or self.spec_key.startswith("/") or self.spec_key.endswith("/"):
            raise ConfigError(f"environment variable SPEC_KEY={self.spec_key!r} must be an object key")

    @property
    def defaults(self) -> checks.Defaults:
        return checks.Defaults(
            freshness_max_age_hours=self.freshness_max_age_hours,
            bulk_freshness_max_age_hours=self.bulk_freshness_max_age_hours,
            quarantine_max_objects=self.quarantine_max_objects,
            bulk_runs_checked=self.bulk_runs_checked,
            webhook_coverage_min=self.webhook_coverage_min,
            webhook_coverage_min_sample=self.webhook_coverage_min_sample,
            volume_weeks=self.volume_weeks,
            volume_lower_band=self.volume_lower_band,
            volume_upper_band=self.volume_upper_band,
            volume_min_median=self.volume_min_median,
        )


def print_line(line: str) -> None:
    """A log line of its own on stdout, where Lambda's log stream (and CloudWatch's metric extraction) reads it."""
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


class Runner:
    """One data-quality run at a time; collaborators are given, so tests build their own."""

    def __init__(
        self,
        settings: Settings,
        *,
        s3: S3Client,
        sns: SNSClient | None,
        metrics_out: Callable[[str], None] = print_line,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self.settings = settings
        self.s3 = s3
        self.metrics_out = metrics_out
        self.sns = sns
        self.clock = clock

    def load_spec(self) -> Spec:
        where = f"s3://{self.settings.bucket}/{self.settings.spec_key}"
        try:
            body = self.s3.get_object(Bucket=self.settings.bucket, Key=self.settings.spec_key)["Body"].read()
        except botocore.exceptions.ClientError as exc:
            code = str(exc.response.get("Error", {}).get("Code", ""))
            # Without s3:ListBucket on the key's prefix S3 answers a missing key with AccessDenied, not 404.
            if code in {"NoSuchKey", "404", "AccessDenied", "403"}:
                raise SpecError(
                    where,
                    [
                        f"it cannot be read ({code}): most often it was never uploaded, and "
                        "`platformctl deploy --job data-quality` uploads "
                        "data-ingestion/data-quality/ there (by hand: aws s3 cp "
                        "data-ingestion/data-quality/checks.json <that location>)"
                    ],
                ) from None
            raise
        return load_spec(body, where)

    def run(self, event: Any, request_id: str) -> dict[str, Any]:
        started = time.monotonic()
        now = self.clock()
        run = report.run_info(event, request_id, now)
        logger.append_keys(run_id=run.run_id)
        spec = self.load_spec()
        unknown = sorted(set(self.settings.disabled_sources) - set(spec.sources))
        if unknown:
            raise ConfigError(
                f"environment variable DISABLED_SOURCES names unknown source(s) {', '.join(unknown)}; "
                f"the spec's sources are {', '.join(sorted(spec.sources))}"
            )
        lake = LakeReader(self.s3, self.settings.bucket, max_pages=self.settings.max_pages)
        results = checks.evaluate(spec, lake, now, self.settings.defaults, self.settings.disabled_sources)
        for result in results:
            logger.info(
                "check evaluated",
                extra={"check": result.check.id, "status": result.status, "check_reason": result.reason},
            )
        key = run.results_key
        document = report.results_document(
            run,
            results,
            now=now,
            finished=self.clock(),
            spec_location=f"s3://{self.settings.bucket}/{self.settings.spec_key}",
            context={
                "disabled_sources": list(self.settings.disabled_sources),
                "lake_requests": lake.requests,
                "seconds": round(time.monotonic() - started, 3),
            },
        )
        self.s3.put_object(
            Bucket=self.settings.bucket,
            Key=key,
            Body=(json.dumps(document, indent=2) + "\n").encode("utf-8"),
            ContentType="application/json",
        )
        for line in report.emf_lines(self.settings.namespace, report.metric_data(results, now)):
            self.metrics_out(line)
        published = self._alert(results, run, key)
        counts = report.summary(results)
        logger.info("data-quality run finished", extra={"results_key": key, **counts, "alert_published": published})
        return {
            "run_id": run.run_id,
            "results_key": key,
            **counts,
            "failed_checks": [r.check.id for r in results if r.status == "fail"],
            "alert_published": published,
        }

    def _alert(self, results: list[checks.CheckResult], run: report.RunInfo, key: str) -> bool:
        message = report.alert(results, run, label=self.settings.label, bucket=self.settings.bucket, results_key=key)
        if message is None or self.sns is None or not self.settings.alerts_topic_arn:
            return False
        subject, body = message
        self.sns.publish(
            TopicArn=self.settings.alerts_topic_arn, Subject=subject, Message=body, MessageStructure="json"
        )
        return True


def build_runner(settings: Settings) -> Runner:
    return Runner(
        settings,
        s3=aws.s3(),
        sns=aws.sns() if settings.alerts_topic_arn else None,
    )


settings = load_settings(Settings)
runner = build_runner(settings)


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler(capture_response=False)
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    request_id = str(getattr(context, "aws_request_id", "") or "manual")
    logger.set_correlation_id(request_id)
    return runner.run(event, request_id)
