"""``platformctl dashboards [--check | --write]``: the CloudWatch dashboards, generated from the manifest.

``infrastructure/monitoring/dashboards.yaml`` is generated from ``ci/ingestion_jobs.json``, the templates it
lists and the data-quality checks (``platformctl.dashboards``), and committed. ``--write`` regenerates it;
``--check`` exits 1 when it is stale (a template gained a function, queue, table or alarm since), which
``make test`` also checks; with neither, the template is printed. See docs/operations.md.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from platformctl import dashboards
from platformctl.manifest import REPO_ROOT, load_manifest


def command(args: argparse.Namespace) -> int:
    path = dashboards.OUTPUT_PATH
    text = dashboards.render(load_manifest(), output=path)
    where = path.relative_to(REPO_ROOT)
    current = path.read_text(encoding="utf-8") if path.is_file() else None
    if args.check:
        if current != text:
            print(f"{where} is stale: run `platformctl dashboards --write` and commit it", file=sys.stderr)
            return 1
        print(f"{where} is up to date", file=sys.stderr)
        return 0
    if args.write:
        if current == text:
            print(f"{where} is up to date", file=sys.stderr)
        else:
            path.write_text(text, encoding="utf-8")
            print(f"wrote {where}", file=sys.stderr)
        return 0
    sys.stdout.write(text)
    return 0


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "dashboards",
        help="generate the CloudWatch dashboards from the manifest (--write), or check they are current (--check)",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--check", action="store_true", help="exit 1 when the committed template is stale")
    mode.add_argument("--write", action="store_true", help="regenerate infrastructure/monitoring/dashboards.yaml")
    parser.set_defaults(func=command)
