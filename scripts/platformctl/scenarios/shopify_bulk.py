"""Demo step: a bulk backfill of the simulated shop through the real state machine, into the lake.

The local Shopify simulator exports its orders; the state machine exports, polls and downloads them in
bounded steps (a small step size makes the resumable loop visible), and the step reports the parts per
object type, the counts against Shopify's objectCount, and the run's manifest.
"""

from __future__ import annotations

import json
import time
from typing import Any

import requests

from platformctl.scenarios.report import Report

ORDER = 20
ORDERS = 600  # about 2.3 MB of JSONL
STEP_BYTES = 1024 * 1024  # three or so download steps
WAIT_SECONDS = 300


def step(cloud: Any, report: Report) -> None:
    report.section("Shopify bulk backfill (state machine export -> poll -> download)")
    endpoints = cloud.endpoints()
    machine = endpoints.get("state_machines", {}).get("shopify_bulk")
    simulator = endpoints.get("simulators", {}).get("shopify")
    report.expect(bool(machine), "the bulk state machine is not deployed (no state_machines.shopify_bulk)")
    report.expect(bool(simulator), "the Shopify simulator is not running (no simulators.shopify)")
    if not machine or not simulator:
        return
    requests.post(f"{simulator}/_simulator/reset", json={}, timeout=10).raise_for_status()
    requests.post(f"{simulator}/_simulator/control", json={"orders": ORDERS}, timeout=10).raise_for_status()
    sfn = cloud.target.client("stepfunctions")
    document = {
        "since": "2024-01-01T00:00:00Z",
        "until": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "options": {"max_bytes_per_step": STEP_BYTES},
    }
    started = time.monotonic()
    execution = sfn.start_execution(
        stateMachineArn=machine, name=f"demo-backfill-{int(time.time())}", input=json.dumps(document)
    )
    report.line(f"started {execution['executionArn'].rsplit(':', 1)[1]}: backfill {document['since']} .. now")
    description = sfn.describe_execution(executionArn=execution["executionArn"])
    while description["status"] == "RUNNING" and time.monotonic() - started < WAIT_SECONDS:
        time.sleep(1.0)
        description = sfn.describe_execution(executionArn=execution["executionArn"])
    status = description["status"]
    report.line(f"status {status} after {time.monotonic() - started:.1f}s")
    report.expect(status == "SUCCEEDED", f"bulk backfill ended {status}: {description.get('cause', '')[:300]}")
    if status != "SUCCEEDED":
        return
    result = json.loads(description["output"])
    history = sfn.get_execution_history(executionArn=execution["executionArn"], maxResults=1000)["events"]
    steps = [e for e in history if (e.get("stateEnteredEventDetails") or {}).get("name") == "Download"]
    polls = [e for e in history if (e.get("stateEnteredEventDetails") or {}).get("name") == "Poll"]
    report.line(f"{len(polls)} status read(s), {len(steps)} download step(s) of about {STEP_BYTES // 1024} KiB each")
    s3 = cloud.target.client("s3")
    manifest = json.loads(s3.get_object(Bucket=endpoints["bucket"], Key=result["manifest_key"])["Body"].read())
    rows = []
    for name, entry in sorted(manifest["types"].items()):
        for part in entry["parts"]:
            head = s3.head_object(Bucket=endpoints["bucket"], Key=part["key"])
            report.expect(head["ContentLength"] == part["bytes"], f"{part['key']} is not the size the manifest says")
        rows.append((name, entry["prefix"], entry["objects"], len(entry["parts"]), entry["compressed_bytes"]))
    report.table(("TYPE", "PREFIX", "OBJECTS", "PARTS", "GZIP BYTES"), rows)
    report.line(
        f"manifest {result['manifest_key']}: {manifest['objects_written']} objects written, Shopify reported "
        f"{manifest['object_count_reported']}; {manifest['bytes_read']} bytes read in {manifest['steps']} steps; "
        f"partial {manifest['partial']}; watermark advanced {manifest['watermark_advanced']}"
    )
    report.expect(manifest["counts_match"], "the manifest's counts disagree with Shopify's objectCount")
    report.expect(manifest["objects_written"] == manifest["object_count_reported"], "objects written != objectCount")
    report.expect(len(steps) > 1, "the download did not run in several steps")
    report.expect({"Order", "LineItem"} <= set(manifest["types"]), "orders or line items are missing")
