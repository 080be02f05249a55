"""The Summary Page client against scripted answers: retries (429 with Retry-After, 5xx, connection
failures), what is never retried (401/403, 400), the time budget, the key never in a message, and the
summary page's shape - Triple Whale's own published sample included when ../shared is present."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, date, datetime
from typing import Any

import pytest
import requests

from common.errors import BadInput, TransientError
from tests.conftest import load_shared_json, shared_fixture_path
from triplewhale.summary import api

KEY = "secret-key-value-0123456789"
SECRET_ARN = "arn:aws:secretsmanager:us-east-1:123456789012:secret:acme/prod/TripleWhaleApiKey-AbCdEf"
DAY = date(2025, 3, 9)
PAGE = json.dumps({"metrics": [{"id": "sales", "metricId": "totalSales", "values": {"current": 1}}]}).encode()


def answer(status: int, body: Any = None, headers: dict[str, str] | None = None) -> requests.Response:
    response = requests.Response()
    response.status_code = status
    response._content = body if isinstance(body, bytes) else json.dumps(body or {}).encode()
    response.headers.update(headers or {})
    return response


class ScriptedSession:
    """Answers posts from a script (a Response or an exception each), recording what was sent."""

    def __init__(self, *script: requests.Response | Exception) -> None:
        self.script: Iterator[requests.Response | Exception] = iter(script)
        self.sent: list[dict[str, Any]] = []

    def post(self, url: str, data: str, headers: dict[str, str]) -> requests.Response:
        self.sent.append({"url": url, "body": json.loads(data), "headers": dict(headers)})
        step = next(self.script)
        if isinstance(step, Exception):
            raise step
        return step


def client(session: ScriptedSession, sleeps: list[float], **options: Any) -> api.SummaryPageClient:
    return api.SummaryPageClient(
        session,  # type: ignore[arg-type]
        "https://api.triplewhale.com/",
        lambda: KEY,
        secret_id=SECRET_ARN,
        max_attempts=options.pop("max_attempts", 4),
        sleep=options.pop("sleep", sleeps.append),
        **options,
    )


def test_the_request_is_the_documented_one() -> None:
    session = ScriptedSession(answer(200, PAGE))
    page = client(session, []).fetch("example.myshopify.com", DAY, 15)
    assert page.body == PAGE
    (sent,) = session.sent
    assert sent["url"] == "https://api.triplewhale.com/api/v2/summary-page/get-data"
    assert sent["headers"]["x-api-key"] == KEY
    assert sent["body"] == {
        "shopDomain": "example.myshopify.com",
        "period": {"start": "2025-03-09", "end": "2025-03-09"},
        "todayHour": 15,
    }


def test_429_waits_retry_after_then_succeeds() -> None:
    sleeps: list[float] = []
    session = ScriptedSession(answer(429, {"message": "slow down"}, {"Retry-After": "7"}), answer(200, PAGE))
    tw = client(session, sleeps)
    page = tw.fetch("example.myshopify.com", DAY, 1)
    assert (page.attempts, sleeps) == (2, [7.0])
    assert (tw.stats.throttled, tw.stats.retries, tw.stats.statuses) == (1, 1, [429, 200])


def test_5xx_and_connection_failures_back_off_exponentially() -> None:
    sleeps: list[float] = []
    session = ScriptedSession(answer(503), requests.ConnectionError("reset"), answer(500), answer(200, PAGE))
    page = client(session, sleeps, base_delay=2.0).fetch("example.myshopify.com", DAY, 1)
    assert page.attempts == 4
    assert sleeps == [2.0, 4.0, 8.0]


def test_429_without_retry_after_backs_off_and_the_backoff_is_capped() -> None:
    sleeps: list[float] = []
    session = ScriptedSession(answer(429), answer(429), answer(429), answer(200, PAGE))
    client(session, sleeps, base_delay=10.0, max_delay=15.0).fetch("example.myshopify.com", DAY, 1)
    assert sleeps == [10.0, 15.0, 15.0]


def test_spent_retries_raise_a_transient_error_for_lambda_to_retry() -> None:
    sleeps: list[float] = []
    session = ScriptedSession(*[answer(503, {"message": "down"})] * 3)
    with pytest.raises(TransientError, match=r"2025-03-09: HTTP 503: down, 3 attempts"):
        client(session, sleeps, max_attempts=3).fetch("example.myshopify.com", DAY, 1)
    assert len(session.sent) == 3
    assert len(sleeps) == 2


def test_a_wait_longer_than_the_time_left_raises_instead_of_sleeping() -> None:
    sleeps: list[float] = []
    session = ScriptedSession(answer(429, headers={"Retry-After": "120"}))
    with pytest.raises(TransientError, match="asked to wait 120 s"):
        client(session, sleeps, time_left=lambda: 60.0).fetch("example.myshopify.com", DAY, 1)
    assert sleeps == []


def test_a_wait_that_leaves_too_little_for_the_request_after_it_raises_instead_of_sleeping() -> None:
    sleeps: list[float] = []
    session = ScriptedSession(answer(429, headers={"Retry-After": "40"}), answer(200, PAGE))
    tw = client(session, sleeps, time_left=lambda: 60.0, request_seconds=33.0)  # 40 s + a 33 s request > 60 s
    with pytest.raises(TransientError, match="asked to wait 40 s"):
        tw.fetch("example.myshopify.com", DAY, 1)
    assert (sleeps, len(session.sent)) == ([], 1)


def test_the_time_left_is_checked_again_after_a_wait_before_the_next_request() -> None:
    left = [100.0]

    def slow_sleep(seconds: float) -> None:
        left[0] -= 3 * seconds  # the wait took longer than asked: only 25 s are left after it

    session = ScriptedSession(answer(429, headers={"Retry-After": "25"}), answer(200, PAGE))
    tw = client(session, [], time_left=lambda: left[0], request_seconds=33.0, sleep=slow_sleep)
    with pytest.raises(TransientError, match="25 s left, too little for the summary-page request for 2025-03-09"):
        tw.fetch("example.myshopify.com", DAY, 1)
    assert len(session.sent) == 1  # the request after the wait was never started


@pytest.mark.parametrize(("status", "phrase"), [(401, "refused the API key"), (403, "does not let the API key read")])
def test_401_and_403_fail_at_once_naming_the_secret_not_the_key(status: int, phrase: str) -> None:
    session = ScriptedSession(answer(status, {"message": f"bad key {KEY}"}))
    with pytest.raises(api.TripleWhaleAuthError) as caught:
        client(session, []).fetch("example.myshopify.com", DAY, 1)
    message = str(caught.value)
    assert phrase in message
    assert SECRET_ARN in message
    assert "api_key" in message
    assert KEY not in message  # even when Triple Whale echoes it
    assert len(session.sent) == 1


def test_other_client_errors_are_not_retried() -> None:
    session = ScriptedSession(answer(400, {"success": False, "message": "Invalid request."}))
    with pytest.raises(api.TripleWhaleRequestError, match=r"HTTP 400\): Invalid request\."):
        client(session, []).fetch("example.myshopify.com", DAY, 1)
    assert len(session.sent) == 1


def test_retry_after_as_an_http_date() -> None:
    now = datetime(2025, 3, 10, 12, 0, 0, tzinfo=UTC)
    assert api.retry_after_seconds("Mon, 10 Mar 2025 12:00:30 GMT", lambda: now) == 30.0
    assert api.retry_after_seconds("Mon, 10 Mar 2025 11:00:00 GMT", lambda: now) == 0.0
    assert api.retry_after_seconds("soon", lambda: now) is None
    assert api.retry_after_seconds(None) is None


# ---------------------------------------------------------------------------------------------- shape


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"<html>maintenance</html>", "not-json"),
        (b"\xff\xfe", "not-json"),
        (b"[]", "unexpected-shape"),
        (b'{"data": {}}', "unexpected-shape"),
        (b'{"metrics": null}', "unexpected-shape"),
        (b'{"metrics": [1, 2]}', "unexpected-shape"),
        (b'{"metrics": [{"title": "Sales", "values": {}}]}', "unexpected-shape"),
    ],
)
def test_bodies_that_are_not_a_summary_page_are_bad_input(body: bytes, reason: str) -> None:
    with pytest.raises(BadInput) as caught:
        api.check_summary_page(body)
    assert caught.value.reason == reason


def test_a_summary_page_of_either_published_form_is_accepted() -> None:
    assert api.check_summary_page(PAGE) == 1
    assert api.check_summary_page(b'{"metrics": [{"metricName": "revenue", "value": 12345.67}]}') == 1
    assert api.check_summary_page(b'{"metrics": []}') == 0


def test_triple_whales_published_sample_is_a_summary_page() -> None:
    raw = shared_fixture_path("triplewhale/summary_page__tw-public-apis.json").read_bytes()
    assert api.check_summary_page(raw) == len(
        load_shared_json("triplewhale/summary_page__tw-public-apis.json")["metrics"]
    )
