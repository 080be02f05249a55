"""The local Shopify Admin simulator: GraphQL parsing and the extension registry, the token check
against the secret, bulk operations through every status, result files, Range and expiry."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest
import requests
from moto import mock_aws

from platformctl.simulators import SIMULATORS
from platformctl.simulators import shopify_admin as sim_module
from platformctl.simulators.shopify_admin import (
    GraphQLError,
    ShopifyAdminSimulator,
    SimulatorState,
    field_arguments,
    order_times,
    parse_operation,
    project,
    window_indexes,
)

TOKEN = "shpat_sim_test"
GQL_HEADERS = {"X-Shopify-Access-Token": TOKEN}
RUN = (
    'mutation { bulkOperationRunQuery(query: "%s") { bulkOperation { id status } userErrors { field message code } } }'
)
ORDERS_QUERY = "{ orders { edges { node { __typename id } } } }"


@pytest.fixture
def sim() -> Iterator[ShopifyAdminSimulator]:
    simulator = ShopifyAdminSimulator(state=SimulatorState({"orders": 60, "running_polls": 2}))
    try:
        yield simulator
    finally:
        simulator.stop()


def gql(sim: ShopifyAdminSimulator, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
    response = requests.post(
        sim.graphql_url(), json={"query": query, "variables": variables or {}}, headers=GQL_HEADERS, timeout=10
    )
    assert response.status_code == 200, response.text
    return dict(response.json())


def start(sim: ShopifyAdminSimulator, query: str = ORDERS_QUERY) -> str:
    body = gql(sim, RUN % query.replace('"', '\\"'))
    payload = body["data"]["bulkOperationRunQuery"]
    assert payload["userErrors"] == [], payload
    return str(payload["bulkOperation"]["id"])


def poll(sim: ShopifyAdminSimulator, operation_id: str) -> dict[str, Any]:
    fields = "id status errorCode objectCount rootObjectCount fileSize url partialDataUrl"
    query = f"query S($id: ID!) {{ bulkOperation(id: $id) {{ {fields} }} }}"
    return dict(gql(sim, query, {"id": operation_id})["data"]["bulkOperation"])


def finish(sim: ShopifyAdminSimulator, operation_id: str) -> dict[str, Any]:
    for _ in range(20):
        sim.state.operations[operation_id].ready.wait(30)
        operation = poll(sim, operation_id)
        if operation["status"] not in {"CREATED", "RUNNING"}:
            return operation
    raise AssertionError("the operation never finished")


# ------------------------------------------------------------------------------------------ GraphQL


def test_parse_resolves_aliases_variables_defaults_and_fragments() -> None:
    query = """
    query Q($id: ID!, $first: Int = 5) {
      op: bulkOperation(id: $id) { ...F ... on BulkOperation { url } }
      other: node(id: "gid://shopify/BulkOperation/1") { __typename }
    }
    fragment F on BulkOperation { id status }
    """
    operation = parse_operation(query, {"id": "gid://shopify/BulkOperation/9"})
    assert [(f.alias, f.name, f.arguments) for f in operation.fields] == [
        ("op", "bulkOperation", {"id": "gid://shopify/BulkOperation/9"}),
        ("other", "node", {"id": "gid://shopify/BulkOperation/1"}),
    ]
    value = {"__typename": "BulkOperation", "id": "x", "status": "RUNNING", "url": None, "secret": 1}
    assert project(value, operation.fields[0].selections, operation.fragments) == {
        "id": "x",
        "status": "RUNNING",
        "url": None,
    }
    assert field_arguments('{ node(id: """gid://a""") { id } }', None, "node") == {"id": "gid://a"}


def test_a_syntax_error_answers_errors_not_data(sim: ShopifyAdminSimulator) -> None:
    body = gql(sim, "{ shop { name }")
    assert "data" not in body
    assert body["errors"][0]["extensions"]["code"] == "PARSE_ERROR"
    with pytest.raises(GraphQLError):
        parse_operation("{ a(b: ) }")


def test_unknown_fields_answer_undefined_field(sim: ShopifyAdminSimulator) -> None:
    body = gql(sim, "{ noSuchField(id: 1) { id } }")
    assert body["errors"][0]["extensions"]["code"] == "undefinedField"
    assert body["extensions"]["cost"]["throttleStatus"]["maximumAvailable"] == 2000.0


