"""platformctl.platform_alarms and ``platformctl platform-alarms``: what a template gains gets its alarm."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import pytest

from platformctl import platform_alarms
from platformctl.commands import platform_alarms as command
from platformctl.errors import UserError
from platformctl.manifest import Job, Manifest, Stack
from platformctl.templates import parse_template_text

HEADER = """\
AWSTemplateFormatVersion: "2010-09-09"
Parameters:
  Brand: {Type: String}
  Environment: {Type: String}
  Reserved: {Type: Number, Default: 10}
Conditions:
  Reserves: !Not [!Equals [!Ref Reserved, 0]]
Resources:
"""
TABLE = """\
  Things:
    Type: AWS::DynamoDB::Table
    Properties:
      TableName: !Sub ${Brand}-${Environment}-things
      GlobalSecondaryIndexes:
        - {IndexName: by-owner}
        - {IndexName: by-date}
"""
CRAWLER = """\
  Crawler:
    Type: AWS::Glue::Crawler
    Properties:
      Name: !Sub ${Brand}-${Environment}-raw-things
"""
FUNCTION = """\
  Worker:
    Type: AWS::Lambda::Function
    Properties:
      FunctionName: !Sub ${{Brand}}-${{Environment}}-thing-worker
      ReservedConcurrentExecutions: {reserved}
