"""The Triple Whale Summary Page endpoint: one request per day, its errors, and the answer's shape.

``POST <base>/api/v2/summary-page/get-data`` with the API key in the ``x-api-key`` header and the body
``{"shopDomain": ..., "period": {"start": "YYYY-MM-DD", "end": "YYYY-MM-DD"}, "todayHour": 1-25}``
(docs/triplewhale.md lists the sources). What the answers mean here:

- 200: the body is kept verbatim; it must look like a summary page (``check_summary_page``), else it
  is quarantined by the caller.
- 429 and 5xx (and connection failures / timeouts): retried with exponential backoff; a 429's
  ``Retry-After`` is honoured. When the retries are spent, when a wait and the request after it (up to
  ``request_seconds``) would not fit in the time left, or when too little is left to start a request
  (checked before each one, so after every wait), ``TransientError`` is raised so that Lambda's
  asynchronous retry, then the dead-letter queue, keeps the run's event.
- 401 / 403: ``TripleWhaleAuthError``, naming the secret the key came from. No retry.
- 3xx: ``TripleWhaleRequestError`` naming the origin it pointed at. The API does not redirect, so the
  session the job builds follows none (and would never carry the key to another origin anyway:
  ``common.http_session``); the key goes to the configured origin only.
- any other status: ``TripleWhaleRequestError`` with Triple Whale's message. No retry.

The key is never logged and is scrubbed from every message this module builds.
"""

from __future__ import annotations

import email.utils
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

import requests

from common.errors import BadInput, TransientError
from common.http_session import redirect_target

SUMMARY_PATH = "/api/v2/summary-page/get-data"
API_KEY_HEADER = "x-api-key"
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
_METRIC_ID_KEYS = ("id", "metricId", "metricName")


class TripleWhaleAuthError(RuntimeError):
    """Triple Whale refused the API key (401) or the key may not read this shop (403)."""


class TripleWhaleRequestError(RuntimeError):
    """Triple Whale refused the request itself (400, 404, ...): a retry sends the same request."""


@dataclass
class FetchStats:
    requests: int = 0
    retries: int = 0
    throttled: int = 0
    server_errors: int = 0
    waited_seconds: float = 0.0
    statuses: list[int] = field(default_factory=list)


@dataclass(frozen=True)
class SummaryPage:
    day: date
    body: bytes
    attempts: int


def request_body(shop_domain: str, day: date, today_hour: int) -> dict[str, Any]:
    period = {"start": day.isoformat(), "end": day.isoformat()}
    return {"shopDomain": shop_domain, "period": period, "todayHour": today_hour}


def retry_after_seconds(value: str | None, now: Callable[[], datetime] = lambda: datetime.now(UTC)) -> float | None:
    """``Retry-After`` as seconds: delta-seconds or an HTTP date (RFC 9110); None when absent or unusable."""
    if not value:
        return None
    text = value.strip()
    if text.isdigit():
        return float(text)
    try:
        moment = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return max(0.0, (moment - now()).total_seconds())


def _message(response: requests.Response) -> str:
    """Triple Whale's own words for an error (``message`` or ``error``), short."""
    try:
        body = response.json()
    except ValueError:
        return response.text[:200]
    if isinstance(body, dict):
        for key in ("message", "error", "errors"):
            if body.get(key):
                return str(body[key])[:200]
    return str(body)[:200]


def _redirect_message(status: int, response: requests.Response) -> str:
    """Where a redirect pointed (its origin only), and what to check."""
    return (
        f"Triple Whale answered HTTP {status} redirecting to {redirect_target(response)}; redirects are not "
        "followed (the API key would go along): check TripleWhaleApiBaseUrl (https://api.triplewhale.com)"
    )


