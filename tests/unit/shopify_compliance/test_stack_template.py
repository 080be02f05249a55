"""The compliance webhook stack: least privilege, the route, the alarms, and the output the local cloud maps."""

from __future__ import annotations

import json
from typing import Any

from platformctl.manifest import REPO_ROOT
from platformctl.templates import load_template

TEMPLATE = REPO_ROOT / "infrastructure" / "shopify" / "compliance-webhook.yaml"


def _template() -> dict[str, Any]:
    return load_template(TEMPLATE)


def test_the_role_writes_only_request_records_and_reads_only_its_secret() -> None:
    role = _template()["Resources"]["ComplianceWebhookRole"]["Properties"]
    assert role["PermissionsBoundary"] == {"Ref": "PermissionsBoundaryArn"}
    statements = role["Policies"][0]["PolicyDocument"]["Statement"]
    by_sid = {s["Sid"]: s for s in statements}
    assert by_sid["LakePrivacyRequestRecords"]["Action"] == "s3:PutObject"
    assert by_sid["LakePrivacyRequestRecords"]["Resource"] == {
        "Fn::Sub": "arn:${AWS::Partition}:s3:::${DataLakeBucketName}/metadata/privacy/requests/*"
    }
    assert by_sid["AppClientSecret"]["Resource"] == {"Ref": "ShopifyAppClientSecretArn"}
    assert by_sid["PrivacyDigestKey"]["Action"] == "secretsmanager:GetSecretValue"
    assert by_sid["PrivacyDigestKey"]["Resource"] == {"Ref": "PrivacyDigestKeySecretArn"}
    actions = {a for s in statements for a in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"])}
    assert not {a for a in actions if a.startswith(("s3:Get", "s3:List", "s3:Delete", "dynamodb:"))}
    assert {a for a in actions if a.startswith("states:")} == {"states:StartExecution"}


def test_the_role_starts_exactly_the_privacy_state_machine_the_function_names() -> None:
    template = _template()
    statements = template["Resources"]["ComplianceWebhookRole"]["Properties"]["Policies"][0]["PolicyDocument"]
    (start,) = [s for s in statements["Statement"] if "states:StartExecution" in str(s["Action"])]
    assert start["Action"] == "states:StartExecution"
    machine = "arn:${AWS::Partition}:states:${AWS::Region}:${AWS::AccountId}:stateMachine:${Brand}-privacy-requests"
    expected = {"Fn::Sub": machine}
    assert start["Resource"] == expected  # one machine, no wildcard, no execution ARNs
    variables = template["Resources"]["ComplianceWebhookFunction"]["Properties"]["Environment"]["Variables"]
    assert variables["PRIVACY_STATE_MACHINE_ARN"] == expected
    assert variables["DIGEST_KEY_SECRET_ARN"] == {"Ref": "PrivacyDigestKeySecretArn"}


def test_the_digest_key_parameter_is_fed_by_the_manifest_name() -> None:
    parameter = _template()["Parameters"]["PrivacyDigestKeySecretArn"]
    assert parameter["Type"] == "String"
    assert "Default" not in parameter  # always fed (ci/ingestion_jobs.json), never silently empty
    shared = load_template(REPO_ROOT / "infrastructure" / "shared" / "secrets-manager.yaml")
    assert "PrivacyDigestKeySecretArn" in shared["Outputs"]


def test_every_alarm_notifies_the_alerts_topic_and_has_its_runbook() -> None:
    alarms = {
        name: resource["Properties"]
        for name, resource in _template()["Resources"].items()
        if resource["Type"] == "AWS::CloudWatch::Alarm"
    }
    slugs = set()
    for props in alarms.values():
        slug = props["AlarmName"]["Fn::Sub"].removeprefix("${Brand}-${Environment}-")
        slugs.add(slug)
        assert props["AlarmActions"] == [{"Ref": "AlertsTopicArn"}]
        assert " ".join(props["AlarmDescription"].split()).endswith(f"Runbook: docs/runbooks/{slug}.md")
        runbook = (REPO_ROOT / "docs" / "runbooks" / f"{slug}.md").read_text(encoding="utf-8")
        assert runbook.startswith(f"# {slug}\n")
    assert slugs == {
        "shopify-compliance-webhook-errors",
        "shopify-compliance-webhook-5xx",
        "shopify-compliance-webhook-signature-failures",
        "shopify-compliance-webhook-refused",
        "shopify-compliance-webhook-4xx",
        "shopify-compliance-webhook-429",
        "shopify-compliance-request-waiting",
        "shopify-shop-redact-received",
    }
    # The handler's own metric names.
    assert alarms["ShopRedactReceivedAlarm"]["MetricName"] == "ShopRedactReceived"
    assert alarms["RequestWaitingAlarm"]["MetricName"] == "WorkflowNotStarted"
    throttled = alarms["ThrottledRequestsAlarm"]["Metrics"]
    assert {m["MetricStat"]["Metric"]["MetricName"] for m in throttled if "MetricStat" in m} == {"4xx", "Answered4xx"}
    shop_redact = (REPO_ROOT / "docs" / "runbooks" / "shopify-shop-redact-received.md").read_text(encoding="utf-8")
    assert "platformctl privacy purge-shop --env" in shop_redact
    assert "--confirm" in shop_redact


def test_one_route_and_the_output_the_local_cloud_names_shopify_compliance() -> None:
    template = _template()
    routes = [r for r in template["Resources"].values() if r["Type"] == "AWS::ApiGatewayV2::Route"]
    assert [r["Properties"]["RouteKey"] for r in routes] == ["ANY /shopify/compliance"]
    assert "ShopifyComplianceWebhookUrl" in template["Outputs"]
    assert json.dumps(template["Outputs"]["ShopifyComplianceWebhookUrl"]["Value"]).endswith('/shopify/compliance"}')


def test_the_secret_is_in_the_shared_secrets_stack() -> None:
    shared = load_template(REPO_ROOT / "infrastructure" / "shared" / "secrets-manager.yaml")
    secret = shared["Resources"]["ShopifyAppClientSecret"]["Properties"]
    assert secret["Name"] == {"Fn::Sub": "${Brand}/${Environment}/ShopifyAppClientSecret"}
    assert secret["GenerateSecretString"]["GenerateStringKey"] == "client_secret"
    assert "ShopifyAppClientSecretArn" in shared["Outputs"]
