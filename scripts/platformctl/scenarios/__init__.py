"""The steps ``make demo`` runs against the local cloud, in order.

A step is a function ``step(cloud: LocalCloud, report: Report) -> None`` that drives traffic through
the deployed platform with ordinary clients (boto3 against ``cloud.endpoint_url``, HTTP against the
URLs in ``cloud.endpoints()``), waits for it to settle (``cloud.wait_idle()``), and adds what landed
where to ``report``. To add one: write it in a module of this package and append it to ``STEPS``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from platformctl.scenarios.deployment import report_deployment
from platformctl.scenarios.report import Report

Step = Callable[[Any, Report], None]

STEPS: list[tuple[str, Step]] = [
    ("deployment", report_deployment),
]
