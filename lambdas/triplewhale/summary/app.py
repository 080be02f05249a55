"""Triple Whale summary page, day by day, into the lake: the scheduled job of docs/triplewhale.md.

One invocation is one run (EventBridge Scheduler, asynchronously; or an operator's backfill event):

1. the window (``window``): from the watermark minus ``LOOKBACK_DAYS`` to today in the shop's
   zone, or the event's ``{"since": "YYYY-MM-DD", "until": "YYYY-MM-DD"}``;
2. for each day, the Summary Page of that day (``api``: 429/5xx retried with backoff and
   ``Retry-After``); a body of the expected shape goes verbatim to
   ``raw/triplewhale/summary-page/dt=<day>/<shop-domain>.json`` (a re-run overwrites it), any other 200
   body to ``quarantine/triplewhale/dt=<today>/<reason>/<shop-domain>/<day>/<sha256>.json``, and the run
   goes on;
3. the watermark moves to the newest complete day of the window; a run that fails part-way moves it over
   the days it handled before failing (days are handled in order), so the next run goes on from there.

Failures raise, so that Lambda's asynchronous retries and then the dead-letter queue keep the event:
throttling or 5xx that outlast the retries (``TransientError``), a refused API key (the message names
the secret; the key itself is never logged), an event that asks for an impossible window.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import requests

from common import aws
from common.config import ConfigError, env_field, load_settings
from common.errors import BadInput, TransientError
from common.http_session import DEFAULT_TIMEOUT, retrying_session
from common.lake import Lake
from common.observability import MetricUnit, logger, metrics, tracer
from common.secret_cache import CachedSecret
from common.settings import LakeSettings
from common.timeutil import iso_utc, utc_now
from triplewhale.summary import api, store
from triplewhale.summary import window as windows

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

API_KEY = "api_key"  # the name of the key in the secret's JSON, not a secret
DEFAULT_BASE_URL = "https://api.triplewhale.com"
# Each day's request may take up to the read timeout; a day is not started with less time than this left.
SECONDS_PER_DAY_RESERVE = 35.0
REQUEST_SECONDS = sum(DEFAULT_TIMEOUT)  # connect + read timeout of build_job's session
SAFETY_MARGIN_SECONDS = 5.0


@dataclass(frozen=True, kw_only=True)
class Settings(LakeSettings):
    secret_arn: str = env_field("TRIPLEWHALE_API_KEY_SECRET_ARN")
    shop_domain: str = env_field("SHOP_DOMAIN")
    base_url: str = env_field("TRIPLEWHALE_API_BASE_URL", default=DEFAULT_BASE_URL)
    shop_time_zone: str = env_field("SHOP_TIME_ZONE", default="UTC")
    lookback_days: int = env_field("LOOKBACK_DAYS", default=7)
    first_run_days: int = env_field("FIRST_RUN_DAYS", default=30)
    max_days_per_run: int = env_field("MAX_DAYS_PER_RUN", default=92)
    max_attempts: int = env_field("MAX_ATTEMPTS", default=5)
    retry_base_seconds: float = env_field("RETRY_BASE_SECONDS", default=1.0)
    retry_max_seconds: float = env_field("RETRY_MAX_SECONDS", default=60.0)
    secret_cache_seconds: float = env_field("SECRET_CACHE_SECONDS", default=300.0)

    def zone(self) -> ZoneInfo:
        try:
            return ZoneInfo(self.shop_time_zone)
        except (ZoneInfoNotFoundError, ValueError):
            raise ConfigError(
                f"environment variable SHOP_TIME_ZONE={self.shop_time_zone!r} is not an IANA time zone"
            ) from None

    def base(self) -> str:
        if not self.base_url:
            return DEFAULT_BASE_URL
        return self.base_url


class SummaryJob:
    """One run: window, days, lake, watermark. Every dependency is passed in (tests use moto and fakes)."""

    def __init__(
        self,
        settings: Settings,
        *,
        s3: S3Client,
        secret: CachedSecret,
        session: requests.Session,
        clock: Callable[[], datetime] = utc_now,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.settings = settings
        self.zone = settings.zone()
        self.s3 = s3
        self.lake = Lake(s3, settings.bucket)
        self.secret = secret
        self.session = session
        self.clock = clock
        self.sleep = sleep

    def run(
        self, event: dict[str, Any] | None, time_left: Callable[[], float] = lambda: float("inf")
    ) -> dict[str, Any]:
        settings = self.settings
        now = self.clock()
        watermark = store.read_watermark(self.s3, settings.bucket, settings.shop_domain)
        window = windows.resolve_window(
            event,
            now=now,
            zone=self.zone,
            watermark=watermark,
            lookback_days=settings.lookback_days,
            first_run_days=settings.first_run_days,
            max_days=settings.max_days_per_run,
        )
        logger.info("triplewhale run", extra={"window": window.as_dict(), "watermark_before": _iso(watermark)})
        client = api.SummaryPageClient(
            self.session,
            settings.base(),
            lambda: self.secret.key(API_KEY),
            secret_id=settings.secret_arn,
            max_attempts=settings.max_attempts,
            base_delay=settings.retry_base_seconds,
            max_delay=settings.retry_max_seconds,
            time_left=time_left,
            request_seconds=REQUEST_SECONDS,
            sleep=self.sleep,
        )
        hour = windows.today_hour(now, self.zone)
        landed: list[dict[str, Any]] = []
        quarantined: list[dict[str, Any]] = []
        handled_through: date | None = None  # the last day of the handled prefix of the window
        try:
            for number, day in enumerate(window.days()):
                _check_time_for_day(time_left, number, window)
                page = client.fetch(settings.shop_domain, day, hour)
                try:
                    metric_count = api.check_summary_page(page.body)
                except BadInput as bad:
                    quarantined.append(self._quarantine(day, page.body, bad))
                else:
                    landed.append(self._land(day, hour, page, metric_count))
                handled_through = day
        except Exception as error:
            if isinstance(error, api.TripleWhaleAuthError):
                self.secret.invalidate()  # a key put since is read by the retry
            self._keep_progress(window, handled_through, len(landed), len(quarantined))
            raise
        finally:
            stats = client.stats
            metrics.add_metric(name="DaysLanded", unit=MetricUnit.Count, value=len(landed))
            metrics.add_metric(name="Requests", unit=MetricUnit.Count, value=stats.requests)
            metrics.add_metric(name="Throttled", unit=MetricUnit.Count, value=stats.throttled)
            metrics.add_metric(name="ServerErrors", unit=MetricUnit.Count, value=stats.server_errors)
        watermark_after = self._advance_watermark(window, handled_through, len(landed), len(quarantined)) or watermark
        result = {
            "shop_domain": settings.shop_domain,
            "window": window.as_dict(),
            "landed": landed,
            "quarantined": quarantined,
            "watermark_before": _iso(watermark),
            "watermark": _iso(watermark_after),
            "requests": client.stats.requests,
            "retries": client.stats.retries,
            "throttled": client.stats.throttled,
            "server_errors": client.stats.server_errors,
        }
        logger.info(
            "triplewhale run finished",
            extra={k: v for k, v in result.items() if k not in {"landed", "quarantined"}}
            | {"landed_days": len(landed), "quarantined_days": len(quarantined)},
        )
        return result

    def _land(self, day: date, hour: int, page: api.SummaryPage, metric_count: int) -> dict[str, Any]:
        key = self.lake.put_verbatim(
            store.summary_key(day, self.settings.shop_domain),
            page.body,
            metadata={
                "shop-domain": self.settings.shop_domain,
                "period": day.isoformat(),
                "today-hour": str(hour),
                "fetched-at": iso_utc(self.clock()),
            },
        )
        logger.info(
            "summary page landed",
            extra={"day": day.isoformat(), "key": key, "bytes": len(page.body), "metrics": metric_count,
                   "attempts": page.attempts},
        )  # fmt: skip
        return {"day": day.isoformat(), "key": key, "bytes": len(page.body), "attempts": page.attempts}

    def _quarantine(self, day: date, body: bytes, bad: BadInput) -> dict[str, Any]:
        shop_domain = self.settings.shop_domain
        key = self.lake.quarantine(
            source=store.SOURCE,
            reason=bad.reason,
            body=body,
            received_at=self.clock(),
            detail=f"summary page of {day} for {shop_domain}: {bad.detail}",
            within=store.quarantine_folders(shop_domain, day),
            metadata={"shop-domain": shop_domain, "period": day.isoformat()},
        )
        logger.warning("summary page quarantined", extra={"day": day.isoformat(), "reason": bad.reason, "key": key})
        metrics.add_metric(name="Quarantined", unit=MetricUnit.Count, value=1)
        return {"day": day.isoformat(), "reason": bad.reason, "key": key}

    def _advance_watermark(
        self, window: windows.Window, handled_through: date | None, landed: int, quarantined: int
    ) -> date | None:
        """The watermark after moving it over the handled days of the window; None when none is complete."""
        if handled_through is None:
            return None
        newest = window.newest_complete_day(handled_through)
        if newest is None:
            return None
        run = {
            "window": window.as_dict(),
            "handled_through": handled_through.isoformat(),
            "landed": landed,
            "quarantined": quarantined,
        }
        return store.advance_watermark(
            self.s3,
            self.settings.bucket,
            self.settings.shop_domain,
            newest,
            window_first=window.first,
            now=self.clock(),
            run=run,
        )

    def _keep_progress(
        self, window: windows.Window, handled_through: date | None, landed: int, quarantined: int
    ) -> None:
        """A failing run still moves the watermark over the days it handled, so the next run goes on from there."""
        try:
            after = self._advance_watermark(window, handled_through, landed, quarantined)
        except Exception:  # noqa: BLE001 - the run's own error, not this one, is what Lambda retries and alarms show
            logger.exception("the progress of the failing run could not be saved")
            return
        logger.info(
            "progress of the failing run kept",
            extra={"handled_through": _iso(handled_through), "watermark": _iso(after)},
        )


def _check_time_for_day(time_left: Callable[[], float], number: int, window: windows.Window) -> None:
    if time_left() < SECONDS_PER_DAY_RESERVE:
        raise TransientError(
            f"out of time after {number} of {len(window.days())} days ({window.first}..{window.last}); the days "
            "handled are kept, the watermark is moved over them, and the next run goes on from there"
        )


def _iso(day: Any) -> str | None:
    return day.isoformat() if day is not None else None


def build_job(settings: Settings) -> SummaryJob:
    return SummaryJob(
        settings,
        s3=aws.s3(),
        secret=CachedSecret(aws.secretsmanager(), settings.secret_arn, max_age_seconds=settings.secret_cache_seconds),
        # urllib3 retries only failed connections here (POST is not in its retried methods); statuses
        # are retried by SummaryPageClient, which honours Retry-After within the run's time. The API
        # never redirects: a 3xx is reported, not followed, so the key goes to TRIPLEWHALE_API_BASE_URL only.
        session=retrying_session(
            total=2, user_agent="shopify-data-platform/triplewhale-summary", follow_redirects=False
        ),
    )


settings = load_settings(Settings)
job = build_job(settings)


@logger.inject_lambda_context(log_event=False, clear_state=True)
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics
def handler(event: dict[str, Any] | None, context: Any) -> dict[str, Any]:
    request_id = getattr(context, "aws_request_id", None)
    if request_id:
        logger.set_correlation_id(str(request_id))

    def time_left() -> float:
        remaining = getattr(context, "get_remaining_time_in_millis", None)
        return (remaining() / 1000.0 - SAFETY_MARGIN_SECONDS) if callable(remaining) else float("inf")

    return job.run(event, time_left)
