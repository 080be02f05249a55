"""The Triple Whale job on the local cloud: the real template deployed, the schedule fired, the handler
in its worker with the stack's environment, the real secret checked by the simulator, moto's S3 and SQS.

Paths: a scheduled run lands every day of its window and moves the watermark; a throttled request is
retried; a second run overwrites instead of duplicating; throttling that outlasts every retry and a
refused key end in the dead-letter queue with the event and a message naming the secret.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import requests

from platformctl.localcloud.schedules import fire_schedule

pytestmark = pytest.mark.integration

STACK = "triplewhale/ingestion"
RAW = "raw/triplewhale/summary-page/"
SHOP = "example.myshopify.com"  # ci/environments/local/triplewhale/ingestion.json
WATERMARK = f"metadata/triplewhale/summary-page/{SHOP}/watermark.json"


@pytest.fixture(scope="module")
def env(local_cloud: Any) -> dict[str, Any]:
    outputs = local_cloud.stack_outputs().get(STACK)
    if not outputs:
        pytest.skip("the triplewhale/ingestion stack is not deployed (PLATFORM_LOCAL_STACKS)")
    endpoints = local_cloud.endpoints()
    return {
        "cloud": local_cloud,
        "schedule": outputs["TripleWhaleSummaryScheduleName"],
        "function": outputs["TripleWhaleSummaryFunctionName"],
        "dlq": outputs["TripleWhaleSummaryDlqUrl"],
        "simulator": endpoints["simulators"]["triplewhale"],
        "bucket": endpoints["bucket"],
        "secret": local_cloud.stack_outputs()["shared/secrets-manager"]["TripleWhaleApiKeySecretArn"],
        "s3": local_cloud.target.client("s3"),
        "sqs": local_cloud.target.client("sqs"),
    }


@pytest.fixture(autouse=True)
def fresh_simulator(env: dict[str, Any]) -> Iterator[None]:
    requests.post(f"{env['simulator']}/_simulator/reset", json={}, timeout=10).raise_for_status()
    yield
    requests.post(f"{env['simulator']}/_simulator/reset", json={}, timeout=10).raise_for_status()


def control(env: dict[str, Any], **behaviour: Any) -> None:
    requests.post(f"{env['simulator']}/_simulator/control", json=behaviour, timeout=10).raise_for_status()


def simulator_log(env: dict[str, Any]) -> list[dict[str, Any]]:
    return list(requests.get(f"{env['simulator']}/_simulator/state", timeout=10).json()["requests"])


def fire(env: dict[str, Any]) -> None:
    assert fire_schedule(env["cloud"].target, env["schedule"]).startswith("invoked ")
    assert env["cloud"].wait_idle(timeout=240), "the run did not settle"


def lake(env: dict[str, Any], prefix: str) -> dict[str, bytes]:
    s3, bucket = env["s3"], env["bucket"]
    pages = s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
    keys = [e["Key"] for page in pages for e in page.get("Contents", [])]
    return {key: s3.get_object(Bucket=bucket, Key=key)["Body"].read() for key in keys}


def drain(env: dict[str, Any]) -> list[dict[str, Any]]:
    found = []
    while True:
        batch = (
            env["sqs"]
            .receive_message(QueueUrl=env["dlq"], MaxNumberOfMessages=10, MessageAttributeNames=["All"])
            .get("Messages", [])
        )
        if not batch:
            return found
        for message in batch:
            found.append(message)
            env["sqs"].delete_message(QueueUrl=env["dlq"], ReceiptHandle=message["ReceiptHandle"])


def test_a_scheduled_run_lands_each_day_verbatim_retries_a_429_and_moves_the_watermark(env: dict[str, Any]) -> None:
    control(env, throttle=1, retry_after=1)
    fire(env)
    today = datetime.now(UTC).date()
    objects = lake(env, RAW)
    days = sorted(key.split("dt=")[1][:10] for key in objects)
    assert today.isoformat() in days
    assert len(days) >= 5  # FirstRunDays=5 (or more: from an earlier watermark minus LookbackDays=3)
    log = simulator_log(env)
    assert [e["status"] for e in log[:2]] == [429, 200]
    assert log[0]["start"] == log[1]["start"]  # the throttled day was asked again
    api_key = json.loads(
        env["cloud"].target.client("secretsmanager").get_secret_value(SecretId=env["secret"])["SecretString"]
    )["api_key"]
    for entry in log[1:]:
        assert entry["status"] == 200
        body = {
            "shopDomain": SHOP,
            "period": {"start": entry["start"], "end": entry["end"]},
            "todayHour": entry["today_hour"],
        }
        direct = requests.post(
            f"{env['simulator']}/api/v2/summary-page/get-data", json=body, headers={"x-api-key": api_key}, timeout=10
        )
        assert objects[f"{RAW}dt={entry['start']}/{SHOP}.json"] == direct.content  # verbatim
    watermark = json.loads(lake(env, WATERMARK)[WATERMARK])
    assert watermark["watermark"] == (today - timedelta(days=1)).isoformat()


def test_a_second_run_overwrites_its_days_instead_of_adding_objects(env: dict[str, Any]) -> None:
    fire(env)
    before = lake(env, RAW)
    fire(env)
    after = lake(env, RAW)
    assert set(after) == set(before)
    assert len(simulator_log(env)) >= 2 * 4  # both runs fetched their whole window (lookback 3 + today)


def test_throttling_beyond_every_retry_ends_in_the_dead_letter_queue(env: dict[str, Any]) -> None:
    drain(env)
    watermark = lake(env, WATERMARK).get(WATERMARK)
    control(env, throttle=1000, retry_after=1)
    fire(env)
    messages = drain(env)
    assert len(messages) == 1
    (message,) = messages
    assert json.loads(message["Body"]) == {}  # the scheduled run's event, as it was
    assert "HTTP 429" in message["MessageAttributes"]["ErrorMessage"]["StringValue"]
    statuses = {e["status"] for e in simulator_log(env)}
    assert statuses == {429}
    assert len(simulator_log(env)) == 3 * 5  # 3 invocations (2 async retries) x 5 attempts each
    assert lake(env, WATERMARK).get(WATERMARK) == watermark


def test_a_refused_key_ends_in_the_dead_letter_queue_naming_the_secret(env: dict[str, Any]) -> None:
    drain(env)
    control(env, unauthorized=1000)
    fire(env)
    (message,) = drain(env)
    error = message["MessageAttributes"]["ErrorMessage"]["StringValue"]
    assert "HTTP 401" in error
    assert env["secret"] in error
    assert len(simulator_log(env)) == 3  # one request per invocation: a refused key is not retried in-run


def test_a_backfill_event_lands_exactly_its_days(env: dict[str, Any]) -> None:
    client = env["cloud"].target.client("lambda")
    event = {"since": "2024-02-28", "until": "2024-03-01"}
    client.invoke(FunctionName=env["function"], InvocationType="Event", Payload=json.dumps(event).encode())
    deadline = time.monotonic() + 120
    while not env["cloud"].wait_idle(timeout=5) and time.monotonic() < deadline:
        pass
    days = sorted(k.split("dt=")[1][:10] for k in lake(env, f"{RAW}dt=2024-"))
    assert days == ["2024-02-28", "2024-02-29", "2024-03-01"]
