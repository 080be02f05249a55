"""Typed settings read from environment variables once, at cold start.

A settings class is a frozen dataclass; each field is read from the environment variable named in its
metadata (``env_field("ORDERS_TABLE_NAME")``) or, by default, from its upper-cased name. A missing or
malformed variable stops the cold start with one line naming the variable and what was expected, which
is what an operator reading the function's log needs after a bad deploy.
"""

from __future__ import annotations

import dataclasses
import os
import types
import typing
from collections.abc import Mapping
from typing import Any, TypeVar

T = TypeVar("T")

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


class ConfigError(RuntimeError):
    """The function's environment does not match what its code needs."""


def env_field(name: str, *, default: Any = dataclasses.MISSING, doc: str = "") -> Any:
    """A dataclass field read from environment variable ``name``."""
    metadata = {"env": name, "doc": doc}
    if default is dataclasses.MISSING:
        return dataclasses.field(metadata=metadata)
    return dataclasses.field(default=default, metadata=metadata)


def _convert(raw: str, target: Any, variable: str) -> Any:
    origin = typing.get_origin(target)
    if origin in (typing.Union, types.UnionType):
        inner = [arg for arg in typing.get_args(target) if arg is not type(None)]
        if len(inner) != 1:
            raise ConfigError(f"{variable}: unsupported setting type {target}")
        return None if raw == "" else _convert(raw, inner[0], variable)
    if origin is tuple:
        return tuple(part.strip() for part in raw.split(",") if part.strip())
    if target is str:
        return raw
    if target is bool:
        lowered = raw.strip().lower()
        if lowered in _TRUE:
            return True
        if lowered in _FALSE:
            return False
        raise ConfigError(f"environment variable {variable}={raw!r} is not a boolean (true/false)")
    if target in (int, float):
        try:
            return target(raw)
        except ValueError:
            raise ConfigError(f"environment variable {variable}={raw!r} is not a valid {target.__name__}") from None
    raise ConfigError(f"{variable}: unsupported setting type {target}")


def load_settings(cls: type[T], environ: Mapping[str, str] | None = None) -> T:
    """Build ``cls`` from the environment, failing with one clear line on the first problem."""
    if not dataclasses.is_dataclass(cls):
        raise TypeError(f"{cls!r} is not a dataclass")
    source = os.environ if environ is None else environ
    hints = typing.get_type_hints(cls)
    values: dict[str, Any] = {}
    for field in dataclasses.fields(cls):
        variable = field.metadata.get("env", field.name.upper())
        raw = source.get(variable)
        if raw is None or (raw == "" and hints[field.name] is not str):
            has_default = field.default is not dataclasses.MISSING or field.default_factory is not dataclasses.MISSING
            if has_default:
                continue
            raise ConfigError(
                f"missing required environment variable {variable} "
                f"({cls.__name__}.{field.name}); the function's stack sets it, so redeploy the stack"
            )
        values[field.name] = _convert(raw, hints[field.name], variable)
    return cls(**values)
