"""The generated alarms (infrastructure/monitoring/platform-alarms.yaml): current, complete, right thresholds.

Every DynamoDB table of the manifest's stacks has a throttling and a system-errors alarm over the metrics
that carry its name (the table's and each index's throttle events; system errors per operation), every
crawler's failure reaches the alerts topic, and every function with a reserved concurrency has a near-limit
alarm whose threshold, per environment, is 80 % of that environment's reservation. The expectations are
computed here from the templates and parameter files, not from the generator.
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path
from typing import Any

import pytest

from platformctl import platform_alarms
from platformctl.manifest import REPO_ROOT, Manifest
from platformctl.params import check_parameters
from platformctl.templates import load_template
from tests.templates.cfn import Resource, iter_resources, refs

ALERTS = [{"Ref": "AlertsTopicArn"}]


@pytest.fixture(scope="module")
def generated() -> dict[str, Any]:
    return load_template(platform_alarms.OUTPUT_PATH)


@pytest.fixture(scope="module")
def deployed(manifest: Manifest, templates: dict[Path, Any]) -> dict[Path, Any]:
    """The templates of the manifest's stacks, without the generated one."""
    return {
        s.template_path: templates[s.template_path]
        for s in manifest.stacks
        if s.template_path != platform_alarms.OUTPUT_PATH
    }


