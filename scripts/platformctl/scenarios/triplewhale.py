"""Demo step: the Triple Whale job fired by its schedule against the local Triple Whale simulator.

The simulator is told to throttle the first request (429 with ``Retry-After``); the step fires the
job's EventBridge Scheduler schedule as the time of day would, waits for the asynchronous run, and
reports the days that landed in the lake, the watermark, and the throttled request that was retried.
Then it fires the schedule again: the days are fetched again (Triple Whale restates recent attribution)
and overwrite their own objects, so the lake holds no duplicate.
"""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import requests

from platformctl.localcloud.schedules import fire_schedule
from platformctl.scenarios.report import Report

ORDER = 40
STACK = "triplewhale/ingestion"
RAW_PREFIX = "raw/triplewhale/summary-page/"
QUARANTINE_PREFIX = "quarantine/triplewhale/"
WATERMARK_PREFIX = "metadata/triplewhale/summary-page/"
TIMEOUT = (3.05, 15.0)


def _objects(cloud: Any, bucket: str, prefix: str) -> dict[str, dict[str, Any]]:
    pages = cloud.target.client("s3").get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
    return {entry["Key"]: entry for page in pages for entry in page.get("Contents", [])}


def _metric_count(cloud: Any, bucket: str, key: str) -> int:
    body = cloud.target.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read()
    return len(json.loads(body).get("metrics") or [])


def _watermark(cloud: Any, bucket: str) -> dict[str, Any]:
    for key in _objects(cloud, bucket, WATERMARK_PREFIX):
        if key.endswith("/watermark.json"):
            return dict(json.loads(cloud.target.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read()))
    return {}


def _fire(cloud: Any, schedule: str) -> str:
    message = fire_schedule(cloud.target, schedule)
    cloud.wait_idle(timeout=300)
    return message


def step(cloud: Any, report: Report) -> None:
    report.section("Triple Whale: the scheduled summary-page job against the local simulator")
    endpoints = cloud.endpoints()
    outputs = cloud.stack_outputs().get(STACK, {})
    simulator = endpoints.get("simulators", {}).get("triplewhale")
    schedule = outputs.get("TripleWhaleSummaryScheduleName")
    bucket = endpoints.get("bucket")
    if not simulator or not schedule or not bucket:
        report.expect(False, "the triplewhale/ingestion stack (with its schedule) and the simulator must be running")
        return
    requests.post(f"{simulator}/_simulator/reset", json={}, timeout=TIMEOUT).raise_for_status()
    requests.post(
        f"{simulator}/_simulator/control", json={"throttle": 1, "retry_after": 1}, timeout=TIMEOUT
    ).raise_for_status()
    report.line(f"simulator {simulator}: the first request will be answered 429 with Retry-After: 1")
    before = _objects(cloud, bucket, RAW_PREFIX)
    started = datetime.now(UTC) - timedelta(seconds=1)
    clock = time.monotonic()
    report.line(f"fire schedule {schedule}: {_fire(cloud, schedule)} ({time.monotonic() - clock:.1f} s to settle)")

    after = _objects(cloud, bucket, RAW_PREFIX)
    written = {k: v for k, v in after.items() if v["LastModified"] >= started}
    rows = [
        (key.split("/dt=")[1].split("/")[0], key, entry["Size"], _metric_count(cloud, bucket, key))
        for key, entry in sorted(written.items())
    ]
    report.table(("DAY", "KEY", "BYTES", "METRICS"), rows)
    today = datetime.now(UTC).date()
    yesterday = today - timedelta(days=1)
    days = [row[0] for row in rows]
    report.expect(bool(rows), "the run landed no day in raw/triplewhale/summary-page/")
    report.expect(today.isoformat() in days, f"today ({today}) did not land")
    report.expect(days == sorted(set(days)), f"days landed more than once: {days}")

    watermark = _watermark(cloud, bucket)
    report.line(f"watermark: {watermark.get('watermark')} (newest complete day; today is still changing)")
    report.expect(watermark.get("watermark") == yesterday.isoformat(), f"watermark {watermark} is not {yesterday}")

    log = requests.get(f"{simulator}/_simulator/state", timeout=TIMEOUT).json()["requests"]
    report.section("Triple Whale: what the simulator answered (the throttled request, then its retry)")
    report.table(
        ("#", "PERIOD", "TODAY HOUR", "HTTP"),
        [(n, f"{e.get('start')}..{e.get('end')}", e.get("today_hour"), e["status"]) for n, e in enumerate(log, 1)],
    )
    retried = (
        len(log) >= 2 and log[0]["status"] == 429 and log[1]["status"] == 200 and log[0]["start"] == log[1]["start"]
    )
    report.expect(retried, "the throttled request was not retried (expected 429 then 200 for the same day)")
    quarantined = _objects(cloud, bucket, QUARANTINE_PREFIX)
    report.expect(not quarantined, f"unexpected quarantine: {sorted(quarantined)}")

    report.section("Triple Whale: fired again (recent days are restated, so they are fetched again)")
    report.line(f"fire schedule {schedule}: {_fire(cloud, schedule)}")
    again = _objects(cloud, bucket, RAW_PREFIX)
    rewritten = sorted(k for k, v in again.items() if v["LastModified"] >= started and k in written)
    report.line(f"{len(again)} object(s) under {RAW_PREFIX} (before the step: {len(before)}); "
                f"{len(rewritten)} day(s) overwritten in place, none duplicated")  # fmt: skip
    report.expect(set(again) == set(before) | set(written), "the second run added objects instead of overwriting")
