"""``platformctl platform-alarms [--check | --write]``: the alarms generated from the manifest.

``infrastructure/monitoring/platform-alarms.yaml`` (DynamoDB throttling and system errors per table, Glue
crawler failures, Lambda concurrency near its reservation) and its parameter files
``ci/environments/<env>/monitoring/platform-alarms.json`` (each environment's concurrency thresholds) are
generated from ``ci/ingestion_jobs.json`` and the templates it lists (``platformctl.platform_alarms``), and
committed. ``--write`` regenerates them; ``--check`` exits 1 when one is stale (a template gained a table,
crawler or reserved function, or an environment changed a reservation), which a template test also checks;
with neither, the template is printed. See docs/operations.md.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from platformctl import platform_alarms
from platformctl.manifest import REPO_ROOT, load_manifest


def command(args: argparse.Namespace) -> int:
    manifest = load_manifest()
    files = platform_alarms.outputs(manifest)
    stale = [path for path, text in files.items() if not path.is_file() or path.read_text(encoding="utf-8") != text]
    if args.check:
        for path in stale:
            where = path.relative_to(REPO_ROOT)
            print(f"{where} is stale: run `platformctl platform-alarms --write` and commit it", file=sys.stderr)
        if not stale:
            print("the generated alarms are up to date", file=sys.stderr)
        return 1 if stale else 0
    if args.write:
        for path in stale:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(files[path], encoding="utf-8")
            print(f"wrote {path.relative_to(REPO_ROOT)}", file=sys.stderr)
        if not stale:
            print("the generated alarms are up to date", file=sys.stderr)
        return 0
    sys.stdout.write(files[platform_alarms.OUTPUT_PATH])
    return 0


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "platform-alarms",
        help="generate the alarms for the manifest's tables, crawlers and reserved functions (--write), or check them",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--check", action="store_true", help="exit 1 when a generated file is stale")
    mode.add_argument(
        "--write",
        action="store_true",
        help="regenerate the template and its parameter files (monitoring/platform-alarms)",
    )
    parser.set_defaults(func=command)
