"""platformctl rollback: redeploy a job as an earlier deployment left it, from the deployment ledger.

The ledger (platformctl.ledger) keeps, per deploy and job, each stack's template and parameter values as
deployed. A rollback puts them back through the same change-set path as a deploy, and is itself recorded.
Runbook: docs/runbooks/rollback.md.
"""

from __future__ import annotations

import argparse
import time
from typing import Any

from platformctl.aws_target import add_env_argument


def cmd_rollback(args: argparse.Namespace) -> int:
    from platformctl.commands.deploy import deployer_for

    deployer = deployer_for(args)
    ledger = deployer.ledger()
    record = ledger.choose(args.job, args.to)
    print(
        f"rolling back {args.job} in {deployer.environment} to deployment {record.deployment_id} "
        f"(commit {record.commit[:12] or '?'}, image tag {record.image_tag[:12]}, finished {record.finished_at})",
        flush=True,
    )
    started = time.monotonic()
    results = deployer.redeploy(record, ledger)
    summary = ", ".join(f"{r.stack.key}: {r.outcome}" for r in results)
    print(f"rolled back {len(results)} stack(s) in {time.monotonic() - started:.1f}s: {summary}")
    return 0


def register(sub: Any) -> None:
    rollback = sub.add_parser("rollback", help="redeploy a job as an earlier deployment (ledger record) left it")
    add_env_argument(rollback)
    rollback.add_argument("--job", required=True, help="the job to roll back (see ci/ingestion_jobs.json)")
    rollback.add_argument("--to", metavar="DEPLOYMENT", help="a deployment id (default: the last good one before)")
    rollback.add_argument("--ci", action="store_true", help="as the pipeline does: bootstrap stacks skipped")
    rollback.set_defaults(func=cmd_rollback)
