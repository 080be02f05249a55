"""The Admin API's top-level fields: a registry of resolvers, and ``execute`` (parse, throttle, validate,
run) that answers a GraphQL request's body.

Each top-level field is resolved by ``QUERY_FIELDS[<field name>](state, variables, query)``; graphql-core
completes the value against the schema (aliases, fragments, ``__typename``, abstract types by the value's
``__typename``). The registry is the extension point: another module adds a resolver with
``QUERY_FIELDS["order"] = ...`` (``field_arguments`` reads a field's arguments, ``GraphQLError`` reports an
error), and ``node(id:)`` dispatches on the gid's type through ``NODE_TYPES``. A field the schema declares
but no resolver serves answers ``undefinedField``, as the simulator always has for what it does not serve.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from graphql import language as ast

from platformctl.simulators.shopify.bulk import bulk_query_problem, bulk_resource
from platformctl.simulators.shopify.graphql import (
    GraphQLError,
    GraphQLSyntaxError,
    field_arguments,
    first_operation,
    parse_document,
    run,
    validation_errors,
)
from platformctl.simulators.shopify.state import BUCKET_MAXIMUM, BUCKET_RESTORE_RATE, SimulatorState

Resolver = Callable[[SimulatorState, dict[str, Any], str], Any]


def _run_query(state: SimulatorState, variables: dict[str, Any], query: str) -> Any:
    arguments = field_arguments(query, variables, "bulkOperationRunQuery")
    bulk_query = arguments.get("query")
    if not isinstance(bulk_query, str) or not bulk_query.strip():
        raise GraphQLError("Variable $query of type String! was provided invalid value", code="INVALID_VARIABLE")
    forced = state._take("user_error")
    running = state.running_operation()
    if forced or running is not None:
        code = (forced or {}).get("code", "OPERATION_IN_PROGRESS")
        state.counters[f"user_error_{code.lower()}"] += 1
        message = {
            "OPERATION_IN_PROGRESS": "A bulk query operation for this app and shop is already in progress: "
            + (running.id if running else "gid://shopify/BulkOperation/4099999999")
            + ".",
            "LIMIT_REACHED": "Bulk operations limit reached for this shop. Please try again later.",
        }.get(code, "Invalid bulk query: " + str((forced or {}).get("message", "the query is not valid")))
        return {"bulkOperation": None, "userErrors": [{"field": ["query"], "message": message, "code": code}]}
    problem = bulk_query_problem(bulk_query)
    if problem is not None:
        state.counters["user_error_invalid"] += 1
        return {
            "bulkOperation": None,
            "userErrors": [{"field": ["query"], "message": f"Invalid bulk query: {problem}", "code": "INVALID"}],
        }
    resource = bulk_resource(bulk_query)
    if resource is None:
        message = "The simulator exports orders, customers and products only."
        return {"bulkOperation": None, "userErrors": [{"field": ["query"], "message": message, "code": "INVALID"}]}
    operation = state.new_operation(bulk_query, resource)
    state.counters["operations_created"] += 1
    return {"bulkOperation": state.render_operation(operation), "userErrors": []}


def _cancel(state: SimulatorState, variables: dict[str, Any], query: str) -> Any:
    operation = state.operations.get(str(field_arguments(query, variables, "bulkOperationCancel").get("id")))
    if operation is None:
        return {"bulkOperation": None, "userErrors": [{"field": ["id"], "message": "Bulk operation does not exist"}]}
    with state.lock:
        if operation.status in {"CREATED", "RUNNING"}:
            operation.status = "CANCELING"
    return {"bulkOperation": state.render_operation(operation), "userErrors": []}


def _bulk_operation(state: SimulatorState, variables: dict[str, Any], query: str) -> Any:
    operation = state.operations.get(str(field_arguments(query, variables, "bulkOperation").get("id")))
    return state.read_operation(operation) if operation else None


def _current(state: SimulatorState, variables: dict[str, Any], query: str) -> Any:
    operation = state.current_operation()
    return state.read_operation(operation) if operation else None


def _bulk_node(state: SimulatorState, gid: str) -> dict[str, Any] | None:
    operation = state.operations.get(gid)
    return state.read_operation(operation) if operation else None


NODE_TYPES: dict[str, Callable[[SimulatorState, str], dict[str, Any] | None]] = {"BulkOperation": _bulk_node}


def _node(state: SimulatorState, variables: dict[str, Any], query: str) -> Any:
    gid = str(field_arguments(query, variables, "node").get("id", ""))
    match = re.match(r"^gid://shopify/(?P<type>[A-Za-z]+)/", gid)
    if match is None:
        raise GraphQLError(f"Invalid global id '{gid}'", code="INVALID_GLOBAL_ID")
    lookup = NODE_TYPES.get(match["type"])
    return lookup(state, gid) if lookup else None


def _app_installation(state: SimulatorState, variables: dict[str, Any], query: str) -> Any:
    return {"accessScopes": [{"handle": s} for s in state.behaviour["scopes"]]}


def _shop(state: SimulatorState, variables: dict[str, Any], query: str) -> Any:
    return {
        "__typename": "Shop",
        "name": "Local simulated shop",
        "myshopifyDomain": "example.myshopify.com",
        "currencyCode": "USD",
    }


QUERY_FIELDS: dict[str, Resolver] = {
    "bulkOperationRunQuery": _run_query,
    "bulkOperationCancel": _cancel,
    "bulkOperation": _bulk_operation,
    "currentBulkOperation": _current,
    "node": _node,
    "currentAppInstallation": _app_installation,
    "shop": _shop,
}
FIELD_COSTS: dict[str, float] = {"bulkOperationRunQuery": 10.0, "bulkOperationCancel": 10.0}


def execute(
    state: SimulatorState, query: str, variables: dict[str, Any] | None, operation_name: str | None = None
) -> dict[str, Any]:
    """A GraphQL request's response body (HTTP 200), throttling and cost included."""
    variables = dict(variables or {})
    try:
        document = parse_document(query)
    except GraphQLSyntaxError as exc:
        return {"errors": [exc.entry()]}
    operation = first_operation(document, operation_name)
    top = (
        [s.name.value for s in operation.selection_set.selections if isinstance(s, ast.FieldNode)] if operation else []
    )
    cost = sum(FIELD_COSTS.get(name, 1.0) for name in top) or 1.0
    allowed, available = state.spend(cost)
    throttle_status = {
        "maximumAvailable": BUCKET_MAXIMUM,
        "currentlyAvailable": available,
        "restoreRate": BUCKET_RESTORE_RATE,
    }
    if not allowed:
        state.counters["throttled"] += 1
        return {
            "errors": [
                {
                    "message": "Throttled",
                    "extensions": {"code": "THROTTLED", "documentation": "https://shopify.dev/api/usage/rate-limits"},
                }
            ],
            "extensions": {
                "cost": {"requestedQueryCost": cost, "actualQueryCost": None, "throttleStatus": throttle_status}
            },
        }
    invalid = validation_errors(query)
    if invalid:
        state.counters["invalid_queries"] += 1
        body: dict[str, Any] = {"errors": [dict(e) for e in invalid]}
    else:
        kind = operation.operation.value if operation else "query"

        def resolve(name: str, coerced: dict[str, Any]) -> Any:
            resolver = QUERY_FIELDS.get(name)
            if resolver is None:
                root = "Mutation" if kind == "mutation" else "QueryRoot"
                raise GraphQLError(
                    f"Field '{name}' doesn't exist on type '{root}'",
                    code="undefinedField",
                    extensions={"typeName": root, "fieldName": name},
                )
            return resolver(state, coerced, query)

        body = run(document, variables, resolve, operation_name)
    body["extensions"] = {
        "cost": {"requestedQueryCost": cost, "actualQueryCost": cost, "throttleStatus": throttle_status}
    }
    return body
