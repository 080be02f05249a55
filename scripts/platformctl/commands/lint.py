"""``platformctl lint [--gate NAME ...]``: the static gates (``platformctl.lint``)."""

from __future__ import annotations

import argparse
from typing import Any


def cmd_lint(args: argparse.Namespace) -> int:
    from platformctl.lint import run_gates

    return int(run_gates(args.gate))


def register(subparsers: Any) -> None:
    lint = subparsers.add_parser("lint", help="run the static gates")
    lint.add_argument("--gate", action="append", help="only this gate (repeatable)")
    lint.set_defaults(func=cmd_lint)
