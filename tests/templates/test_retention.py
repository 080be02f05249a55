"""Retention of personal data (docs/privacy-retention.md): every zone of the lake that holds it has a
lifecycle bound by a parameter, earlier object versions cannot outlive an erasure by more than 30 days,
and the EventBridge archive, which cannot be edited, is bounded in every environment."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from platformctl.manifest import REPO_ROOT

DATA_LAKE = REPO_ROOT / "infrastructure" / "shared" / "data-lake.yaml"
EVENTBRIDGE = REPO_ROOT / "infrastructure" / "shopify" / "eventbridge-rules.yaml"
ENVIRONMENTS = sorted(p.name for p in (REPO_ROOT / "ci" / "environments").iterdir() if p.is_dir())
DOC = REPO_ROOT / "docs" / "privacy-retention.md"

ERASURE_BOUND_DAYS = 30  # the longest an erased person's data may survive in a version or the archive

# parameter -> (default, MinValue, MaxValue or None)
LAKE_PARAMETERS: dict[str, tuple[int, int, int | None]] = {
    "RawRetentionDays": (0, 0, None),
    "QuarantineRetentionDays": (90, 1, 365),
    "PrivacyExportRetentionDays": (7, 1, 30),
    "NoncurrentVersionRetentionDays": (30, 1, ERASURE_BOUND_DAYS),
}


def _rules(template: dict[str, Any], bucket: str) -> dict[str, dict[str, Any]]:
    rules = template["Resources"][bucket]["Properties"]["LifecycleConfiguration"]["Rules"]
    return {rule["Id"]: rule for rule in rules}


def _parameters(environment: str, stack: str) -> dict[str, str]:
    path = REPO_ROOT / "ci" / "environments" / environment / stack
    return {row["ParameterKey"]: row["ParameterValue"] for row in json.loads(path.read_text())}


@pytest.fixture(scope="module")
def lake(templates: dict[Path, dict[str, Any]]) -> dict[str, Any]:
    return templates[DATA_LAKE]


@pytest.fixture(scope="module")
def events(templates: dict[Path, dict[str, Any]]) -> dict[str, Any]:
    return templates[EVENTBRIDGE]


@pytest.mark.parametrize("name", sorted(LAKE_PARAMETERS))
def test_each_lake_retention_parameter_is_bounded(lake: dict[str, Any], name: str) -> None:
    default, minimum, maximum = LAKE_PARAMETERS[name]
    parameter = lake["Parameters"][name]
    assert parameter["Type"] == "Number"
    assert int(parameter["Default"]) == default
    assert int(parameter["MinValue"]) == minimum
    assert (int(parameter["MaxValue"]) if "MaxValue" in parameter else None) == maximum


def test_raw_expires_after_raw_retention_days_unless_it_is_zero(lake: dict[str, Any]) -> None:
    assert lake["Conditions"]["ExpiresRaw"] == {"Fn::Not": [{"Fn::Equals": [{"Ref": "RawRetentionDays"}, 0]}]}
    rule = _rules(lake, "DataLakeBucket")["raw-expiry"]
    assert rule["Prefix"] == "raw/"
    assert rule["Status"] == {"Fn::If": ["ExpiresRaw", "Enabled", "Disabled"]}
    assert rule["ExpirationInDays"] == {"Fn::If": ["ExpiresRaw", {"Ref": "RawRetentionDays"}, {"Ref": "AWS::NoValue"}]}
    assert "Transitions" not in rule  # its own rule: raw/ may expire before it would reach GLACIER_IR


def test_quarantine_and_privacy_exports_expire(lake: dict[str, Any]) -> None:
    rules = _rules(lake, "DataLakeBucket")
    assert rules["quarantine-expiry"]["Prefix"] == "quarantine/"
    assert rules["quarantine-expiry"]["ExpirationInDays"] == {"Ref": "QuarantineRetentionDays"}
    export = rules["privacy-export-expiry"]
    assert export["Prefix"] == "exports/privacy/"
    assert export["Status"] == "Enabled"
    assert export["ExpirationInDays"] == {"Ref": "PrivacyExportRetentionDays"}
    assert export["NoncurrentVersionExpiration"] == {"NoncurrentDays": 1}


@pytest.mark.parametrize("bucket", ["DataLakeBucket", "AccessLogsBucket"])
def test_every_prefix_bounds_earlier_versions(lake: dict[str, Any], bucket: str) -> None:
    unfiltered = [rule for rule in _rules(lake, bucket).values() if "Prefix" not in rule and "Filter" not in rule]
    assert len(unfiltered) == 1
    assert unfiltered[0]["Status"] == "Enabled"
    assert unfiltered[0]["NoncurrentVersionExpiration"] == {"NoncurrentDays": {"Ref": "NoncurrentVersionRetentionDays"}}


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_every_environment_sets_each_lake_retention_within_bounds(environment: str) -> None:
    values = _parameters(environment, "shared/data-lake.json")
    for name, (_, minimum, maximum) in LAKE_PARAMETERS.items():
        assert name in values, f"{environment}: {name} missing (the CLI would reuse the previous value)"
        value = int(values[name])
        assert value >= minimum, f"{environment}: {name}={value}"
        assert maximum is None or value <= maximum, f"{environment}: {name}={value}"


def test_the_archive_is_bounded_by_archive_retention_days(events: dict[str, Any]) -> None:
    parameter = events["Parameters"]["ArchiveRetentionDays"]
    assert int(parameter["Default"]) == 30
    assert int(parameter["MinValue"]) == 1  # 0 would keep archived events forever
    assert int(parameter["MaxValue"]) == ERASURE_BOUND_DAYS
    archives = [r for r in events["Resources"].values() if r["Type"] == "AWS::Events::Archive"]
    assert archives
    for archive in archives:
        assert archive["Properties"]["RetentionDays"] == {"Ref": "ArchiveRetentionDays"}


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_every_environment_bounds_the_archive(environment: str) -> None:
    values = _parameters(environment, "shopify/eventbridge-rules.json")
    assert "ArchiveRetentionDays" in values
    assert 1 <= int(values["ArchiveRetentionDays"]) <= ERASURE_BOUND_DAYS


def test_the_retention_doc_names_every_bound() -> None:
    text = DOC.read_text()
    assert "## Retention" in text
    for name in (*LAKE_PARAMETERS, "ArchiveRetentionDays", "RawInfrequentAccessDays", "RawGlacierDays"):
        assert f"`{name}`" in text, name
    assert "cannot be edited" in text
