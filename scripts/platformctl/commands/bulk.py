"""``platformctl bulk``: start and watch the Shopify bulk workflow, on AWS or the local cloud.

``bulk start [--resource orders|customers|products] [--since T] [--until T] [--wait]`` starts an
execution of ``<brand>-shopify-bulk-orders`` for one resource (default orders; no window: incremental,
since the resource's watermark; a window: a backfill of it) and, with ``--wait``, shows
its progress (status, step, objects, bytes, elapsed) until it ends. ``bulk status`` lists the recent
executions and their resources; ``bulk status EXECUTION`` (a name or an ARN) shows one: its resource,
window, progress, result or
error, and the run's manifest. The state machine is found through the ``shopify/bulk-workflow``
stack's output ``ShopifyBulkStateMachineArn``.
"""

from __future__ import annotations

import argparse
import json
import secrets
import sys
import time
from datetime import UTC, datetime
from typing import Any, TextIO

import botocore.exceptions

from platformctl.aws_target import Target, add_env_argument, deployed_stack_outputs, stack_output, target_for
from platformctl.errors import UserError

RESOURCES = ("orders", "customers", "products")  # common.shopify.bulk.RESOURCES (the functions validate too)
DEFAULT_RESOURCE = "orders"
STACK = ("shopify", "bulk-workflow")
OUTPUT = "ShopifyBulkStateMachineArn"
TERMINAL = {"SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED"}
PHASES = {
    "Export": "starting the export",
    "StartDownloadState": "export started",
    "WaitForOperation": "Shopify is exporting",
    "Poll": "reading the status",
    "RouteOnStatus": "reading the status",
    "Download": "downloading",
    "RouteDownload": "downloading",
    "RefreshUrl": "refreshing the URL",
    "RouteAfterRefresh": "refreshing the URL",
    "Summarize": "finishing",
}


def register(subparsers: Any) -> None:
    bulk = subparsers.add_parser(
        "bulk", help="the Shopify bulk workflow (orders, customers, products): start a run, watch it, inspect it"
    )
    sub = bulk.add_subparsers(dest="bulk_command", required=True)
    start = sub.add_parser("start", help="start a run: incremental (since the watermark) or a backfill window")
    add_env_argument(start)
    start.add_argument(
        "--resource", choices=RESOURCES, default=DEFAULT_RESOURCE, help="what to export (default: orders)"
    )
    start.add_argument("--since", help="window start, ISO-8601 (e.g. 2025-01-01 or 2025-01-01T00:00:00Z)")
    start.add_argument("--until", help="window end, ISO-8601 (default: now)")
    start.add_argument("--wait", action="store_true", help="show progress until the run ends; exit 1 if it fails")
    start.add_argument(
        "--max-bytes-per-step",
        type=int,
        default=None,
        help="end each download step after this many bytes (testing the resumable steps; default: by time)",
    )
    start.set_defaults(func=cmd_start)
    status = sub.add_parser("status", help="recent runs, or one run in detail")
    status.add_argument("execution", nargs="?", help="execution name or ARN (default: list recent runs)")
    add_env_argument(status)
    status.add_argument("--limit", type=int, default=10, help="how many recent runs to list")
    status.set_defaults(func=cmd_status)


# ------------------------------------------------------------------------------------------ helpers


def parse_moment(value: str, name: str) -> datetime:
    """An ISO-8601 date or date-time; without an offset it is UTC."""
    text = value.strip()
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise UserError(f"--{name} {value!r} is not an ISO-8601 date or time (e.g. 2025-01-01T00:00:00Z)") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def execution_input(
    since: str | None, until: str | None, max_bytes_per_step: int | None, resource: str = DEFAULT_RESOURCE
) -> dict[str, Any]:
    """The execution's input; without ``resource`` the workflow exports orders, so orders add none."""
    if resource not in RESOURCES:
        raise UserError(f"--resource {resource!r}: use one of {', '.join(RESOURCES)}")
    document: dict[str, Any] = {} if resource == DEFAULT_RESOURCE else {"resource": resource}
    start = parse_moment(since, "since") if since else None
    end = parse_moment(until, "until") if until else None
    if end is not None and not since:
        raise UserError("--until needs --since: a run without --since is incremental, from the watermark to now")
    if start is not None and end is not None and start >= end:
        raise UserError(f"--since {_iso(start)} must be before --until {_iso(end)}")
    if start is not None:
        document["since"] = _iso(start)
    if end is not None:
        document["until"] = _iso(end)
    if max_bytes_per_step is not None:
        if max_bytes_per_step < 1:
            raise UserError("--max-bytes-per-step must be a positive number of bytes")
        document["options"] = {"max_bytes_per_step": max_bytes_per_step}
    return document


