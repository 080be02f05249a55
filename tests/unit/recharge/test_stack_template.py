"""The recharge-webhook stack: the routes Recharge calls reach the handler, the role is least-privilege,
every alarm has its runbook, and cfn-lint (with the serverless rules) passes with both
environments' parameters."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from platformctl import lint
from platformctl.manifest import REPO_ROOT, load_manifest
from platformctl.templates import load_template

TEMPLATE = REPO_ROOT / "infrastructure" / "recharge" / "recharge-webhook.yaml"


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    return load_template(TEMPLATE)


def _of_type(template: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    return {k: v for k, v in template["Resources"].items() if v["Type"] == kind}


def _statements(template: dict[str, Any]) -> list[dict[str, Any]]:
    found = []
    for body in template["Resources"].values():
        if body["Type"] == "AWS::IAM::Role":
            for policy in body["Properties"].get("Policies", []):
                found += policy["PolicyDocument"]["Statement"]
        elif body["Type"] == "AWS::IAM::Policy":
            found += body["Properties"]["PolicyDocument"]["Statement"]
    return found


def test_the_token_routes_and_default_take_any_method_to_the_function_with_payload_2(
    template: dict[str, Any],
) -> None:
    routes = _of_type(template, "AWS::ApiGatewayV2::Route")
    assert {r["Properties"]["RouteKey"] for r in routes.values()} == {
        "ANY /recharge/webhooks/{token}",
        "ANY /recharge/webhooks/{token}/{resource}/{event}",
        "$default",  # every other path reaches the handler (404, counted) on its own quota
    }
    (integration_id, integration), *_ = _of_type(template, "AWS::ApiGatewayV2::Integration").items()
    assert all(r["Properties"]["Target"] == {"Fn::Sub": f"integrations/${{{integration_id}}}"} for r in routes.values())
    props = integration["Properties"]
    assert props["IntegrationType"] == "AWS_PROXY"
    assert props["PayloadFormatVersion"] == "2.0"
    assert props["IntegrationUri"] == {"Fn::GetAtt": ["RechargeWebhookFunction", "Arn"]}


def test_stage_throttles_and_logs_json_without_headers(template: dict[str, Any]) -> None:
    (stage,) = _of_type(template, "AWS::ApiGatewayV2::Stage").values()
    settings = stage["Properties"]["DefaultRouteSettings"]
    assert settings["ThrottlingRateLimit"] == {"Ref": "UnmatchedThrottlingRateLimit"}
    assert settings["ThrottlingBurstLimit"] == {"Ref": "UnmatchedThrottlingBurstLimit"}
    per_route = stage["Properties"]["RouteSettings"]
    routes = {r["Properties"]["RouteKey"] for r in _of_type(template, "AWS::ApiGatewayV2::Route").values()}
    assert set(per_route) == routes - {"$default"}  # each webhook route its own quota
    for route in per_route.values():
        assert route["ThrottlingRateLimit"] == {"Ref": "ThrottlingRateLimit"}
        assert route["ThrottlingBurstLimit"] == {"Ref": "ThrottlingBurstLimit"}
    assert set(stage["DependsOn"]) == set(_of_type(template, "AWS::ApiGatewayV2::Route"))
    log_format = stage["Properties"]["AccessLogSettings"]["Format"]
    fields = json.loads(re.sub(r"\$context\.[A-Za-z.]+", "x", log_format))
    assert {"requestId", "status", "routeKey", "integrationLatency"} <= set(fields)
    assert "header" not in log_format.lower()
    assert "body" not in log_format.lower()
    groups = _of_type(template, "AWS::Logs::LogGroup")
    assert stage["Properties"]["AccessLogSettings"]["DestinationArn"] == {
        "Fn::GetAtt": ["HttpApiAccessLogGroup", "Arn"]
    }
    assert all(g["Properties"]["RetentionInDays"] == {"Ref": "LogRetentionDays"} for g in groups.values())
    assert all("KmsKeyId" in g["Properties"] for g in groups.values())


def test_function_is_the_manifest_image_with_tracing_and_its_own_log_group(template: dict[str, Any]) -> None:
    function = template["Resources"]["RechargeWebhookFunction"]["Properties"]
    assert function["PackageType"] == "Image"
    assert function["Code"] == {"ImageUri": {"Ref": "RechargeImageUri"}}
    assert function["TracingConfig"] == {"Mode": "Active"}
    assert (function["MemorySize"], function["Timeout"]) == (512, 10)
    log_group = template["Resources"]["RechargeWebhookLogGroup"]["Properties"]
    assert log_group["LogGroupName"] == {"Fn::Sub": "/aws/lambda/${RechargeWebhookFunction}"}
    variables = function["Environment"]["Variables"]
    assert variables["ALERTS_TOPIC_ARN"] == {"Fn::If": ["HasBusinessAlerts", {"Ref": "BusinessAlertsTopicArn"}, ""]}
    assert variables["POWERTOOLS_METRICS_NAMESPACE"] == {"Fn::Sub": "${Brand}/Recharge"}
    manifest = load_manifest()
    (stack,) = manifest.select("recharge", "webhook")
    assert stack.images == {"RechargeImageUri": "recharge-webhook"}


def test_the_role_reaches_only_its_tables_prefixes_secret_and_topic(template: dict[str, Any]) -> None:
    by_sid = {s["Sid"]: s for s in _statements(template)}
    assert by_sid["HotStores"]["Action"] == "dynamodb:UpdateItem"
    assert len(by_sid["HotStores"]["Resource"]) == 4
    assert [r["Fn::Sub"].rsplit("/", 2)[-2] for r in by_sid["LakeRawAndQuarantineOfRecharge"]["Resource"]] == [
        "recharge",
        "recharge",
    ]
    assert by_sid["LakeRawAndQuarantineOfRecharge"]["Action"] == "s3:PutObject"
    assert by_sid["WebhookSecret"] == {
        "Sid": "WebhookSecret",
        "Effect": "Allow",
        "Action": "secretsmanager:GetSecretValue",
        "Resource": {"Ref": "RechargeWebhookSecretArn"},
    }
    assert by_sid["PublishBusinessAlerts"]["Resource"] == {"Ref": "BusinessAlertsTopicArn"}
    for sid in (
        "LakeKeyThroughS3",
        "TablesKeyThroughDynamoDb",
        "SecretsKeyThroughSecretsManager",
        "AlertsTopicKeyThroughSns",
    ):
        assert "kms:ViaService" in json.dumps(by_sid[sid]["Condition"]), sid
    stars = [s["Sid"] for s in by_sid.values() if s["Resource"] == "*"]
    assert stars == ["XRayAdmitsNoResourceLevelPermissions"]
    policies = _of_type(template, "AWS::IAM::Policy")
    assert {p.get("Condition") for p in policies.values()} == {"HasBusinessAlerts", "HasBusinessAlertsKey"}


def test_the_invoke_permission_is_scoped_to_this_api(template: dict[str, Any]) -> None:
    (permission,) = _of_type(template, "AWS::Lambda::Permission").values()
    source = permission["Properties"]["SourceArn"]["Fn::Sub"]
    assert source.endswith(":${HttpApi}/*")  # this API only, its $default route included
    assert permission["Properties"]["Principal"] == "apigateway.amazonaws.com"


def test_alarms_notify_the_alerts_topic_and_have_runbooks(template: dict[str, Any]) -> None:
    alarms = _of_type(template, "AWS::CloudWatch::Alarm")
    slugs = set()
    for alarm in alarms.values():
        props = alarm["Properties"]
        slug = props["AlarmName"]["Fn::Sub"].removeprefix("${Brand}-${Environment}-")
        slugs.add(slug)
        assert props["AlarmActions"] == [{"Ref": "AlertsTopicArn"}]
        assert props["AlarmDescription"].endswith(f"Runbook: docs/runbooks/{slug}.md")
        runbook = (REPO_ROOT / "docs" / "runbooks" / f"{slug}.md").read_text(encoding="utf-8")
        assert runbook.startswith("# ")
        assert "## " in runbook
    assert slugs == {
        "recharge-webhook-errors",
        "recharge-webhook-throttles",
        "recharge-webhook-5xx",
        "recharge-webhook-signature-failures",
        "recharge-webhook-latency",
        "recharge-webhook-quarantine",
        "recharge-webhook-4xx",
        "recharge-webhook-429",
    }
    rate = alarms["SignatureFailuresAlarm"]["Properties"]["Metrics"]
    names = {m["MetricStat"]["Metric"]["MetricName"] for m in rate if "MetricStat" in m}
    assert names == {"SignatureRejected", "SignatureAccepted"}  # the handler's own metric names
    throttled = alarms["ThrottledRequestsAlarm"]["Properties"]["Metrics"]
    names = {m["MetricStat"]["Metric"]["MetricName"] for m in throttled if "MetricStat" in m}
    assert names == {"4xx", "Answered4xx"}


def test_the_security_parameters_default_to_the_strict_side(template: dict[str, Any]) -> None:
    parameters = template["Parameters"]
    assert parameters["RechargeRequireTimestampedSignature"]["Default"] == "true"
    assert parameters["PreviousSecretGraceHours"]["Default"] == 48
    assert parameters["EdgeFront"]["Default"] == "disabled"
    variables = template["Resources"]["RechargeWebhookFunction"]["Properties"]["Environment"]["Variables"]
    assert variables["REQUIRE_TIMESTAMPED_SIGNATURE"] == {"Ref": "RechargeRequireTimestampedSignature"}
    assert variables["PREVIOUS_SECRET_GRACE_HOURS"] == {"Ref": "PreviousSecretGraceHours"}
    for environment in ("staging", "prod"):
        values = {
            p["ParameterKey"]: p["ParameterValue"]
            for p in json.loads(
                (REPO_ROOT / "ci" / "environments" / environment / "recharge" / "webhook.json").read_text()
            )
        }
        assert values["RechargeRequireTimestampedSignature"] == "true"
    edge = [name for name, body in template["Resources"].items() if body.get("Condition") == "HasEdgeFront"]
    assert sorted(edge) == ["EdgeDistribution", "EdgeWebAcl"]
    assert template["Outputs"]["RechargeWebhookEdgeUrl"]["Condition"] == "HasEdgeFront"
    waf = template["Resources"]["EdgeWebAcl"]["Properties"]
    assert waf["Rules"][0]["Statement"]["RateBasedStatement"] == {
        "Limit": {"Ref": "EdgeRateLimitPer5Minutes"},
        "AggregateKeyType": "IP",
    }


def test_no_output_carries_the_path_token(template: dict[str, Any]) -> None:
    assert "path_token" not in json.dumps(template["Outputs"]).replace("{path_token}", "").replace("<path_token>", "")


def test_the_webhook_url_output_is_what_the_local_cloud_publishes(template: dict[str, Any]) -> None:
    assert template["Outputs"]["RechargeWebhookUrl"]["Value"] == {"Fn::Sub": "${HttpApi.ApiEndpoint}/recharge/webhooks"}


def _deployments() -> list[tuple[Any, dict[str, str]]]:
    (stack,) = load_manifest().select("recharge", "webhook")
    pairs = []
    for environment in ("local", "prod"):
        values = lint.deployment_values(stack, environment)
        pairs.append((stack.template_path, values))
        without_alerts = dict(values, BusinessAlertsTopicArn="", BusinessAlertsKmsKeyArn="")
        pairs.append((stack.template_path, without_alerts))  # the optional wiring off
        pairs.append((stack.template_path, dict(values, EdgeFront="enabled")))  # the CloudFront + WAF front on
    return pairs


@pytest.mark.slow
def test_cfn_lint_with_informational_and_serverless_rules_is_clean() -> None:
    code, output = lint.cfn_lint(_deployments())
    assert code == 0, output
