"""The job end to end under moto against the local Triple Whale simulator: what lands where, the
watermark, idempotent re-runs and backfills, throttling and 5xx retried, a refused key, bad answers
quarantined - and the handler as the runtime calls it."""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import requests
from botocore.exceptions import ClientError

from common.errors import TransientError
from common.http_session import retrying_session
from platformctl.simulators.triplewhale import TripleWhaleSimulator
from tests.conftest import shared_fixture_path
from tests.unit.triplewhale.conftest import API_KEY, NOW, SHOP, JobFactory, Stack, load_app_module
from triplewhale.summary import api, store

RAW = "raw/triplewhale/summary-page/"
FIRST_RUN = ["2025-03-07", "2025-03-08", "2025-03-09", "2025-03-10"]  # FIRST_RUN_DAYS=4 up to today


def put_key(stack: Stack, key: str) -> None:
    stack.secrets.put_secret_value(SecretId=stack.secret_arn, SecretString=json.dumps({"api_key": key}))


def key_of(day: str) -> str:
    return f"{RAW}dt={day}/{SHOP}.json"


def served(simulator: TripleWhaleSimulator, day: str, hour: int = 15) -> bytes:
    """What the simulator answers for that day, fetched directly (the lake must hold these bytes)."""
    body = {"shopDomain": SHOP, "period": {"start": day, "end": day}, "todayHour": hour}
    response = requests.post(simulator.summary_url(), json=body, headers={"x-api-key": API_KEY}, timeout=10)
    response.raise_for_status()
    return response.content


def time_for(simulator: TripleWhaleSimulator, requests_: int) -> Callable[[], float]:
    """A Lambda's time left that runs short once the simulator has answered that many more requests."""
    start = len(simulator.state.snapshot()["requests"])
    return lambda: 600.0 if len(simulator.state.snapshot()["requests"]) - start < requests_ else 10.0


class FailsAfter:
    """The simulator for the first ``posts`` requests, then no answer at all (a transient failure)."""

    def __init__(self, posts: int) -> None:
        self.posts = posts
        self.inner = retrying_session(total=0)

    def post(self, url: str, data: str, headers: dict[str, str]) -> requests.Response:
        if self.posts == 0:
            raise requests.ConnectionError("connection reset")
        self.posts -= 1
        return self.inner.post(url, data=data, headers=headers)


def test_first_run_lands_each_day_verbatim_under_its_deterministic_key(
    aws_stack: Stack, make_job: JobFactory, simulator: TripleWhaleSimulator
) -> None:
    result = make_job().run({})
    objects = aws_stack.objects(RAW)
    assert sorted(objects) == [key_of(day) for day in FIRST_RUN]
    for day in FIRST_RUN:
        assert objects[key_of(day)] == served(simulator, day)  # byte for byte
    assert [d["day"] for d in result["landed"]] == FIRST_RUN
    assert result["watermark_before"] is None
    assert result["watermark"] == "2025-03-09"  # the newest complete day: today is still changing
    assert aws_stack.watermark()["watermark"] == "2025-03-09"
    head = aws_stack.s3.head_object(Bucket=aws_stack.bucket, Key=key_of("2025-03-09"))
    assert head["Metadata"]["period"] == "2025-03-09"
    assert head["Metadata"]["today-hour"] == "15"


def test_a_rerun_overwrites_the_same_keys_and_the_next_day_starts_from_the_watermark(
    aws_stack: Stack, make_job: JobFactory, simulator: TripleWhaleSimulator
) -> None:
    make_job().run({})
    first = aws_stack.objects(RAW)
    again = make_job().run({})  # the same moment: the days of the first run are fetched again
    assert again["window"]["since"] == "2025-03-06"  # watermark 03-09 minus LOOKBACK_DAYS=3
    after = aws_stack.objects(RAW)
    assert {k: after[k] for k in first} == first  # overwritten in place, with the same bytes
    assert sorted(set(after) - set(first)) == [key_of("2025-03-06")]
    tomorrow = make_job(now=NOW + timedelta(days=1)).run({})
    assert tomorrow["window"] == {"since": "2025-03-06", "until": "2025-03-11", "days": 6, "backfill": False}
    days = sorted(k.split("dt=")[1][:10] for k in aws_stack.objects(RAW))
    assert days == ["2025-03-06", *FIRST_RUN, "2025-03-11"]  # one object per day, none twice
    assert aws_stack.watermark()["watermark"] == "2025-03-10"