def state_machine_arn(target: Target) -> str:
    return stack_output(target, *STACK, OUTPUT)


def lake_bucket(target: Target) -> str | None:
    return (deployed_stack_outputs(target, "shared", "data-lake") or {}).get("DataLakeBucketName")


def _human(count: float | None) -> str:
    if count is None:
        return "?"
    value = float(count)
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if value < 1024 or unit == "TB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} TB"


def _elapsed(seconds: float) -> str:
    seconds = int(seconds)
    return f"{seconds // 3600}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"


def progress(sfn: Any, execution_arn: str) -> dict[str, Any]:
    """What the latest events say: the current state, the run, the operation's status, the download."""
    found: dict[str, Any] = {}
    events = sfn.get_execution_history(executionArn=execution_arn, reverseOrder=True, maxResults=100)["events"]
    # Newest first (an emulator may ignore reverseOrder and return the whole history oldest first).
    for event in sorted(events, key=lambda e: int(e.get("id", 0)), reverse=True):
        entered = event.get("stateEnteredEventDetails")
        if entered and "state" not in found:
            found["state"] = entered.get("name")
        exited = event.get("stateExitedEventDetails")
        if exited and exited.get("output") and "document" not in found:
            try:
                document = json.loads(exited["output"])
            except ValueError:
                continue
            if isinstance(document, dict) and ("poll" in document or "download" in document):
                found["document"] = document  # the newest full state (the final summary has no poll)
    document = found.pop("document", {}) if isinstance(found.get("document"), dict) else {}
    found["run"] = document.get("run") or {}
    found["poll"] = document.get("poll") or {}
    found["download"] = document.get("download") or {}
    return found


def progress_line(status: str, seen: dict[str, Any], elapsed: float) -> str:
    poll, download = seen.get("poll") or {}, seen.get("download") or {}
    phase = PHASES.get(str(seen.get("state")), str(seen.get("state") or "starting"))
    if poll.get("status") and phase == "Shopify is exporting":
        phase = f"Shopify: {poll['status']}"
    objects = download.get("objects") or poll.get("object_count") or 0
    read, total = download.get("offset") or 0, poll.get("file_size")
    step = f" step {download['step']}" if download.get("step") else ""
    return (
        f"{status:<9} {phase + step:<30} objects {int(objects):>11,}  "
        f"bytes {_human(read)} / {_human(total)}  elapsed {_elapsed(elapsed)}"
    )


def watch(sfn: Any, execution_arn: str, out: TextIO, *, poll_seconds: float = 2.0) -> dict[str, Any]:
    """Show progress until the execution ends; returns its final description."""
    started = time.monotonic()
    tty = out.isatty()
    last = ""
    while True:
        description = sfn.describe_execution(executionArn=execution_arn)
        status = str(description["status"])
        line = progress_line(status, progress(sfn, execution_arn), time.monotonic() - started)
        if tty:
            out.write("\r\033[K" + line[:200])
            out.flush()
        elif line.partition(" elapsed")[0] != last.partition(" elapsed")[0]:
            print(line, file=out, flush=True)
        last = line
        if status in TERMINAL:
            if tty:
                out.write("\n")
            return dict(description)
        time.sleep(poll_seconds)


def _resolve_execution(machine_arn: str, execution: str) -> str:
    if execution.startswith("arn:"):
        return execution
    # An execution ARN is the state machine's ARN with :execution: and the name.
    return machine_arn.replace(":stateMachine:", ":execution:") + ":" + execution


def _report_end(description: dict[str, Any], out: TextIO, bucket: str | None = None) -> int:
    status = description["status"]
    if status == "SUCCEEDED":
        result = json.loads(description.get("output") or "{}")
        where = f"s3://{bucket or '<lake bucket>'}/{result.get('manifest_key')}"
        print(
            f"{result.get('resource') or DEFAULT_RESOURCE} run {result.get('run_id')} succeeded: "
            f"{result.get('objects')} objects, {_human(result.get('bytes'))} "
            f"in {result.get('steps')} download step(s); manifest {where}",
            file=out,
        )
        return 0
    print(f"run ended {status}: {description.get('error') or ''}", file=out)
    if description.get("cause"):
        print(f"  cause: {str(description['cause'])[:2000]}", file=out)
    print("  runbook: docs/runbooks/bulk-workflow-failed.md", file=out)
    return 1


# ----------------------------------------------------------------------------------------- commands


