"""One home for an order's fields: ``common.order_fields`` (``glue-scripts/order_fields.py`` links to it) and
the four places that read it. Every field it declares is selected by the bulk export's ORDERS_QUERY (and,
when normalised, by the lookup's ORDER_QUERY), given by ``order_from_graphql`` in the REST shape, stored by
``order_attributes`` under its attribute (or declared not stored), and a column of orders_enriched where
it declares one (tests/glue/test_order_fields_columns.py runs the Glue side on Spark)."""

from __future__ import annotations

import ast
import copy
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from common import order_fields as of
from common.order_fields import ORDER_FIELDS, Kind, OrderField, Shape
from common.shopify.bulk_queries import ORDERS_QUERY
from common.shopify.order_attributes import order_attributes
from common.shopify.resources import ORDER_QUERY, order_from_graphql
from platformctl.simulators.shopify.graphql import validation_errors
from platformctl.simulators.shopify.resources import order_node
from platformctl.simulators.shopify_admin import Field, parse_operation
from tests.conftest import COPIED_FIXTURES

REPO = Path(__file__).resolve().parents[2]
FIXTURE = json.loads((COPIED_FIXTURES / "shopify" / "order__shopify-python-api.json").read_text())["order"]
NORMALISED = [f for f in ORDER_FIELDS if f.normalised]


def _top(query: str, root: str) -> dict[str, Field]:
    """The order node's selections of a query, by field name (a connection's edges/node or nodes opened)."""
    (top,) = parse_operation(query, {"id": "x", "filter": ""}).fields
    assert top.name == root
    selections = top.selections
    while len(selections) == 1 and selections[0].name in {"edges", "node"}:
        selections = selections[0].selections
    return {s.name: s for s in selections if isinstance(s, Field)}


def _leaves(selection: Field, prefix: str = "") -> set[str]:
    if not selection.selections:
        return {prefix + selection.name}
    return {
        leaf
        for child in selection.selections
        if isinstance(child, Field)
        for leaf in _leaves(child, f"{prefix}{selection.name}.")
    }


# ------------------------------------------------------------------------------------------ the table


