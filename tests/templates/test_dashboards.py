"""The generated dashboards (infrastructure/monitoring/dashboards.yaml): current, complete, valid, small enough.

Every function, queue, table, state machine, HTTP API, Glue job and alarm of the manifest's stacks appears
on a dashboard; each DashboardBody is valid CloudWatch dashboard JSON once Fn::Sub has resolved it; the
bodies keep within CloudWatch's limits; and the committed file is what the templates imply today.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from platformctl import dashboards
from platformctl.manifest import REPO_ROOT, Manifest
from platformctl.templates import load_template
from tests.templates.cfn import iter_resources

SUBSTITUTIONS = {
    "Brand": "acme",
    "Environment": "prod",
    "AWS::Region": "eu-west-1",
    "AWS::AccountId": "123456789012",
    "AWS::Partition": "aws",
    "AWS::URLSuffix": "amazonaws.com",
}
STATS = {"SampleCount", "Average", "Sum", "Minimum", "Maximum"}
PERCENTILE = re.compile(r"^p\d{1,2}(\.\d+)?$")
WIDGET_TYPES = {"metric", "text", "alarm", "log"}
NAMED = {
    "AWS::Lambda::Function": "FunctionName",
    "AWS::SQS::Queue": "QueueName",
    "AWS::DynamoDB::Table": "TableName",
    "AWS::StepFunctions::StateMachine": "StateMachineName",
    "AWS::ApiGatewayV2::Api": "Name",
    "AWS::Glue::Job": "Name",
    "AWS::CloudWatch::Alarm": "AlarmName",
}


def _resolve(text: str) -> str:
    def value(match: re.Match[str]) -> str:
        return SUBSTITUTIONS[match.group(1)]

    return re.sub(r"\$\{([^!}][^}]*)\}", value, text)


@pytest.fixture(scope="module")
def generated() -> dict[str, Any]:
    return load_template(dashboards.OUTPUT_PATH)


@pytest.fixture(scope="module")
def bodies(generated: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Dashboard name -> body, as CloudFormation would pass them to PutDashboard."""
    found = {}
    for body in generated["Resources"].values():
        assert body["Type"] == "AWS::CloudWatch::Dashboard"
        name = _resolve(body["Properties"]["DashboardName"]["Fn::Sub"])
        found[name] = json.loads(_resolve(body["Properties"]["DashboardBody"]["Fn::Sub"]))
    return found


def test_the_committed_dashboards_are_current(manifest: Manifest) -> None:
    assert not dashboards.stale(manifest), (
        "infrastructure/monitoring/dashboards.yaml is stale: run `platformctl dashboards --write` and commit it"
    )


def test_the_dashboards_stack_is_in_the_monitoring_job(manifest: Manifest) -> None:
    [stack] = [s for s in manifest.stacks if s.template_path == dashboards.OUTPUT_PATH]
    assert stack.key == "monitoring/dashboards"


def test_there_is_an_overview_and_a_dashboard_per_job(manifest: Manifest, bodies: dict[str, Any]) -> None:
    assert "acme-prod-overview" in bodies
    jobs = {job.job for job in dashboards.collect(manifest) if job.has_dashboard}
    assert {f"acme-prod-{job}" for job in jobs} | {"acme-prod-overview"} == set(bodies)
    assert {"shopify", "recharge", "triplewhale", "data-quality", "privacy"} <= jobs


def _mentioned(bodies: dict[str, Any]) -> str:
    return json.dumps(bodies)


def test_every_resource_of_the_manifests_stacks_is_on_a_dashboard(
    manifest: Manifest, templates: dict[Path, Any], bodies: dict[str, Any]
) -> None:
    shown = _mentioned(bodies)
    deployed = {stack.template_path: templates[stack.template_path] for stack in manifest.stacks}
    missing = []
    for kind, key in NAMED.items():
        for resource in iter_resources(deployed, kind):
            name = _resolve(resource.properties[key]["Fn::Sub"])
            # Names are matched whole: as a JSON string, an alarm ARN's or a SEARCH term's last part.
            if not re.search(rf'(["/:]|\\"){re.escape(name)}(\\?")', shown):
                missing.append(f"{resource.where}: {kind} {name}")
    assert missing == []


