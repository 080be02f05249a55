"""``platformctl local up|fire``: the local cloud (``platformctl.localcloud``): start it, or run a schedule now.

The local cloud is the ``local`` environment itself, so these commands take no ``--env``.
"""

from __future__ import annotations

import argparse
import sys
import time
from typing import Any


def cmd_local_up(args: argparse.Namespace) -> int:
    # Imported here: the local cloud (moto and its kin) is a development tool, not in the deploy environment.
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


def register(subparsers: Any) -> None:
    local = subparsers.add_parser("local", help="the local cloud")
    local_sub = local.add_subparsers(dest="local_command", required=True)
    up = local_sub.add_parser("up", help="start the emulator, deploy the local environment, serve until Ctrl-C")
    up.add_argument("--port", type=int, default=4566)
    up.add_argument("--only", help="deploy only these jobs or job/stack keys, comma-separated (default: all)")
    up.set_defaults(func=cmd_local_up)
    fire = local_sub.add_parser("fire", help="run a schedule's target now")
    fire.add_argument("schedule", help="schedule name")
    fire.add_argument("--group", default="default")
    fire.set_defaults(func=cmd_local_fire)
