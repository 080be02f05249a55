"""platformctl: deploy, plan, status, params, lint, local cloud and demo.

Every failure an operator can fix is one line on stderr and exit status 1; a traceback means a bug.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import pkgutil
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from typing import Any

from platformctl.errors import UserError
from platformctl.manifest import REPO_ROOT, load_manifest

Command = Callable[[argparse.Namespace], int]


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


def cmd_status(args: argparse.Namespace) -> int:
    deployer = deployer_for(args)
    rows = deployer.status_rows(deployer.manifest.select(args.job, None))
    header = ("STACK", "STATUS", "LAST UPDATE", "DRIFT")
    widths = [max(len(str(row[i])) for row in [header, *rows]) for i in range(4)]
    for row in [header, *rows]:
        print("  ".join(str(cell).ljust(widths[i]) for i, cell in enumerate(row)).rstrip())
    return 0


def cmd_params(args: argparse.Namespace) -> int:
    """Print a stack's complete parameter file (fed values resolved), for `aws cloudformation deploy`."""
    from platformctl.params import resolve_parameters

    deployer = deployer_for(args)
    stack = deployer.manifest.select(args.job, args.stack)[0]
    fed = deployer._fed_outputs(stack)  # same resolution as a deploy
    if fed is None:
        raise UserError(f"stack {stack.key} reads outputs of a stack that is not deployed yet")
    values = resolve_parameters(stack, deployer.environment, fed, deployer.image_uri, deployer.local_values)
    print(json.dumps([{"ParameterKey": k, "ParameterValue": v} for k, v in sorted(values.items())], indent=2))
    return 0


def cmd_lint(args: argparse.Namespace) -> int:
    from platformctl.lint import run_gates

    return int(run_gates(args.gate))


def cmd_manifest(args: argparse.Namespace) -> int:
    manifest = load_manifest()
    if args.what == "images":
        for image in manifest.images:
            if args.job in (None, "all", image.job):
                print(f"{image.name}\t{image.folder}\t{image.dockerfile}")
    else:
        for stack in manifest.stacks:
            print(f"{stack.key}\t{stack.template}")
    return 0


def cmd_local_up(args: argparse.Namespace) -> int:
    from platformctl.localcloud.server import LocalCloud, run_until_interrupted

    started = time.monotonic()
    with LocalCloud(args.port) as cloud:
        print(f"local cloud: emulator on {cloud.endpoint_url}, deploying the local environment", flush=True)
        cloud.deploy(cloud.select(args.only))
        cloud.write_endpoints()
        print(
            f"ready in {time.monotonic() - started:.1f}s: {cloud.endpoint_url} "
            f"(endpoints in {cloud.endpoints_file}; Ctrl-C stops)",
            flush=True,
        )
        run_until_interrupted(cloud, sys.stdout)
    return 0


def cmd_local_fire(args: argparse.Namespace) -> int:
    from platformctl.aws_target import target_for
    from platformctl.localcloud.schedules import fire_schedule

    print(fire_schedule(target_for("local"), args.schedule, group=args.group))
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from platformctl.demo import run_demo

    return int(run_demo(port=args.port))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="platformctl", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    def add_target(p: argparse.ArgumentParser, *, stack: bool = True) -> None:
        p.add_argument("--env", required=True, help="environment: a folder of ci/environments (local, prod, ...)")
        p.add_argument("--job", help="only this job's stacks (see ci/ingestion_jobs.json)")
        if stack:
            p.add_argument("--stack", help="only this stack (name or job/name)")

    deploy = sub.add_parser("deploy", help="deploy stacks through change sets, in manifest order")
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

    plan = sub.add_parser("plan", help="show every stack's change set; execute nothing")
    add_target(plan)
    plan.add_argument("--image-tag")
    plan.set_defaults(func=cmd_plan)

    status = sub.add_parser("status", help="a table of the environment's stacks")
    add_target(status, stack=False)
    status.set_defaults(func=cmd_status)

    params = sub.add_parser("params", help="a stack's complete parameter file, fed values resolved")
    add_target(params)
    params.add_argument("--image-tag")
    params.set_defaults(func=cmd_params)

    lint = sub.add_parser("lint", help="run the static gates")
    lint.add_argument("--gate", action="append", help="only this gate (repeatable)")
    lint.set_defaults(func=cmd_lint)

    manifest = sub.add_parser("manifest", help="list the manifest's images or stacks (for scripts)")
    manifest.add_argument("what", choices=["images", "stacks"])
    manifest.add_argument("--job", help="only this job's entries ('all' for every job)")
    manifest.set_defaults(func=cmd_manifest)

    local = sub.add_parser("local", help="the local cloud")
    local_sub = local.add_subparsers(dest="local_command", required=True)
    up = local_sub.add_parser("up", help="start the emulator, deploy the local environment, serve until Ctrl-C")
    up.add_argument("--port", type=int, default=4566)
    up.add_argument("--only", help="deploy only these jobs or job/stack keys, comma-separated (default: all)")
    up.set_defaults(func=cmd_local_up)
    fire = local_sub.add_parser("fire", help="run a schedule's target now")
    fire.add_argument("schedule", help="schedule name")
    fire.add_argument("--group", default="default")
    fire.set_defaults(func=cmd_local_fire)

    demo = sub.add_parser("demo", help="the whole platform on the local cloud: deploy, drive traffic, report, stop")
    demo.add_argument("--port", type=int, default=4566)
    demo.set_defaults(func=cmd_demo)

    import platformctl.commands

    for module in pkgutil.iter_modules(platformctl.commands.__path__):
        importlib.import_module(f"platformctl.commands.{module.name}").register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args))
    except UserError as exc:
        print(f"platformctl: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("platformctl: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
