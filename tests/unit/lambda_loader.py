"""The one way the unit tests load a function's ``app.py``: as the Lambda runtime imports it.

Each image copies ``lambdas/common`` and its function's package (``shopify/order_processor/``) to the task
root and imports the handler's module by its path (``shopify.order_processor.app``); the module reads its
settings and makes its clients at import (the init phase). ``load_app("shopify/order_processor",
environ)`` does the same for a test: ``environ`` is the environment for that import only, and
``common.aws``'s clients are made anew. The function's other modules are imported by their package
path, as on Lambda.

A function's module is imported once per test session and cached: tests build their handlers with the
module's factory (``build_processor``, ``build_receiver``, ...) from their own settings and clients, so
``environ`` matters only to the first import. ``fresh=True`` imports the module anew, for a test of the
import itself (a missing setting, the module-level set-up) or of a function that still keeps its
collaborators in module globals.
"""

from __future__ import annotations

import importlib.util
import os
import sys
from collections.abc import Mapping
from pathlib import Path
from types import ModuleType
from unittest import mock

LAMBDAS = Path(__file__).resolve().parents[2] / "lambdas"
_LOADED: dict[str, ModuleType] = {}


def function_dir(function: str) -> Path:
    """``lambdas/<function>``, e.g. ``shopify/order_processor``."""
    path = LAMBDAS / function
    if not (path / "app.py").is_file():
        raise FileNotFoundError(f"no function at lambdas/{function} (no app.py)")
    return path


def load_app(
    function: str,
    environ: Mapping[str, str] | None = None,
    *,
    name: str | None = None,
    fresh: bool = False,
    filename: str = "app.py",
) -> ModuleType:
    """``lambdas/<function>/<filename>`` as a module named ``name`` (default: the path with ``_``)."""
    folder = function_dir(function)
    module_name = name or f"{function.replace('/', '_')}_{filename.removesuffix('.py')}"
    if not fresh and module_name in _LOADED:
        return _LOADED[module_name]
    import common.aws

    spec = importlib.util.spec_from_file_location(module_name, folder / filename)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    common.aws.client.cache_clear()
    with mock.patch.dict(os.environ, dict(environ or {})):
        sys.modules[module_name] = module
        try:
            spec.loader.exec_module(module)
        except BaseException:
            del sys.modules[module_name]
            raise
    _LOADED[module_name] = module
    return module
