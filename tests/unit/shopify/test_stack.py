"""infrastructure/shopify/eventbridge-rules.yaml: the wiring the processors and operators rely on."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from moto.events.models import EventPattern

from common.errors import BadInput
from common.shopify import events as se
from platformctl.manifest import REPO_ROOT, load_manifest
from platformctl.templates import load_template
from tests.unit.shopify import support

TEMPLATE = REPO_ROOT / "infrastructure" / "shopify" / "eventbridge-rules.yaml"
# rule -> (function, DLQ, lake folders, tables the role may write)
WIRING = {
    "OrdersRule": ("OrderProcessor", "OrdersDlq", ["orders"], ["OrdersTableName", "AbandonedCartsTableName"]),
    "FulfillmentsRule": ("FulfillmentProcessor", "FulfillmentsDlq", ["fulfillments"], ["OrdersTableName"]),
    "CustomersRule": ("CustomerProcessor", "CustomersDlq", ["customers"], ["CustomersTableName"]),
    "ProductsRule": ("ProductProcessor", "ProductsDlq", ["products"], []),
    "CartsRule": ("CartProcessor", "CartsDlq", ["carts", "checkouts"], ["AbandonedCartsTableName"]),
}
ENTITY_OF_RULE = {
    "OrdersRule": "orders",
    "FulfillmentsRule": "fulfillments",
    "CustomersRule": "customers",
    "ProductsRule": "products",
    "CartsRule": "carts",
}


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    return load_template(TEMPLATE)


def _resources(template: dict[str, Any]) -> dict[str, Any]:
    return dict(template["Resources"])


def _statements(role: dict[str, Any]) -> list[dict[str, Any]]:
    return [s for policy in role["Properties"]["Policies"] for s in policy["PolicyDocument"]["Statement"]]


def _text(node: Any) -> str:
    return json.dumps(node, sort_keys=True)


def _pattern(template: dict[str, Any], rule: str, source: str = support.EVENT_SOURCE) -> EventPattern:
    """The rule's pattern as deployed with PartnerEventSourceName = ``source``."""
    text = _text(_resources(template)[rule]["Properties"]["EventPattern"])
    resolved = text.replace(_text({"Ref": "PartnerEventSourceName"}), json.dumps(source))
    assert "Ref" not in resolved
    return EventPattern.load(resolved)


@pytest.mark.parametrize("rule", sorted(WIRING))
def test_rule_targets_its_processor_with_retries_and_its_dlq(template: dict[str, Any], rule: str) -> None:
    function, dlq, _, _ = WIRING[rule]
    resources = _resources(template)
    props = resources[rule]["Properties"]
    assert props["EventBusName"] == {"Fn::GetAtt": ["EventBus", "Name"]}
    [target] = props["Targets"]
    assert target["Arn"] == {"Fn::GetAtt": [function, "Arn"]}
    assert target["DeadLetterConfig"] == {"Arn": {"Fn::GetAtt": [dlq, "Arn"]}}
    assert target["RetryPolicy"]["MaximumEventAgeInSeconds"] == 86400
    # Lambda's own retries land in the same queue, with the event as the body
    assert resources[function]["Properties"]["DeadLetterConfig"] == {"TargetArn": {"Fn::GetAtt": [dlq, "Arn"]}}
    invoke = next(
        r
        for r in resources.values()
        if r["Type"] == "AWS::Lambda::EventInvokeConfig" and r["Properties"]["FunctionName"] == {"Ref": function}
    )
    assert invoke["Properties"]["MaximumRetryAttempts"] == 2
    assert "DestinationConfig" not in invoke["Properties"]  # a destination would wrap the event
    permission = next(
        r
        for r in resources.values()
        if r["Type"] == "AWS::Lambda::Permission"
        and r["Properties"]["FunctionName"] == {"Fn::GetAtt": [function, "Arn"]}
    )
    assert permission["Properties"]["SourceArn"] == {"Fn::GetAtt": [rule, "Arn"]}
    assert permission["Properties"]["Principal"] == "events.amazonaws.com"


@pytest.mark.parametrize("rule", sorted(WIRING))
def test_rule_patterns_route_exactly_the_processor_topics(template: dict[str, Any], rule: str) -> None:
    pattern = _pattern(template, rule)
    owner = ENTITY_OF_RULE[rule]
    topics = [*se.TOPICS, "fulfillment_events/create", "fulfillment_orders/cancelled", "bulk_operations/finish"]
    for topic in topics:
        for lowercase in (False, True):
            event = support.envelope(topic, {"id": 1}, lowercase=lowercase)
            try:
                entity = se.topic_info(topic)[0]
            except BadInput:  # a topic no processor takes
                entity = None
            expected = entity is not None and ("carts" if entity == "checkouts" else entity) == owner
            assert pattern.matches_event(event) is expected, (rule, topic, lowercase)