def test_other_modules_add_fields_and_node_types(sim: ShopifyAdminSimulator, monkeypatch: pytest.MonkeyPatch) -> None:
    """The extension point the real-time processors' lookups use: REST-shaped resources by type and id."""

    def order(state: SimulatorState, variables: dict[str, Any], query: str) -> Any:
        gid = field_arguments(query, variables, "order")["id"]
        resource = state.resources.get("orders", {}).get(gid.rsplit("/", 1)[1])
        if resource is None:
            return None
        return {"__typename": "Order", "id": gid, "name": resource["name"], "email": resource["email"]}

    monkeypatch.setitem(sim_module.QUERY_FIELDS, "order", order)
    monkeypatch.setitem(
        sim_module.NODE_TYPES, "Order", lambda state, gid: {"__typename": "Order", "id": gid, "name": "#1"}
    )
    stored = requests.post(
        f"{sim.url}/_simulator/resources/orders",
        json=[{"id": 820982911946154508, "name": "#9999", "email": "jon@example.com"}],
        timeout=10,
    )
    assert stored.status_code == 201
    assert stored.json() == {"stored": 1}
    body = gql(sim, 'query { o: order(id: "gid://shopify/Order/820982911946154508") { name } }')
    assert body["data"] == {"o": {"name": "#9999"}}
    node = gql(sim, '{ node(id: "gid://shopify/Order/5") { ... on Order { name } } }')
    assert node["data"] == {"node": {"name": "#1"}}
    listed = requests.get(f"{sim.url}/_simulator/resources/orders", timeout=10).json()
    assert listed[0]["email"] == "jon@example.com"


def test_resources_must_have_ids(sim: ShopifyAdminSimulator) -> None:
    response = requests.post(f"{sim.url}/_simulator/resources/orders", json={"name": "x"}, timeout=10)
    assert response.status_code == 400


def test_unknown_behaviours_are_refused(sim: ShopifyAdminSimulator) -> None:
    response = requests.post(f"{sim.url}/_simulator/control", json={"thottle": 1}, timeout=10)
    assert response.status_code == 400
    assert "thottle" in response.text


# ----------------------------------------------------------------------------------------- tokens


def test_a_missing_token_is_401_like_shopify(sim: ShopifyAdminSimulator) -> None:
    response = requests.post(sim.graphql_url(), json={"query": "{ shop { name } }"}, timeout=10)
    assert response.status_code == 401
    assert "Invalid API key or access token" in response.json()["errors"]


class _Cloud:
    """What the simulator uses of a LocalCloud: ``target.client(name)``."""

    class target:  # noqa: N801 - mirrors the attribute of a LocalCloud
        @staticmethod
        def client(name: str) -> Any:
            return boto3.client(name, region_name="us-east-1")


def test_the_token_is_checked_against_the_local_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    with mock_aws():
        secrets = boto3.client("secretsmanager", region_name="us-east-1")
        secrets.create_secret(Name="acme/local/ShopifyAdminApiSecret", SecretString=json.dumps({"access_token": TOKEN}))
        simulator = SIMULATORS["shopify"](_Cloud())
        try:
            url = simulator.url + "/admin/api/2026-01/graphql.json"
            good = requests.post(url, json={"query": "{ shop { name } }"}, headers=GQL_HEADERS, timeout=10)
            bad = requests.post(
                url, json={"query": "{ shop { name } }"}, headers={"X-Shopify-Access-Token": "other"}, timeout=10
            )
            assert good.status_code == 200
            assert bad.status_code == 401
            counters = simulator.state.counters  # type: ignore[attr-defined]
            assert counters["auth_checked_against_secret"] >= 2
        finally:
            simulator.stop()


# -------------------------------------------------------------------------------------- bulk queries


def test_a_bulk_operation_runs_and_completes_with_a_result(sim: ShopifyAdminSimulator) -> None:
    operation_id = start(sim)
    first = poll(sim, operation_id)
    assert first["status"] == "RUNNING"
    assert first["url"] is None
    done = finish(sim, operation_id)
    assert done["status"] == "COMPLETED"
    assert done["errorCode"] is None
    body = requests.get(done["url"], timeout=10).content
    lines = body.splitlines()
    assert int(done["objectCount"]) == len(lines)
    assert int(done["rootObjectCount"]) == 60 == sum(b'"__parentId"' not in line for line in lines)
    assert int(done["fileSize"]) == len(body)
    current = gql(sim, "{ currentBulkOperation(type: QUERY) { id status } }")["data"]["currentBulkOperation"]
    assert current == {"id": operation_id, "status": "COMPLETED"}
    node = gql(sim, f'{{ node(id: "{operation_id}") {{ ... on BulkOperation {{ status url }} }} }}')["data"]["node"]
    assert node["status"] == "COMPLETED"
    assert node["url"].startswith(sim.url)


