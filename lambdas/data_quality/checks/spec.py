"""The data-quality spec: which sources exist, which checks run on them, with which thresholds.

The spec is ``data-ingestion/data-quality/checks.json`` in the repository; the deploy tool uploads that
folder to ``artifacts/data-quality/`` in the lake before the stack deploys, and every run reads it from
there (docs/data-quality.md). Parsing collects every problem before failing, so one error names all of
them: a typo in a field name, a duplicate id or a prefix outside its source are reported together.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

SPEC_VERSION = 1
CHECK_TYPES = ("freshness", "bulk_freshness", "quarantine", "bulk_manifest", "webhook_coverage", "volume_anomaly")
MAX_AGE_HOURS_LIMIT = 168.0  # a freshness window lists one dt= partition per day: at most 8
MAX_FOLDERS_BEFORE_DT = 3
MAX_WEEKS = 8  # a volume check lists one dt= partition per week of history (per folder): at most 8
BULK_PREFIX = "metadata/shopify/bulk/"
BULK_RESOURCES = ("orders", "customers", "products")
_BULK_TYPES = ("bulk_freshness", "bulk_manifest", "webhook_coverage")

_SLUG = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")
_PREFIX = re.compile(r"^[A-Za-z0-9][A-Za-z0-9=._/-]*/$")
_CHECK_KEYS: dict[str, set[str]] = {
    "freshness": {"folders_before_dt", "max_age_hours"},
    "bulk_freshness": {"max_age_hours", "resource"},
    "quarantine": {"max_objects"},
    "bulk_manifest": {"runs", "resource"},
    "webhook_coverage": {"runs", "min_coverage", "min_sample"},
    "volume_anomaly": {"folders_before_dt", "weeks", "lower_band", "upper_band", "min_median"},
}
_COMMON_KEYS = {"id", "type", "source", "prefix", "description"}


class SpecError(ValueError):
    """The spec cannot be used; the message lists every problem and where it is."""

    def __init__(self, where: str, problems: list[str]) -> None:
        self.problems = problems
        super().__init__(f"data-quality spec {where} is invalid: " + "; ".join(problems))


@dataclass(frozen=True)
class Source:
    name: str
    landing: str  # nothing ever under this prefix: the source is not deployed or not connected yet
    description: str = ""


@dataclass(frozen=True)
class Check:
    id: str
    type: str
    source: str
    prefix: str
    description: str = ""
    folders_before_dt: int = 0
    max_age_hours: float | None = None  # None: the function's default for the type
    max_objects: int | None = None
    runs: int | None = None
    resource: str = "orders"  # bulk checks: the runs of this resource (a manifest without one is orders)
    min_coverage: float | None = None
    min_sample: int | None = None
    weeks: int | None = None
    lower_band: float | None = None
    upper_band: float | None = None
    min_median: int | None = None


@dataclass(frozen=True)
class Spec:
    version: int
    sources: dict[str, Source]
    checks: tuple[Check, ...] = field(default_factory=tuple)


def _number(raw: Any, what: str, problems: list[str], *, integer: bool, low: float, high: float) -> Any:
    if isinstance(raw, bool) or not isinstance(raw, int | float) or (integer and not isinstance(raw, int)):
        problems.append(f"{what} must be {'an integer' if integer else 'a number'}, got {raw!r}")
        return None
    if not low <= raw <= high:
        problems.append(f"{what} must be between {low:g} and {high:g}, got {raw!r}")
        return None
    return raw


def _parse_source(name: Any, raw: Any, problems: list[str]) -> Source | None:
    where = f"sources.{name}"
    if not isinstance(name, str) or not _SLUG.match(name):
        problems.append(f"{where}: a source name is a lower-case slug")
        return None
    if not isinstance(raw, Mapping):
        problems.append(f"{where} must be an object")
        return None
    unknown = set(raw) - {"landing", "description"}
    if unknown:
        problems.append(f"{where}: unknown field(s) {sorted(unknown)}")
    landing = raw.get("landing")
    if not isinstance(landing, str) or not _PREFIX.match(landing) or ".." in landing:
        problems.append(f"{where}.landing must be a lake prefix ending in '/', got {landing!r}")
        return None
    return Source(name, landing, str(raw.get("description", "")))


def _parse_check(index: int, raw: Any, sources: Mapping[str, Source], problems: list[str]) -> Check | None:
    if not isinstance(raw, Mapping):
        problems.append(f"checks[{index}] must be an object")
        return None
    check_id = raw.get("id")
    where = f"checks[{index}] ({check_id})" if isinstance(check_id, str) else f"checks[{index}]"
    before = len(problems)
    if not isinstance(check_id, str) or not _SLUG.match(check_id):
        problems.append(f"{where}: id must be a lower-case slug (it is a metric dimension), got {check_id!r}")
    kind = raw.get("type")
    if kind not in CHECK_TYPES:
        problems.append(f"{where}: type must be one of {', '.join(CHECK_TYPES)}, got {kind!r}")
        return None
    unknown = set(raw) - _COMMON_KEYS - _CHECK_KEYS[kind]
    if unknown:
        problems.append(f"{where}: unknown field(s) {sorted(unknown)} for type {kind}")
    source = raw.get("source")
    if source not in sources:
        problems.append(f"{where}: source {source!r} is not one of the spec's sources ({', '.join(sorted(sources))})")
    prefix = raw.get("prefix")
    if not isinstance(prefix, str) or not _PREFIX.match(prefix) or ".." in prefix:
        problems.append(f"{where}: prefix must be a lake prefix ending in '/', got {prefix!r}")
    if kind in _BULK_TYPES and prefix != BULK_PREFIX:
        problems.append(f"{where}: a {kind} check reads the bulk run manifests: prefix must be {BULK_PREFIX}")
    resource = raw.get("resource", "orders")
    if resource not in BULK_RESOURCES:
        problems.append(f"{where}: resource must be one of {', '.join(BULK_RESOURCES)}, got {resource!r}")
    depth = raw.get("folders_before_dt", 0)
    depth = _number(depth, f"{where}: folders_before_dt", problems, integer=True, low=0, high=MAX_FOLDERS_BEFORE_DT)
    max_age = raw.get("max_age_hours")
    if max_age is not None:
        limit = MAX_AGE_HOURS_LIMIT
        max_age = _number(max_age, f"{where}: max_age_hours", problems, integer=False, low=0.1, high=limit)
    max_objects = raw.get("max_objects")
    if max_objects is not None:
        max_objects = _number(max_objects, f"{where}: max_objects", problems, integer=True, low=0, high=1_000_000)
    runs = raw.get("runs")
    if runs is not None:
        runs = _number(runs, f"{where}: runs", problems, integer=True, low=1, high=50)
    optional = _optional_numbers(raw, where, problems)
    if len(problems) > before:
        return None
    return Check(
        id=str(check_id),
        type=str(kind),
        source=str(source),
        prefix=str(prefix),
        description=str(raw.get("description", "")),
        folders_before_dt=int(depth or 0),
        max_age_hours=None if max_age is None else float(max_age),
        max_objects=max_objects,
        runs=runs,
        resource=str(resource),
        **optional,
    )


# field: (integer, low, high). A band is a share of the median: lower_band 0.5 fails below half of it.
_OPTIONAL_NUMBERS: dict[str, tuple[bool, float, float]] = {
    "min_coverage": (False, 0.0, 1.0),
    "min_sample": (True, 1, 1_000_000),
    "weeks": (True, 2, MAX_WEEKS),
    "lower_band": (False, 0.01, 1.0),
    "upper_band": (False, 0.01, 100.0),
    "min_median": (True, 0, 1_000_000),
}


def _optional_numbers(raw: Mapping[str, Any], where: str, problems: list[str]) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for name, (integer, low, high) in _OPTIONAL_NUMBERS.items():
        if raw.get(name) is not None:
            value = _number(raw[name], f"{where}: {name}", problems, integer=integer, low=low, high=high)
            found[name] = None if value is None else (int(value) if integer else float(value))
    return found


def _parse_sources(raw_sources: Any, problems: list[str]) -> dict[str, Source]:
    sources: dict[str, Source] = {}
    if not isinstance(raw_sources, Mapping) or not raw_sources:
        problems.append("sources must be a non-empty object of source name -> {landing}")
        return sources
    for name, raw in raw_sources.items():
        source = _parse_source(name, raw, problems)
        if source is not None:
            sources[source.name] = source
    return sources


def _parse_checks(raw_checks: Any, sources: Mapping[str, Source], problems: list[str]) -> list[Check]:
    checks: list[Check] = []
    if not isinstance(raw_checks, list) or not raw_checks:
        problems.append("checks must be a non-empty list")
        return checks
    for index, raw in enumerate(raw_checks):
        check = _parse_check(index, raw, sources, problems)
        if check is not None:
            checks.append(check)
    return checks


def parse_spec(document: Any, where: str = "") -> Spec:
    """A validated spec, or ``SpecError`` naming every problem."""
    problems: list[str] = []
    if not isinstance(document, Mapping):
        raise SpecError(where, ["the document must be a JSON object"])
    unknown = set(document) - {"$comment", "version", "sources", "checks"}
    if unknown:
        problems.append(f"unknown top-level field(s) {sorted(unknown)}")
    version = document.get("version")
    if version != SPEC_VERSION:
        problems.append(f"version must be {SPEC_VERSION}, got {version!r}")
    sources = _parse_sources(document.get("sources"), problems)
    checks = _parse_checks(document.get("checks"), sources, problems)
    seen: set[str] = set()
    for check in checks:
        if check.id in seen:
            problems.append(f"check id {check.id!r} is used twice (ids are metric dimensions and must be unique)")
        seen.add(check.id)
    if problems:
        raise SpecError(where, problems)
    return Spec(version=SPEC_VERSION, sources=sources, checks=tuple(checks))


def load_spec(body: bytes, where: str) -> Spec:
    try:
        document = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise SpecError(where, [f"not valid JSON ({exc})"]) from None
    return parse_spec(document, where)