def test_every_alarm_is_on_its_jobs_dashboard_and_the_overview(manifest: Manifest, bodies: dict[str, Any]) -> None:
    for job in dashboards.collect(manifest):
        for alarm in job.alarms:
            arn = f"arn:aws:cloudwatch:eu-west-1:123456789012:alarm:{_resolve(alarm)}"
            for name in (f"acme-prod-{job.job}", "acme-prod-overview"):
                alarms = [a for w in bodies[name]["widgets"] if w["type"] == "alarm" for a in w["properties"]["alarms"]]
                assert arn in alarms, f"{alarm} is not on {name}"


def test_every_dead_letter_queue_and_function_is_on_the_overview(manifest: Manifest, bodies: dict[str, Any]) -> None:
    overview = json.dumps(bodies["acme-prod-overview"])
    for job in dashboards.collect(manifest):
        for name in [*job.functions, *job.dead_letter_queues, *job.state_machines]:
            assert f'"{_resolve(name)}' in overview or f":{_resolve(name)}" in overview, name


def _check_metric_row(row: list[Any], where: str) -> list[str]:
    problems = []
    options = row[-1] if row and isinstance(row[-1], dict) else {}
    names = row[:-1] if options else row
    if "expression" in options:
        if names:
            problems.append(f"{where}: an expression row holds only its options")
        if not re.fullmatch(r"[a-z][a-zA-Z0-9_]*", str(options.get("id", ""))):
            problems.append(f"{where}: an expression needs an id starting with a lower-case letter")
    else:
        if len(names) < 2 or len(names) % 2 != 0 or not all(isinstance(n, str) and n for n in names):
            problems.append(f"{where}: [namespace, metric, (dimension, value)*, {{options}}] expected, got {row}")
        if len(names) > 2 + 2 * 30:
            problems.append(f"{where}: more than 30 dimensions")
    stat = options.get("stat")
    if stat is not None and stat not in STATS and not PERCENTILE.match(stat):
        problems.append(f"{where}: unknown statistic {stat}")
    return problems


def test_widgets_are_valid_dashboard_body_syntax(bodies: dict[str, Any]) -> None:
    problems = []
    for name, body in bodies.items():
        assert set(body) <= {"start", "end", "periodOverride", "widgets", "variables"}, name
        assert body["periodOverride"] in {"auto", "inherit"}
        for index, widget in enumerate(body["widgets"]):
            where = f"{name} widget {index}"
            if widget["type"] not in WIDGET_TYPES:
                problems.append(f"{where}: type {widget['type']}")
            if not (0 <= widget["x"] <= 23 and 1 <= widget["width"] <= 24 and widget["x"] + widget["width"] <= 24):
                problems.append(f"{where}: outside the 24-column grid")
            if not (widget["y"] >= 0 and 1 <= widget["height"] <= 1000):
                problems.append(f"{where}: bad y/height")
            properties = widget["properties"]
            if widget["type"] in {"metric", "log"} and properties.get("region") != "eu-west-1":
                problems.append(f"{where}: region must be ${{AWS::Region}}")
            if widget["type"] == "metric":
                stat = properties["stat"]
                if stat not in STATS and not PERCENTILE.match(stat):
                    problems.append(f"{where}: unknown statistic {stat}")
                if properties["period"] % 60:
                    problems.append(f"{where}: period must be a multiple of 60")
                if not properties["metrics"]:
                    problems.append(f"{where}: no metrics")
                ids = [row[-1].get("id") for row in properties["metrics"] if isinstance(row[-1], dict)]
                if len([i for i in ids if i]) != len({i for i in ids if i}):
                    problems.append(f"{where}: metric ids repeat")
                for row in properties["metrics"]:
                    problems += _check_metric_row(row, where)
            elif widget["type"] == "alarm":
                for arn in properties["alarms"]:
                    if not re.fullmatch(r"arn:aws:cloudwatch:eu-west-1:123456789012:alarm:[A-Za-z0-9_.-]+", arn):
                        problems.append(f"{where}: alarm {arn}")
                if set(properties.get("states", [])) - {"ALARM", "OK", "INSUFFICIENT_DATA"}:
                    problems.append(f"{where}: states")
            elif widget["type"] == "log" and not properties["query"].startswith("SOURCE '/"):
                problems.append(f"{where}: a log widget's query starts with SOURCE '<log group>'")
            elif widget["type"] == "text" and not properties["markdown"]:
                problems.append(f"{where}: empty text")
    assert problems == []