def test_the_result_interleaves_children_apart_from_parents(sim: ShopifyAdminSimulator) -> None:
    done = finish(sim, start(sim))
    objects = [json.loads(line) for line in requests.get(done["url"], timeout=10).content.splitlines()]
    position = {o["id"]: i for i, o in enumerate(objects) if "__parentId" not in o}
    children = [(i, o["__parentId"]) for i, o in enumerate(objects) if "__parentId" in o]
    assert all(parent in position for _, parent in children), "every child's parent is in the file"
    assert any(i < position[parent] for i, parent in children), "some child comes before its parent"
    assert any(i > position[parent] + 1 for i, parent in children), "some child is far after its parent"
    assert {o["__typename"] for o in objects} >= {"Order", "LineItem", "DiscountCodeApplication"}
    order = next(o for o in objects if o["__typename"] == "Order")
    assert {"customer", "shippingAddress", "billingAddress", "refunds", "fulfillments", "transactions"} <= set(order)


def test_results_are_deterministic_and_escape_slashes(sim: ShopifyAdminSimulator) -> None:
    first = requests.get(finish(sim, start(sim))["url"], timeout=10).content
    second = requests.get(finish(sim, start(sim))["url"], timeout=10).content
    assert first == second
    assert b'"gid:\\/\\/shopify\\/Order\\/' in first


def test_only_one_bulk_query_runs_at_a_time(sim: ShopifyAdminSimulator) -> None:
    running = start(sim)
    body = gql(sim, RUN % ORDERS_QUERY)
    errors = body["data"]["bulkOperationRunQuery"]["userErrors"]
    assert errors[0]["code"] == "OPERATION_IN_PROGRESS"
    assert running in errors[0]["message"]
    cancelled = gql(sim, f'mutation {{ bulkOperationCancel(id: "{running}") {{ bulkOperation {{ status }} }} }}')
    assert cancelled["data"]["bulkOperationCancel"]["bulkOperation"]["status"] == "CANCELING"
    assert poll(sim, running)["status"] == "CANCELED"
    start(sim)


@pytest.mark.parametrize("code", ["LIMIT_REACHED", "INVALID"])
def test_forced_user_errors(sim: ShopifyAdminSimulator, code: str) -> None:
    sim.state.configure(user_error={"code": code, "times": 1})
    errors = gql(sim, RUN % ORDERS_QUERY)["data"]["bulkOperationRunQuery"]["userErrors"]
    assert errors[0]["code"] == code
    start(sim)  # used up


def test_the_window_selects_orders_by_updated_at() -> None:
    orders = 1000
    since = order_times(300, orders)[1]
    until = order_times(700, orders)[1]
    condition = f"updated_at:>='{since:%Y-%m-%dT%H:%M:%SZ}' AND updated_at:<'{until:%Y-%m-%dT%H:%M:%SZ}'"
    query = f'{{ orders(query: "{condition}") {{ edges {{ node {{ id }} }} }} }}'
    first, last = window_indexes(query, orders)
    expected = [i for i in range(orders) if since <= order_times(i, orders)[1] < until]
    assert (first, last) == (expected[0], expected[-1] + 1)
    assert window_indexes("{ orders { edges { node { id } } } }", orders) == (0, orders)
    future = datetime(2030, 1, 1, tzinfo=UTC)
    assert window_indexes(f"updated_at:>='{future:%Y-%m-%dT%H:%M:%SZ}'", orders) == (0, 0)


@pytest.mark.parametrize(
    ("outcome", "status", "code"),
    [
        ({"status": "FAILED", "error_code": "INTERNAL_SERVER_ERROR", "partial_fraction": 0.5}, "FAILED",
         "INTERNAL_SERVER_ERROR"),
        ({"status": "FAILED", "error_code": "TIMEOUT", "partial_fraction": 0.25}, "FAILED", "TIMEOUT"),
        ({"status": "FAILED", "error_code": "ACCESS_DENIED"}, "FAILED", "ACCESS_DENIED"),
        ({"status": "CANCELED"}, "CANCELED", None),
        ({"status": "EXPIRED"}, "EXPIRED", None),
    ],
)  # fmt: skip
def test_failure_outcomes(sim: ShopifyAdminSimulator, outcome: dict[str, Any], status: str, code: str | None) -> None:
    complete = finish(sim, start(sim))
    sim.state.configure(outcome=outcome)
    done = finish(sim, start(sim))
    assert (done["status"], done["errorCode"]) == (status, code)
    assert done["url"] is None
    if "partial_fraction" in outcome:
        partial = requests.get(done["partialDataUrl"], timeout=10).content
        assert 0 < int(done["objectCount"]) == len(partial.splitlines()) < int(complete["objectCount"])
        assert requests.get(complete["url"], timeout=10).content.startswith(partial[:1000])
    else:
        assert done["partialDataUrl"] is None


