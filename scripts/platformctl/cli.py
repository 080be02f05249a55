"""platformctl: deploy, plan, status, params, lint, local cloud and demo.

Every failure an operator can fix is one line on stderr and exit status 1; a traceback means a bug.
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys
from collections.abc import Sequence

from platformctl.errors import UserError


def build_parser() -> argparse.ArgumentParser:
    """The parser of every command: each module of ``platformctl.commands`` registers its own."""
    import platformctl.commands

    parser = argparse.ArgumentParser(prog="platformctl", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
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
