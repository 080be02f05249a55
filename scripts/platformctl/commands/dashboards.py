"""``platformctl dashboards [--check | --write]``: the CloudWatch dashboards, generated from the manifest.

``infrastructure/monitoring/dashboards.yaml`` is generated from ``ci/ingestion_jobs.json``, the templates it
lists and the data-quality checks (``platformctl.dashboards``), and committed. ``--write`` regenerates it;
``--check`` exits 1 when it is stale (a template gained a function, queue, table or alarm since), which
``make test`` also checks; with neither, the template is printed. See docs/operations.md.
"""

from __future__ import annotations

import argparse
from typing import Any

from platformctl import dashboards
from platformctl.generated_files import print_check_or_write, register_generator
from platformctl.manifest import load_manifest


def command(args: argparse.Namespace) -> int:
    path = dashboards.OUTPUT_PATH
    text = dashboards.render(load_manifest(), output=path)
    return print_check_or_write(args, {path: text}, path, "platformctl dashboards")


def register(subparsers: Any) -> None:
    register_generator(
        subparsers,
        "dashboards",
        "generate the CloudWatch dashboards from the manifest (--write), or check they are current (--check)",
        __doc__,
        "infrastructure/monitoring/dashboards.yaml",
        command,
    )