def _alarms(generated: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Alarm name (Sub text) -> resource body."""
    return {
        body["Properties"]["AlarmName"]["Fn::Sub"]: body
        for body in generated["Resources"].values()
        if body["Type"] == "AWS::CloudWatch::Alarm"
    }


def _stats(alarm: dict[str, Any]) -> list[tuple[str, dict[str, str]]]:
    """(metric name, {dimension: value}) of a metric-math alarm's MetricStat queries (values as Sub text)."""
    found = []
    for query in alarm["Properties"]["Metrics"]:
        if "MetricStat" in query:
            metric = query["MetricStat"]["Metric"]
            dimensions = {
                d["Name"]: d["Value"]["Fn::Sub"] if isinstance(d["Value"], dict) else d["Value"]
                for d in metric["Dimensions"]
            }
            found.append((metric["MetricName"], dimensions))
    return found


def _slug(name: str) -> str:
    return name.removeprefix("${Brand}-${Environment}-")


def test_the_committed_alarms_and_parameter_files_are_current(manifest: Manifest) -> None:
    stale = [str(p.relative_to(REPO_ROOT)) for p in platform_alarms.stale_files(manifest)]
    assert stale == [], f"{stale} stale: run `platformctl platform-alarms --write` and commit them"


def test_the_stack_deploys_in_the_monitoring_job_after_the_alerts_topic(manifest: Manifest) -> None:
    keys = [s.key for s in manifest.job("monitoring").stacks]
    assert "monitoring/platform-alarms" in keys
    assert keys.index("monitoring/monitoring") < keys.index("monitoring/platform-alarms")
    [stack] = [s for s in manifest.stacks if s.template_path == platform_alarms.OUTPUT_PATH]
    assert str(stack.inputs["AlertsTopicArn"]) == "monitoring/monitoring.AlertsTopicArn"


def test_every_alarm_notifies_the_alerts_topic_and_ignores_missing_data(generated: dict[str, Any]) -> None:
    for name, alarm in _alarms(generated).items():
        props = alarm["Properties"]
        assert props["AlarmActions"] == ALERTS, name
        assert props["OKActions"] == ALERTS, name
        assert props["TreatMissingData"] == "notBreaching", name
        assert "Runbook: docs/runbooks/" in props["AlarmDescription"]["Fn::Sub"], name
        queries = props.get("Metrics", [])
        assert len([q for q in queries if "MetricStat" in q]) <= 10, name
        assert len([q for q in queries if q.get("ReturnData") is True]) == (1 if queries else 0), name


def test_every_table_has_its_throttling_alarm_over_the_table_and_its_indexes(
    deployed: dict[Path, Any], generated: dict[str, Any]
) -> None:
    alarms = _alarms(generated)
    tables = list(iter_resources(deployed, "AWS::DynamoDB::Table"))
    assert len(tables) >= 7  # the six hot stores and the privacy index
    for table in tables:
        name = table.properties["TableName"]["Fn::Sub"]
        alarm = alarms.get(f"${{Brand}}-${{Environment}}-{_slug(name)}-table-throttled")
        assert alarm, f"{table.where}: no throttling alarm"
        indexes = [i["IndexName"] for i in table.properties.get("GlobalSecondaryIndexes", [])]
        expected = {(f"{kind}ThrottleEvents", (("TableName", name),)) for kind in ("Read", "Write")}
        expected |= {
            (f"{kind}ThrottleEvents", (("TableName", name), ("GlobalSecondaryIndexName", index)))
            for kind in ("Read", "Write")
            for index in indexes
        }
        got = {(metric, tuple(dims.items())) for metric, dims in _stats(alarm)}
        assert got == expected, table.where
        props = alarm["Properties"]
        assert (props["Threshold"], props["ComparisonOperator"]) == (1, "GreaterThanOrEqualToThreshold")
        assert (props["EvaluationPeriods"], props["DatapointsToAlarm"]) == (3, 2)
        assert "docs/runbooks/dynamodb-table-throttled.md" in props["AlarmDescription"]["Fn::Sub"]


def test_every_table_has_its_system_errors_alarm_over_every_operation(
    deployed: dict[Path, Any], generated: dict[str, Any]
) -> None:
    alarms = _alarms(generated)
    for table in iter_resources(deployed, "AWS::DynamoDB::Table"):
        name = table.properties["TableName"]["Fn::Sub"]
        alarm = alarms.get(f"${{Brand}}-${{Environment}}-{_slug(name)}-table-system-errors")
        assert alarm, f"{table.where}: no system-errors alarm"
        stats = _stats(alarm)
        assert {metric for metric, _ in stats} == {"SystemErrors"}
        assert all(dims["TableName"] == name and set(dims) == {"TableName", "Operation"} for _, dims in stats)
        operations = {dims["Operation"] for _, dims in stats}
        # Every operation a template grants on a table is watched.
        granted = {
            action
            for template in deployed.values()
            for action in re.findall(r'"dynamodb:([A-Za-z]+)"', json.dumps(template))
            if action.endswith(("Item", "Items", "Query", "Scan"))
        }
        assert granted - {"ConditionCheckItem"} <= operations, granted - operations
        assert "docs/runbooks/dynamodb-table-system-errors.md" in alarm["Properties"]["AlarmDescription"]["Fn::Sub"]


def test_every_crawler_failure_reaches_the_alerts_topic(deployed: dict[Path, Any], generated: dict[str, Any]) -> None:
    crawlers = [c.properties["Name"]["Fn::Sub"] for c in iter_resources(deployed, "AWS::Glue::Crawler")]
    assert len(crawlers) >= 3
    [rule] = [r for r in generated["Resources"].values() if r["Type"] == "AWS::Events::Rule"]
    props = rule["Properties"]
    pattern = props["EventPattern"]
    assert pattern["source"] == ["aws.glue"]
    assert pattern["detail-type"] == ["Glue Crawler State Change"]
    assert pattern["detail"]["state"] == ["Failed"]
    assert sorted(n["Fn::Sub"] for n in pattern["detail"]["crawlerName"]) == sorted(crawlers)
    [target] = props["Targets"]
    assert target["Arn"] == {"Ref": "AlertsTopicArn"}
    assert "docs/runbooks/glue-crawler-failed.md" in target["InputTransformer"]["InputTemplate"]
    assert "<crawler>" in target["InputTransformer"]["InputTemplate"]
    undelivered = _alarms(generated)["${Brand}-${Environment}-glue-crawler-alert-undelivered"]["Properties"]
    assert undelivered["MetricName"] == "FailedInvocations"
    assert undelivered["Dimensions"] == [{"Name": "RuleName", "Value": {"Ref": "GlueCrawlerFailedRule"}}]


def _reservation(function: Resource, template: dict[str, Any], manifest: Manifest, environment: str) -> int:
    value = function.properties["ReservedConcurrentExecutions"]
    if isinstance(value, int):
        return value
    [parameter] = refs(value) - {"AWS::NoValue"}
    [stack] = [s for s in manifest.stacks if s.template_path == function.template]
    chosen = check_parameters(stack, environment).values.get(parameter)
    return int(template["Parameters"][parameter]["Default"] if chosen is None else chosen)


def test_every_reserved_function_has_its_near_limit_alarm_at_80_percent(
    manifest: Manifest, deployed: dict[Path, Any], generated: dict[str, Any]
) -> None:
    alarms = _alarms(generated)
    [stack] = [s for s in manifest.stacks if s.template_path == platform_alarms.OUTPUT_PATH]
    functions = [
        f for f in iter_resources(deployed, "AWS::Lambda::Function") if "ReservedConcurrentExecutions" in f.properties
    ]
    assert len(functions) >= 7
    thresholds: dict[str, dict[str, int]] = {}
    for function in functions:
        name = function.properties["FunctionName"]["Fn::Sub"]
        alarm = alarms.get(f"${{Brand}}-${{Environment}}-{_slug(name)}-concurrency-near-limit")
        assert alarm, f"{function.where}: no concurrency alarm"
        props = alarm["Properties"]
        assert (props["Namespace"], props["MetricName"], props["Statistic"]) == (
            "AWS/Lambda",
            "ConcurrentExecutions",
            "Maximum",
        )
        assert props["Dimensions"] == [{"Name": "FunctionName", "Value": {"Fn::Sub": name}}]
        assert props["ComparisonOperator"] == "GreaterThanOrEqualToThreshold"
        parameter = props["Threshold"]["Ref"]
        condition = generated["Conditions"][alarm["Condition"]]
        assert condition == {"Fn::Not": [{"Fn::Equals": [{"Ref": parameter}, 0]}]}
        for environment in manifest.environments():
            reserved = _reservation(function, deployed[function.template], manifest, environment)
            expected = 0 if reserved < 2 else math.ceil(0.8 * reserved)
            values = check_parameters(stack, environment).values
            assert int(values[parameter]) == expected, f"{environment}: {function.where} reserves {reserved}"
            thresholds.setdefault(_slug(name), {})[environment] = expected
    # What the environments reserve today (docs/operations.md): the processors 10 (2 locally), the rest 1.
    assert thresholds["shopify-order-processor"] == {"local": 2, "prod": 8, "staging": 8}
    assert thresholds["triplewhale-summary"] == dict.fromkeys(manifest.environments(), 0)


def test_the_parameter_files_are_valid_for_the_stack(manifest: Manifest) -> None:
    [stack] = [s for s in manifest.stacks if s.template_path == platform_alarms.OUTPUT_PATH]
    for environment in manifest.environments():
        assert check_parameters(stack, environment).problems() == [], environment