def cmd_start(args: argparse.Namespace) -> int:
    resource = getattr(args, "resource", DEFAULT_RESOURCE)
    document = execution_input(args.since, args.until, args.max_bytes_per_step, resource)
    target = target_for(args.env)
    arn = state_machine_arn(target)
    sfn = target.client("stepfunctions")
    kind = "backfill" if document.get("since") else "incremental"
    name = f"{kind}-{resource}-{datetime.now(UTC).strftime('%Y%m%dT%H%M%SZ')}-{secrets.token_hex(3)}"
    execution = sfn.start_execution(stateMachineArn=arn, name=name, input=json.dumps(document))
    window = f"{document.get('since', 'the watermark')} .. {document.get('until', 'now')}"
    print(f"started {name} ({resource} {kind}, window {window})", flush=True)
    print(f"  {execution['executionArn']}", flush=True)
    if not args.wait:
        print(f"  follow it with: platformctl bulk status {name} --env {args.env}")
        return 0
    description = watch(sfn, execution["executionArn"], sys.stdout)
    return _report_end(description, sys.stdout, lake_bucket(target))


def cmd_status(args: argparse.Namespace) -> int:
    target = target_for(args.env)
    arn = state_machine_arn(target)
    sfn = target.client("stepfunctions")
    if not args.execution:
        executions = sfn.list_executions(stateMachineArn=arn, maxResults=max(1, args.limit))["executions"]
        rows = [("NAME", "RESOURCE", "STATUS", "STARTED", "DURATION")]
        for item in executions:
            start, stop = item["startDate"], item.get("stopDate")
            duration = _elapsed(((stop or datetime.now(UTC)) - start).total_seconds())
            started = start.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%SZ")
            resource = resource_of(sfn.describe_execution(executionArn=item["executionArn"]))
            rows.append((item["name"], resource, item["status"], started, duration))
        widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
        for row in rows:
            print("  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)).rstrip())
        if len(rows) == 1:
            print(f"no runs yet: start one with `platformctl bulk start --env {args.env}`")
        return 0
    execution_arn = _resolve_execution(arn, args.execution)
    try:
        description = sfn.describe_execution(executionArn=execution_arn)
    except botocore.exceptions.ClientError:
        raise UserError(
            f"no execution {args.execution} of {arn}; list them with `platformctl bulk status --env {args.env}`"
        ) from None
    seen = progress(sfn, execution_arn)
    run = seen.get("run") or {}
    window = run.get("window") or json.loads(description.get("input") or "{}")
    stop = description.get("stopDate") or datetime.now(UTC)
    print(f"execution  {description['name']}")
    print(f"resource   {run.get('resource') or resource_of(description)}")
    print(f"status     {description['status']}")
    print(f"started    {description['startDate'].astimezone(UTC).strftime('%Y-%m-%d %H:%M:%SZ')}")
    print(f"window     {window.get('since') or 'full history'} .. {window.get('until') or 'now'}")
    if run.get("operation_id"):
        print(f"operation  {run['operation_id']} (run {run.get('run_id')})")
    print(f"progress   {progress_line(description['status'], seen, (stop - description['startDate']).total_seconds())}")
    bucket = lake_bucket(target)
    code = _report_end(description, sys.stdout, bucket) if description["status"] in TERMINAL else 0
    if bucket and run.get("run_id"):
        _print_manifest(target, bucket, str(run["run_id"]))
    return code


def resource_of(description: dict[str, Any]) -> str:
    """The resource an execution exports, from its input (absent: orders; unreadable: ``?``)."""
    try:
        document = json.loads(description.get("input") or "{}")
    except ValueError:
        return "?"
    resource = document.get("resource") if isinstance(document, dict) else None
    return str(resource or DEFAULT_RESOURCE)


def _print_manifest(target: Target, bucket: str, run_id: str) -> None:
    key = f"metadata/shopify/bulk/run={run_id}/manifest.json"
    try:
        manifest = json.loads(target.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read())
    except botocore.exceptions.ClientError:
        print(f"manifest   none yet (s3://{bucket}/{key})")
        return
    print(
        f"manifest   s3://{bucket}/{key}: {manifest.get('resource', DEFAULT_RESOURCE)}, "
        f"{manifest['objects_written']} objects written, Shopify reported "
        f"{manifest['object_count_reported']}, partial {str(manifest['partial']).lower()}, "
        f"watermark advanced {str(manifest['watermark_advanced']).lower()}"
    )
    rows = [("TYPE", "OBJECTS", "PARTS", "COMPRESSED")]
    for name, entry in sorted(manifest.get("types", {}).items()):
        rows.append((name, str(entry["objects"]), str(len(entry["parts"])), _human(entry["compressed_bytes"])))
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    for row in rows:
        print("  " + "  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)).rstrip())
