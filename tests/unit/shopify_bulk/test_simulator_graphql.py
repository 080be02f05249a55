"""The simulator's GraphQL on graphql-core: every document the platform sends validates against the declared
Admin API subset, and documents the real Admin API refuses are refused here with Shopify's codes and words."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from common.shopify.bulk import ACCESS_SCOPES_QUERY, CURRENT_OPERATION_QUERY, RUN_QUERY_MUTATION, STATUS_QUERY
from common.shopify.bulk_queries import QUERIES
from common.shopify.resources import CUSTOMER_QUERY, FULFILLMENT_QUERY, ORDER_QUERY, PRODUCT_QUERY
from platformctl.simulators.shopify.graphql import validation_errors
from platformctl.simulators.shopify.resolvers import execute
from platformctl.simulators.shopify.state import SimulatorState

PLATFORM_DOCUMENTS = {
    **{f"bulk {name}": query % {"filter": "updated_at:>='2025-01-01T00:00:00Z'"} for name, query in QUERIES.items()},
    "order lookup": ORDER_QUERY,
    "customer lookup": CUSTOMER_QUERY,
    "product lookup": PRODUCT_QUERY,
    "fulfillment lookup": FULFILLMENT_QUERY,
    "status": STATUS_QUERY,
    "current operation": CURRENT_OPERATION_QUERY,
    "run": RUN_QUERY_MUTATION,
    "scopes": ACCESS_SCOPES_QUERY,
}


@pytest.fixture
def state() -> Iterator[SimulatorState]:
    shop = SimulatorState({"orders": 8})
    try:
        yield shop
    finally:
        shop.cleanup()


@pytest.mark.parametrize("name", sorted(PLATFORM_DOCUMENTS))
def test_every_document_the_platform_sends_is_valid(name: str) -> None:
    assert validation_errors(PLATFORM_DOCUMENTS[name]) == ()


def only_error(body: dict[str, Any]) -> dict[str, Any]:
    assert "data" not in body, body
    (error,) = body["errors"]
    return dict(error)


@pytest.mark.parametrize(
    ("query", "message", "extensions"),
    [
        (
            "{ shop { nope } }",
            "Field 'nope' doesn't exist on type 'Shop'",
            {"code": "undefinedField", "typeName": "Shop", "fieldName": "nope"},
        ),
        (
            "{ bulkOperation(id: 1, foo: 2) { id } }",
            "Field 'bulkOperation' doesn't accept argument 'foo'",
            {"code": "argumentNotAccepted", "name": "bulkOperation", "typeName": "Field", "argumentName": "foo"},
        ),
        (
            "{ bulkOperation { id } }",
            "Field 'bulkOperation' is missing required arguments: id",
            {"code": "missingRequiredArguments", "className": "Field", "name": "bulkOperation", "arguments": "id"},
        ),
        (
            "{ shop { name { first } } }",
            "Selections can't be made on scalars (field 'name' returns String but has selections [first])",
            {"code": "selectionMismatch", "nodeName": "field 'name'", "typeName": "String"},
        ),
        (
            "{ shop }",
            "Field must have selections (field 'shop' returns Shop but has no selections. "
            "Did you mean 'shop { ... }'?)",
            {"code": "selectionMismatch", "nodeName": "field 'shop'", "typeName": "Shop"},
        ),
        (
            "query S { bulkOperation(id: $id) { id } }",
            "Variable $id is used by S but not declared",
            {"code": "variableNotDefined", "variableName": "id"},
        ),
        (
            "query S($id: ID!) { shop { name } }",
            "Variable $id is declared by S but not used",
            {"code": "variableNotUsed", "variableName": "id"},
        ),
        (
            "{ shop { ...F } }",
            "Fragment F was used, but not defined",
            {"code": "useAndDefineFragment", "fragmentName": "F"},
        ),
        (
            "{ shop { ... on Order { id } } }",
            "Fragment on Order can't be spread inside Shop",
            {"code": "cannotSpreadFragment", "typeName": "Order", "parentName": "Shop"},
        ),
        (
            "{ currentBulkOperation(type: SOMETIMES) { id } }",
            "Argument 'type' on Field 'currentBulkOperation' has an invalid value (SOMETIMES). "
            "Expected type 'BulkOperationType'.",
            {"code": "argumentLiteralsIncompatible", "typeName": "Field", "argumentName": "type"},
        ),
    ],
)
def test_invalid_documents_answer_shopify_errors(
    state: SimulatorState, query: str, message: str, extensions: dict[str, Any]
) -> None:
    body = execute(state, query, {})
    error = only_error(body)
    assert (error["message"], error["extensions"]) == (message, extensions)
    assert error["locations"][0]["line"] == 1
    assert body["extensions"]["cost"]["throttleStatus"]["maximumAvailable"] == 2000.0
    assert state.counters["invalid_queries"] == 1


def test_errors_carry_the_path_through_the_document(state: SimulatorState) -> None:
    error = only_error(execute(state, "query Q { node(id: 1) { ... on BulkOperation { nope } } }", {}))
    assert error["path"] == ["query Q", "node", "... on BulkOperation", "nope"]


def test_a_variable_of_the_wrong_type_is_an_invalid_variable(state: SimulatorState) -> None:
    error = only_error(execute(state, STATUS_QUERY, {}))
    assert error["message"] == "Variable $id of type ID! was provided invalid value"
    assert error["extensions"]["code"] == "INVALID_VARIABLE"
    assert state.counters["operations_created"] == 0


@pytest.mark.parametrize(
    ("bulk_query", "message"),
    [
        ("{ orders { edges { node { id nope } } } }", "Invalid bulk query: Field 'nope' doesn't exist on type 'Order'"),
        ("{ orders(sortKey: SIZE) { edges { node { id } } } }", "Invalid bulk query: Argument 'sortKey' on Field"),
        ("{ shop { name } }", "Invalid bulk query: Bulk queries must contain at least one connection."),
        ("{ orders { edges { node { id } }", "Invalid bulk query: Parse error"),
    ],
)
def test_a_bulk_query_the_admin_api_refuses_is_an_invalid_user_error(
    state: SimulatorState, bulk_query: str, message: str
) -> None:
    body = execute(state, RUN_QUERY_MUTATION, {"query": bulk_query})
    payload = body["data"]["bulkOperationRunQuery"]
    assert payload["bulkOperation"] is None
    (error,) = payload["userErrors"]
    assert error["code"] == "INVALID"
    assert error["message"].startswith(message)
    assert state.operations == {}


def test_operation_name_chooses_the_operation(state: SimulatorState) -> None:
    document = "query A { shop { name } } query B { currentAppInstallation { accessScopes { handle } } }"
    body = execute(state, document, {}, "B")
    assert set(body["data"]) == {"currentAppInstallation"}
