"""CloudWatch embedded metric format (EMF): the metrics a function's JSON log lines carry.

CloudWatch Logs extracts metrics from a log event that is one JSON object whose ``_aws`` member holds
``CloudWatchMetrics`` (a list of metric directives: ``Namespace``, ``Dimensions`` as a list of dimension
sets, each a list of member names, and ``Metrics`` as a list of ``{"Name", "Unit"}``) and ``Timestamp``
(epoch milliseconds). Each metric's value is the root member named like it (a number, or a list of up
to 100 numbers); each dimension's value is the root member named like it (a string). Every dimension set
yields its own metric; an empty dimension set (``[[]]``) yields a metric without dimensions, but the list of
sets may not be empty (the specification's JSON schema: ``Dimensions`` has ``minItems`` 1)
(Amazon CloudWatch User Guide, "Specification: Embedded metric format"). Powertools' ``Metrics`` prints
exactly such lines. A line that is not such a document, or a directive that breaks the rules (a missing
or non-string dimension value, a non-numeric value), yields nothing, as CloudWatch rejects it.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

MAX_DIMENSIONS = 30  # per dimension set
MAX_VALUES = 100  # per metric and document
MAX_LINE_BYTES = 1024 * 1024  # CloudWatch Logs' largest event


@dataclass(frozen=True)
class Datum:
    """Values of one metric at one moment, as PutMetricData takes them."""

    namespace: str
    name: str
    dimensions: tuple[tuple[str, str], ...]
    values: tuple[float, ...]
    unit: str | None
    timestamp: datetime  # aware, UTC


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    number = float(value)
    return number if math.isfinite(number) else None


def _values(raw: Any) -> tuple[float, ...] | None:
    items = raw if isinstance(raw, list) else [raw]
    if not items or len(items) > MAX_VALUES:
        return None
    numbers = tuple(_number(item) for item in items)
    if any(n is None for n in numbers):
        return None
    return tuple(n for n in numbers if n is not None)


def _timestamp(meta: dict[str, Any], now: datetime) -> datetime:
    stamp = _number(meta.get("Timestamp"))
    if stamp is None:
        return now
    return datetime.fromtimestamp(stamp / 1000, UTC)


def parse_document(document: Any, now: datetime) -> list[Datum]:
    """The metrics of one decoded log event (``now``: the ingestion time, used without ``_aws.Timestamp``)."""
    if not isinstance(document, dict):
        return []
    meta = document.get("_aws")
    if not isinstance(meta, dict) or not isinstance(meta.get("CloudWatchMetrics"), list):
        return []
    moment = _timestamp(meta, now)
    found: list[Datum] = []
    for directive in meta["CloudWatchMetrics"]:
        found.extend(_directive(document, directive, moment))
    return found


def _dimension_sets(document: dict[str, Any], sets: list[Any]) -> list[tuple[tuple[str, str], ...]] | None:
    resolved: list[tuple[tuple[str, str], ...]] = []
    if not sets:
        return None  # ``"Dimensions": []`` breaks the schema: CloudWatch extracts nothing from the directive
    for names in sets:
        if not isinstance(names, list) or len(names) > MAX_DIMENSIONS:
            return None
        values = [document.get(name) if isinstance(name, str) else None for name in names]
        if not all(isinstance(value, str) for value in values):
            return None  # a dimension must name a string member of the root
        resolved.append(tuple(zip(names, values, strict=True)))  # type: ignore[arg-type]
    return resolved


def _directive(document: dict[str, Any], directive: Any, moment: datetime) -> list[Datum]:
    if not isinstance(directive, dict):
        return []
    namespace, dimension_sets, metrics = (
        directive.get("Namespace"),
        directive.get("Dimensions"),
        directive.get("Metrics"),
    )
    if not isinstance(namespace, str) or not namespace or not isinstance(metrics, list):
        return []
    resolved = _dimension_sets(document, dimension_sets) if isinstance(dimension_sets, list) else None
    if resolved is None:
        return []
    found: list[Datum] = []
    for metric in metrics:
        if not isinstance(metric, dict) or not isinstance(metric.get("Name"), str):
            return []
        name = metric["Name"]
        values = _values(document.get(name))
        if values is None:
            return []
        unit = metric.get("Unit") if isinstance(metric.get("Unit"), str) else None
        found.extend(Datum(namespace, name, dims, values, unit, moment) for dims in resolved)
    return found


def parse_line(line: bytes | str, now: datetime) -> list[Datum]:
    """The metrics of one log line; [] for any line that is not an EMF document (most are not)."""
    text = line.decode("utf-8", "replace") if isinstance(line, bytes) else line
    if '"_aws"' not in text:  # cheap: a function's ordinary log lines never reach the JSON decoder
        return []
    try:
        document = json.loads(text)
    except ValueError:
        return []
    return parse_document(document, now)


class LineSplitter:
    """Cuts a byte stream into lines; a line longer than CloudWatch Logs takes is dropped whole."""

    def __init__(self, limit: int = MAX_LINE_BYTES) -> None:
        self.limit = limit
        self._partial = bytearray()
        self._overflow = False

    def feed(self, chunk: bytes) -> list[bytes]:
        lines = []
        start = 0
        while True:
            end = chunk.find(b"\n", start)
            if end < 0:
                break
            piece = chunk[start:end]
            if not self._overflow and len(self._partial) + len(piece) <= self.limit:
                lines.append(bytes(self._partial) + piece)
            self._partial.clear()
            self._overflow = False
            start = end + 1
        rest = chunk[start:]
        if len(self._partial) + len(rest) > self.limit:
            self._partial.clear()
            self._overflow = True
        elif not self._overflow:
            self._partial += rest
        return lines
