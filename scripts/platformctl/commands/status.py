"""``platformctl status --env ENV [--job JOB]``: a table of the environment's stacks (status, last update, drift)."""

from __future__ import annotations

import argparse
from typing import Any

from platformctl.commands.deploy import add_target, deployer_for


def cmd_status(args: argparse.Namespace) -> int:
    deployer = deployer_for(args)
    rows = deployer.status_rows(deployer.manifest.select(args.job, None))
    header = ("STACK", "STATUS", "LAST UPDATE", "DRIFT")
    widths = [max(len(str(row[i])) for row in [header, *rows]) for i in range(4)]
    for row in [header, *rows]:
        print("  ".join(str(cell).ljust(widths[i]) for i, cell in enumerate(row)).rstrip())
    return 0


def register(subparsers: Any) -> None:
    status = subparsers.add_parser("status", help="a table of the environment's stacks")
    add_target(status, stack=False)
    status.set_defaults(func=cmd_status)
