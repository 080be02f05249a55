"""``platformctl metric-views [--check | --write]``: the metric views' catalog template, generated from their SQL.

``infrastructure/analytics/metric-views.yaml`` (stack analytics/metric-views) is generated from
``infrastructure/analytics/views/*.sql`` and the processed tables' catalog columns
(``platformctl.analytics.metric_views``), and committed. ``--write`` regenerates it; ``--check`` exits 1
when it is stale (a view's SQL or a table it reads changed since), which ``make test`` also checks; with
neither, the template is printed. See docs/analytics.md.
"""

from __future__ import annotations

import argparse
from typing import Any

from platformctl.generated_files import print_check_or_write, register_generator
from platformctl.manifest import load_manifest


def command(args: argparse.Namespace) -> int:
    # Imported here: the local engine (duckdb, sqlglot) is a development tool, not in the deploy environment
    # (requirements-deploy.txt), where platformctl must still load every command.
    from platformctl.analytics import metric_views

    path = metric_views.OUTPUT_PATH
    return print_check_or_write(args, {path: metric_views.render(load_manifest())}, path, "platformctl metric-views")


def register(subparsers: Any) -> None:
    register_generator(
        subparsers,
        "metric-views",
        "generate the metric views' catalog template from their SQL (--write), or check it is current (--check)",
        __doc__,
        "infrastructure/analytics/metric-views.yaml",
        command,
    )
