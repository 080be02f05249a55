"""Alarms generated from the manifest: ``infrastructure/monitoring/platform-alarms.yaml``.

Some alarms watch resources of stacks that cannot alarm themselves (the ``shared`` job deploys before the
alerts topic exists) or that every stack would otherwise repeat by hand. The generator reads
``ci/ingestion_jobs.json`` and every template it lists, and writes one CloudFormation template (stack
``monitoring/platform-alarms``, after the alerts topic) with:

- per DynamoDB table: ``<table>-table-throttled`` (``ReadThrottleEvents`` + ``WriteThrottleEvents`` of
  the table and of each of its global secondary indexes: the metrics whose only dimensions are the
  table and index names; ``ThrottledRequests`` also carries ``Operation``, and an alarm cannot use the
  SEARCH expression that would sum it) and ``<table>-table-system-errors`` (``SystemErrors``, which
  exists only per ``Operation``: one metric per DynamoDB data-plane operation, summed);
- one EventBridge rule ``glue-crawler-failed`` for every crawler's "Glue Crawler State Change" to
  ``Failed``, publishing to the alerts topic, and ``glue-crawler-alert-undelivered`` on its
  ``FailedInvocations``;
- per Lambda function with ``ReservedConcurrentExecutions``: ``<function>-concurrency-near-limit``
  (``ConcurrentExecutions`` Maximum at or over 80 % of the reservation). The reservation is usually a
  parameter set per environment, so the threshold is a parameter of this stack too, whose value the
  generator computes for every environment from that environment's parameter file (or the default) and
  writes to ``ci/environments/<env>/monitoring/platform-alarms.json``. A threshold of 0 creates no alarm:
  no reservation, or a reservation of 1 (a function kept to one run at a time, whose one run is not a
  warning).

The template and the parameter files are committed; ``platformctl platform-alarms --check`` and a template
test fail when they differ from what the templates imply.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from platformctl.errors import UserError
from platformctl.manifest import REPO_ROOT, Manifest, Stack
from platformctl.params import check_parameters
from platformctl.templates import load_template

OUTPUT_PATH = REPO_ROOT / "infrastructure" / "monitoring" / "platform-alarms.yaml"
STACK_KEY = "monitoring/platform-alarms"

# The runbook page of each kind of generated alarm: one page serves every table (function) of its kind
# (tests/templates/test_contracts.py RUNBOOK_FAMILIES holds the same three).
THROTTLED_RUNBOOK = "dynamodb-table-throttled"
SYSTEM_ERRORS_RUNBOOK = "dynamodb-table-system-errors"
CONCURRENCY_RUNBOOK = "lambda-concurrency-near-limit"
CRAWLER_RUNBOOK = "glue-crawler-failed"
CRAWLER_UNDELIVERED_RUNBOOK = "glue-crawler-alert-undelivered"

# DynamoDB's data-plane operations, each a value of SystemErrors' Operation dimension (DynamoDB developer
# guide, "DynamoDB Metrics and dimensions"). Ten: the most MetricStat queries one alarm may hold.
OPERATIONS = (
    "GetItem",
    "PutItem",
    "UpdateItem",
    "DeleteItem",
    "Query",
    "Scan",
    "BatchGetItem",
    "BatchWriteItem",
    "TransactGetItems",
    "TransactWriteItems",
)
MAX_ALARM_METRICS = 10  # PutMetricAlarm: up to 10 MetricStat queries (and 10 expressions)

# DynamoDB: the SDKs retry a throttled or failed request by themselves, so one bad period is absorbed;
# any in two of three 5-minute periods is sustained (and soon becomes Lambda errors and DLQ messages).
TABLE_PERIOD = 300
TABLE_EVALUATION_PERIODS = 3
TABLE_DATAPOINTS = 2
TABLE_THRESHOLD = 1
# Lambda: ConcurrentExecutions is per minute; at or over 80 % of the reservation in 3 of 5 minutes.
CONCURRENCY_RATIO = 0.8
CONCURRENCY_PERIOD = 60
CONCURRENCY_EVALUATION_PERIODS = 5
CONCURRENCY_DATAPOINTS = 3

_PLATFORM_NAME = re.compile(r"\$\{Brand\}-\$\{Environment\}-([a-z0-9][a-z0-9-]*)")


@dataclass(frozen=True)
class Table:
    name: str  # Sub text
    indexes: tuple[str, ...]
    where: str

    @property
    def slug(self) -> str:
        return _slug(self.name, self.where)


@dataclass(frozen=True)
class Crawler:
    name: str  # Sub text
    where: str


@dataclass(frozen=True)
class ReservedFunction:
    name: str  # Sub text
    where: str
    reserved: dict[str, int]  # environment -> reserved concurrency (0: none)
    default: int  # the reservation with no parameter file (the template's default)

    @property
    def slug(self) -> str:
        return _slug(self.name, self.where)

    @property
    def parameter(self) -> str:
        return f"{_camel(self.slug)}ConcurrencyThreshold"


@dataclass(frozen=True)
class Watched:
    tables: list[Table]
    crawlers: list[Crawler]
    functions: list[ReservedFunction]


def threshold(reserved: int) -> int:
    """The concurrency at which a function is near its reservation; 0: no alarm."""
    if reserved < 2:
        return 0
    return math.ceil(reserved * CONCURRENCY_RATIO - 1e-9)


def _slug(name: str, where: str) -> str:
    match = _PLATFORM_NAME.fullmatch(name)
    if not match:
        raise UserError(f"{where}: name it !Sub '${{Brand}}-${{Environment}}-<name>' so an alarm can watch it")
    return match.group(1)


def _camel(slug: str) -> str:
    return "".join(part.capitalize() for part in slug.split("-"))


def _sub_name(properties: dict[str, Any], key: str, where: str) -> str:
    value = properties.get(key)
    text = value.get("Fn::Sub") if isinstance(value, dict) else None
    if not isinstance(text, str):
        raise UserError(f"{where}: {key} must be !Sub '${{Brand}}-${{Environment}}-<name>' so an alarm can watch it")
    return text


def _resources(template: dict[str, Any], kind: str) -> Iterator[tuple[str, dict[str, Any]]]:
    for logical_id, body in (template.get("Resources") or {}).items():
        if isinstance(body, dict) and body.get("Type") == kind:
            yield logical_id, dict(body.get("Properties") or {})


def _reservation_parameter(value: Any, template: dict[str, Any], where: str) -> str | int:
    """The parameter (or literal) a ReservedConcurrentExecutions takes: a number, !Ref P, or
    !If [C, !Ref P, !Ref AWS::NoValue] where C is !Not [!Equals [!Ref P, 0]] (0 meaning no reservation)."""
    if isinstance(value, int) or (isinstance(value, str) and value.isdigit()):
        return int(value)
    if isinstance(value, dict) and isinstance(value.get("Ref"), str):
        return str(value["Ref"])
    branches = value.get("Fn::If") if isinstance(value, dict) else None
    if isinstance(branches, list) and len(branches) == 3 and branches[2] == {"Ref": "AWS::NoValue"}:
        parameter = branches[1].get("Ref") if isinstance(branches[1], dict) else None
        condition = (template.get("Conditions") or {}).get(str(branches[0]))
        expected = [
            {"Fn::Not": [{"Fn::Equals": [{"Ref": parameter}, 0]}]},
            {"Fn::Not": [{"Fn::Equals": [{"Ref": parameter}, "0"]}]},
        ]
        if isinstance(parameter, str) and condition in expected:
            return parameter
    raise UserError(
        f"{where}: ReservedConcurrentExecutions must be a number, !Ref <parameter>, or "
        "!If [<parameter> is not 0, !Ref <parameter>, !Ref AWS::NoValue] for its alarm's threshold"
    )


def _reserved(
    stack: Stack, template: dict[str, Any], source: str | int, environments: list[str], where: str
) -> tuple[dict[str, int], int]:
    if isinstance(source, int):
        return dict.fromkeys(environments, source), source
    spec = (template.get("Parameters") or {}).get(source)
    if not isinstance(spec, dict) or "Default" not in spec:
        raise UserError(f"{where}: parameter {source} needs a Default for its alarm's threshold")
    default = int(spec["Default"])
    values = {}
    for environment in environments:
        chosen = check_parameters(stack, environment).values.get(source)
        values[environment] = default if chosen is None else int(chosen)
    return values, default


def collect(manifest: Manifest, output: Path | None = None) -> Watched:
    output = output or OUTPUT_PATH
    environments = manifest.environments()
    tables: list[Table] = []
    crawlers: list[Crawler] = []
    functions: list[ReservedFunction] = []
    for stack in manifest.stacks:
        if stack.template_path == output:
            continue
        template = load_template(stack.template_path)
        for logical_id, properties in _resources(template, "AWS::DynamoDB::Table"):
            where = f"{stack.template}: {logical_id}"
            indexes = tuple(str(i["IndexName"]) for i in properties.get("GlobalSecondaryIndexes") or [])
            tables.append(Table(_sub_name(properties, "TableName", where), indexes, where))
        for logical_id, properties in _resources(template, "AWS::Glue::Crawler"):
            where = f"{stack.template}: {logical_id}"
            crawlers.append(Crawler(_sub_name(properties, "Name", where), where))
        for logical_id, properties in _resources(template, "AWS::Lambda::Function"):
            if "ReservedConcurrentExecutions" not in properties:
                continue
            where = f"{stack.template}: {logical_id}"
            source = _reservation_parameter(properties["ReservedConcurrentExecutions"], template, where)
            reserved, default = _reserved(stack, template, source, environments, where)
            functions.append(ReservedFunction(_sub_name(properties, "FunctionName", where), where, reserved, default))
    for table in tables:
        if 2 + 2 * len(table.indexes) > MAX_ALARM_METRICS:
            raise UserError(f"{table.where}: too many indexes for one throttling alarm ({MAX_ALARM_METRICS} metrics)")
    for kind, slugs in (("table", [t.slug for t in tables]), ("function", [f.slug for f in functions])):
        if len(set(slugs)) != len(slugs):
            raise UserError(f"two {kind}s have the same name: {sorted(slugs)}")
    return Watched(tables, crawlers, functions)


# ------------------------------------------------------------------------------------------ template


def _sub(text: str) -> dict[str, str]:
    return {"Fn::Sub": text}


def _ref(name: str) -> dict[str, str]:
    return {"Ref": name}


def _runbook(page: str) -> str:
    return f"Runbook: docs/runbooks/{page}.md"


def _notify() -> dict[str, Any]:
    return {
        "TreatMissingData": "notBreaching",
        "AlarmActions": [_ref("AlertsTopicArn")],
        "OKActions": [_ref("AlertsTopicArn")],
    }


def _metric(id_: str, metric: str, dimensions: list[tuple[str, Any]], period: int, stat: str) -> dict[str, Any]:
    return {
        "Id": id_,
        "ReturnData": False,
        "MetricStat": {
            "Metric": {
                "Namespace": "AWS/DynamoDB",
                "MetricName": metric,
                "Dimensions": [{"Name": name, "Value": value} for name, value in dimensions],
            },
            "Period": period,
            "Stat": stat,
        },
    }


def _sum_alarm(name: str, description: str, metrics: list[dict[str, Any]], label: str) -> dict[str, Any]:
    ids = ", ".join(m["Id"] for m in metrics)
    return {
        "Type": "AWS::CloudWatch::Alarm",
        "Properties": {
            "AlarmName": _sub(name),
            "AlarmDescription": _sub(description),
            "Metrics": [
                *metrics,
                {"Id": "total", "Label": label, "Expression": f"SUM([{ids}])", "ReturnData": True},
            ],
            "EvaluationPeriods": TABLE_EVALUATION_PERIODS,
            "DatapointsToAlarm": TABLE_DATAPOINTS,
            "Threshold": TABLE_THRESHOLD,
            "ComparisonOperator": "GreaterThanOrEqualToThreshold",
            **_notify(),
        },
    }


def _table_alarms(table: Table) -> dict[str, Any]:
    name = _sub(table.name)
    throttles = []
    for kind in ("Read", "Write"):
        throttles.append(
            _metric(f"table_{kind.lower()}", f"{kind}ThrottleEvents", [("TableName", name)], TABLE_PERIOD, "Sum")
        )
        for number, index in enumerate(table.indexes, start=1):
            throttles.append(
                _metric(
                    f"index{number}_{kind.lower()}",
                    f"{kind}ThrottleEvents",
                    [("TableName", name), ("GlobalSecondaryIndexName", index)],
                    TABLE_PERIOD,
                    "Sum",
                )
            )
    indexes = f" and its indexes ({', '.join(table.indexes)})" if table.indexes else ""
    errors = [
        _metric(
            f"op_{operation.lower()}",
            "SystemErrors",
            [("TableName", name), ("Operation", operation)],
            TABLE_PERIOD,
            "Sum",
        )
        for operation in OPERATIONS
    ]
    camel = _camel(table.slug)
    return {
        f"{camel}TableThrottledAlarm": _sum_alarm(
            f"${{Brand}}-${{Environment}}-{table.slug}-table-throttled",
            f"DynamoDB throttled reads or writes of the table {table.name}{indexes} in 2 of the last 3 "
            f"five-minute periods (ReadThrottleEvents + WriteThrottleEvents); the SDK retries, but writes that "
            f"keep failing become Lambda errors and DLQ messages. {_runbook(THROTTLED_RUNBOOK)}",
            throttles,
            "ThrottleEvents",
        ),
        f"{camel}TableSystemErrorsAlarm": _sum_alarm(
            f"${{Brand}}-${{Environment}}-{table.slug}-table-system-errors",
            f"DynamoDB answered requests to the table {table.name} with HTTP 500 (SystemErrors, all "
            f"operations) in 2 of the last 3 five-minute periods: a DynamoDB-side problem. "
            f"{_runbook(SYSTEM_ERRORS_RUNBOOK)}",
            errors,
            "SystemErrors",
        ),
    }


def _crawler_resources(crawlers: list[Crawler]) -> dict[str, Any]:
    if not crawlers:
        return {}
    names = ", ".join(c.name for c in crawlers)
    return {
        "GlueCrawlerFailedRule": {
            "Type": "AWS::Events::Rule",
            # The target has no dead-letter queue: an alert EventBridge cannot deliver raises
            # glue-crawler-alert-undelivered instead (FailedInvocations), as for orders-enriched-failed.
            "Metadata": {"cfn-lint": {"config": {"ignore_checks": ["ES4000"]}}},
            "Properties": {
                "Name": _sub("${Brand}-${Environment}-glue-crawler-failed"),
                "Description": _sub(
                    f"A run of a Glue crawler ({names}) failed: the raw tables of the catalog miss new "
                    f"partitions or columns. {_runbook(CRAWLER_RUNBOOK)}"
                ),
                "State": "ENABLED",
                "EventPattern": {
                    "source": ["aws.glue"],
                    "detail-type": ["Glue Crawler State Change"],
                    "detail": {"crawlerName": [_sub(c.name) for c in crawlers], "state": ["Failed"]},
                },
                "Targets": [
                    {
                        "Id": "alerts-topic",
                        "Arn": _ref("AlertsTopicArn"),
                        # An alert older than an hour is dropped (and counted in FailedInvocations, which alarms).
                        "RetryPolicy": {"MaximumRetryAttempts": 20, "MaximumEventAgeInSeconds": 3600},
                        "InputTransformer": {
                            "InputPathsMap": {
                                "crawler": "$.detail.crawlerName",
                                "state": "$.detail.state",
                                "error": "$.detail.errorMessage",
                                "time": "$.time",
                            },
                            "InputTemplate": (
                                f"Glue crawler <crawler> ended <state> at <time>: <error> {_runbook(CRAWLER_RUNBOOK)}"
                            ),
                        },
                    }
                ],
            },
        },
        "GlueCrawlerAlertUndeliveredAlarm": {
            "Type": "AWS::CloudWatch::Alarm",
            "Properties": {
                "AlarmName": _sub("${Brand}-${Environment}-glue-crawler-alert-undelivered"),
                "AlarmDescription": _sub(
                    "EventBridge could not deliver an alert of ${Brand}-${Environment}-glue-crawler-failed to the "
                    f"alerts topic: a crawler failed and nobody was told which. {_runbook(CRAWLER_UNDELIVERED_RUNBOOK)}"
                ),
                "Namespace": "AWS/Events",
                "MetricName": "FailedInvocations",
                "Dimensions": [{"Name": "RuleName", "Value": _ref("GlueCrawlerFailedRule")}],
                "Statistic": "Sum",
                "Period": 300,
                "EvaluationPeriods": 1,
                "DatapointsToAlarm": 1,
                "Threshold": 1,
                "ComparisonOperator": "GreaterThanOrEqualToThreshold",
                **_notify(),
            },
        },
    }


def _condition(function: ReservedFunction) -> str:
    return f"Watches{_camel(function.slug)}Concurrency"


def _function_alarm(function: ReservedFunction) -> dict[str, Any]:
    return {
        f"{_camel(function.slug)}ConcurrencyNearLimitAlarm": {
            "Type": "AWS::CloudWatch::Alarm",
            "Condition": _condition(function),
            "Properties": {
                "AlarmName": _sub(f"${{Brand}}-${{Environment}}-{function.slug}-concurrency-near-limit"),
                "AlarmDescription": _sub(
                    f"The function {function.name} ran at or over ${{{function.parameter}}} concurrent executions "
                    f"(80 % of its reserved concurrency) in 3 of the last 5 minutes: more load and it is "
                    f"throttled. {_runbook(CONCURRENCY_RUNBOOK)}"
                ),
                "Namespace": "AWS/Lambda",
                "MetricName": "ConcurrentExecutions",
                "Dimensions": [{"Name": "FunctionName", "Value": _sub(function.name)}],
                "Statistic": "Maximum",
                "Period": CONCURRENCY_PERIOD,
                "EvaluationPeriods": CONCURRENCY_EVALUATION_PERIODS,
                "DatapointsToAlarm": CONCURRENCY_DATAPOINTS,
                "Threshold": _ref(function.parameter),
                "ComparisonOperator": "GreaterThanOrEqualToThreshold",
                **_notify(),
            },
        }
    }


HEADER = """\
# GENERATED by `platformctl platform-alarms --write` from ci/ingestion_jobs.json and the templates it lists
# (with ci/environments/<env>/monitoring/platform-alarms.json). Do not edit: change those and regenerate
# (`make test` fails while this file is stale). What each alarm means: docs/operations.md, docs/runbooks/.
# cfn-lint ES4000 (a rule target without a dead-letter queue) is ignored on the crawler rule: a queue of
# undelivered alerts would need its own alarm; glue-crawler-alert-undelivered watches FailedInvocations.
"""

_NAMING = {
    "Brand": {
        "Type": "String",
        "Description": "Short lower-case brand name; prefixes every resource name.",
        "AllowedPattern": "^[a-z][a-z0-9-]{1,20}$",
        "ConstraintDescription": "2-21 characters, lower-case letters, digits and hyphens, starting with a letter.",
    },
    "Environment": {
        "Type": "String",
        "Description": "Environment name (local, prod, ...).",
        "AllowedPattern": "^[a-z][a-z0-9-]{1,15}$",
        "ConstraintDescription": "2-16 characters, lower-case letters, digits and hyphens, starting with a letter.",
    },
    "AlertsTopicArn": {
        "Type": "String",
        "Description": "ARN of the alerts topic (fed from monitoring/monitoring); all alarms and rules here notify it.",
        "AllowedPattern": "^arn:aws[a-z-]*:sns:[a-z0-9-]+:[0-9]+:[A-Za-z0-9_-]+$",
    },
}


def template(watched: Watched) -> dict[str, Any]:
    parameters: dict[str, Any] = dict(_NAMING)
    conditions: dict[str, Any] = {}
    resources: dict[str, Any] = {}
    for function in watched.functions:
        parameters[function.parameter] = {
            "Type": "Number",
            "Description": (
                f"ConcurrentExecutions of {function.slug} that raises its near-limit alarm: 80 % of its reserved "
                "concurrency, rounded up (0: no alarm, for no reservation or a reservation of 1). Generated per "
                "environment by `platformctl platform-alarms --write`."
            ),
            "Default": threshold(function.default),
            "MinValue": 0,
        }
        conditions[_condition(function)] = {"Fn::Not": [{"Fn::Equals": [_ref(function.parameter), 0]}]}
    for table in watched.tables:
        resources.update(_table_alarms(table))
    resources.update(_crawler_resources(watched.crawlers))
    for function in watched.functions:
        resources.update(_function_alarm(function))
    body: dict[str, Any] = {
        "AWSTemplateFormatVersion": "2010-09-09",
        "Description": (
            "Shopify data platform - alarms generated from the manifest: DynamoDB throttling and system errors "
            "per table, Glue crawler failures, Lambda concurrency near its reservation."
        ),
        "Parameters": parameters,
    }
    if conditions:
        body["Conditions"] = conditions
    body["Resources"] = resources
    if watched.crawlers:
        body["Outputs"] = {
            "GlueCrawlerFailedRuleName": {
                "Description": "The EventBridge rule that notifies the alerts topic of a failed crawler run.",
                "Value": _ref("GlueCrawlerFailedRule"),
            }
        }
    return body


class _Dumper(yaml.SafeDumper):
    """Block YAML with indented sequences and no anchors (a name repeated is written out again)."""

    def ignore_aliases(self, data: Any) -> bool:
        return True

    def increase_indent(self, flow: bool = False, indentless: bool = False) -> None:
        super().increase_indent(flow, False)


def render(manifest: Manifest, output: Path | None = None) -> str:
    body = template(collect(manifest, output))
    return HEADER + yaml.dump(body, Dumper=_Dumper, sort_keys=False, width=110, allow_unicode=True)


def parameter_files(manifest: Manifest, output: Path | None = None) -> dict[Path, str]:
    """Each environment's parameter file of the stack: the concurrency thresholds of that environment."""
    watched = collect(manifest, output)
    [stack] = [s for s in manifest.stacks if s.key == STACK_KEY]
    files = {}
    for environment in manifest.environments():
        entries = [
            {"ParameterKey": f.parameter, "ParameterValue": str(threshold(f.reserved[environment]))}
            for f in watched.functions
        ]
        lines = [json.dumps(entry) for entry in entries]
        text = "[\n" + ",\n".join(f"  {line}" for line in lines) + "\n]\n" if lines else "[]\n"
        files[stack.parameter_file(environment)] = text
    return files


def outputs(manifest: Manifest, output: Path | None = None) -> dict[Path, str]:
    """Every file the generator writes, by path."""
    output = output or OUTPUT_PATH
    return {output: render(manifest, output), **parameter_files(manifest, output)}


def stale_files(manifest: Manifest, output: Path | None = None) -> list[Path]:
    """The committed files that differ from what the templates imply."""
    return [
        path
        for path, text in outputs(manifest, output).items()
        if not path.is_file() or path.read_text(encoding="utf-8") != text
    ]
