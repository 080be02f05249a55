"""``platformctl deploy`` and ``platformctl plan``: the manifest's stacks through change sets, in manifest order.

``deployer_for`` turns a command's ``--env`` (and ``--image-tag``, ``--ci``, ``--keep-running-images``
where it has them) into the ``platformctl.deploy.Deployer`` that ``status``, ``params`` and ``rollback``
use too.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import time
from typing import Any

from platformctl.aws_target import add_env_argument
from platformctl.errors import UserError
from platformctl.manifest import REPO_ROOT, load_manifest


def _head() -> str:
    """The checkout's HEAD commit, or "" outside a git checkout."""
    try:
        return subprocess.run(
            ["git", "rev-parse", "HEAD"],  # noqa: S607
            cwd=REPO_ROOT,
            check=True,
            capture_output=True,
            text=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return ""


def _image_tag(explicit: str | None, environment: str) -> str:
    if explicit:
        return explicit
    if os.environ.get("IMAGE_TAG"):
        return os.environ["IMAGE_TAG"]
    if environment == "local":
        return "local"
    head = _head()
    if not head:
        raise UserError("cannot tell which image tag to deploy: pass --image-tag or set IMAGE_TAG")
    return head


def _commit() -> str:
    """The commit being deployed: GitHub's GITHUB_SHA in a workflow, else the checkout's HEAD."""
    return os.environ.get("GITHUB_SHA") or _head()


def _environment(name: str) -> str:
    manifest = load_manifest()
    known = manifest.environments()
    if name not in known:
        raise UserError(
            f"unknown environment {name!r}: environments are {', '.join(known)} (folders of ci/environments)"
        )
    return name


def deployer_for(args: argparse.Namespace) -> Any:
    """The Deployer for a command's --env (and --image-tag, --ci, --keep-running-images where it has them)."""
    from platformctl.aws_target import read_endpoints, target_for
    from platformctl.deploy import Deployer

    environment = _environment(args.env)
    manifest = load_manifest()
    target = target_for(environment)
    local_values = None
    if target.is_local:
        endpoints = read_endpoints()
        local_values = {"simulators": endpoints.get("simulators", {}), "aws_endpoint": endpoints["aws_endpoint"]}
    else:
        print(f"deploying to account {target.account_id} in {target.region_name}", flush=True)
    return Deployer(
        target,
        manifest,
        image_tag=_image_tag(getattr(args, "image_tag", None), environment),
        local_values=local_values,
        ci=getattr(args, "ci", False),
        keep_running_images=getattr(args, "keep_running_images", False),
        commit=_commit(),
    )


def add_target(parser: argparse.ArgumentParser, *, stack: bool = True) -> None:
    """--env, --job and (``stack``) --stack: which of the manifest's stacks a Deployer command acts on."""
    add_env_argument(parser)
    parser.add_argument("--job", help="only this job's stacks (see ci/ingestion_jobs.json)")
    if stack:
        parser.add_argument("--stack", help="only this stack (name or job/name)")


def cmd_deploy(args: argparse.Namespace) -> int:
    deployer = deployer_for(args)
    stacks = deployer.manifest.select(args.job, args.stack)
    started = time.monotonic()
    results = deployer.deploy(stacks, dry_run=args.dry_run)
    summary = ", ".join(f"{r.stack.key}: {r.outcome}" for r in results)
    verb = "planned" if args.dry_run else "deployed"
    print(f"{verb} {len(results)} stack(s) in {time.monotonic() - started:.1f}s: {summary}")
    return 0


def cmd_plan(args: argparse.Namespace) -> int:
    args.dry_run = True
    return cmd_deploy(args)


def register(subparsers: Any) -> None:
    deploy = subparsers.add_parser("deploy", help="deploy stacks through change sets, in manifest order")
    add_target(deploy)
    deploy.add_argument("--dry-run", action="store_true", help="create and show the change sets, execute nothing")
    deploy.add_argument("--image-tag", help="Lambda image tag (default: IMAGE_TAG, else git HEAD; 'local' locally)")
    deploy.add_argument(
        "--ci",
        action="store_true",
        help="deploy as the pipeline does: skip bootstrap stacks, every stack through the execution role",
    )
    deploy.add_argument(
        "--keep-running-images",
        action="store_true",
        help="where ECR lacks the requested tag, keep the image the stack runs now instead of failing",
    )
    deploy.set_defaults(func=cmd_deploy)

    plan = subparsers.add_parser("plan", help="show every stack's change set; execute nothing")
    add_target(plan)
    plan.add_argument("--image-tag")
    plan.set_defaults(func=cmd_plan)
