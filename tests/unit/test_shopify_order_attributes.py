"""``common.shopify_order_attributes`` (the table-driven order item) gives exactly what
``common.shopify_order_item.order_attributes`` gives: the same attributes for every order fixture, every
simulated order (as a webhook and as a bulk line) and the same error for every malformed payload.

Kept while both exist; when the processors switch to the new module and the old function goes, this file
goes with it (tests/unit/test_order_fields.py keeps the table's own checks)."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

from common import shopify_order_attributes as new
from common import shopify_order_item as old
from common.bulk_reconcile import _with_legacy_ids
from common.errors import BadInput
from common.shopify_resources import order_from_graphql
from platformctl.simulators.shopify.orders import order_lines
from platformctl.simulators.shopify.resources import order_node
from tests.conftest import COPIED_FIXTURES, SHARED_FIXTURES

REST_FIXTURE = COPIED_FIXTURES / "shopify" / "order__shopify-python-api.json"


def _orders_in(path: Path) -> Iterator[Mapping[str, Any]]:
    """The orders of a fixture: a REST response ({"order": ...}), an EventBridge event (detail.payload) or
    a webhook body."""
    document = json.loads(path.read_text(encoding="utf-8"))
    if isinstance(document.get("order"), Mapping):
        yield document["order"]
    elif isinstance(document.get("detail"), Mapping) and isinstance(document["detail"].get("payload"), Mapping):
        yield document["detail"]["payload"]
    elif "line_items" in document:
        yield document


def _fixture_files() -> list[Path]:
    """Every order fixture in tests/fixtures (and ../shared's real ones when present)."""
    found = sorted(p for p in COPIED_FIXTURES.rglob("order*.json") if "shopify" in p.parts)
    if SHARED_FIXTURES.is_dir():
        found += sorted(
            p for p in (SHARED_FIXTURES / "shopify").rglob("*.json") if p.name.startswith(("order", "orders_"))
        )
    return found


def _outcome(convert: Callable[[Mapping[str, Any]], dict[str, Any]], payload: Mapping[str, Any]) -> Any:
    try:
        return ("ok", convert(payload))
    except BadInput as error:
        return ("bad", error.reason, error.detail)


def assert_same(payload: Mapping[str, Any]) -> Any:
    expected = _outcome(old.order_attributes, payload)
    assert _outcome(new.order_attributes, payload) == expected
    return expected


def test_the_fixtures_are_found() -> None:
    assert REST_FIXTURE in _fixture_files()


@pytest.mark.parametrize("path", _fixture_files(), ids=lambda p: p.name)
def test_every_order_fixture_gives_the_same_item(path: Path) -> None:
    orders = list(_orders_in(path))
    assert orders, path
    for payload in orders:
        assert assert_same(payload)[0] == "ok"
        assert assert_same(order_from_graphql(order_node(payload)))[0] == "ok"  # the same order from GraphQL


def test_every_simulated_order_gives_the_same_item_as_a_bulk_line() -> None:
    for index in range(120):
        lines = order_lines(11, index, 120)
        items = [line for line in lines[1:] if line["__typename"] == "LineItem"]
        node = _with_legacy_ids(dict(lines[0], lineItems=items))
        assert assert_same(order_from_graphql(node))[0] == "ok"


def _order() -> dict[str, Any]:
    return dict(copy.deepcopy(json.loads(REST_FIXTURE.read_text(encoding="utf-8"))["order"]))


def _set(path: str, value: Any) -> Callable[[dict[str, Any]], None]:
    def change(order: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        target: Any = order
        for part in parents:
            target = target[int(part)] if isinstance(target, list) else target[part]
        if isinstance(target, list):
            target[int(last)] = value
        else:
            target[last] = value

    return change


def _drop(*names: str) -> Callable[[dict[str, Any]], None]:
    return lambda order: [order.pop(name, None) for name in names] and None


MALFORMED = {
    # the processors' own quarantine cases (tests/unit/shopify/test_processors.py)
    "total price": [_set("total_price", "lots")],
    "line items": [_set("line_items", "many")],
    "customer id": [_set("customer.id", -1)],
    # every kind of stored field, wrong
    "name": [_set("name", 5)],
    "currency": [_set("currency", 5)],
    "presentment currency": [_set("presentment_currency", ["USD"])],
    "order number": [_set("order_number", "abc")],
    "order number bool": [_set("order_number", True)],
    "money set": [_set("total_tax_set", {"shop_money": {"amount": "N/A", "currency_code": "USD"}})],
    "status": [_set("financial_status", {"a": 1})],
    "timestamp": [_set("processed_at", "last tuesday")],
    "cancelled at": [_set("cancelled_at", "soon")],
    "cancel reason": [_set("cancel_reason", 1)],
    "token": [_set("cart_token", "has spaces in it")],
    "checkout token": [_set("checkout_token", 12)],
    "tags": [_set("tags", 5)],
    "tag list": [_set("tags", ["a", 1])],
    "customer": [_set("customer", "someone")],
    "created at": [_set("created_at", "yesterday")],
    "line item": [_set("line_items.0", 5)],
    "line item quantity": [_set("line_items.0.quantity", "two")],
    "line item price": [_set("line_items.0.price", "free")],
    "line item id": [_set("line_items.0.id", "x")],
    "refunds": [_set("refunds", {"a": 1})],
    "refund": [_set("refunds", [5])],
    "refund amount": [
        _set("refunds", [{"transactions": [{"kind": "refund", "status": "success", "amount": "x"}]}]),
    ],
    "total refunded set": [_set("total_refunded_set", {"shop_money": {"amount": "x"}})],
    # several bad fields: the first checked fails, as before
    "name and order number": [_set("name", 5), _set("order_number", "abc")],
    "price and token": [_set("total_price", "lots"), _set("cart_token", "has spaces")],
    "customer and lines": [_set("customer", "someone"), _set("line_items", "many")],
    "timestamps": [_set("closed_at", "x"), _set("processed_at", "y"), _set("created_at", "z")],
    "tags and customer id": [_set("tags", 5), _set("customer.id", -1)],
}
ACCEPTED = {
    "customer gid": [_set("customer.id", "gid://shopify/Customer/77")],
    "no customer": [_set("customer", None)],
    "no created at": [_drop("created_at")],
    "empty order number": [_set("order_number", ""), _set("name", "SHOP-1")],
    "no currency": [_drop("currency")],
    "empty": [lambda order: order.clear()],
    "test as text": [_set("test", "yes")],
}


@pytest.mark.parametrize("case", sorted(MALFORMED))
def test_a_malformed_order_fails_the_same_way(case: str) -> None:
    order = _order()
    for change in MALFORMED[case]:
        change(order)
    assert assert_same(order)[0] == "bad"


@pytest.mark.parametrize("case", sorted(ACCEPTED))
def test_blanks_absences_and_other_forms_are_read_the_same_way(case: str) -> None:
    order = _order()
    for change in ACCEPTED[case]:
        change(order)
    assert assert_same(order)[0] == "ok"
