"""The bulk workflow's stack (the lint gates themselves run in `make lint`): the schedule Condition, and the state
machine's definition against the code it runs (error names, decisions, outputs)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

import common.shopify.admin
import common.shopify.bulk
from platformctl import lint
from platformctl.manifest import REPO_ROOT, load_manifest
from platformctl.params import check_parameters
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
    (stack,) = load_manifest().select("shopify", "bulk-workflow")
    pairs = []
    for environment in ("local", "prod"):
        values = lint.deployment_values(stack, environment)
        pairs.append((stack.template_path, values))
    return pairs


def test_the_local_environment_uses_the_simulator_and_short_waits() -> None:
    stack = load_manifest().select("shopify", "bulk-workflow")[0]
    local = check_parameters(stack, "local").values
    prod = check_parameters(stack, "prod").values
    assert local["ShopifyAdminBaseUrl"] == "{{local:simulators.shopify}}"
    assert prod["ShopifyAdminBaseUrl"] == ""
    assert int(local["PollIntervalSeconds"]) <= 2
    assert int(local["RetryIntervalSeconds"]) <= 2
    assert int(prod["PollIntervalSeconds"]) >= 30
    # Results come only from Shopify's storage (https) in AWS; locally also from the simulator's own origin.
    assert local["BulkResultHosts"] == "{{local:simulators.shopify}}"
    for environment in ("staging", "prod"):
        hosts = check_parameters(stack, environment).file_values["BulkResultHosts"]
        assert "http://" not in hosts, environment
        common.shopify.bulk.ResultUrlPolicy.from_setting(hosts)  # valid entries


def _paths(node: Any) -> list[str]:
    """Every key and string value of an ASL node, recursively (Parameters, ResultSelector, Result ...)."""
    if isinstance(node, dict):
        return [text for key, value in node.items() for text in (str(key), *_paths(value))]
    if isinstance(node, list):
        return [text for value in node for text in _paths(value)]
    return [node] if isinstance(node, str) else []


def test_no_state_passes_or_names_a_result_url(definition: dict[str, Any]) -> None:
    """The signed result URL never enters Step Functions: no state selects, passes or records it (the
    poll returns none and the download reads it from bulkOperation(id:) itself)."""
    for name, state in definition["States"].items():
        texts = [
            t
            for key in (
                "Parameters",
                "ResultSelector",
                "Result",
                "OutputPath",
                "InputPath",
                "ItemsPath",
                "ErrorPath",
                "CausePath",
            )
            for t in _paths(state.get(key))
        ]
        texts += [str(state.get("ResultPath") or "")]
        for text in texts:
            lowered = text.lower()
            assert not re.search(r"(^|[._$])(url|download_url|partial_data_url|partialdataurl)($|[.\[])", lowered), (
                name,
                text,
            )
            assert "://" not in lowered or name == "Comment", (name, text)


def test_the_download_reads_the_url_itself_with_the_token_and_an_allow_list(template: dict[str, Any]) -> None:
    resources = template["Resources"]
    variables = resources["DownloadFunction"]["Properties"]["Environment"]["Variables"]
    assert variables["SHOPIFY_ADMIN_SECRET_ARN"] == {"Ref": "ShopifyAdminApiSecretArn"}
    assert variables["BULK_RESULT_HOSTS"] == {"Ref": "BulkResultHosts"}
    for name in ("SHOP_DOMAIN", "SHOPIFY_API_VERSION", "SHOPIFY_ADMIN_BASE_URL"):
        assert name in variables
    statements = [
        s for p in resources["DownloadRole"]["Properties"]["Policies"] for s in p["PolicyDocument"]["Statement"]
    ]
    token = [s for s in statements if s.get("Sid") == "ShopifyToken"]
    assert token == [
        {
            "Sid": "ShopifyToken",
            "Effect": "Allow",
            "Action": "secretsmanager:GetSecretValue",
            "Resource": {"Ref": "ShopifyAdminApiSecretArn"},
        }
    ]
    pattern = re.compile(template["Parameters"]["BulkResultHosts"]["AllowedPattern"])
    for good in ("", "http://127.0.0.1:4566", "storage.googleapis.com", "https://results.example.com:8443,x.example"):
        assert pattern.fullmatch(good), good
    for bad in ("http://storage.googleapis.com", "ftp://x", "https://x/path", "http://10.0.0.1:80", " x"):
        assert not pattern.fullmatch(bad), bad


def test_every_task_retries_transient_errors_and_catches_to_a_failure_state(definition: dict[str, Any]) -> None:
    states = definition["States"]
    tasks = {name: state for name, state in states.items() if state["Type"] == "Task"}
    assert set(tasks) == {"Export", "Poll", "Download", "RefreshUrl", "Reconcile"}
    for name, state in tasks.items():
        assert state["Catch"] == [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "Failed"}], name
        retried = {error for retry in state["Retry"] for error in retry["ErrorEquals"]}
        assert "ShopifyThrottledError" in retried or name in {"Download", "Reconcile"}, name  # no Shopify call
        assert "Lambda.ServiceException" in retried, name
    assert states["Failed"]["CausePath"] == "$.error.Cause"
    assert definition["TimeoutSeconds"] >= 1


def test_retried_error_names_are_exceptions_the_code_raises(definition: dict[str, Any]) -> None:
    known = {
        name
        for module in (common.shopify.admin, common.shopify.bulk, common.errors)
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
        if issubclass(getattr(common.shopify.bulk, name, Exception), common.errors.TransientError)
    }
    retried_anywhere = {e for s in definition["States"].values() for r in s.get("Retry", []) for e in r["ErrorEquals"]}
    assert set(common.shopify.bulk.TRANSIENT_ERROR_NAMES) <= retried_anywhere | {"TransientError"}
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


SCHEDULES = {  # schedule -> (parameter, condition, input)
    "Schedule": ("BulkWorkflowScheduleExpression", "HasSchedule", {}),
    "CustomersSchedule": ("BulkCustomersScheduleExpression", "HasCustomersSchedule", {"resource": "customers"}),
    "ProductsSchedule": ("BulkProductsScheduleExpression", "HasProductsSchedule", {"resource": "products"}),
}


def test_each_resource_has_its_own_optional_schedule(template: dict[str, Any]) -> None:
    """Orders keep their parameter (an existing deployment's schedule stays); customers and products have
    their own, empty by default (no schedule)."""
    resources = template["Resources"]
    assert {name for name, r in resources.items() if r["Type"] == "AWS::Scheduler::Schedule"} == set(SCHEDULES)
    for name, (parameter, condition, document) in SCHEDULES.items():
        assert template["Parameters"][parameter]["Default"] == ""
        assert re.fullmatch(template["Parameters"][parameter]["AllowedPattern"], "")
        assert template["Conditions"][condition] == {"Fn::Not": [{"Fn::Equals": [{"Ref": parameter}, ""]}]}
        assert resources[name]["Condition"] == condition
        schedule = resources[name]["Properties"]
        assert schedule["ScheduleExpression"] == {"Ref": parameter}
        assert schedule["Target"]["Arn"] == {"Ref": "StateMachine"}
        assert schedule["Target"]["RoleArn"] == {"Fn::GetAtt": ["ScheduleRole", "Arn"]}
        # Incremental (since the resource's watermark); orders keep the input {} they always had.
        assert json.loads(schedule["Target"]["Input"]) == document, name
    assert template["Conditions"]["HasAnySchedule"] == {
        "Fn::Or": [{"Condition": condition} for _, condition, _ in SCHEDULES.values()]
    }
    assert resources["ScheduleRole"]["Condition"] == "HasAnySchedule"
    assert resources["WorkflowStaleAlarm"]["Condition"] == "HasAnySchedule"
    statements = resources["ScheduleRole"]["Properties"]["Policies"][0]["PolicyDocument"]["Statement"]
    assert [(s["Action"], s["Resource"]) for s in statements] == [("states:StartExecution", {"Ref": "StateMachine"})]
    conditions = {condition for _, condition, _ in SCHEDULES.values()}
    for name, output in template["Outputs"].items():
        if "Schedule" in json.dumps(output.get("Value")):
            assert output.get("Condition") in conditions, name


def test_the_environments_stagger_the_schedules() -> None:
    """Shopify runs one bulk query per app at a time: the scheduled runs of AWS environments start apart."""
    stack = load_manifest().select("shopify", "bulk-workflow")[0]
    for environment in ("staging", "prod"):
        values = check_parameters(stack, environment).values
        expressions = [values[parameter] for parameter, _, _ in SCHEDULES.values()]
        assert all(expressions), environment
        assert len(set(expressions)) == len(expressions), environment


def test_an_unknown_resource_is_refused_by_the_export_not_retried(definition: dict[str, Any]) -> None:
    """The export validates $.resource before anything reaches Shopify; its error is not retried."""
    retried = {e for r in definition["States"]["Export"]["Retry"] for e in r["ErrorEquals"]}
    assert common.shopify.bulk.InvalidResourceError.__name__ not in retried
    assert definition["States"]["Summarize"]["Parameters"]["resource.$"] == "$.run.resource"


def test_without_a_schedule_the_stack_still_lints_clean() -> None:
    (path, values), _ = _deployments()
    code, output = lint.cfn_lint([(path, {**values, "BulkWorkflowScheduleExpression": ""})])
    assert (code, output) == (0, "")


def test_the_api_version_defaults_to_a_stable_version_from_2026_07(template: dict[str, Any]) -> None:
    parameter = template["Parameters"]["ShopifyApiVersion"]
    default = parameter["Default"]
    assert re.fullmatch(r"20[0-9]{2}-(01|04|07|10)", default), "a quarterly stable version, not unstable"
    assert default >= "2026-07", "the orders query's checkoutToken and cartToken exist from 2026-07"
    pattern = parameter["AllowedPattern"]
    assert re.fullmatch(pattern, default)
    for refused in ("2025-10", "unstable", "2026-02", "2026-01", "2026-04", ""):
        assert not re.fullmatch(pattern, refused), refused
    for accepted in ("2026-07", "2026-10", "2027-01", "2030-04"):
        assert re.fullmatch(pattern, accepted), accepted


def test_the_state_machine_is_standard_logged_traced_and_bounded(
    template: dict[str, Any], definition: dict[str, Any]
) -> None:
    properties = template["Resources"]["StateMachine"]["Properties"]
    assert properties["StateMachineType"] == "STANDARD"
    assert properties["TracingConfiguration"] == {"Enabled": True}
    logging = properties["LoggingConfiguration"]
    assert logging["Level"] == "ALL"
    assert logging["IncludeExecutionData"] is False, "signed result URLs must not reach the logs"
    assert logging["Destinations"] == [
        {"CloudWatchLogsLogGroup": {"LogGroupArn": {"Fn::GetAtt": ["StateMachineLogGroup", "Arn"]}}}
    ]
    assert template["Resources"]["StateMachineLogGroup"]["Properties"]["RetentionInDays"] == {"Ref": "LogRetentionDays"}
    text = properties["DefinitionString"]["Fn::Sub"]
    assert '"TimeoutSeconds": ${WorkflowTimeoutSeconds}' in text
    assert '"Seconds": ${PollIntervalSeconds}' in text
    states = definition["States"]
    assert (states["WaitForOperation"]["Next"], states["Poll"]["Next"]) == ("Poll", "RouteOnStatus")
    assert states["Export"]["Next"] == "StartDownloadState"
    assert states["StartDownloadState"]["Next"] == "WaitForOperation"


def test_transient_errors_are_retried_with_backoff(definition: dict[str, Any]) -> None:
    shopify = {"ShopifyThrottledError", "ShopifyUnavailableError", "TransientError"}
    for name in ("Export", "Poll", "RefreshUrl", "Download"):
        for retry in definition["States"][name]["Retry"]:
            assert retry.get("BackoffRate", 2.0) > 1.0, (name, retry)  # ASL's default BackoffRate is 2.0
            assert retry["MaxAttempts"] >= 1, (name, retry)
        retried = {e for r in definition["States"][name]["Retry"] for e in r["ErrorEquals"]}
        if name != "Download":
            assert shopify <= retried, name
    export = {e for r in definition["States"]["Export"]["Retry"] for e in r["ErrorEquals"]}
    assert {"BulkOperationInProgressError", "BulkOperationLimitReachedError"} <= export
    download = {e for r in definition["States"]["Download"]["Retry"] for e in r["ErrorEquals"]}
    assert {"ResultDownloadError", "Sandbox.Timedout"} <= download