"""
RESERVED_IF = "!If [Reserves, !Ref Reserved, !Ref AWS::NoValue]"


def _manifest(tmp_path: Path, text: str, files: dict[str, dict[str, str]] | None = None) -> Manifest:
    """One job with the stack under test and the generated stack; environments 'a' and 'b'."""
    template = tmp_path / "thing.yaml"
    template.write_text(HEADER + text, encoding="utf-8")
    environments = tmp_path / "environments"
    for environment in ("a", "b"):
        (environment_dir := environments / environment / "thing").mkdir(parents=True, exist_ok=True)
        values = (files or {}).get(environment, {})
        entries = [{"ParameterKey": k, "ParameterValue": v} for k, v in values.items()]
        (environment_dir / "stack.json").write_text(json.dumps(entries), encoding="utf-8")
    stack = Stack(job="thing", name="stack", template=str(template), environments_dir=environments)
    alarms = Stack(
        job="monitoring", name="platform-alarms", template=str(tmp_path / "out.yaml"), environments_dir=environments
    )
    return Manifest(
        jobs=(Job("monitoring", "Alarms.", (alarms,), ()), Job("thing", "A test job.", (stack,), ())),
        path=tmp_path / "ingestion_jobs.json",
    )


def _generated(tmp_path: Path, manifest: Manifest) -> dict[str, Any]:
    return parse_template_text(platform_alarms.render(manifest, tmp_path / "out.yaml"), "generated")


@pytest.mark.parametrize(
    ("reserved", "expected"), [(0, 0), (1, 0), (2, 2), (3, 3), (5, 4), (10, 8), (11, 9), (100, 80)]
)
def test_the_threshold_is_80_percent_of_the_reservation_rounded_up(reserved: int, expected: int) -> None:
    assert platform_alarms.threshold(reserved) == expected


def test_a_table_gets_throttling_over_table_and_indexes_and_system_errors_per_operation(tmp_path: Path) -> None:
    resources = _generated(tmp_path, _manifest(tmp_path, TABLE))["Resources"]
    throttled = resources["ThingsTableThrottledAlarm"]["Properties"]
    assert throttled["AlarmName"] == {"Fn::Sub": "${Brand}-${Environment}-things-table-throttled"}
    stats = [q for q in throttled["Metrics"] if "MetricStat" in q]
    assert len(stats) == 6  # read and write: the table, by-owner, by-date
    indexes = {
        d["Value"]
        for q in stats
        for d in q["MetricStat"]["Metric"]["Dimensions"]
        if d["Name"] == "GlobalSecondaryIndexName"
    }
    assert indexes == {"by-owner", "by-date"}
    [total] = [q for q in throttled["Metrics"] if q.get("ReturnData") is True]
    assert total["Expression"] == f"SUM([{', '.join(q['Id'] for q in stats)}])"
    assert "docs/runbooks/dynamodb-table-throttled.md" in throttled["AlarmDescription"]["Fn::Sub"]
    errors = resources["ThingsTableSystemErrorsAlarm"]["Properties"]
    operations = [
        d["Value"]
        for q in errors["Metrics"]
        if "MetricStat" in q
        for d in q["MetricStat"]["Metric"]["Dimensions"]
        if d["Name"] == "Operation"
    ]
    assert operations == list(platform_alarms.OPERATIONS)
    assert "docs/runbooks/dynamodb-table-system-errors.md" in errors["AlarmDescription"]["Fn::Sub"]


def test_a_table_with_too_many_indexes_for_one_alarm_is_refused(tmp_path: Path) -> None:
    text = TABLE + "".join(f"        - {{IndexName: extra-{n}}}\n" for n in range(3))
    with pytest.raises(UserError, match="too many indexes"):
        _generated(tmp_path, _manifest(tmp_path, text))


def test_crawlers_share_one_failure_rule_and_no_crawler_means_no_rule(tmp_path: Path) -> None:
    resources = _generated(tmp_path, _manifest(tmp_path, CRAWLER))["Resources"]
    rule = resources["GlueCrawlerFailedRule"]["Properties"]
    assert rule["EventPattern"]["detail"] == {
        "crawlerName": [{"Fn::Sub": "${Brand}-${Environment}-raw-things"}],
        "state": ["Failed"],
    }
    assert rule["Targets"][0]["Arn"] == {"Ref": "AlertsTopicArn"}
    assert "GlueCrawlerAlertUndeliveredAlarm" in resources
    assert "GlueCrawlerFailedRule" not in _generated(tmp_path, _manifest(tmp_path, TABLE))["Resources"]


def test_the_concurrency_threshold_follows_each_environments_reservation(tmp_path: Path) -> None:
    manifest = _manifest(tmp_path, FUNCTION.format(reserved=RESERVED_IF), {"a": {"Reserved": "5"}})
    generated = _generated(tmp_path, manifest)
    alarm = generated["Resources"]["ThingWorkerConcurrencyNearLimitAlarm"]
    assert alarm["Properties"]["Threshold"] == {"Ref": "ThingWorkerConcurrencyThreshold"}
    assert generated["Parameters"]["ThingWorkerConcurrencyThreshold"]["Default"] == 8  # the template's default, 10
    assert generated["Conditions"][alarm["Condition"]] == {
        "Fn::Not": [{"Fn::Equals": [{"Ref": "ThingWorkerConcurrencyThreshold"}, 0]}]
    }
    files = platform_alarms.parameter_files(manifest, tmp_path / "out.yaml")
    values = {path.parent.parent.name: json.loads(text) for path, text in files.items()}
    assert values == {
        "a": [{"ParameterKey": "ThingWorkerConcurrencyThreshold", "ParameterValue": "4"}],
        "b": [{"ParameterKey": "ThingWorkerConcurrencyThreshold", "ParameterValue": "8"}],
    }


def test_a_reservation_of_one_or_none_gets_no_alarm_and_a_literal_is_used_as_is(tmp_path: Path) -> None:
    manifest = _manifest(
        tmp_path, FUNCTION.format(reserved=RESERVED_IF), {"a": {"Reserved": "1"}, "b": {"Reserved": "0"}}
    )
    assert {
        json.loads(t)[0]["ParameterValue"]
        for t in platform_alarms.parameter_files(manifest, tmp_path / "out.yaml").values()
    } == {"0"}
    manifest = _manifest(tmp_path, FUNCTION.format(reserved=20))
    assert _generated(tmp_path, manifest)["Parameters"]["ThingWorkerConcurrencyThreshold"]["Default"] == 16


def test_a_reservation_the_generator_cannot_read_is_refused(tmp_path: Path) -> None:
    text = FUNCTION.format(reserved="!If [Other, !Ref Reserved, !Ref AWS::NoValue]")
    with pytest.raises(UserError, match="ReservedConcurrentExecutions must be"):
        _generated(tmp_path, _manifest(tmp_path, text))


def test_a_name_an_alarm_cannot_follow_is_refused(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="so an alarm can watch it"):
        _generated(tmp_path, _manifest(tmp_path, TABLE.replace("${Environment}-things", "things")))


def _run(monkeypatch: pytest.MonkeyPatch, manifest: Manifest, output: Path, **flags: bool) -> int:
    monkeypatch.setattr(command, "load_manifest", lambda: manifest)
    monkeypatch.setattr(platform_alarms, "OUTPUT_PATH", output)
    return command.command(argparse.Namespace(check=flags.get("check", False), write=flags.get("write", False)))


def test_check_fails_until_write_and_again_after_a_template_change(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    output = tmp_path / "out.yaml"
    manifest = _manifest(tmp_path, TABLE + FUNCTION.format(reserved=RESERVED_IF))
    assert _run(monkeypatch, manifest, output, check=True) == 1
    assert _run(monkeypatch, manifest, output, write=True) == 0
    assert _run(monkeypatch, manifest, output, check=True) == 0
    assert (tmp_path / "environments" / "a" / "monitoring" / "platform-alarms.json").is_file()
    assert platform_alarms.stale_files(manifest, output) == []
    changed = _manifest(tmp_path, TABLE + FUNCTION.format(reserved=RESERVED_IF) + CRAWLER)
    assert platform_alarms.stale_files(changed, output) == [output]
    assert _run(monkeypatch, changed, output, check=True) == 1
