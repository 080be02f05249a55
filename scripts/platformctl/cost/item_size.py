"""The size DynamoDB bills an item at, from its wire format (``{"name": {"S": "..."}}``).

DynamoDB's rule (Developer Guide, "Item sizes and formats"): the UTF-8 length of every attribute name plus
the size of its value: strings their UTF-8 length, binaries their length, numbers about one byte per two
significant digits plus one, booleans and nulls one byte, lists and maps 3 bytes plus one byte and the size
of each element (map elements with their names), sets the sum of their elements. Storage adds 100 bytes of
index overhead per item, which ``STORAGE_OVERHEAD_BYTES`` names for the model.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

STORAGE_OVERHEAD_BYTES = 100


def _number(text: str) -> int:
    digits = text.lstrip("-").replace(".", "").lstrip("0").rstrip("0")
    return math.ceil(len(digits) / 2) + 1 if digits else 1


def _utf8(text: Any) -> int:
    return len(str(text).encode("utf-8"))


_SCALARS: dict[str, Callable[[Any], int]] = {
    "S": _utf8,
    "B": len,
    "N": lambda content: _number(str(content)),
    "BOOL": lambda content: 1,
    "NULL": lambda content: 1,
    "SS": lambda content: sum(_utf8(v) for v in content),
    "NS": lambda content: sum(_number(str(v)) for v in content),
    "BS": lambda content: sum(len(v) for v in content),
}


def value_bytes(value: dict[str, Any]) -> int:
    ((kind, content),) = value.items()
    if kind in _SCALARS:
        return _SCALARS[kind](content)
    if kind == "L":
        return 3 + sum(1 + value_bytes(v) for v in content)
    if kind == "M":
        return 3 + sum(1 + _utf8(k) + value_bytes(v) for k, v in content.items())
    raise ValueError(f"not a DynamoDB attribute value type: {kind}")


def item_bytes(item: dict[str, dict[str, Any]]) -> int:
    """An item's size as DynamoDB counts it for request units (without the storage overhead)."""
    return sum(len(name.encode("utf-8")) + value_bytes(value) for name, value in item.items())