def test_a_backfill_fetches_its_days_and_never_moves_the_watermark_back(aws_stack: Stack, make_job: JobFactory) -> None:
    make_job().run({})
    result = make_job().run({"since": "2025-01-30", "until": "2025-02-01"})
    assert [d["day"] for d in result["landed"]] == ["2025-01-30", "2025-01-31", "2025-02-01"]
    assert result["window"]["backfill"] is True
    assert aws_stack.watermark()["watermark"] == "2025-03-09"
    assert result["watermark"] == "2025-03-09"


def test_a_backfill_of_later_days_never_moves_the_watermark_over_a_gap(aws_stack: Stack, make_job: JobFactory) -> None:
    first = datetime(2025, 3, 1, 14, 30, tzinfo=UTC)
    make_job(now=first).run({})  # the watermark is 2025-02-28
    result = make_job().run({"since": "2025-03-05", "until": "2025-03-09"})  # 03-01..03-04 never fetched
    assert len(result["landed"]) == 5
    assert aws_stack.watermark()["watermark"] == "2025-02-28"
    make_job().run({"since": "2025-03-01", "until": "2025-03-09"})  # closes the gap
    assert aws_stack.watermark()["watermark"] == "2025-03-09"


def test_a_throttled_request_is_retried_after_retry_after(
    aws_stack: Stack, make_job: JobFactory, simulator: TripleWhaleSimulator
) -> None:
    simulator.state.configure(throttle=1, retry_after=2)
    result = make_job().run({})
    assert len(aws_stack.objects(RAW)) == len(FIRST_RUN)
    assert (result["throttled"], result["retries"], result["requests"]) == (1, 1, len(FIRST_RUN) + 1)
    assert aws_stack.sleeps == [2.0]
    log = simulator.state.snapshot()["requests"]
    assert [e["status"] for e in log[:2]] == [429, 200]
    assert log[0]["start"] == log[1]["start"] == FIRST_RUN[0]


def test_a_5xx_once_is_retried(aws_stack: Stack, make_job: JobFactory, simulator: TripleWhaleSimulator) -> None:
    simulator.state.configure(http_error={"status": 502, "times": 1})
    result = make_job(RETRY_BASE_SECONDS="0.5").run({})
    assert (result["server_errors"], len(result["landed"])) == (1, len(FIRST_RUN))
    assert aws_stack.sleeps == [0.5]


def test_throttling_beyond_the_retries_raises_and_keeps_the_watermark(
    aws_stack: Stack, make_job: JobFactory, simulator: TripleWhaleSimulator
) -> None:
    make_job(now=NOW - timedelta(days=2)).run({})  # an earlier run: watermark 2025-03-07
    simulator.state.configure(throttle=100)
    with pytest.raises(TransientError, match="HTTP 429"):
        make_job().run({})
    assert aws_stack.watermark()["watermark"] == "2025-03-07"
    assert len(aws_stack.sleeps) == 2  # MAX_ATTEMPTS=3: two waits, then the event goes back to Lambda


def test_a_refused_key_fails_naming_the_secret_and_writes_nothing(
    aws_stack: Stack,
    make_job: JobFactory,
    simulator: TripleWhaleSimulator,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
) -> None:
    aws_stack.secrets.put_secret_value(
        SecretId=aws_stack.secret_arn, SecretString=json.dumps({"api_key": "wrong-key-1"})
    )
    caplog.set_level(logging.INFO)  # botocore's DEBUG lines print responses (secrets included) by design
    with pytest.raises(api.TripleWhaleAuthError) as caught:
        make_job().run({})
    assert aws_stack.secret_arn in str(caught.value)
    assert "HTTP 401" in str(caught.value)
    assert "wrong-key-1" not in str(caught.value)
    logged = capsys.readouterr()  # Powertools writes its JSON lines to stdout
    assert "wrong-key-1" not in caplog.text + logged.out + logged.err
    assert aws_stack.objects() == {}
    assert [e["status"] for e in simulator.state.snapshot()["requests"]] == [401]  # not retried


