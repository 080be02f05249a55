"""The bulk workflow's stack: lint gates with both environments' parameters, and the state machine's
definition against the code it runs (error names, decisions, outputs)."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from typing import Any

import pytest

import common.shopify_admin
import common.shopify_bulk
from platformctl import lint
from platformctl.manifest import REPO_ROOT, load_manifest
from platformctl.params import check_parameters, template_parameters
from platformctl.templates import load_template

TEMPLATE = REPO_ROOT / "infrastructure" / "shopify" / "shopify-bulk-workflow.yaml"
RUNTIME_ERRORS = {"States.ALL", "States.Timeout", "Sandbox.Timedout"}


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    return load_template(TEMPLATE)


@pytest.fixture(scope="module")
def definition(template: dict[str, Any]) -> dict[str, Any]:
    text = template["Resources"]["StateMachine"]["Properties"]["DefinitionString"]["Fn::Sub"]
    assert isinstance(text, str), "DefinitionString is one Fn::Sub string (no variable map: moto mangles $$)"
    resolved = re.sub(r"\$\{(\w+)\.Arn\}", r"arn:aws:lambda:us-east-1:111122223333:function:\1", text)
    resolved = re.sub(r"\$\{(\w+)\}", "1", resolved)
    return dict(json.loads(resolved))


def _deployments() -> list[tuple[Path, dict[str, str]]]:
    stack = load_manifest().select("shopify", "bulk-workflow")[0]
    declared = template_parameters(stack)
    pairs = []
    for environment in ("local", "prod"):
        check = check_parameters(stack, environment)
        assert check.problems() == []
        values = dict(check.file_values)
        for name in stack.fed_parameters:
            values[name] = lint.fed_placeholder(name, str(declared[name].get("Type", "String")))
        values = {k: ("http://127.0.0.1:4566" if v.startswith("{{local:") else v) for k, v in values.items()}
        pairs.append((stack.template_path, values))
    return pairs


def test_cfn_lint_with_both_environments_is_clean() -> None:
    code, output = lint.cfn_lint(_deployments())
    assert (code, output) == (0, "")


@pytest.mark.skipif(not lint.CHECKOV.exists(), reason="checkov is not installed (make tools)")
def test_checkov_passes_every_check() -> None:
    code, output = lint.checkov([TEMPLATE])
    assert code == 0, output
    assert "Failed checks: 0" in output


@pytest.mark.skipif(shutil.which("hadolint", path=str(lint.VENV_BIN)) is None, reason="hadolint is not installed")
def test_dockerfiles_pass_hadolint() -> None:
    dockerfiles = [
        REPO_ROOT / "lambdas" / "shopify" / f"bulk_{name}" / "Dockerfile" for name in ("export", "poll", "download")
    ]
    assert lint.hadolint(dockerfiles) == (0, "")


def test_the_local_environment_uses_the_simulator_and_short_waits() -> None:
    stack = load_manifest().select("shopify", "bulk-workflow")[0]
    local = check_parameters(stack, "local").file_values
    prod = check_parameters(stack, "prod").file_values
    assert local["ShopifyAdminBaseUrl"] == "{{local:simulators.shopify}}"
    assert prod["ShopifyAdminBaseUrl"] == ""
    assert int(local["PollIntervalSeconds"]) <= 2
    assert int(local["RetryIntervalSeconds"]) <= 2
    assert int(prod["PollIntervalSeconds"]) >= 30


def test_every_task_retries_transient_errors_and_catches_to_a_failure_state(definition: dict[str, Any]) -> None:
    states = definition["States"]
    tasks = {name: state for name, state in states.items() if state["Type"] == "Task"}
    assert set(tasks) == {"Export", "Poll", "Download", "RefreshUrl"}
    for name, state in tasks.items():
        assert state["Catch"] == [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "Failed"}], name
        retried = {error for retry in state["Retry"] for error in retry["ErrorEquals"]}
        assert "ShopifyThrottledError" in retried or name == "Download", name
        assert "Lambda.ServiceException" in retried, name
    assert states["Failed"]["CausePath"] == "$.error.Cause"
    assert definition["TimeoutSeconds"] >= 1


def test_retried_error_names_are_exceptions_the_code_raises(definition: dict[str, Any]) -> None:
    known = {
        name
        for module in (common.shopify_admin, common.shopify_bulk, common.errors)
        for name, value in vars(module).items()
        if isinstance(value, type) and issubclass(value, Exception)
    }
    for state in definition["States"].values():
        for retry in state.get("Retry", []):
            for error in retry["ErrorEquals"]:
                assert error in known or error.startswith("Lambda.") or error in RUNTIME_ERRORS, error
    transient = {
        name
        for name in known
        if issubclass(getattr(common.shopify_bulk, name, Exception), common.errors.TransientError)
    }
    retried_anywhere = {e for s in definition["States"].values() for r in s.get("Retry", []) for e in r["ErrorEquals"]}
    assert set(common.shopify_bulk.TRANSIENT_ERROR_NAMES) <= retried_anywhere | {"TransientError"}
    assert transient <= retried_anywhere, "every transient error of the workflow is retried somewhere"


def test_the_choices_follow_the_poll_decisions(definition: dict[str, Any]) -> None:
    states = definition["States"]
    routed = {c["StringEquals"]: c["Next"] for c in states["RouteOnStatus"]["Choices"]}
    assert routed == {"wait": "WaitForOperation", "download": "Download", "download_partial": "Download"}
    assert states["RouteOnStatus"]["Default"] == "OperationFailed"
    assert states["OperationFailed"] == {
        "Type": "Fail",
        "Comment": states["OperationFailed"]["Comment"],
        "ErrorPath": "$.poll.error",
        "CausePath": "$.poll.message",
    }
    download = states["RouteDownload"]["Choices"]
    assert download[0]["Next"] == "PartialDataDownloaded"
    assert download[-1]["Next"] == "RefreshUrl"
    assert states["RouteDownload"]["Default"] == "Download"
    assert states["Download"]["Parameters"]["execution.$"] == "$$.Execution.Id"


def test_alarms_watch_the_state_machine_and_each_function(template: dict[str, Any]) -> None:
    alarms = {
        r["Properties"]["AlarmName"]["Fn::Sub"]: r["Properties"]
        for r in template["Resources"].values()
        if r["Type"] == "AWS::CloudWatch::Alarm"
    }
    assert "${Brand}-${Environment}-bulk-workflow-failed" in alarms
    failed = alarms["${Brand}-${Environment}-bulk-workflow-failed"]
    watched = {m["MetricStat"]["Metric"]["MetricName"] for m in failed["Metrics"] if "MetricStat" in m}
    assert watched == {"ExecutionsFailed", "ExecutionsTimedOut", "ExecutionsAborted"}
    for slug, function in (("export", "ExportFunction"), ("poll", "PollFunction"), ("download", "DownloadFunction")):
        alarm = alarms[f"${{Brand}}-${{Environment}}-bulk-{slug}-errors"]
        assert alarm["Dimensions"] == [{"Name": "FunctionName", "Value": {"Ref": function}}]
    for name, props in alarms.items():
        slug = name.rsplit("}-", 1)[1]
        assert (REPO_ROOT / "docs" / "runbooks" / f"{slug}.md").is_file(), slug
        assert props["AlarmActions"] == {"Fn::If": ["HasAlerts", [{"Ref": "AlertsTopicArn"}], {"Ref": "AWS::NoValue"}]}


def test_outputs_the_local_cloud_publishes(template: dict[str, Any]) -> None:
    assert template["Outputs"]["ShopifyBulkStateMachineArn"]["Value"] == {"Ref": "StateMachine"}
    assert template["Resources"]["StateMachine"]["Properties"]["StateMachineName"] == {
        "Fn::Sub": "${Brand}-shopify-bulk-orders"
    }
    assert template["Resources"]["Schedule"]["Condition"] == "HasSchedule"
