"""``platformctl demo [--port N]``: the whole platform on the local cloud (``platformctl.demo``): deploy, drive
traffic, report, stop."""

from __future__ import annotations

import argparse
from typing import Any


def cmd_demo(args: argparse.Namespace) -> int:
    from platformctl.demo import run_demo

    return int(run_demo(port=args.port))


def register(subparsers: Any) -> None:
    demo = subparsers.add_parser(
        "demo", help="the whole platform on the local cloud: deploy, drive traffic, report, stop"
    )
    demo.add_argument("--port", type=int, default=4566)
    demo.set_defaults(func=cmd_demo)