def test_dashboards_keep_within_cloudwatch_limits(generated: dict[str, Any], bodies: dict[str, Any]) -> None:
    assert len(dashboards.OUTPUT_PATH.read_bytes()) <= dashboards.MAX_TEMPLATE_BYTES
    for name, body in bodies.items():
        widgets = body["widgets"]
        assert len(widgets) <= dashboards.MAX_WIDGETS, name
        metrics = [len(w["properties"].get("metrics", [])) for w in widgets]
        assert sum(metrics) <= dashboards.MAX_METRICS_PER_DASHBOARD, name
        assert max(metrics) <= dashboards.MAX_METRICS_PER_WIDGET, name
        assert all(len(w["properties"].get("alarms", [])) <= dashboards.MAX_ALARMS_PER_WIDGET for w in widgets)
        assert len(name) <= 255, name
        assert re.fullmatch(r"[A-Za-z0-9_-]+", name), name
    for body in generated["Resources"].values():
        text = body["Properties"]["DashboardBody"]["Fn::Sub"]
        # Nothing but these variables: any other ${...} would fail the stack (or be a CloudWatch dynamic label).
        assert set(re.findall(r"\$\{([^}]*)\}", text)) <= {
            "Brand",
            "Environment",
            "AWS::Region",
            "AWS::AccountId",
            "AWS::Partition",
        }


def test_widgets_do_not_overlap(bodies: dict[str, Any]) -> None:
    for name, body in bodies.items():
        cells: set[tuple[int, int]] = set()
        for widget in body["widgets"]:
            area = {
                (x, y)
                for x in range(widget["x"], widget["x"] + widget["width"])
                for y in range(widget["y"], widget["y"] + widget["height"])
            }
            assert not cells & area, f"{name}: widgets overlap"
            cells |= area


def test_the_data_quality_metric_names_are_the_functions(manifest: Manifest) -> None:
    """The dashboards name the data-quality function's metrics; they must be the ones it puts."""
    text = (REPO_ROOT / "lambdas" / "data_quality" / "checks" / "report.py").read_text(encoding="utf-8")
    for check_type, metric in dashboards.DQ_MEASURE.items():
        assert f'"{check_type}": "{metric}"' in text, f"report.py no longer puts {metric} for {check_type} checks"
    for metric in (*dashboards.DQ_TOTALS, "Runs"):
        assert f'"{metric}"' in text, metric
    assert "Check" in text


def test_every_http_api_is_charted_from_its_own_access_log(
    manifest: Manifest, templates: dict[Path, Any], bodies: dict[str, Any]
) -> None:
    """HTTP API metrics carry only the generated ApiId, so the API's widget reads its access log: the name
    matching above would be satisfied by the function of the same name, this is not."""
    queries = [w["properties"]["query"] for b in bodies.values() for w in b["widgets"] if w["type"] == "log"]
    deployed = {stack.template_path: templates[stack.template_path] for stack in manifest.stacks}
    apis = list(iter_resources(deployed, "AWS::ApiGatewayV2::Api"))
    assert apis, "no HTTP API in the manifest's stacks: this test no longer tests anything"
    for api in apis:
        resources = templates[api.template]["Resources"]
        stages = list(iter_resources({api.template: templates[api.template]}, "AWS::ApiGatewayV2::Stage"))
        [stage] = [s for s in stages if s.properties["ApiId"] == {"Ref": api.logical_id}]
        group_id = stage.properties["AccessLogSettings"]["DestinationArn"]["Fn::GetAtt"][0]
        group = _resolve(resources[group_id]["Properties"]["LogGroupName"]["Fn::Sub"])
        assert any(q.startswith(f"SOURCE '{group}'") for q in queries), f"{api.where}: no widget reads {group}"
