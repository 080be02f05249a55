"""The steps ``make demo`` runs against the local cloud, in order.

A step is a module of this package defining ``ORDER`` (an int: steps run in ascending order) and
``step(cloud: LocalCloud, report: Report) -> None``, which drives traffic through the deployed platform
with ordinary clients (boto3 against ``cloud.endpoint_url``, HTTP against the URLs in
``cloud.endpoints()``), waits for it to settle (``cloud.wait_idle()``) and adds what landed where to
``report``. ``report.expect(condition, problem)`` records an expectation that did not hold; the demo then
exits non-zero. Adding a step is adding a module: nothing else lists them.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable
from typing import Any

from platformctl.scenarios.report import Report

Step = Callable[[Any, Report], None]


def steps() -> list[tuple[str, Step]]:
    found = []
    for module_info in pkgutil.iter_modules(__path__):
        if module_info.name == "report":
            continue
        module = importlib.import_module(f"{__name__}.{module_info.name}")
        if hasattr(module, "step") and hasattr(module, "ORDER"):
            found.append((int(module.ORDER), module_info.name, module.step))
    return [(name, step) for _, name, step in sorted(found, key=lambda item: (item[0], item[1]))]