FOREIGN_SOURCES = [
    "aws.partner/shopify.com/7654321/another-app",  # another Shopify app's partner source
    "aws.partner/shopify.com/1234567/acme-local-evil",  # a prefix of it is not it
    "aws.partner/shopify.com/1234567",
    "AWS.PARTNER/SHOPIFY.COM/1234567/ACME-LOCAL",  # EventBridge compares sources exactly
    "shopify.com/webhooks",
    "custom.attacker",
    "",
]


@pytest.mark.parametrize("rule", sorted(WIRING))
@pytest.mark.parametrize("source", FOREIGN_SOURCES)
def test_rules_ignore_events_of_any_other_source(template: dict[str, Any], rule: str, source: str) -> None:
    """Rules match only the partner event source: a principal with events:PutEvents on a custom bus
    cannot reach a processor (and so cannot tombstone an order) with another source."""
    pattern = _pattern(template, rule)
    owner = next(
        t for t in se.TOPICS if ("carts" if se.TOPICS[t][0] == "checkouts" else se.TOPICS[t][0]) == ENTITY_OF_RULE[rule]
    )
    event = support.envelope(owner, {"id": 1}, source=source)
    assert not pattern.matches_event(event)
    assert pattern.matches_event(support.envelope(owner, {"id": 1}))
    no_source = {k: v for k, v in support.envelope(owner, {"id": 1}).items() if k != "source"}
    assert not pattern.matches_event(no_source)


def test_the_processors_and_the_outputs_name_the_same_source(template: dict[str, Any]) -> None:
    resources = _resources(template)
    for function, _, _, _ in WIRING.values():
        variables = resources[function]["Properties"]["Environment"]["Variables"]
        assert variables["SHOPIFY_EVENT_SOURCE"] == {"Ref": "PartnerEventSourceName"}, function
    for rule in WIRING:
        assert resources[rule]["Properties"]["EventPattern"]["source"] == [{"Ref": "PartnerEventSourceName"}]
    assert template["Outputs"]["ShopifyEventSource"]["Value"] == {"Ref": "PartnerEventSourceName"}


@pytest.mark.parametrize("rule", sorted(WIRING))
def test_dlq_is_encrypted_and_only_its_rule_may_send(template: dict[str, Any], rule: str) -> None:
    _, dlq, _, _ = WIRING[rule]
    resources = _resources(template)
    queue = resources[dlq]
    assert queue["Properties"]["KmsMasterKeyId"] == {"Fn::GetAtt": ["ShopifyEventsKey", "Arn"]}
    assert queue["DeletionPolicy"] == "Retain"
    entity = ENTITY_OF_RULE[rule]
    assert queue["Properties"]["QueueName"] == {"Fn::Sub": f"${{Brand}}-shopify-{entity}-events-dlq"}
    policy = next(
        r
        for r in resources.values()
        if r["Type"] == "AWS::SQS::QueuePolicy" and r["Properties"]["Queues"] == [{"Ref": dlq}]
    )
    allow = next(s for s in policy["Properties"]["PolicyDocument"]["Statement"] if s["Effect"] == "Allow")
    assert allow["Principal"] == {"Service": "events.amazonaws.com"}
    assert allow["Condition"] == {"ArnEquals": {"aws:SourceArn": {"Fn::GetAtt": [rule, "Arn"]}}}


def test_the_dlq_key_lets_eventbridge_and_the_functions_use_it(template: dict[str, Any]) -> None:
    statements = {s["Sid"]: s for s in _resources(template)["ShopifyEventsKey"]["Properties"]["KeyPolicy"]["Statement"]}
    events = statements["EventBridgeRulesSendToDeadLetterQueues"]
    assert events["Principal"] == {"Service": "events.amazonaws.com"}
    assert set(events["Action"]) == {"kms:Decrypt", "kms:GenerateDataKey"}
    assert "aws:SourceArn" in _text(events["Condition"])
    via_sqs = statements["UseThroughSqsByAccountPrincipals"]
    assert "sqs.${AWS::Region}" in _text(via_sqs["Condition"])


