"""Every AWS call the processors make while handling a realistic history is allowed by their roles.

moto does not check IAM, so a processor that starts calling a new API (PutItem, say) passes every other
unit test and fails on AWS with AccessDenied. This test records each call (action and resource ARN)
while histories from the convergence test are delivered in order and in reverse (reverse takes the
rare paths: a tombstone before the order, stale versions) and matches it against the role's
statements in infrastructure/shopify/eventbridge-rules.yaml.
"""

from __future__ import annotations

import fnmatch
import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from unittest import mock

from botocore.client import BaseClient
from hypothesis import given, settings

from platformctl.manifest import REPO_ROOT
from platformctl.templates import load_template
from tests.unit.shopify import support
from tests.unit.shopify.test_convergence import Delivery, fresh_account, histories

ROLES = {
    "order": "OrderProcessorRole",
    "fulfillment": "FulfillmentProcessorRole",
    "customer": "CustomerProcessorRole",
    "product": "ProductProcessorRole",
    "cart": "CartProcessorRole",
}
SUBSTITUTIONS = {
    "AWS::Partition": "aws",
    "AWS::Region": "us-east-1",
    "AWS::AccountId": "123456789012",
    "DataLakeBucketName": support.BUCKET,
    "OrdersTableName": support.TABLES["orders"],
    "CustomersTableName": support.TABLES["customers"],
    "AbandonedCartsTableName": support.TABLES["abandoned_carts"],
}
Call = tuple[str, str, str]  # (processor, IAM action, resource ARN)
TRANSACT_ACTIONS = {
    "Put": "PutItem",
    "Update": "UpdateItem",
    "Delete": "DeleteItem",
    "ConditionCheck": "ConditionCheckItem",
}


def _arn(service: str, params: dict[str, Any]) -> str:
    if service == "dynamodb":
        return f"arn:aws:dynamodb:us-east-1:123456789012:table/{params['TableName']}"
    if service == "s3":
        return f"arn:aws:s3:::{params['Bucket']}/{params.get('Key', '')}"
    return "*"


@contextmanager
def recorded(calls: set[Call], current: list[str]) -> Iterator[None]:
    original = BaseClient._make_api_call  # type: ignore[attr-defined]

    def record(client: Any, operation: str, params: dict[str, Any]) -> Any:
        service = client.meta.service_model.signing_name
        if operation == "TransactWriteItems":
            # IAM authorises each action of a transaction as its own call (Put: dynamodb:PutItem, ...);
            # there is no TransactWriteItems action.
            for action in params["TransactItems"]:
                (kind, request), *_ = action.items()
                calls.add((current[0], f"{service}:{TRANSACT_ACTIONS[kind]}", _arn(service, request)))
        else:
            calls.add((current[0], f"{service}:{operation}", _arn(service, params)))
        return original(client, operation, params)

    with mock.patch.object(BaseClient, "_make_api_call", record):
        yield


def _rendered(resource: Any) -> list[str]:
    resources = resource if isinstance(resource, list) else [resource]
    patterns = []
    for item in resources:
        text = item["Fn::Sub"] if isinstance(item, dict) and "Fn::Sub" in item else item
        assert isinstance(text, str), f"resource the test cannot render: {item}"
        for name, value in SUBSTITUTIONS.items():
            text = text.replace("${" + name + "}", value)
        patterns.append(text)
    return patterns


def _allowed(role: dict[str, Any], action: str, arn: str) -> bool:
    for policy in role["Properties"]["Policies"]:
        for statement in policy["PolicyDocument"]["Statement"]:
            actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
            if statement["Effect"] != "Allow" or action not in actions:
                continue
            if any(fnmatch.fnmatchcase(arn, pattern) for pattern in _rendered(statement["Resource"])):
                return True
    return False


def _deliver(deliveries: list[Delivery], calls: set[Call]) -> None:
    current = [""]
    with fresh_account() as (_, modules), recorded(calls, current):
        for processor, event in deliveries:
            current[0] = processor
            modules[processor].handler(json.loads(json.dumps(event)), support.Context())


def test_every_call_the_processors_make_is_allowed_by_their_roles() -> None:
    template = load_template(REPO_ROOT / "infrastructure" / "shopify" / "eventbridge-rules.yaml")
    calls: set[Call] = set()

    @settings(max_examples=6, derandomize=True, database=None, deadline=None)
    @given(events=histories())
    def deliver(events: list[Delivery]) -> None:
        _deliver(events, calls)
        _deliver(events[::-1], calls)

    with mock.patch.dict("os.environ", support.environment()):
        deliver()
    actions = {action for _, action, _ in calls}
    assert {"s3:PutObject", "dynamodb:PutItem", "dynamodb:UpdateItem"} <= actions  # the test saw the writes
    denied = sorted(call for call in calls if not _allowed(template["Resources"][ROLES[call[0]]], *call[1:]))
    assert denied == [], "calls the processors' roles do not allow (AccessDenied on AWS)"