def test_a_refused_key_is_read_again_by_the_retry(
    aws_stack: Stack, make_job: JobFactory, simulator: TripleWhaleSimulator
) -> None:
    job = make_job()
    aws_stack.secrets.put_secret_value(
        SecretId=aws_stack.secret_arn, SecretString=json.dumps({"api_key": "old-key-12"})
    )
    with pytest.raises(api.TripleWhaleAuthError):
        job.run({})
    put_key(aws_stack, API_KEY)
    assert len(job.run({})["landed"]) == len(FIRST_RUN)  # the same warm job, the new key


def test_a_200_that_is_not_a_summary_page_is_quarantined_and_the_run_goes_on(
    aws_stack: Stack, make_job: JobFactory, simulator: TripleWhaleSimulator
) -> None:
    simulator.state.configure(bad_shape=1)
    result = make_job().run({})
    assert [d["day"] for d in result["landed"]] == FIRST_RUN[1:]
    (quarantined,) = result["quarantined"]
    assert quarantined["day"] == FIRST_RUN[0]
    assert quarantined["reason"] == "unexpected-shape"
    objects = aws_stack.objects("quarantine/")
    (key,) = objects
    body = objects[key]
    digest = hashlib.sha256(body).hexdigest()
    assert key == f"quarantine/triplewhale/dt=2025-03-10/unexpected-shape/{SHOP}/{FIRST_RUN[0]}/{digest}.json"
    assert json.loads(body)["status"] == "maintenance"  # verbatim
    head = aws_stack.s3.head_object(Bucket=aws_stack.bucket, Key=key)
    assert FIRST_RUN[0] in head["Metadata"]["detail"]
    assert key_of(FIRST_RUN[0]) not in aws_stack.objects(RAW)
    assert aws_stack.watermark()["watermark"] == "2025-03-09"  # every day was handled


def test_days_answered_with_the_same_bad_body_are_each_quarantined_once(
    aws_stack: Stack, make_job: JobFactory, simulator: TripleWhaleSimulator
) -> None:
    days = {"since": "2025-03-07", "until": "2025-03-08"}
    simulator.state.configure(bad_shape=2)
    first = make_job().run(days)
    keys = sorted(aws_stack.objects("quarantine/"))
    assert len(keys) == 2  # one per day, though Triple Whale sent the same bytes for both
    assert [k.split("/")[-2] for k in keys] == ["2025-03-07", "2025-03-08"]
    assert sorted(q["key"] for q in first["quarantined"]) == keys
    for key, day in zip(keys, ["2025-03-07", "2025-03-08"], strict=True):
        head = aws_stack.s3.head_object(Bucket=aws_stack.bucket, Key=key)
        assert (head["Metadata"]["period"], head["Metadata"]["shop-domain"]) == (day, SHOP)
    simulator.state.configure(bad_shape=2)
    make_job().run(days)  # the same days, the same bad answers: the same objects, overwritten
    assert sorted(aws_stack.objects("quarantine/")) == keys


def test_a_run_failing_part_way_moves_the_watermark_over_the_days_it_handled(
    aws_stack: Stack, make_job: JobFactory, simulator: TripleWhaleSimulator
) -> None:
    simulator.state.configure(bad_shape=1)  # 2025-03-07 quarantined: handled all the same
    with pytest.raises(TransientError, match="ConnectionError"):
        make_job(session=FailsAfter(posts=2)).run({})  # 2025-03-09 gets no answer
    assert sorted(aws_stack.objects(RAW)) == [key_of("2025-03-08")]
    watermark = aws_stack.watermark()
    assert watermark["watermark"] == "2025-03-08"  # not past 2025-03-09, which was never fetched
    assert watermark["run"]["handled_through"] == "2025-03-08"
    again = make_job().run({})  # the retry, or the next scheduled run, goes on from there
    assert again["window"]["since"] == "2025-03-05"  # 2025-03-08 minus LOOKBACK_DAYS=3
    assert aws_stack.watermark()["watermark"] == "2025-03-09"