def test_misreported_object_count(sim: ShopifyAdminSimulator) -> None:
    sim.state.configure(object_count_offset=3)
    done = finish(sim, start(sim))
    assert int(done["objectCount"]) == len(requests.get(done["url"], timeout=10).content.splitlines()) + 3


# ---------------------------------------------------------------------------------- result serving


def test_range_requests(sim: ShopifyAdminSimulator) -> None:
    done = finish(sim, start(sim))
    body = requests.get(done["url"], timeout=10).content
    part = requests.get(done["url"], headers={"Range": "bytes=100-199"}, timeout=10)
    assert part.status_code == 206
    assert part.content == body[100:200]
    assert part.headers["Content-Range"] == f"bytes 100-199/{len(body)}"
    tail = requests.get(done["url"], headers={"Range": f"bytes={len(body) - 5}-"}, timeout=10)
    assert tail.content == body[-5:]
    beyond = requests.get(done["url"], headers={"Range": f"bytes={len(body)}-"}, timeout=10)
    assert beyond.status_code == 416


def test_urls_expire_and_a_new_status_read_signs_a_new_one(sim: ShopifyAdminSimulator) -> None:
    sim.state.configure(url_ttl_seconds=0.0)
    done = finish(sim, start(sim))
    expired = requests.get(done["url"], timeout=10)
    assert expired.status_code == 400
    assert b"ExpiredToken" in expired.content
    sim.state.configure(url_ttl_seconds=3600.0)
    fresh = poll(sim, done["id"])["url"]
    assert fresh != done["url"]
    assert requests.get(fresh, timeout=10).status_code == 200
    assert sim.state.counters["urls_issued"] >= 2


def test_an_expiring_url_breaks_off_then_refuses(sim: ShopifyAdminSimulator) -> None:
    sim.state.configure(expire_url_after_bytes=5000)
    done = finish(sim, start(sim))
    with pytest.raises(requests.exceptions.RequestException):
        requests.get(done["url"], timeout=10).raise_for_status()
    assert requests.get(done["url"], headers={"Range": "bytes=5000-"}, timeout=10).status_code == 400
    assert requests.get(poll(sim, done["id"])["url"], timeout=10).status_code == 200


def test_state_snapshot(sim: ShopifyAdminSimulator) -> None:
    finish(sim, start(sim))
    snapshot = requests.get(f"{sim.url}/_simulator/state", timeout=10).json()
    assert snapshot["operations"][0]["status"] == "COMPLETED"
    assert snapshot["counters"]["operations_created"] == 1
    requests.post(f"{sim.url}/_simulator/reset", json={"operations": True}, timeout=10).raise_for_status()
    assert requests.get(f"{sim.url}/_simulator/state", timeout=10).json()["operations"] == []


def test_a_bulk_query_of_a_resource_it_does_not_simulate_is_invalid(sim: ShopifyAdminSimulator) -> None:
    payload = gql(sim, RUN % "{ collections { edges { node { id } } } }")["data"]["bulkOperationRunQuery"]
    assert payload["bulkOperation"] is None
    assert payload["userErrors"][0]["code"] == "INVALID"
    assert "orders, customers and products" in payload["userErrors"][0]["message"]


@pytest.mark.parametrize(("resource", "roots"), [("customers", 60 // 3 + 1), ("products", 7)])
def test_customers_and_products_are_served_with_their_window(
    sim: ShopifyAdminSimulator, resource: str, roots: int
) -> None:
    query = resource + "(query: \"updated_at:<'2030-01-01T00:00:00Z'\") { edges { node { __typename id } } }"
    operation = sim.state.operations[start(sim, "{ " + query + " }")]
    assert (operation.resource, operation.first, operation.last) == (resource, 0, roots)
    sim.state.reset(operations=True)
    empty = sim.state.operations[start(sim, "{ " + query.replace("<'2030", ">='2030") + " }")]
    assert (empty.first, empty.last) == (0, 0), "nothing was updated after 2030"
