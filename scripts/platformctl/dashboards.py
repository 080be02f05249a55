"""CloudWatch dashboards generated from the manifest: ``infrastructure/monitoring/dashboards.yaml``.

The generator reads ``ci/ingestion_jobs.json``, every template it lists and the data-quality checks
(``data-ingestion/data-quality/checks.json``) and collects, per job, the Lambda functions, SQS queues,
DynamoDB tables (its own and those the manifest feeds it), state machines, HTTP APIs, Glue jobs,
EventBridge rules, CloudWatch alarms and SNS topics, by the names the templates give them
(``!Sub ${Brand}-${Environment}-...``). It writes one CloudFormation template with an overview dashboard
and one dashboard per job; the names stay Sub expressions, so one file serves every brand, environment,
region and partition. The file is committed; ``platformctl dashboards --check`` and a template test fail
when it differs from what the templates imply, so a new function, queue, table, state machine or alarm
appears on a dashboard without anybody editing one.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from platformctl.errors import UserError
from platformctl.manifest import REPO_ROOT, Manifest, Stack
from platformctl.templates import load_template

OUTPUT_PATH = REPO_ROOT / "infrastructure" / "monitoring" / "dashboards.yaml"
CHECKS_PATH = REPO_ROOT / "data-ingestion" / "data-quality" / "checks.json"

# CloudWatch's limits on a dashboard body (CloudWatch API reference, "Dashboard Body Structure and Syntax",
# and the CloudWatch service quotas): 500 widgets a dashboard (it was 100: we keep to the older, lower
# figure), 500 metrics a graph, 2,500 metrics a dashboard, 100 alarms an alarm-status widget.
MAX_WIDGETS = 100
MAX_METRICS_PER_WIDGET = 500
MAX_METRICS_PER_DASHBOARD = 2500
MAX_ALARMS_PER_WIDGET = 100
# CloudFormation's limit on a template uploaded through S3 (the deploy tool uploads templates over 51,200 bytes).
MAX_TEMPLATE_BYTES = 1_000_000

# The data-quality function's metrics (lambdas/data_quality/checks/report.py), per check type.
DQ_MEASURE = {
    "freshness": "FreshnessAgeHours",
    "bulk_freshness": "FreshnessAgeHours",
    "quarantine": "QuarantinedObjects",
    "bulk_manifest": "BulkRunsFailed",
    "webhook_coverage": "WebhookCoverage",
    "volume_anomaly": "VolumeRatio",
}
DQ_TOTALS = ("ChecksFailed", "ChecksPassed", "ChecksSkipped")

PERIOD = 300
HOURLY = 3600
REGION = "${AWS::Region}"
ARN_PREFIX = "arn:${AWS::Partition}"
# Variables a generated name may use: the dashboards stack has these and nothing else.
SUB_VARIABLES = {"Brand", "Environment", "AWS::Region", "AWS::AccountId", "AWS::Partition", "AWS::URLSuffix"}
_SUB_VARIABLE = re.compile(r"\$\{([^!}][^}]*)\}")


# ---------------------------------------------------------------------------------------- collection


@dataclass(frozen=True)
class Rule:
    name: str
    custom_bus: bool  # on a bus other than the default one: its metrics carry EventBusName too


@dataclass(frozen=True)
class Api:
    name: str
    access_log_group: str


@dataclass(frozen=True)
class GlueJob:
    name: str
    run_rules: tuple[str, ...]  # rules on the job's Glue Job State Change events (its runs, by outcome)


@dataclass(frozen=True)
class Check:
    id: str
    metric: str


@dataclass
class JobResources:
    """What one job of the manifest runs, by the (Sub) names its templates give it."""

    job: str
    description: str
    functions: list[str] = field(default_factory=list)
    queues: list[str] = field(default_factory=list)
    tables: list[str] = field(default_factory=list)
    state_machines: list[str] = field(default_factory=list)
    apis: list[Api] = field(default_factory=list)
    glue_jobs: list[GlueJob] = field(default_factory=list)
    rules: list[Rule] = field(default_factory=list)
    alarms: list[str] = field(default_factory=list)
    topics: list[str] = field(default_factory=list)
    checks: list[Check] = field(default_factory=list)

    @property
    def dead_letter_queues(self) -> list[str]:
        return [q for q in self.queues if "dlq" in q.lower() or "dead" in q.lower()]

    @property
    def has_dashboard(self) -> bool:
        return bool(
            self.functions
            or self.queues
            or self.tables
            or self.state_machines
            or self.apis
            or self.glue_jobs
            or self.alarms
            or self.checks
        )


def _sub_text(value: Any, where: str) -> str:
    """A resource name as Sub text: a literal, or a ``!Sub`` of Brand/Environment/pseudo parameters only."""
    if isinstance(value, str):
        if "${" in value:
            raise UserError(f"{where}: a literal name must not contain '${{'")
        return value
    text = value.get("Fn::Sub") if isinstance(value, dict) else None
    if not isinstance(text, str):
        raise UserError(
            f"{where}: name it with a string or !Sub of ${{Brand}}/${{Environment}} so a dashboard can show it"
        )
    unknown = sorted(set(_SUB_VARIABLE.findall(text)) - SUB_VARIABLES)
    if unknown:
        raise UserError(f"{where}: its name uses {unknown}; a dashboard only knows Brand, Environment and AWS::*")
    return text


def _refs(node: Any) -> set[str]:
    """Logical ids a node refers to through Ref or GetAtt."""
    found: set[str] = set()
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "Ref" and isinstance(value, str):
                found.add(value)
            elif key == "Fn::GetAtt":
                found.add(str(value[0] if isinstance(value, list) else str(value).split(".")[0]))
            else:
                found |= _refs(value)
    elif isinstance(node, list):
        for item in node:
            found |= _refs(item)
    return found


def _resources(template: dict[str, Any], kind: str) -> Iterator[tuple[str, dict[str, Any]]]:
    for logical_id, body in template["Resources"].items():
        if isinstance(body, dict) and body.get("Type") == kind:
            yield logical_id, dict(body.get("Properties") or {})


def _name(template: dict[str, Any], where: str, logical_id: str, key: str) -> str:
    properties = template["Resources"][logical_id].get("Properties") or {}
    if key not in properties:
        raise UserError(f"{where}: {logical_id} has no {key}; name it so a dashboard can show it")
    return _sub_text(properties[key], f"{where}: {logical_id}.{key}")


def _collect_stack(stack: Stack, template: dict[str, Any], into: JobResources) -> None:
    where = stack.template

    def names(kind: str, key: str) -> list[str]:
        return [_name(template, where, logical_id, key) for logical_id, _ in _resources(template, kind)]

    into.functions += names("AWS::Lambda::Function", "FunctionName")
    into.queues += names("AWS::SQS::Queue", "QueueName")
    into.tables += names("AWS::DynamoDB::Table", "TableName")
    into.state_machines += names("AWS::StepFunctions::StateMachine", "StateMachineName")
    into.alarms += names("AWS::CloudWatch::Alarm", "AlarmName")
    into.topics += names("AWS::SNS::Topic", "TopicName")

    rules = dict(_resources(template, "AWS::Events::Rule"))
    for logical_id, properties in rules.items():
        into.rules.append(Rule(_name(template, where, logical_id, "Name"), "EventBusName" in properties))

    for logical_id, _ in _resources(template, "AWS::Glue::Job"):
        run_rules = tuple(
            _name(template, where, rule_id, "Name")
            for rule_id, rule in rules.items()
            if "aws.glue" in (rule.get("EventPattern") or {}).get("source", [])
            and logical_id in _refs((rule.get("EventPattern") or {}).get("detail"))
        )
        into.glue_jobs.append(GlueJob(_name(template, where, logical_id, "Name"), run_rules))

    stages = list(_resources(template, "AWS::ApiGatewayV2::Stage"))
    for logical_id, properties in _resources(template, "AWS::ApiGatewayV2::Api"):
        if properties.get("ProtocolType") != "HTTP":
            continue
        # HTTP API metrics carry only the generated ApiId, which a stack deployed before the API cannot know:
        # the dashboards read the stage's access log instead, whose log group the template names.
        groups = [
            group
            for _, stage in stages
            if logical_id in _refs(stage.get("ApiId"))
            for group in _refs((stage.get("AccessLogSettings") or {}).get("DestinationArn"))
        ]
        if not groups:
            raise UserError(f"{where}: HTTP API {logical_id} has no stage with an access log for its dashboard")
        into.apis.append(
            Api(_name(template, where, logical_id, "Name"), _name(template, where, groups[0], "LogGroupName"))
        )


def _fed_tables(stack: Stack, templates: dict[str, dict[str, Any]], manifest: Manifest) -> list[str]:
    """Tables of earlier stacks whose names the manifest feeds this stack (the shared hot stores)."""
    found = []
    by_key = {s.key: s for s in manifest.stacks}
    for ref in stack.inputs.values():
        source = by_key[f"{ref.job}/{ref.stack}"]
        template = templates[source.key]
        output = (template.get("Outputs") or {}).get(ref.output) or {}
        for logical_id in _refs(output.get("Value")):
            body = template["Resources"].get(logical_id) or {}
            if body.get("Type") == "AWS::DynamoDB::Table":
                found.append(_name(template, source.template, logical_id, "TableName"))
    return found


def _checks(jobs: Sequence[JobResources], path: Path) -> None:
    """Each data-quality check goes to the job of its source (``shopify-bulk`` is the shopify job's), and
    all of them to the data-quality job."""
    try:
        spec = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise UserError(f"{path}: cannot read the data-quality checks: {exc}") from None
    names = [job.job for job in jobs]
    for raw in spec.get("checks", []):
        metric = DQ_MEASURE.get(str(raw.get("type")))
        if metric is None:
            raise UserError(f"{path}: check {raw.get('id')}: type {raw.get('type')!r} has no metric known here")
        check = Check(str(raw["id"]), metric)
        source = str(raw.get("source", ""))
        owners = [n for n in names if source == n or source.startswith(f"{n}-")]
        for job in jobs:
            if job.job in owners or job.job == "data-quality":
                job.checks.append(check)


def collect(manifest: Manifest, checks_path: Path | None = None, output: Path | None = None) -> list[JobResources]:
    """Every job's resources; ``output`` (the generated template, itself in the manifest) is skipped."""
    output = output or OUTPUT_PATH
    checks_path = checks_path or CHECKS_PATH
    stacks = [s for s in manifest.stacks if s.template_path != output]
    templates = {s.key: load_template(s.template_path) for s in stacks}
    jobs = []
    for job in manifest.jobs:
        resources = JobResources(job.name, job.description)
        for stack in job.stacks:
            if stack.template_path == output:
                continue
            _collect_stack(stack, templates[stack.key], resources)
            resources.tables += [t for t in _fed_tables(stack, templates, manifest) if t not in resources.tables]
        jobs.append(resources)
    if checks_path.is_file():
        _checks(jobs, checks_path)
    return jobs


# ------------------------------------------------------------------------------------------ widgets


def _short(name: str) -> str:
    """A label: the name without its ${Brand}-${Environment}- prefix."""
    return re.sub(r"^\$\{Brand\}-(\$\{Environment\}-)?", "", name)


def _metric_widget(
    title: str,
    metrics: list[list[Any]],
    *,
    stat: str = "Sum",
    period: int = PERIOD,
    width: int = 8,
    height: int = 6,
    stacked: bool = False,
) -> dict[str, Any]:
    return {
        "type": "metric",
        "width": width,
        "height": height,
        "properties": {
            "title": title,
            "region": REGION,
            "view": "timeSeries",
            "stacked": stacked,
            "stat": stat,
            "period": period,
            "metrics": metrics,
        },
    }


def _text(markdown: str, height: int = 2) -> dict[str, Any]:
    return {"type": "text", "width": 24, "height": height, "properties": {"markdown": markdown}}


def _alarm_arn(name: str) -> str:
    return f"{ARN_PREFIX}:cloudwatch:{REGION}:${{AWS::AccountId}}:alarm:{name}"


def _state_machine_arn(name: str) -> str:
    return f"{ARN_PREFIX}:states:{REGION}:${{AWS::AccountId}}:stateMachine:{name}"


def _alarm_widgets(title: str, alarms: Sequence[str], states: Sequence[str] = ()) -> list[dict[str, Any]]:
    widgets = []
    for start in range(0, len(alarms), MAX_ALARMS_PER_WIDGET):
        chunk = alarms[start : start + MAX_ALARMS_PER_WIDGET]
        properties: dict[str, Any] = {
            "title": title if start == 0 else f"{title} ({start // MAX_ALARMS_PER_WIDGET + 1})",
            "alarms": [_alarm_arn(a) for a in chunk],
            "sortBy": "stateUpdatedTimestamp",
        }
        if states:
            properties["states"] = list(states)
        widgets.append({"type": "alarm", "width": 24, "height": 2 + (len(chunk) + 3) // 4, "properties": properties})
    return widgets


def _search(dimensions: str, metric: str, filters: dict[str, str], label: str, id_: str) -> dict[str, Any]:
    """A SEARCH expression: for metrics whose full dimension set a template cannot name (Operation, EventBusName)."""
    terms = " ".join(f'{key}="{value}"' for key, value in filters.items())
    expression = f"SEARCH('{{{dimensions}}} MetricName=\"{metric}\" {terms}', 'Sum', {PERIOD})"
    return {"expression": expression, "label": label, "id": id_}


def _rule_metric(rule: Rule, metric: str, id_: str) -> list[Any]:
    if rule.custom_bus:
        return [_search("AWS/Events,EventBusName,RuleName", metric, {"RuleName": rule.name}, metric, id_)]
    return ["AWS/Events", metric, "RuleName", rule.name, {"label": metric, "id": id_}]


def _function_widgets(function: str) -> list[dict[str, Any]]:
    label = _short(function)

    def m(metric: str, **options: Any) -> list[Any]:
        return ["AWS/Lambda", metric, "FunctionName", function, options]

    return [
        _metric_widget(
            f"{label}: invocations, errors, throttles",
            [m("Invocations", label="Invocations"), m("Errors", label="Errors"), m("Throttles", label="Throttles")],
        ),
        _metric_widget(
            f"{label}: duration (ms)",
            [m("Duration", stat=s, label=s) for s in ("p50", "p90", "p99")],
            stat="p99",
        ),
        _metric_widget(
            f"{label}: concurrent executions",
            [m("ConcurrentExecutions", label="ConcurrentExecutions")],
            stat="Maximum",
        ),
    ]


def _state_machine_widget(name: str, width: int = 12) -> dict[str, Any]:
    statuses = (
        "ExecutionsStarted",
        "ExecutionsSucceeded",
        "ExecutionsFailed",
        "ExecutionsTimedOut",
        "ExecutionsAborted",
    )
    arn = _state_machine_arn(name)
    return _metric_widget(
        f"{_short(name)}: executions by status",
        [["AWS/States", s, "StateMachineArn", arn, {"label": s.removeprefix("Executions")}] for s in statuses],
        period=HOURLY,
        width=width,
    )


def _api_widget(api: Api) -> dict[str, Any]:
    # status is a string in the access-log format, so the 4xx/5xx counts test its first character.
    query = (
        f"SOURCE '{api.access_log_group}' | fields substr(status, 0, 1) as class"
        " | stats count(*) as requests, sum(strcontains(class, '4')) as http4xx,"
        " sum(strcontains(class, '5')) as http5xx, pct(responseLatency, 99) as latencyP99ms by bin(5m)"
    )
    return {
        "type": "log",
        "width": 12,
        "height": 6,
        "properties": {
            "title": f"{_short(api.name)} (HTTP API): requests, 4xx, 5xx, latency p99 (access log)",
            "region": REGION,
            "view": "timeSeries",
            "stacked": False,
            "query": query,
        },
    }


def _glue_widgets(job: GlueJob) -> list[dict[str, Any]]:
    label = _short(job.name)
    runs: list[list[Any]] = [
        ["AWS/Events", "TriggeredRules", "RuleName", rule, {"label": f"{_short(rule)} (rule)"}]
        for rule in job.run_rules
    ]
    observed = ("JobName", job.name, "JobRunId", "ALL", "Type", "count", "ObservabilityGroup", "error")
    runs += [
        ["Glue", "glue.succeed.ALL", *observed, {"label": "succeeded (job observability)"}],
        ["Glue", "glue.error.ALL", *observed, {"label": "failed (job observability)"}],
    ]
    return [
        _metric_widget(f"{label} (Glue job): runs", runs, period=HOURLY),
        _metric_widget(
            f"{label} (Glue job): ETL elapsed time (ms)",
            [
                [
                    "Glue",
                    "glue.driver.aggregate.elapsedTime",
                    *("JobName", job.name, "JobRunId", "ALL", "Type", "count"),
                    {"label": "elapsedTime"},
                ]
            ],
            stat="Maximum",
            period=HOURLY,
        ),
        _metric_widget(
            f"{label} (Glue job): worker utilization",
            [
                [
                    "Glue",
                    "glue.driver.workerUtilization",
                    *("JobName", job.name, "JobRunId", "ALL", "Type", "gauge"),
                    *("ObservabilityGroup", "resource_utilization"),
                    {"label": "workerUtilization"},
                ]
            ],
            stat="Average",
            period=HOURLY,
        ),
    ]


def _queue_widget(queue: str) -> dict[str, Any]:
    return _metric_widget(
        f"{_short(queue)} (queue)",
        [
            [
                "AWS/SQS",
                "ApproximateNumberOfMessagesVisible",
                "QueueName",
                queue,
                {"stat": "Maximum", "label": "visible"},
            ],
            [
                "AWS/SQS",
                "ApproximateAgeOfOldestMessage",
                "QueueName",
                queue,
                {"stat": "Maximum", "label": "oldest (s)", "yAxis": "right"},
            ],
            ["AWS/SQS", "NumberOfMessagesSent", "QueueName", queue, {"label": "sent"}],
        ],
    )


def _table_widgets(table: str) -> list[dict[str, Any]]:
    label = _short(table)
    capacity = [
        ["AWS/DynamoDB", metric, "TableName", table, {"label": metric}]
        for metric in ("ConsumedReadCapacityUnits", "ConsumedWriteCapacityUnits")
    ]
    # ThrottledRequests and SystemErrors are published per TableName and Operation.
    errors: list[list[Any]] = [
        ["AWS/DynamoDB", metric, "TableName", table, {"label": metric}]
        for metric in ("ReadThrottleEvents", "WriteThrottleEvents")
    ]
    errors += [
        [_search("AWS/DynamoDB,Operation,TableName", metric, {"TableName": table}, metric, f"e{index}")]
        for index, metric in enumerate(("ThrottledRequests", "SystemErrors"))
    ]
    return [
        _metric_widget(f"{label} (table): consumed capacity", capacity),
        _metric_widget(f"{label} (table): throttles and system errors", errors),
    ]


def _check_widget(title: str, checks: Sequence[Check], metric: str, width: int = 8) -> dict[str, Any]:
    return _metric_widget(
        title,
        [["${Brand}/DataQuality", metric, "Check", c.id, {"label": c.id}] for c in checks if c.metric == metric],
        stat="Maximum",
        period=HOURLY,
        width=width,
    )


def _link(job: str) -> str:
    return f"[{job}](#dashboards:name=${{Brand}}-${{Environment}}-{job})"


def job_widgets(job: JobResources) -> list[dict[str, Any]]:
    widgets = [
        _text(
            f"# ${{Brand}} ${{Environment}}: {job.job}\n{job.description}\n\n"
            "Generated from ci/ingestion_jobs.json by `platformctl dashboards --write`: change the templates, "
            f"not this dashboard. Back to the {_link('overview')}.",
            height=3,
        )
    ]
    widgets += _alarm_widgets(f"{job.job}: alarms", job.alarms)
    for function in job.functions:
        widgets += _function_widgets(function)
    for rule in job.rules:
        widgets.append(
            _metric_widget(
                f"{_short(rule.name)} (rule): deliveries",
                [
                    _rule_metric(rule, m, f"r{i}")
                    for i, m in enumerate(("TriggeredRules", "Invocations", "FailedInvocations"))
                ],
            )
        )
    widgets += [_state_machine_widget(sm) for sm in job.state_machines]
    widgets += [_api_widget(api) for api in job.apis]
    for glue_job in job.glue_jobs:
        widgets += _glue_widgets(glue_job)
    widgets += [_queue_widget(q) for q in job.queues]
    for table in job.tables:
        widgets += _table_widgets(table)
    for metric in sorted({c.metric for c in job.checks}):
        widgets.append(_check_widget(f"data quality: {metric} per check", job.checks, metric))
    if job.job == "data-quality":
        widgets.append(
            _metric_widget(
                "data quality: runs and results",
                [["${Brand}/DataQuality", m, {"label": m}] for m in (*DQ_TOTALS, "Runs")],
                stat="Maximum",
                period=HOURLY,
            )
        )
    return widgets


def _sum_widget(title: str, namespace: str, metric: str, dimension: str, names: Sequence[str]) -> dict[str, Any]:
    """One line: the sum of a metric over several resources (each also on its job's dashboard)."""
    metrics: list[list[Any]] = [
        [namespace, metric, dimension, name, {"id": f"m{i}", "visible": False}] for i, name in enumerate(names)
    ]
    ids = ",".join(f"m{i}" for i in range(len(names)))
    metrics.append([{"expression": f"SUM([{ids}])", "label": metric, "id": "total"}])
    return _metric_widget(title, metrics, width=6)


def overview_widgets(jobs: Sequence[JobResources]) -> list[dict[str, Any]]:
    pages = " - ".join(_link(job.job) for job in jobs if job.has_dashboard)
    widgets = [
        _text(
            "# ${Brand} ${Environment}: data platform overview\n"
            f"Per source: {pages}. Generated by `platformctl dashboards --write` from ci/ingestion_jobs.json.",
        )
    ]
    widgets += _alarm_widgets("alarms in ALARM", [a for job in jobs for a in job.alarms], states=("ALARM",))
    widgets.append(
        _metric_widget(
            "data quality: checks failed, passed, skipped (last run)",
            [["${Brand}/DataQuality", m, {"label": m}] for m in DQ_TOTALS],
            stat="Maximum",
            period=HOURLY,
            width=12,
        )
    )
    topics = [t for job in jobs for t in job.topics]
    widgets.append(
        _metric_widget(
            "alerts topic: published, failed deliveries",
            [
                ["AWS/SNS", m, "TopicName", t, {"label": f"{_short(t)} {m}"}]
                for t in topics
                for m in ("NumberOfMessagesPublished", "NumberOfNotificationsFailed")
            ],
            width=12,
        )
    )
    widgets += [_state_machine_widget(sm) for job in jobs for sm in job.state_machines]
    for job in jobs:
        row = []
        if job.functions:
            row.append(
                _sum_widget(
                    f"{job.job}: events in (invocations)", "AWS/Lambda", "Invocations", "FunctionName", job.functions
                )
            )
            row.append(_sum_widget(f"{job.job}: errors", "AWS/Lambda", "Errors", "FunctionName", job.functions))
        if job.dead_letter_queues:
            row.append(
                _metric_widget(
                    f"{job.job}: DLQ depth",
                    [
                        ["AWS/SQS", "ApproximateNumberOfMessagesVisible", "QueueName", q, {"label": _short(q)}]
                        for q in job.dead_letter_queues
                    ],
                    stat="Maximum",
                    width=6,
                )
            )
        freshness = [c for c in job.checks if c.metric == "FreshnessAgeHours"]
        if freshness and job.job != "data-quality":
            row.append(_check_widget(f"{job.job}: freshness (hours)", freshness, "FreshnessAgeHours", width=6))
        if row:
            widgets.append(_text(f"## {job.job} - {_link(job.job)}", height=1))
            widgets += row
    return widgets


# ------------------------------------------------------------------------------------- the template


def layout(widgets: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """Place widgets left to right on the 24-column grid; a widget that does not fit starts a new row."""
    placed = []
    x = y = row_height = 0
    for widget in widgets:
        if x + widget["width"] > 24:
            x, y, row_height = 0, y + row_height, 0
        placed.append({"type": widget["type"], "x": x, "y": y, **{k: v for k, v in widget.items() if k != "type"}})
        x += widget["width"]
        row_height = max(row_height, widget["height"])
    return placed


def body_text(widgets: Sequence[dict[str, Any]]) -> str:
    """The DashboardBody (Sub text): one widget a line, so a change shows as a line in a diff."""
    lines = [json.dumps(w, separators=(",", ":")) for w in layout(widgets)]
    return '{"start":"-PT12H","periodOverride":"inherit","widgets":[\n' + ",\n".join(lines) + "\n]}"


def metric_count(widget: dict[str, Any]) -> int:
    return len(widget.get("properties", {}).get("metrics", []))


def check_limits(name: str, widgets: Sequence[dict[str, Any]], body: str) -> list[str]:
    problems = []
    if len(widgets) > MAX_WIDGETS:
        problems.append(f"dashboard {name}: {len(widgets)} widgets (at most {MAX_WIDGETS})")
    if sum(metric_count(w) for w in widgets) > MAX_METRICS_PER_DASHBOARD:
        problems.append(f"dashboard {name}: more than {MAX_METRICS_PER_DASHBOARD} metrics")
    for widget in widgets:
        title = widget["properties"].get("title", "")
        if metric_count(widget) > MAX_METRICS_PER_WIDGET:
            problems.append(f"dashboard {name}: widget {title!r} has more than {MAX_METRICS_PER_WIDGET} metrics")
        if len(widget["properties"].get("alarms", [])) > MAX_ALARMS_PER_WIDGET:
            problems.append(f"dashboard {name}: widget {title!r} has more than {MAX_ALARMS_PER_WIDGET} alarms")
    if "${" in re.sub(r"\$\{(?:Brand|Environment|AWS::[A-Za-z]+)\}", "", body):
        problems.append(f"dashboard {name}: the body has a '${{' that Fn::Sub would try to resolve")
    return problems


def _logical_id(job: str) -> str:
    return "".join(part.capitalize() for part in re.split(r"[^a-zA-Z0-9]+", job) if part) + "Dashboard"


def dashboards(jobs: Sequence[JobResources]) -> list[tuple[str, str, list[dict[str, Any]]]]:
    """(logical id, dashboard name as Sub text, widgets) of every dashboard."""
    found = [("OverviewDashboard", "${Brand}-${Environment}-overview", overview_widgets(jobs))]
    found += [
        (_logical_id(j.job), f"${{Brand}}-${{Environment}}-{j.job}", job_widgets(j)) for j in jobs if j.has_dashboard
    ]
    return found


HEADER = """\
# GENERATED by `platformctl dashboards --write` from ci/ingestion_jobs.json, the templates it lists and
# data-ingestion/data-quality/checks.json. Do not edit: change those and regenerate (`make test` fails
# while this file is stale). What each dashboard shows: docs/operations.md.
AWSTemplateFormatVersion: "2010-09-09"
Description: >-
  Shopify data platform - CloudWatch dashboards: an overview (per source: events in, errors, DLQ depth,
  freshness, workflow executions, data-quality result, alarms in ALARM) and one dashboard per job.

Parameters:
  Brand:
    Type: String
    Description: Short lower-case brand name; prefixes every resource name.
    AllowedPattern: ^[a-z][a-z0-9-]{1,20}$
    ConstraintDescription: 2-21 characters, lower-case letters, digits and hyphens, starting with a letter.
  Environment:
    Type: String
    Description: Environment name (local, prod, ...).
    AllowedPattern: ^[a-z][a-z0-9-]{1,15}$
    ConstraintDescription: 2-16 characters, lower-case letters, digits and hyphens, starting with a letter.

Resources:
"""


def render(manifest: Manifest, checks_path: Path | None = None, output: Path | None = None) -> str:
    jobs = collect(manifest, checks_path, output)
    parts = [HEADER]
    problems = []
    outputs = ["", "Outputs:"]
    for logical_id, name, widgets in dashboards(jobs):
        body = body_text(widgets)
        problems += check_limits(name, widgets, body)
        indented = "\n".join(f"          {line}" for line in body.splitlines())
        parts.append(
            f"  {logical_id}:\n"
            "    Type: AWS::CloudWatch::Dashboard\n"
            "    Properties:\n"
            f"      DashboardName: !Sub {name}\n"
            "      DashboardBody:\n"
            "        Fn::Sub: |-\n"
            f"{indented}\n\n"
        )
        outputs.append(f"  {logical_id}Name:\n    Description: Name of the dashboard.\n    Value: !Ref {logical_id}")
    if problems:
        raise UserError("; ".join(problems))
    text = "".join(parts).rstrip("\n") + "\n" + "\n".join(outputs) + "\n"
    if len(text.encode("utf-8")) > MAX_TEMPLATE_BYTES:
        raise UserError(f"the dashboards template would be over {MAX_TEMPLATE_BYTES} bytes: split the dashboards")
    return text


def stale(manifest: Manifest, checks_path: Path | None = None, output: Path | None = None) -> bool:
    """Whether the committed file differs from what the templates imply."""
    output = output or OUTPUT_PATH
    current = output.read_text(encoding="utf-8") if output.is_file() else ""
    return current != render(manifest, checks_path, output)
