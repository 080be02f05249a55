"""platformctl.dashboards and ``platformctl dashboards``: what a template gains shows on a dashboard."""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path

import pytest

from platformctl import dashboards
from platformctl.commands import dashboards as command
from platformctl.errors import UserError
from platformctl.manifest import Job, Manifest, Stack
from platformctl.templates import parse_template_text

HEADER = """\
AWSTemplateFormatVersion: "2010-09-09"
Parameters:
  Brand: {Type: String}
  Environment: {Type: String}
Resources:
"""
FUNCTION = """\
  {id}:
    Type: AWS::Lambda::Function
    Properties:
      FunctionName: !Sub ${{Brand}}-${{Environment}}-{name}
"""
DLQ = """\
  Dlq:
    Type: AWS::SQS::Queue
    Properties:
      QueueName: !Sub ${Brand}-${Environment}-thing-dlq
  DlqAlarm:
    Type: AWS::CloudWatch::Alarm
    Properties:
      AlarmName: !Sub ${Brand}-${Environment}-thing-dlq-not-empty
"""
HTTP_API = """\
  HttpApi:
    Type: AWS::ApiGatewayV2::Api
    Properties:
      Name: !Sub ${Brand}-${Environment}-hook
      ProtocolType: HTTP
  AccessLog:
    Type: AWS::Logs::LogGroup
    Properties:
      LogGroupName: !Sub /aws/apigateway/${Brand}-${Environment}-hook
  Stage:
    Type: AWS::ApiGatewayV2::Stage
    Properties:
      ApiId: !Ref HttpApi
      StageName: $default
      AccessLogSettings:
        DestinationArn: !GetAtt AccessLog.Arn
"""


def _manifest(tmp_path: Path, text: str) -> Manifest:
    template = tmp_path / "thing.yaml"
    template.write_text(HEADER + text, encoding="utf-8")
    stack = Stack(job="thing", name="stack", template=str(template))
    return Manifest(jobs=(Job("thing", "A test job.", (stack,), ()),), path=tmp_path / "ingestion_jobs.json")


def _bodies(text: str) -> dict[str, dict[str, object]]:
    template = parse_template_text(text, "generated")
    found = {}
    for body in template["Resources"].values():
        name = body["Properties"]["DashboardName"]["Fn::Sub"]
        resolved = re.sub(r"\$\{[^}]+\}", "x", body["Properties"]["DashboardBody"]["Fn::Sub"])
        found[name] = json.loads(resolved)
    return found


def _render(tmp_path: Path, text: str) -> str:
    return dashboards.render(
        _manifest(tmp_path, text), checks_path=tmp_path / "none.json", output=tmp_path / "out.yaml"
    )


def test_a_new_function_queue_and_alarm_appear_without_editing_a_dashboard(tmp_path: Path) -> None:
    before = _render(tmp_path, FUNCTION.format(id="One", name="one"))
    after = _render(tmp_path, FUNCTION.format(id="One", name="one") + FUNCTION.format(id="Two", name="two") + DLQ)
    assert "${Environment}-two" not in before
    bodies = _bodies(after)
    assert set(bodies) == {"${Brand}-${Environment}-overview", "${Brand}-${Environment}-thing"}
    page = json.dumps(bodies["${Brand}-${Environment}-thing"])
    overview = json.dumps(bodies["${Brand}-${Environment}-overview"])
    for shown in (page, overview):
        assert "x-x-two" in shown
        assert "x-x-thing-dlq" in shown
        assert "alarm:x-x-thing-dlq-not-empty" in shown
    assert "Duration" in page
    assert "p99" in page


def test_an_http_api_is_shown_from_its_access_log(tmp_path: Path) -> None:
    page = _bodies(_render(tmp_path, HTTP_API))["${Brand}-${Environment}-thing"]
    [widget] = [w for w in page["widgets"] if w["type"] == "log"]  # type: ignore[index, union-attr]
    assert widget["properties"]["query"].startswith("SOURCE '/aws/apigateway/x-x-hook'")


def test_an_http_api_without_an_access_log_is_refused(tmp_path: Path) -> None:
    text = HTTP_API.split("  AccessLog:", maxsplit=1)[0]
    with pytest.raises(UserError, match="HTTP API HttpApi has no stage with an access log"):
        _render(tmp_path, text)


def test_a_name_the_dashboards_cannot_know_is_refused(tmp_path: Path) -> None:
    text = FUNCTION.format(id="One", name="one").replace("${Environment}", "${Other}")
    with pytest.raises(UserError, match=r"its name uses \['Other'\]"):
        _render(tmp_path, text)


def test_an_unnamed_resource_is_refused(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="One has no FunctionName"):
        _render(tmp_path, "  One:\n    Type: AWS::Lambda::Function\n    Properties: {}\n")


def test_stale_notices_a_template_change(tmp_path: Path) -> None:
    output = tmp_path / "out.yaml"
    checks = tmp_path / "none.json"
    manifest = _manifest(tmp_path, FUNCTION.format(id="One", name="one"))
    assert dashboards.stale(manifest, checks, output)
    output.write_text(dashboards.render(manifest, checks, output), encoding="utf-8")
    assert not dashboards.stale(manifest, checks, output)
    manifest = _manifest(tmp_path, FUNCTION.format(id="One", name="one") + DLQ)
    assert dashboards.stale(manifest, checks, output)


def test_data_quality_checks_go_to_their_sources_job(tmp_path: Path) -> None:
    checks = tmp_path / "checks.json"
    checks.write_text(
        json.dumps(
            {
                "checks": [
                    {"id": "freshness-thing", "type": "freshness", "source": "thing-bulk"},
                    {"id": "quarantine-other", "type": "quarantine", "source": "other"},
                ]
            }
        ),
        encoding="utf-8",
    )
    [job] = dashboards.collect(_manifest(tmp_path, FUNCTION.format(id="One", name="one")), checks, tmp_path / "o")
    assert job.checks == [dashboards.Check("freshness-thing", "FreshnessAgeHours")]


def test_too_many_widgets_are_refused(tmp_path: Path) -> None:
    functions = "".join(FUNCTION.format(id=f"F{i}", name=f"f{i}") for i in range(40))
    with pytest.raises(UserError, match=r"widgets \(at most 100\)"):
        _render(tmp_path, functions)


def test_layout_wraps_rows_on_the_24_column_grid() -> None:
    widgets = [{"type": "text", "width": 10, "height": h, "properties": {}} for h in (2, 5, 3)]
    placed = dashboards.layout(widgets)
    assert [(w["x"], w["y"]) for w in placed] == [(0, 0), (10, 0), (0, 5)]


def test_the_command_checks_and_writes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    output = tmp_path / "dashboards.yaml"
    output.write_text("stale\n", encoding="utf-8")
    monkeypatch.setattr(dashboards, "OUTPUT_PATH", output)
    assert command.command(argparse.Namespace(check=True, write=False)) == 1
    assert command.command(argparse.Namespace(check=False, write=True)) == 0
    assert output.read_text(encoding="utf-8").startswith("# GENERATED by `platformctl dashboards --write`")
    assert command.command(argparse.Namespace(check=True, write=False)) == 0
