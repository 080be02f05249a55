"""The triplewhale/ingestion stack: the schedule runs the job with failure handling, the role is
least-privilege, every alarm has its runbook, and cfn-lint (with the serverless rules) passes
with both environments' parameters, with and without a schedule."""

from __future__ import annotations

import json
from typing import Any

import pytest

from platformctl import lint
from platformctl.manifest import REPO_ROOT, load_manifest
from platformctl.templates import load_template

TEMPLATE = REPO_ROOT / "infrastructure" / "triplewhale" / "triplewhale-ingestion.yaml"


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    return load_template(TEMPLATE)


def _of_type(template: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    return {k: v for k, v in template["Resources"].items() if v["Type"] == kind}


def _statements(role: dict[str, Any]) -> list[dict[str, Any]]:
    return [s for policy in role["Properties"]["Policies"] for s in policy["PolicyDocument"]["Statement"]]


def _resources(statement: dict[str, Any]) -> list[str]:
    found = statement["Resource"]
    return [json.dumps(r, sort_keys=True) for r in (found if isinstance(found, list) else [found])]


def _actions(statement: dict[str, Any]) -> list[str]:
    found = statement["Action"]
    return found if isinstance(found, list) else [found]


def test_the_manifest_deploys_it_after_recharge_with_its_image_and_fed_inputs() -> None:
    manifest = load_manifest()
    jobs = [stack.job for stack in manifest.stacks]
    assert jobs.index("triplewhale") > max(i for i, job in enumerate(jobs) if job == "recharge")
    (stack,) = manifest.select("triplewhale", "ingestion")
    assert stack.template_path == TEMPLATE
    assert stack.images == {"TripleWhaleImageUri": "triplewhale-summary"}
    assert manifest.image("triplewhale-summary").folder == "lambdas/triplewhale/summary"
    assert {"TripleWhaleApiKeySecretArn", "SecretsKmsKeyArn", "DataLakeBucketName", "AlertsTopicArn"} <= set(
        stack.fed_parameters
    )


def test_the_function_is_async_with_retries_and_a_kms_encrypted_dead_letter_queue(template: dict[str, Any]) -> None:
    (function,) = _of_type(template, "AWS::Lambda::Function").values()
    props = function["Properties"]
    assert props["Code"] == {"ImageUri": {"Ref": "TripleWhaleImageUri"}}
    assert props["TracingConfig"] == {"Mode": "Active"}
    assert props["DeadLetterConfig"] == {"TargetArn": {"Fn::GetAtt": ["SummaryDlq", "Arn"]}}
    env = props["Environment"]["Variables"]
    assert env["TRIPLEWHALE_API_KEY_SECRET_ARN"] == {"Ref": "TripleWhaleApiKeySecretArn"}
    assert env["TRIPLEWHALE_API_BASE_URL"] == {"Ref": "TripleWhaleApiBaseUrl"}
    assert env["LOOKBACK_DAYS"] == {"Ref": "LookbackDays"}
    (config,) = _of_type(template, "AWS::Lambda::EventInvokeConfig").values()
    assert config["Properties"]["FunctionName"] == {"Ref": "SummaryFunction"}
    assert config["Properties"]["MaximumRetryAttempts"] == 2
    (queue,) = _of_type(template, "AWS::SQS::Queue").values()
    assert queue["Properties"]["KmsMasterKeyId"] == {"Fn::GetAtt": ["TripleWhaleKey", "Arn"]}
    (group,) = _of_type(template, "AWS::Logs::LogGroup").values()
    assert group["Properties"]["LogGroupName"] == {"Fn::Sub": "/aws/lambda/${SummaryFunction}"}
    assert group["Properties"]["RetentionInDays"] == {"Ref": "LogRetentionDays"}


def test_the_schedule_is_optional_and_invokes_only_this_function(template: dict[str, Any]) -> None:
    assert template["Conditions"]["HasSchedule"] == {
        "Fn::Not": [{"Fn::Equals": [{"Ref": "TripleWhaleScheduleExpression"}, ""]}]
    }
    assert template["Parameters"]["TripleWhaleScheduleExpression"]["Default"]  # scheduled unless told not to
    (schedule,) = _of_type(template, "AWS::Scheduler::Schedule").values()
    assert schedule["Condition"] == "HasSchedule"
    target = schedule["Properties"]["Target"]
    assert target["Arn"] == {"Fn::GetAtt": ["SummaryFunction", "Arn"]}
    assert target["Input"] == "{}"
    assert target["DeadLetterConfig"] == {"Arn": {"Fn::GetAtt": ["SummaryDlq", "Arn"]}}
    role = template["Resources"]["ScheduleRole"]
    assert role["Condition"] == "HasSchedule"
    invoke = [s for s in _statements(role) if "lambda:InvokeFunction" in _actions(s)]
    assert [_resources(s) for s in invoke] == [[json.dumps({"Fn::GetAtt": ["SummaryFunction", "Arn"]})]]
    assert template["Parameters"]["TripleWhaleApiBaseUrl"]["Default"] == "https://api.triplewhale.com"


def test_the_role_writes_only_triplewhale_prefixes_and_reads_only_its_secret(template: dict[str, Any]) -> None:
    statements = _statements(template["Resources"]["SummaryRole"])
    writes = [r for s in statements if "s3:PutObject" in _actions(s) for r in _resources(s)]
    assert writes, "the role cannot write the lake"
    assert all(
        any(f"${{DataLakeBucketName}}/{prefix}/triplewhale/*" in r for prefix in ("raw", "quarantine", "metadata"))
        for r in writes
    ), writes
    reads = [r for s in statements if "s3:GetObject" in _actions(s) for r in _resources(s)]
    assert reads == [json.dumps({"Fn::Sub": "arn:${AWS::Partition}:s3:::${DataLakeBucketName}/metadata/triplewhale/*"})]
    secrets = [s for s in statements if any(a.startswith("secretsmanager:") for a in _actions(s))]
    assert [(_actions(s), _resources(s)) for s in secrets] == [
        (["secretsmanager:GetSecretValue"], [json.dumps({"Ref": "TripleWhaleApiKeySecretArn"})])
    ]
    for statement in statements:
        if any(a.startswith("kms:") for a in _actions(statement)):
            assert "kms:ViaService" in json.dumps(statement.get("Condition")), statement["Sid"]


def test_alarms_notify_the_alerts_topic_and_have_runbooks(template: dict[str, Any]) -> None:
    slugs = set()
    for alarm in _of_type(template, "AWS::CloudWatch::Alarm").values():
        props = alarm["Properties"]
        slug = props["AlarmName"]["Fn::Sub"].removeprefix("${Brand}-${Environment}-")
        slugs.add(slug)
        assert (REPO_ROOT / "docs" / "runbooks" / f"{slug}.md").is_file()
        assert props["AlarmDescription"].rstrip().endswith(f"Runbook: docs/runbooks/{slug}.md")
        assert props["AlarmActions"] == [{"Ref": "AlertsTopicArn"}]
    assert slugs == {
        "triplewhale-summary-errors",
        "triplewhale-summary-dlq-not-empty",
        "triplewhale-summary-quarantine",
        "triplewhale-summary-stale",
    }


def _deployments() -> list[tuple[Any, dict[str, str]]]:
    (stack,) = load_manifest().select("triplewhale", "ingestion")
    pairs = []
    for environment in ("local", "prod"):
        values = lint.deployment_values(stack, environment)
        pairs.append((stack.template_path, values))
        pairs.append((stack.template_path, dict(values, TripleWhaleScheduleExpression="", ReservedConcurrency="0")))
    return pairs


@pytest.mark.slow
def test_cfn_lint_with_informational_and_serverless_rules_is_clean() -> None:
    code, output = lint.cfn_lint(_deployments())
    assert code == 0, output
