"""The per-entity blocks of the Shopify real-time stack differ only in the entity's name.

``infrastructure/shopify/eventbridge-rules.yaml`` gives each of the five processors the same operational
blocks: its dead-letter queue and the queue's policy, log group, asynchronous-invoke configuration,
invoke permission for its rule, three alarms and the outputs that name them. They are written out rather
than generated (``Fn::ForEach`` would need the ``AWS::LanguageExtensions`` transform in every tool that
reads the template: the local cloud, cfn-lint, checkov, the cost and dashboard generators), so this test
is what keeps them from drifting: with the entity's name replaced by a placeholder, every block must be
the same as the orders block. What legitimately differs per entity (the role's grants, the function's
environment, the rule's topics) is not in these blocks.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = REPO_ROOT / "infrastructure" / "shopify" / "eventbridge-rules.yaml"
# (singular, plural) as the template spells them in logical ids, names and runbook slugs.
ENTITIES = (
    ("order", "orders"),
    ("fulfillment", "fulfillments"),
    ("customer", "customers"),
    ("product", "products"),
    ("cart", "carts"),
)
# Logical-id patterns of the uniform blocks; {E}/{Es} are the entity capitalised, singular/plural.
RESOURCE_BLOCKS = (
    "{Es}Dlq",
    "{Es}DlqPolicy",
    "{E}ProcessorLogGroup",
    "{E}ProcessorInvokeConfig",
    "{E}ProcessorPermission",
    "{E}ProcessorErrorsAlarm",
    "{E}ProcessorThrottlesAlarm",
    "{Es}DlqAlarm",
)
# The cart processor also takes the checkouts/* topics: its blocks may say so, and only that.
ALSO_NAMED = {"cart": (" and checkouts", " (and checkouts)", " (and checkouts/*)")}
OUTPUT_BLOCKS = ("{Es}DlqUrl", "{Es}DlqArn", "{Es}DlqName", "{E}ProcessorFunctionName", "{Es}RuleName")


def _logical_id(pattern: str, singular: str, plural: str) -> str:
    return pattern.format(E=singular.capitalize(), Es=plural.capitalize())


def _normalised(block: Any, singular: str, plural: str) -> str:
    """The block as JSON with every spelling of the entity's name replaced by a placeholder."""
    text = json.dumps(block, sort_keys=True)
    for mention in ALSO_NAMED.get(singular, ()):
        text = text.replace(mention, "")
    for word, mark in ((plural, "es"), (singular, "e")):  # plural first: it contains the singular
        text = re.sub(rf"(?<![A-Za-z]){word.capitalize()}(?![a-z])", "{" + mark.upper() + "}", text)
        text = re.sub(rf"(?<![A-Za-z]){word.upper()}(?![A-Z])", "{" + mark.upper() + "!}", text)
        text = re.sub(rf"(?<![A-Za-z]){word}(?![a-z])", "{" + mark + "}", text)
    return text


@pytest.fixture(scope="module")
def template(templates: dict[Path, Any]) -> Any:
    return templates[TEMPLATE]


@pytest.mark.parametrize("pattern", RESOURCE_BLOCKS)
def test_a_per_entity_resource_differs_only_in_the_entity_name(template: Any, pattern: str) -> None:
    singular, plural = ENTITIES[0]
    reference = _normalised(template["Resources"][_logical_id(pattern, singular, plural)], singular, plural)
    for singular, plural in ENTITIES[1:]:
        logical_id = _logical_id(pattern, singular, plural)
        assert logical_id in template["Resources"], f"{logical_id} is missing"
        block = _normalised(template["Resources"][logical_id], singular, plural)
        assert block == reference, f"{logical_id} differs from the orders block beyond the entity name"


@pytest.mark.parametrize("pattern", OUTPUT_BLOCKS)
def test_a_per_entity_output_differs_only_in_the_entity_name(template: Any, pattern: str) -> None:
    singular, plural = ENTITIES[0]
    reference = _normalised(template["Outputs"][_logical_id(pattern, singular, plural)], singular, plural)
    for singular, plural in ENTITIES[1:]:
        logical_id = _logical_id(pattern, singular, plural)
        assert logical_id in template["Outputs"], f"{logical_id} is missing"
        assert _normalised(template["Outputs"][logical_id], singular, plural) == reference, logical_id


def test_the_normalisation_tells_a_real_difference() -> None:
    orders = {"Threshold": 1, "Name": "acme-orders-dlq", "Id": "OrderProcessor"}
    carts = {"Threshold": 2, "Name": "acme-carts-dlq", "Id": "CartProcessor"}
    assert _normalised({**orders, "Threshold": 2}, "order", "orders") == _normalised(carts, "cart", "carts")
    assert _normalised(orders, "order", "orders") != _normalised(carts, "cart", "carts")
    assert "reorder" in _normalised({"x": "reorder"}, "order", "orders")