class SummaryPageClient:
    """Fetches one day's summary page with retries; ``stats`` counts what happened across calls."""

    def __init__(
        self,
        session: requests.Session,
        base_url: str,
        api_key: Callable[[], str],
        *,
        secret_id: str,
        max_attempts: int = 5,
        base_delay: float = 1.0,
        max_delay: float = 60.0,
        time_left: Callable[[], float] = lambda: float("inf"),
        request_seconds: float = 0.0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._session = session
        self._url = base_url.rstrip("/") + SUMMARY_PATH
        self._api_key = api_key
        self._secret_id = secret_id
        self._max_attempts = max(1, max_attempts)
        self._base_delay = base_delay
        self._max_delay = max_delay
        self._time_left = time_left
        self._request_seconds = request_seconds
        self._sleep = sleep
        self.stats = FetchStats()

    def fetch(self, shop_domain: str, day: date, today_hour: int) -> SummaryPage:
        key = self._api_key()
        body = request_body(shop_domain, day, today_hour)
        headers = {API_KEY_HEADER: key, "Accept": "application/json", "Content-Type": "application/json"}
        last = "no answer"
        for attempt in range(1, self._max_attempts + 1):
            self._check_time_for_request(day, last if attempt > 1 else None)
            self.stats.requests += 1
            wait: float | None = None
            try:
                response = self._session.post(self._url, data=json.dumps(body), headers=headers)
            except requests.RequestException as exc:
                last = f"{type(exc).__name__} (no HTTP answer)"
            else:
                status = response.status_code
                self.stats.statuses.append(status)
                if status == 200:
                    return SummaryPage(day, response.content, attempt)
                if 300 <= status < 400:
                    raise TripleWhaleRequestError(self._scrub(_redirect_message(status, response), key))
                if status in (401, 403):
                    raise TripleWhaleAuthError(self._scrub(self._auth_message(status, response, shop_domain), key))
                if status not in RETRY_STATUSES:
                    raise TripleWhaleRequestError(
                        self._scrub(f"Triple Whale refused the summary-page request for {day} "
                                    f"(HTTP {status}): {_message(response)}", key)
                    )  # fmt: skip
                if status == 429:
                    self.stats.throttled += 1
                    wait = retry_after_seconds(response.headers.get("Retry-After"))
                else:
                    self.stats.server_errors += 1
                last = f"HTTP {status}: {self._scrub(_message(response), key)}"
            if attempt == self._max_attempts:
                break
            delay = wait if wait is not None else min(self._max_delay, self._base_delay * 2 ** (attempt - 1))
            if delay + self._request_seconds >= self._time_left():
                raise TransientError(
                    f"Triple Whale asked to wait {delay:.0f} s for {day} ({last}); with the request after it "
                    f"(up to {self._request_seconds:.0f} s) that is more than this run has left; Lambda's "
                    "asynchronous retry runs the event again later"
                )
            self.stats.retries += 1
            self.stats.waited_seconds += delay
            self._sleep(delay)
        raise TransientError(f"Triple Whale summary page for {day}: {last}, {self._max_attempts} attempts")

    def _check_time_for_request(self, day: date, last: str | None) -> None:
        """Raise rather than start a request that may outlast the run (a wait may have used the time)."""
        left = self._time_left()
        if left > self._request_seconds:
            return
        after = f" after {last}" if last is not None else ""
        raise TransientError(
            f"{left:.0f} s left, too little for the summary-page request for {day}{after} (up to "
            f"{self._request_seconds:.0f} s); Lambda's asynchronous retry runs the event again later"
        )

    def _auth_message(self, status: int, response: requests.Response, shop_domain: str) -> str:
        what = "refused the API key" if status == 401 else f"does not let the API key read shop {shop_domain}"
        return (
            f"Triple Whale {what} (HTTP {status}: {_message(response)}). The key is the 'api_key' of secret "
            f"{self._secret_id}: put a valid key (Summary Page read access, owner with access to "
            f"{shop_domain}) with aws secretsmanager put-secret-value --secret-id {self._secret_id} "
            '--secret-string \'{"api_key":"..."}\'. See docs/runbooks/triplewhale-summary-errors.md'
        )

    @staticmethod
    def _scrub(text: str, key: str) -> str:
        return text.replace(key, "***") if key else text


def check_summary_page(body: bytes) -> int:
    """The number of metrics of a summary page; ``BadInput`` when the body is not one.

    A summary page is a JSON object whose ``metrics`` is a list of objects, each named by a string
    ``id`` / ``metricId`` (what Triple Whale's published sample carries) or ``metricName`` (what the
    reference's example shows). Everything else in the body is kept as it is and not interpreted here.
    """
    try:
        document = json.loads(body)
    except (UnicodeDecodeError, ValueError):
        raise BadInput("not-json", "the 200 answer is not JSON") from None
    if not isinstance(document, dict):
        raise BadInput("unexpected-shape", f"the answer is a JSON {type(document).__name__}, not an object")
    metrics = document.get("metrics")
    if not isinstance(metrics, list):
        raise BadInput("unexpected-shape", f"no 'metrics' list (top-level keys: {sorted(document)[:10]})")
    for index, metric in enumerate(metrics):
        if not isinstance(metric, dict):
            raise BadInput("unexpected-shape", f"metrics[{index}] is a {type(metric).__name__}, not an object")
        if not any(isinstance(metric.get(name), str) and metric.get(name) for name in _METRIC_ID_KEYS):
            raise BadInput("unexpected-shape", f"metrics[{index}] has no id, metricId or metricName")
    return len(metrics)
