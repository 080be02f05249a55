"""The compliance webhook stack: least privilege, the route, and the output the local cloud maps."""

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
    actions = {a for s in statements for a in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"])}
    assert not {a for a in actions if a.startswith(("s3:Get", "s3:List", "s3:Delete", "dynamodb:"))}


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
