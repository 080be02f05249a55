"""Files generated from the manifest and committed (dashboards, platform alarms, metric views): one way to
print, check and write them, shared by their ``--check | --write`` commands."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from platformctl.manifest import REPO_ROOT


def add_mode_arguments(parser: argparse.ArgumentParser, what: str) -> None:
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--check", action="store_true", help="exit 1 when a generated file is stale")
    mode.add_argument("--write", action="store_true", help=f"regenerate {what}")


def _shown(path: Path) -> str:
    return str(path.relative_to(REPO_ROOT)) if path.is_relative_to(REPO_ROOT) else str(path)


def print_check_or_write(args: argparse.Namespace, files: Mapping[Path, str], printed: Path, command: str) -> int:
    """``--check``: 1 when a committed file differs from what the generator makes now; ``--write``: write the
    ones that differ; neither: print ``printed``. ``command`` is what to run to regenerate."""
    if not (args.check or args.write):
        sys.stdout.write(files[printed])
        return 0
    stale = [path for path, text in files.items() if not path.is_file() or path.read_text(encoding="utf-8") != text]
    for path in stale:
        where = _shown(path)
        if args.check:
            print(f"{where} is stale: run `{command} --write` and commit it", file=sys.stderr)
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(files[path], encoding="utf-8")
            print(f"wrote {where}", file=sys.stderr)
    if not stale:
        print(f"{', '.join(_shown(p) for p in files)}: up to date", file=sys.stderr)
    return 1 if args.check and stale else 0


def register_generator(subparsers: Any, name: str, help_text: str, doc: str | None, what: str, func: Any) -> None:
    parser = subparsers.add_parser(
        name, help=help_text, description=doc, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    add_mode_arguments(parser, what)
    parser.set_defaults(func=func)