@pytest.mark.parametrize("rule", sorted(WIRING))
def test_roles_are_least_privilege(template: dict[str, Any], rule: str) -> None:
    function, dlq, folders, tables = WIRING[rule]
    resources = _resources(template)
    statements = _statements(resources[f"{function}Role"])
    puts = [r for s in statements if s["Action"] == "s3:PutObject" for r in s["Resource"]]
    prefixes = sorted(re.search(r"\}/(.*)\*$", r["Fn::Sub"]).group(1) for r in puts)  # type: ignore[union-attr]
    expected = sorted([f"raw/shopify/webhooks/{f}/" for f in folders] + ["quarantine/shopify/"])
    if function == "ProductProcessor":
        expected = sorted([*expected, "processed/shopify/product_snapshots/"])
    if function == "OrderProcessor":  # keep_fetched: a reduced payload's order beside its raw event
        expected = sorted([*expected, "raw/shopify/fetched/orders/"])
    assert prefixes == expected
    dynamo = [s for s in statements if "dynamodb" in _text(s["Action"])]
    actions = {a for s in dynamo for a in (s["Action"] if isinstance(s["Action"], list) else [s["Action"]])}
    assert actions <= {"dynamodb:PutItem", "dynamodb:UpdateItem"}  # writes only: no reads, scans or deletes
    named = sorted({t for s in dynamo for t in re.findall(r"table/\$\{(\w+)\}", _text(s["Resource"]))})
    assert named == sorted(tables)
    sends = [s for s in statements if s["Action"] == "sqs:SendMessage"]
    assert [s["Resource"] for s in sends] == [{"Fn::GetAtt": [dlq, "Arn"]}]
    star = [s for s in statements if s.get("Resource") == "*"]
    assert [s["Sid"] for s in star] == ["XRayHasNoResourceLevelPermissions"]


def test_functions_are_traced_logged_and_sized(template: dict[str, Any]) -> None:
    resources = _resources(template)
    for function, _, _, _ in WIRING.values():
        props = resources[function]["Properties"]
        assert props["TracingConfig"] == {"Mode": "Active"}
        assert props["MemorySize"] == 256
        assert props["Timeout"] == 60
        group = resources[f"{function}LogGroup"]["Properties"]
        assert group["LogGroupName"] == {"Fn::Sub": f"/aws/lambda/${{{function}}}"}
        assert group["RetentionInDays"] == {"Ref": "LogRetentionDays"}


def test_outputs_feed_the_local_endpoints_and_the_operators(template: dict[str, Any]) -> None:
    outputs = template["Outputs"]
    for entity in ("Orders", "Fulfillments", "Customers", "Products", "Carts"):
        assert {f"{entity}DlqUrl", f"{entity}DlqArn", f"{entity}DlqName", f"{entity}RuleName"} <= set(outputs)
    for function, _, _, _ in WIRING.values():
        assert f"{function}FunctionName" in outputs
    assert {"EventBusName", "EventBusArn", "EventArchiveName", "EventArchiveArn"} <= set(outputs)


def test_the_bus_is_the_partner_bus_in_prod_and_a_custom_bus_locally() -> None:
    from platformctl.params import read_parameter_file

    stack = load_manifest().select("shopify", "eventbridge-rules")[0]
    local = {**read_parameter_file(stack.settings_file("local")), **read_parameter_file(stack.parameter_file("local"))}
    prod = {**read_parameter_file(stack.settings_file("prod")), **read_parameter_file(stack.parameter_file("prod"))}
    # Locally a custom bus, whose rules still require a partner-shaped source (the one tests and the demo use).
    assert (local["PartnerEventSourceName"], local["UsePartnerBus"]) == (support.EVENT_SOURCE, "false")
    assert local["ShopifyAdminBaseUrl"] == "{{local:simulators.shopify}}"
    assert re.fullmatch(r"aws\.partner/shopify\.com/[^/]+/[^/]+", prod["PartnerEventSourceName"])
    assert prod["UsePartnerBus"] == "true"
    staging = read_parameter_file(stack.parameter_file("staging"))
    assert staging["UsePartnerBus"] == "true"
    assert prod["ShopifyAdminBaseUrl"] == ""
    bus = load_template(TEMPLATE)["Resources"]["EventBus"]["Properties"]
    assert bus["EventSourceName"] == {
        "Fn::If": ["IsPartnerBus", {"Ref": "PartnerEventSourceName"}, {"Ref": "AWS::NoValue"}]
    }
