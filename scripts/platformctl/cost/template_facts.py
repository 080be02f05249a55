"""What the cost model reads from the templates, resolved with an environment's parameter files: each
function's memory and log retention, the schedules (bulk export, Glue job, crawlers, Triple Whale, data
quality), the Glue job's workers, retention settings, and the resources billed per month (KMS keys,
secrets, alarms, dashboards). Nothing here is a second list: change a template or a parameter file and the
estimate follows.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from platformctl.cost.schedules import runs_per_day
from platformctl.manifest import Manifest, Stack
from platformctl.params import check_parameters, template_parameters
from platformctl.templates import load_template

NAME_PREFIX = "${Brand}-${Environment}-"
# DPUs per Glue worker type (AWS Glue Developer Guide, "Defining job properties for Spark jobs").
WORKER_DPUS = {"G.025X": 0.25, "G.1X": 1.0, "G.2X": 2.0, "G.4X": 4.0, "G.8X": 8.0}


@dataclass(frozen=True)
class Function:
    name: str  # without the brand-environment prefix, e.g. "shopify-order-processor"
    memory_mb: int
    log_retention_days: int


@dataclass(frozen=True)
class GlueJob:
    name: str  # without the brand-environment prefix, e.g. "orders-enriched"
    dpus: float  # workers x DPUs per worker
    runs_per_day: float  # from the schedule that starts it (0: not scheduled)


@dataclass
class Facts:
    environment: str
    functions: dict[str, Function] = field(default_factory=dict)
    schedules: dict[str, float] = field(default_factory=dict)  # what -> runs per day
    glue_jobs: dict[str, GlueJob] = field(default_factory=dict)
    crawlers: int = 0
    parameters: dict[str, str] = field(default_factory=dict)  # "<job>/<stack>.<Parameter>" -> value
    counts: dict[str, int] = field(default_factory=dict)  # resource type -> how many

    def parameter(self, stack: str, name: str) -> str:
        return self.parameters[f"{stack}.{name}"]


def _values(stack: Stack, environment: str) -> dict[str, str]:
    values = {name: str(spec.get("Default", "")) for name, spec in template_parameters(stack).items()}
    values.update(check_parameters(stack, environment).values)
    return values


def _resolve(value: Any, values: dict[str, str]) -> Any:
    if isinstance(value, dict) and set(value) == {"Ref"}:
        return values.get(str(value["Ref"]), value)
    return value


def _function_name(properties: dict[str, Any], key: str = "FunctionName") -> str | None:
    name = properties.get(key)
    text = name.get("Fn::Sub") if isinstance(name, dict) else name
    return text[len(NAME_PREFIX) :] if isinstance(text, str) and text.startswith(NAME_PREFIX) else None


def collect(manifest: Manifest, environment: str = "prod") -> Facts:
    facts = Facts(environment)
    for stack in manifest.stacks:
        if stack.bootstrap:
            continue
        values = _values(stack, environment)
        for name, value in values.items():
            facts.parameters[f"{stack.key}.{name}"] = value
        resources = load_template(stack.template_path).get("Resources") or {}
        retention = _log_retention(resources, values)
        for logical, resource in resources.items():
            kind = str(resource.get("Type", ""))
            facts.counts[kind] = facts.counts.get(kind, 0) + 1
            properties = resource.get("Properties") or {}
            function = _function_name(properties) if kind == "AWS::Lambda::Function" else None
            if function:
                memory = int(_resolve(properties.get("MemorySize", 128), values))
                default_retention = int(values.get("LogRetentionDays") or 0)
                facts.functions[function] = Function(function, memory, retention.get(logical, default_retention))
            elif kind == "AWS::Glue::Job":
                workers = float(_resolve(properties.get("NumberOfWorkers", 0), values))
                dpus = workers * WORKER_DPUS.get(str(properties.get("WorkerType")), 1.0)
                name = _function_name(properties, "Name") or logical
                facts.glue_jobs[name] = GlueJob(name, dpus, _job_runs_per_day(resources, logical, values))
            elif kind == "AWS::Glue::Crawler":
                facts.crawlers += 1
                schedule = (properties.get("Schedule") or {}).get("ScheduleExpression")
                facts.schedules["glue_crawler"] = runs_per_day(str(_resolve(schedule, values) or ""))
    for what, (stack_key, parameter) in SCHEDULES.items():
        facts.schedules[what] = runs_per_day(facts.parameters.get(f"{stack_key}.{parameter}", ""))
    return facts


def _job_runs_per_day(resources: dict[str, Any], job_logical_id: str, values: dict[str, str]) -> float:
    """Runs a day of a Glue job: the EventBridge Scheduler schedules of its template whose target input
    names the job (``{"JobName": "${Job}"}``)."""
    runs = 0.0
    for resource in resources.values():
        if resource.get("Type") != "AWS::Scheduler::Schedule":
            continue
        properties = resource.get("Properties") or {}
        target_input = (properties.get("Target") or {}).get("Input")
        text = target_input.get("Fn::Sub") if isinstance(target_input, dict) else target_input
        if isinstance(text, str) and "${" + job_logical_id + "}" in text:
            runs += runs_per_day(str(_resolve(properties.get("ScheduleExpression"), values) or ""))
    return runs


# Schedules that are template parameters (empty: not scheduled).
SCHEDULES = {
    "bulk_export": ("shopify/bulk-workflow", "BulkWorkflowScheduleExpression"),
    "triplewhale": ("triplewhale/ingestion", "TripleWhaleScheduleExpression"),
    "data_quality": ("data-quality/data-quality", "DataQualityScheduleExpression"),
}


def _log_retention(resources: dict[str, Any], values: dict[str, str]) -> dict[str, int]:
    """Function logical id -> RetentionInDays of the log group named after it (``/aws/lambda/${Function}``)."""
    found = {}
    for resource in resources.values():
        if resource.get("Type") != "AWS::Logs::LogGroup":
            continue
        properties = resource.get("Properties") or {}
        name = properties.get("LogGroupName")
        text = name.get("Fn::Sub") if isinstance(name, dict) else None
        match = re.fullmatch(r"/aws/lambda/\$\{(\w+)\}", text or "")
        days = _resolve(properties.get("RetentionInDays"), values)
        if match and days not in (None, ""):
            found[match[1]] = int(days)
    return found