def test_the_glue_scripts_load_the_lambdas_file_which_needs_only_the_standard_library() -> None:
    link = REPO / "glue-scripts" / "order_fields.py"
    assert link.is_symlink()
    assert link.resolve() == (REPO / "lambdas" / "common" / "order_fields.py").resolve()
    tree = ast.parse(link.read_text(encoding="utf-8"))
    imported = {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    imported |= {n.module or "" for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
    assert imported <= {"__future__", "enum", "dataclasses", "typing"}


def test_each_field_is_declared_once_and_completely() -> None:
    rest = [f.rest for f in ORDER_FIELDS]
    graphql = [f.graphql for f in ORDER_FIELDS if f.graphql is not None]
    assert len(set(rest)) == len(rest)
    assert len(set(graphql)) == len(graphql)
    attributes = [name for f in ORDER_FIELDS for name in (f.stored, *f.more_stored) if name]
    columns = [name for f in ORDER_FIELDS for name in (f.column, *f.more_columns) if name]
    assert len(set(attributes)) == len(attributes)
    assert len(set(columns)) == len(columns)
    for f in ORDER_FIELDS:
        assert (f.kind is Kind.TEXT) == (f.limit is not None), f.rest
        assert (f.shape is Shape.ENUM) == (f.status is not None), f.rest
        assert f.graphql is not None or f.code, f"{f.rest}: a REST-only field needs code of its own"
        if f.kind is Kind.CONTACT:
            assert (f.normalised, f.stored, f.column) == (False, None, None), f"{f.rest} is personal data"
        if not f.normalised:
            assert (f.stored, f.column, f.code) == (None, None, False), f.rest


# ------------------------------------------------------------------------------------------ the queries


def test_the_bulk_query_selects_exactly_the_declared_fields_and_is_valid() -> None:
    query = ORDERS_QUERY % {"filter": "updated_at:>='2025-01-01T00:00:00Z'"}
    assert validation_errors(query) == ()
    selected = _top(ORDERS_QUERY % {"filter": ""}, "orders")
    assert set(selected) == {"__typename"} | {f.graphql for f in ORDER_FIELDS if f.graphql}
    assert next(iter(selected)) == "__typename"  # the download routes a line by its first bytes
    for f in ORDER_FIELDS:
        if f.shape is Shape.MONEY_SET:
            wanted = {f"{f.graphql}.shopMoney.amount", f"{f.graphql}.shopMoney.currencyCode"}
            assert wanted <= _leaves(selected[f.graphql or ""])
        if f.shape is Shape.REFERENCE:
            assert _leaves(selected[f.graphql or ""]) == {f"{f.graphql}.id"}  # gids: no legacyResourceId in bulk


def test_the_lookup_asks_for_every_normalised_field_and_nothing_of_the_lakes_only() -> None:
    selected = _top(ORDER_QUERY, "order")
    assert {f.graphql for f in NORMALISED if f.graphql} <= set(selected)
    assert not {f.graphql for f in ORDER_FIELDS if not f.normalised} & set(selected)


# ------------------------------------------------------------------------------------ order_from_graphql


def test_order_from_graphql_gives_every_normalised_field_under_its_rest_key() -> None:
    order = order_from_graphql(order_node(FIXTURE))
    for f in NORMALISED:
        if f.shape is Shape.MONEY_SET:
            assert f"{f.rest}_set" in order, f.rest
            if not f.code and FIXTURE.get(f.rest) is not None:
                assert Decimal(order[f.rest]) == Decimal(FIXTURE[f.rest]), f.rest
                assert order[f"{f.rest}_set"]["shop_money"]["amount"] == order[f.rest], f.rest
        else:
            assert f.rest in order, f.rest
    for f in ORDER_FIELDS:
        if not f.normalised:
            assert not {f.rest, f"{f.rest}_set"} & set(order), f.rest


def test_order_from_graphql_converts_each_shape_of_the_table() -> None:
    node = order_node(FIXTURE | {"financial_status": "partially_refunded", "fulfillment_status": "partial"})
    node |= {"tags": ["a", "b"], "cancelReason": "CUSTOMER"}
    order = order_from_graphql(node)
    assert (order["id"], order["admin_graphql_api_id"]) == (450789469, "gid://shopify/Order/450789469")
    assert (order["financial_status"], order["fulfillment_status"]) == ("partially_refunded", "partial")
    assert (order["cancel_reason"], order["tags"]) == ("customer", "a, b")
    assert order["customer"] == {"id": 207119551}
    assert order["discount_codes"] == [{"code": "TENOFF"}]
    assert order["total_price_set"] == {"shop_money": {"amount": "409.94", "currency_code": "USD"}}


# ------------------------------------------------------------------------------------------ the item


def test_the_item_has_exactly_the_declared_attributes() -> None:
    attributes = order_attributes(FIXTURE)
    assert set(attributes) == of.attribute_names()
    assert set(order_attributes(order_from_graphql(order_node(FIXTURE)))) == of.attribute_names()


PROBES: dict[Kind, tuple[Any, Any]] = {
    Kind.TEXT: ("probe", "probe"),
    Kind.MONEY: ("12.34", {"amount": Decimal("12.34"), "currency": "USD"}),
    Kind.TIMESTAMP: ("2026-01-02T03:04:05+01:00", "2026-01-02T02:04:05.000000Z"),
    Kind.TOKEN: ("tok-probe", "tok-probe"),
    Kind.BOOLEAN: (True, True),
    Kind.TAGS: ("a, b", ["a", "b"]),
    Kind.ID: ({"id": 42}, "42"),
}


@pytest.mark.parametrize("order_field", [f for f in of.TABLE_DRIVEN if f.stored], ids=lambda f: f.rest)
def test_each_stored_field_is_read_from_its_rest_key_by_its_kind(order_field: OrderField) -> None:
    payload = copy.deepcopy(FIXTURE)
    payload.pop(f"{order_field.rest}_set", None)
    value, stored = PROBES[order_field.kind]
    payload[order_field.rest] = value
    assert order_attributes(payload)[order_field.stored or ""] == stored
    if order_field.kind is Kind.TEXT and order_field.limit:
        payload[order_field.rest] = "x" * (order_field.limit + 5)
        assert order_attributes(payload)[order_field.stored or ""] == "x" * order_field.limit


def test_an_index_key_is_left_out_when_unknown() -> None:
    for f in ORDER_FIELDS:
        if f.index_key:
            assert f.stored not in order_attributes(FIXTURE | {f.rest: None}), f.rest


# ------------------------------------------------------------------------------------------ the Glue job


def test_every_declared_column_is_a_version_column_of_orders_enriched() -> None:
    import orders_enriched as oe

    assert of.column_names() <= set(oe.VERSION_COLUMNS)
    # what no field of the order feeds: the job's own lineage and the delete mark
    assert set(oe.VERSION_COLUMNS) - of.column_names() == {"deleted", "source", "source_event_id"}
