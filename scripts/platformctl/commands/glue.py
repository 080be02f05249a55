"""``platformctl glue run``: run one of the platform's Glue jobs, on AWS or on the local cloud.

On AWS it starts a job run (``--lookback-days`` overrides the job's default for this run) and, with
``--wait``, follows it to the end. On the local cloud, which keeps Glue's definitions but runs no job,
it runs the job's own script, as uploaded to the emulated lake, on local PySpark: the prefixes the job
reads (and its previous output) are exported to a scratch directory, the script runs there in a
subprocess (its own JVM), and what it wrote under each of its output prefixes replaces that prefix in
the emulated S3. Each job is found through an output of the stack that defines it (``JOBS``).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import botocore.exceptions

from platformctl.aws_target import Target, add_env_argument, stack_output, target_for
from platformctl.errors import UserError


@dataclass(frozen=True)
class GlueJob:
    """One Glue job: the stack output naming it, the lake prefixes it reads and those it rewrites."""

    stack: tuple[str, str]  # (manifest job, stack)
    output: str
    reads: tuple[str, ...]  # its inputs; its own outputs are read too (an incremental run merges into them)
    writes: tuple[str, ...]


# The one table of the platform's Glue jobs (their templates: infrastructure/shopify/glue-jobs.yaml and
# infrastructure/analytics/curated-tables.yaml; the roles there grant exactly these prefixes).
JOBS: dict[str, GlueJob] = {
    "orders-enriched": GlueJob(
        ("shopify", "glue-jobs"),
        "OrdersEnrichedJobName",
        reads=(
            "raw/shopify/webhooks/orders/",
            "raw/shopify/fetched/orders/",
            "raw/shopify/bulk/order/",
            "raw/shopify/bulk/line_item/",
            "metadata/shopify/bulk/",
        ),
        writes=("processed/shopify/orders_enriched/", "processed/shopify/order_line_items/"),
    ),
    "shopify-curated": GlueJob(
        ("analytics", "curated-tables"),
        "ShopifyCuratedJobName",
        reads=(
            "processed/shopify/orders_enriched/",
            "raw/shopify/webhooks/customers/",
            "raw/shopify/webhooks/products/",
            "raw/shopify/bulk/customer/",
            "raw/shopify/bulk/product/",
            "raw/shopify/bulk/product_variant/",
            "metadata/shopify/bulk/",
        ),
        writes=("processed/shopify/customers/", "processed/shopify/products/"),
    ),
    "recharge-curated": GlueJob(
        ("analytics", "curated-tables"),
        "RechargeCuratedJobName",
        reads=("raw/recharge/subscription/", "raw/recharge/charge/"),
        writes=("processed/recharge/subscriptions/", "processed/recharge/subscription_charges/"),
    ),
    "marketing-daily": GlueJob(
        ("analytics", "curated-tables"),
        "MarketingDailyJobName",
        reads=("raw/triplewhale/summary-page/",),
        writes=("processed/triplewhale/marketing_daily/",),
    ),
}
DEFAULT_JOB = "orders-enriched"
# orders_enriched's own table, where the demo step and the integration tests look.
WRITES = JOBS[DEFAULT_JOB].writes[0]
TERMINAL = {"SUCCEEDED", "FAILED", "STOPPED", "TIMEOUT", "ERROR"}


def register(subparsers: Any) -> None:
    glue = subparsers.add_parser("glue", help="the platform's Glue jobs: run one (on AWS or locally)")
    sub = glue.add_subparsers(dest="glue_command", required=True)
    run = sub.add_parser("run", help="run a Glue job now")
    run.add_argument("--job", choices=sorted(JOBS), default=DEFAULT_JOB, help=f"the job (default: {DEFAULT_JOB})")
    add_env_argument(run)
    run.add_argument(
        "--lookback-days",
        type=int,
        default=None,
        help="days of raw data to re-read (0: rebuild from all raw data; default: the job's own setting)",
    )
    run.add_argument("--wait", action="store_true", help="on AWS: follow the run to its end; exit 1 if it fails")
    run.set_defaults(func=cmd_run)


def job_spec(job: str) -> GlueJob:
    if job not in JOBS:
        raise UserError(f"unknown Glue job {job!r}; jobs are: {', '.join(sorted(JOBS))}")
    return JOBS[job]


def job_name(target: Target, job: str = DEFAULT_JOB) -> str:
    spec = job_spec(job)
    return stack_output(target, *spec.stack, spec.output)


def _s3_location(uri: str) -> tuple[str, str]:
    parsed = urlparse(uri)
    if parsed.scheme != "s3" or not parsed.netloc:
        raise UserError(f"not an S3 location: {uri!r}")
    return parsed.netloc, parsed.path.lstrip("/")


def _download_prefix(s3: Any, bucket: str, prefix: str, into: Path) -> int:
    count = 0
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        for item in page.get("Contents", []):
            path = into / item["Key"]
            path.parent.mkdir(parents=True, exist_ok=True)
            s3.download_file(bucket, item["Key"], str(path))
            count += 1
    return count


def _replace_prefix(s3: Any, bucket: str, prefix: str, root: Path) -> int:
    """Make ``prefix`` in S3 hold exactly the files under ``root/prefix`` (Spark's ``.crc`` files left out)."""
    local = {
        path.relative_to(root).as_posix(): path
        for path in (root / prefix).rglob("*")
        if path.is_file() and not path.name.endswith(".crc")
    }
    for key, path in sorted(local.items()):
        s3.upload_file(str(path), bucket, key)
    stale = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        stale += [{"Key": item["Key"]} for item in page.get("Contents", []) if item["Key"] not in local]
    for start in range(0, len(stale), 1000):
        s3.delete_objects(Bucket=bucket, Delete={"Objects": stale[start : start + 1000], "Quiet": True})
    return len(local)


def run_locally(target: Target, lookback_days: int | None = None, job: str = DEFAULT_JOB) -> dict[str, Any]:
    """Run the deployed job's script on local PySpark against the emulated lake; its summary."""
    spec = job_spec(job)
    name = job_name(target, job)
    definition = target.client("glue").get_job(JobName=name)["Job"]
    arguments = definition.get("DefaultArguments", {})
    bucket, _ = _s3_location(arguments["--lake_uri"])
    lookback = int(arguments.get("--lookback_days", "0")) if lookback_days is None else lookback_days
    s3 = target.client("s3")
    with tempfile.TemporaryDirectory(prefix=f"{job}-") as scratch:
        workdir = Path(scratch)
        scripts = workdir / "scripts"
        scripts.mkdir()
        extra = filter(None, arguments.get("--extra-py-files", "").split(","))
        for uri in [definition["Command"]["ScriptLocation"], *extra]:
            script_bucket, key = _s3_location(uri.strip())
            try:
                s3.download_file(script_bucket, key, str(scripts / Path(key).name))
            except botocore.exceptions.ClientError:
                raise UserError(
                    f"{uri} is not in the lake: deploy the {'/'.join(spec.stack)} stack (it uploads glue-scripts/)"
                ) from None
        lake = workdir / "lake"
        for prefix in dict.fromkeys((*spec.reads, *spec.writes)):
            _download_prefix(s3, bucket, prefix, lake)
        entry = scripts / Path(_s3_location(definition["Command"]["ScriptLocation"])[1]).name
        command = [sys.executable, str(entry), "--lake_uri", f"file://{lake}", "--lookback_days", str(lookback)]
        finished = subprocess.run(command, capture_output=True, text=True, check=False, cwd=workdir)  # noqa: S603
        if finished.returncode != 0:
            tail = "\n".join(finished.stderr.splitlines()[-25:])
            raise UserError(f"{name} failed locally (exit {finished.returncode}):\n{tail}")
        summary = next(json.loads(line) for line in reversed(finished.stdout.splitlines()) if line.startswith("{"))
        written = {prefix: _replace_prefix(s3, bucket, prefix, lake) for prefix in spec.writes}
        summary["objects_written"] = sum(written.values())
        summary["objects_written_by_prefix"] = written
    summary["job_name"] = name
    return dict(summary)


def run_on_aws(target: Target, lookback_days: int | None, wait: bool, job: str = DEFAULT_JOB) -> int:
    glue = target.client("glue")
    name = job_name(target, job)
    arguments = {} if lookback_days is None else {"--lookback_days": str(lookback_days)}
    run_id = glue.start_job_run(JobName=name, Arguments=arguments)["JobRunId"]
    print(f"started {name} run {run_id}", flush=True)
    if not wait:
        return 0
    state = ""
    while state not in TERMINAL:
        time.sleep(15)
        job_run = glue.get_job_run(JobName=name, RunId=run_id, PredecessorsIncluded=False)["JobRun"]
        if job_run["JobRunState"] != state:
            state = job_run["JobRunState"]
            print(f"  {state} after {job_run.get('ExecutionTime', 0)}s", flush=True)
    if state != "SUCCEEDED":
        print(f"{name} run {run_id} ended {state}: {job_run.get('ErrorMessage', '')}", file=sys.stderr)
        return 1
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    target = target_for(args.env)
    if args.lookback_days is not None and args.lookback_days < 0:
        raise UserError("--lookback-days must be 0 or more")
    if not target.is_local:
        return run_on_aws(target, args.lookback_days, args.wait, args.job)
    started = time.monotonic()
    summary = run_locally(target, args.lookback_days, args.job)
    print(json.dumps(summary, indent=2))
    print(f"{summary['job_name']}: ran on local Spark in {time.monotonic() - started:.1f}s", flush=True)
    return 0
