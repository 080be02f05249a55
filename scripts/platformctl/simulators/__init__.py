"""Local stand-ins for the third-party APIs the platform calls, speaking their documented wire format.

Each entry of ``SIMULATORS`` starts one simulator for a local cloud and returns an object with ``url``
and ``stop()``; the local cloud starts them before it deploys, so their URLs can fill
``{{local:simulators.<name>}}`` parameter values, and lists them in ``.local-cloud/endpoints.json``.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any, Protocol


class Simulator(Protocol):
    @property
    def url(self) -> str: ...

    def stop(self) -> None: ...


SIMULATORS: dict[str, Callable[[Any], Simulator]] = {}
SIMULATORS["shopify"] = lambda cloud: importlib.import_module("platformctl.simulators.shopify.server").start(cloud)
SIMULATORS["triplewhale"] = lambda cloud: importlib.import_module("platformctl.simulators.triplewhale").start(cloud)
