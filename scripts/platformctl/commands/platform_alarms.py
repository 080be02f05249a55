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
from typing import Any

from platformctl import platform_alarms
from platformctl.generated_files import print_check_or_write, register_generator
from platformctl.manifest import load_manifest


def command(args: argparse.Namespace) -> int:
    files = platform_alarms.outputs(load_manifest())
    return print_check_or_write(args, files, platform_alarms.OUTPUT_PATH, "platformctl platform-alarms")


def register(subparsers: Any) -> None:
    register_generator(
        subparsers,
        "platform-alarms",
        "generate the alarms for the manifest's tables, crawlers and reserved functions (--write), or check them",
        __doc__,
        "the template and its parameter files (monitoring/platform-alarms)",
        command,
    )