def test_runs_that_keep_running_out_of_time_still_catch_up(
    aws_stack: Stack, make_job: JobFactory, simulator: TripleWhaleSimulator
) -> None:
    make_job(now=NOW - timedelta(days=20)).run({})  # the schedule was off since: watermark 2025-02-17
    watermarks = []
    for _ in range(5):
        with pytest.raises(TransientError, match="out of time after 8 of"):
            make_job().run({}, time_for(simulator, requests_=8))  # time for 8 of the window's days only
        watermarks.append(aws_stack.watermark()["watermark"])
    # Each run fetches from the watermark minus LOOKBACK_DAYS=3, so 8 days move it by 4.
    assert watermarks == ["2025-02-21", "2025-02-25", "2025-03-01", "2025-03-05", "2025-03-09"]
    last = make_job().run({}, time_for(simulator, requests_=8))
    assert (last["window"]["since"], last["watermark"]) == ("2025-03-06", "2025-03-09")
    days = sorted(k.split("dt=")[1][:10] for k in aws_stack.objects(RAW))
    assert days == [(datetime(2025, 2, 14) + timedelta(days=n)).date().isoformat() for n in range(25)]  # no gap


def test_the_request_after_a_retry_after_wait_must_fit_in_the_time_left(
    aws_stack: Stack, make_job: JobFactory, simulator: TripleWhaleSimulator
) -> None:
    simulator.state.configure(throttle=1, retry_after=70)
    left = 100.0  # after 70 s of waiting, 30 s would be left: too little for a request (up to 33 s)
    with pytest.raises(TransientError, match="asked to wait 70 s"):
        make_job().run({}, lambda: left - sum(aws_stack.sleeps))
    assert aws_stack.sleeps == []
    assert [e["status"] for e in simulator.state.snapshot()["requests"]] == [429]


def test_the_error_of_a_failing_run_is_kept_when_its_progress_cannot_be_saved(
    aws_stack: Stack, make_job: JobFactory, simulator: TripleWhaleSimulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    def refused(*args: Any, **kwargs: Any) -> None:
        raise ClientError({"Error": {"Code": "AccessDenied", "Message": "denied"}}, "PutObject")

    monkeypatch.setattr(store, "advance_watermark", refused)
    with pytest.raises(TransientError, match="ConnectionError"):
        make_job(session=FailsAfter(posts=2)).run({})


def test_an_invalid_backfill_event_fails_without_calling_triple_whale(
    aws_stack: Stack, make_job: JobFactory, simulator: TripleWhaleSimulator
) -> None:
    with pytest.raises(ValueError, match="split the backfill"):
        make_job(MAX_DAYS_PER_RUN="5").run({"since": "2025-01-01", "until": "2025-01-31"})
    assert simulator.state.snapshot()["requests"] == []


def test_triple_whales_published_sample_lands_verbatim(aws_stack: Stack, make_job: JobFactory) -> None:
    raw = shared_fixture_path("triplewhale/summary_page__tw-public-apis.json").read_bytes()

    class Sample:
        def post(self, url: str, data: str, headers: dict[str, str]) -> requests.Response:
            response = requests.Response()
            response.status_code, response._content = 200, raw
            return response

    result = make_job(session=Sample()).run({"since": "2025-03-09", "until": "2025-03-09"})
    assert result["quarantined"] == []
    assert aws_stack.objects(RAW) == {key_of("2025-03-09"): raw}


def test_the_handler_runs_a_scheduled_event_with_the_stacks_environment(
    aws_stack: Stack, simulator: TripleWhaleSimulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    from common import aws

    for name, value in aws_stack.environment(simulator.url, FIRST_RUN_DAYS="2").items():
        monkeypatch.setenv(name, value)
    aws.client.cache_clear()  # clients of an earlier test belong to an earlier moto
    try:
        module = load_app_module("triplewhale_app_under_test")

        class Context:
            function_name = "acme-test-triplewhale-summary"
            memory_limit_in_mb = 512
            invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:acme-test-triplewhale-summary"
            aws_request_id = "req-1"

            @staticmethod
            def get_remaining_time_in_millis() -> int:
                return 900_000

        result: dict[str, Any] = module.handler({}, Context())
    finally:
        aws.client.cache_clear()
    assert len(result["landed"]) == 2
    assert all(entry["key"].startswith(RAW) for entry in result["landed"])
    assert len(aws_stack.objects(RAW)) == 2
