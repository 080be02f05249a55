"""Customers and products through the bulk workflow: each query's fields against what the processors and
the Glue job read, the routing of a run by its resource (export, poll, download, watermark, manifest), the
refusal of an unknown resource, and the simulator's customers and products against its orders."""

from __future__ import annotations

import gzip
import json
from datetime import UTC, datetime
from typing import Any

import pytest

from common.shopify.bulk import InvalidResourceError, manifest_key, read_watermark, watermark_key
from common.shopify.bulk_queries import QUERIES, ROOT_TYPES, bulk_query
from common.shopify.resources import CUSTOMER_QUERY, ORDER_QUERY, PRODUCT_QUERY
from platformctl.simulators.shopify_admin import Field, ShopifyAdminSimulator, parse_operation
from tests.unit.shopify_bulk.conftest import BUCKET
from tests.unit.shopify_bulk.test_handlers import Handlers, download_all, export, poll, poll_until_decided

BACKFILL = {"since": "2024-01-01T00:00:00Z", "until": "2025-07-01T00:00:00Z"}
# Lookup-only plumbing (legacy ids repeat the gid; nodes/pageInfo are how a lookup pages a connection).
LOOKUP_ONLY = {"legacyResourceId", "nodes", "pageInfo", "hasNextPage"}


def _paths(fields: list[Any], prefix: str = "") -> set[str]:
    """Every selected field as a dotted path, connections (edges/node, nodes) collapsed to their field."""
    found: set[str] = set()
    for selection in fields:
        if not isinstance(selection, Field):
            found |= _paths(selection.selections, prefix)
            continue
        if selection.name in {"edges", "node", "nodes"}:
            found |= _paths(selection.selections, prefix)
            continue
        if selection.name in LOOKUP_ONLY:
            continue
        path = f"{prefix}{selection.name}"
        found.add(path)
        found |= _paths(selection.selections, path + ".")
    return found


def fields_of(query: str, root: str) -> set[str]:
    (top,) = parse_operation(query, {"id": "x", "filter": ""}).fields
    assert top.name == root
    return _paths(top.selections)


def test_every_lookup_field_the_processors_store_is_in_the_bulk_query() -> None:
    """The reduced-payload lookups (common.shopify.resources) ask for what the processors store; a bulk
    line must carry the same, so a reconciled item equals a webhook's (ids as gids, not legacy ids)."""
    for resource, lookup, root in (
        ("orders", ORDER_QUERY, "order"),
        ("customers", CUSTOMER_QUERY, "customer"),
        ("products", PRODUCT_QUERY, "product"),
    ):
        wanted = fields_of(lookup, root)
        # A reference the lookup reads as {legacyResourceId} is {id} in the bulk line.
        wanted |= {"customer.id"} if resource == "orders" else set()
        wanted |= {"lastOrder.id"} if resource == "customers" else set()
        wanted |= {"variants.inventoryItem.id", "variants.id"} if resource == "products" else set()
        got = fields_of(QUERIES[resource] % {"filter": ""}, resource)
        assert wanted - got == set(), resource


def test_the_orders_query_has_what_the_glue_job_and_the_order_item_read() -> None:
    got = fields_of(QUERIES["orders"] % {"filter": ""}, "orders")
    needed = {
        # glue-scripts/orders_enriched.py bulk_versions, and the orders hot store item
        "id", "name", "createdAt", "processedAt", "updatedAt", "cancelledAt", "closedAt", "currencyCode",
        "displayFinancialStatus", "displayFulfillmentStatus", "subtotalPriceSet.shopMoney.amount",
        "totalDiscountsSet.shopMoney.amount", "totalTaxSet.shopMoney.amount", "totalPriceSet.shopMoney.amount",
        "refunds.totalRefundedSet.shopMoney.amount", "fulfillments.status", "fulfillments.createdAt",
        "customer.id", "tags", "discountCodes", "lineItems.quantity",
        # null for bulk-only orders until this export asked for them
        "test", "sourceName",
        "cancelReason", "presentmentCurrencyCode", "checkoutToken", "cartToken", "currentTotalPriceSet",
        "totalRefundedSet", "lineItems.title", "lineItems.sku", "lineItems.variant.id", "lineItems.product.id",
        "lineItems.originalUnitPriceSet.shopMoney.amount",
    }  # fmt: skip
    assert needed - got == set()


def test_customers_carry_no_contact_details() -> None:
    """The customers hot store keeps no contact details; the export does not even ask for them."""
    got = fields_of(QUERIES["customers"] % {"filter": ""}, "customers")
    for personal in ("email", "phone", "firstName", "lastName", "note", "addresses", "defaultAddress.address1"):
        assert personal not in got


def test_every_node_asks_for_its_typename_first() -> None:
    for resource, query in QUERIES.items():
        nodes = query.split("node {")[1:]
        assert nodes, resource
        assert all(node.split()[0] == "__typename" for node in nodes), resource


@pytest.mark.parametrize("resource", ["orders", "customers", "products"])
def test_the_window_filters_the_resource_on_updated_at(resource: str) -> None:
    query = bulk_query(resource, datetime(2024, 1, 1, tzinfo=UTC), datetime(2025, 1, 1, tzinfo=UTC))
    assert query.lstrip("{ \n").startswith(f"{resource}(query: \"updated_at:>='2024-01-01T00:00:00Z' AND ")
    assert "updated_at:<'2025-01-01T00:00:00Z'" in query
    assert "updated_at:>=" not in bulk_query(resource, None, datetime(2025, 1, 1, tzinfo=UTC))


# ------------------------------------------------------------------------------------ the workflow


def _lines(s3: Any, document: dict[str, Any], typename: str) -> list[dict[str, Any]]:
    parts = document["types"][typename]["parts"]
    body = b"".join(gzip.decompress(s3.get_object(Bucket=BUCKET, Key=p["key"])["Body"].read()) for p in parts)
    return [json.loads(line) for line in body.splitlines()]


def _run(handlers: Handlers, simulator: ShopifyAdminSimulator, s3: Any, event: dict[str, Any]) -> dict[str, Any]:
    run = export(handlers, event)
    final, _ = download_all(handlers, run, poll_until_decided(handlers, simulator, run))
    assert final["done"]
    return dict(json.loads(s3.get_object(Bucket=BUCKET, Key=manifest_key(run["run_id"]))["Body"].read()))


def test_a_customers_run(handlers: Handlers, simulator: ShopifyAdminSimulator, s3: Any) -> None:
    run = export(handlers, {**BACKFILL, "resource": "customers"})
    assert run["resource"] == "customers"
    assert simulator.state.operations[run["operation_id"]].query.lstrip("{ \n").startswith("customers(")
    final, _ = download_all(handlers, run, poll_until_decided(handlers, simulator, run))
    document = json.loads(s3.get_object(Bucket=BUCKET, Key=final["manifest_key"])["Body"].read())
    assert (document["resource"], document["complete"], document["watermark_advanced"]) == ("customers", True, True)
    assert set(document["types"]) == {"Customer"}
    assert document["types"]["Customer"]["prefix"].startswith("raw/shopify/bulk/customer/run=")
    customers = _lines(s3, document, "Customer")
    assert len(customers) == document["objects_written"] == document["root_objects_written"] > 0
    assert read_watermark(s3, BUCKET, "customers") == datetime(2025, 7, 1, tzinfo=UTC)
    assert read_watermark(s3, BUCKET, "orders") is None, "a customers run leaves the orders watermark alone"
    listed = s3.list_objects_v2(Bucket=BUCKET, Prefix=watermark_key("customers"))
    assert listed["KeyCount"] == 1


def test_a_products_run_with_variants(handlers: Handlers, simulator: ShopifyAdminSimulator, s3: Any) -> None:
    document = _run(handlers, simulator, s3, {**BACKFILL, "resource": "products"})
    assert document["resource"] == "products"
    assert set(document["types"]) == {"Product", "ProductVariant"}
    products = _lines(s3, document, "Product")
    variants = _lines(s3, document, "ProductVariant")
    assert {p["__typename"] for p in products} == {ROOT_TYPES["products"]}
    assert {v["__parentId"] for v in variants} == {p["id"] for p in products}
    assert document["root_objects_written"] == len(products)
    assert read_watermark(s3, BUCKET, "products") == datetime(2025, 7, 1, tzinfo=UTC)


def test_an_orders_run_names_its_resource_and_brings_test_and_source_name(
    handlers: Handlers, simulator: ShopifyAdminSimulator, s3: Any
) -> None:
    document = _run(handlers, simulator, s3, BACKFILL)
    assert document["resource"] == "orders"
    orders = _lines(s3, document, "Order")
    assert all(isinstance(o["test"], bool) and o["sourceName"] for o in orders)
    assert read_watermark(s3, BUCKET, "orders") == datetime(2025, 7, 1, tzinfo=UTC)
    assert s3.list_objects_v2(Bucket=BUCKET, Prefix=watermark_key("orders"))["KeyCount"] == 1


@pytest.mark.parametrize("resource", ["inventory", "Orders", 7])
def test_an_unknown_resource_fails_before_any_export(
    handlers: Handlers, simulator: ShopifyAdminSimulator, resource: Any
) -> None:
    with pytest.raises(InvalidResourceError, match="orders, customers, products"):
        export(handlers, {**BACKFILL, "resource": resource})
    assert simulator.state.operations == {}
    assert simulator.state.counters["requests"] == 0, "nothing was asked of Shopify"


def test_access_denied_names_the_scope_of_the_resource(handlers: Handlers, simulator: ShopifyAdminSimulator) -> None:
    simulator.state.configure(outcome={"status": "FAILED", "error_code": "ACCESS_DENIED"}, scopes=["read_orders"])
    run = export(handlers, {**BACKFILL, "resource": "products"})
    simulator.state.operations[run["operation_id"]].ready.wait(30)
    result = poll(handlers, run)
    while result["decision"] == "wait":
        result = poll(handlers, run)
    assert result["error"] == "BulkAccessDeniedError"
    assert "products export" in result["message"]
    assert "read_products" in result["message"]
    assert "read_all_orders" not in result["message"], "only orders windows need read_all_orders"


def test_faults_apply_to_every_resource(handlers: Handlers, simulator: ShopifyAdminSimulator, s3: Any) -> None:
    simulator.state.configure(outcome={"status": "FAILED", "error_code": "TIMEOUT", "partial_fraction": 0.5})
    run = export(handlers, {**BACKFILL, "resource": "customers"})
    result = poll_until_decided(handlers, simulator, run)
    assert result["decision"] == "download_partial"
    final, _ = download_all(handlers, run, result)
    document = json.loads(s3.get_object(Bucket=BUCKET, Key=final["manifest_key"])["Body"].read())
    assert (document["resource"], document["partial"], document["complete"]) == ("customers", True, False)
    assert read_watermark(s3, BUCKET, "customers") is None


# ------------------------------------------------------------------------------------ the simulator


def test_the_simulated_customers_and_products_agree_with_its_orders(
    handlers: Handlers, simulator: ShopifyAdminSimulator, s3: Any
) -> None:
    orders_run = _run(handlers, simulator, s3, BACKFILL)
    customers_run = _run(handlers, simulator, s3, {**BACKFILL, "resource": "customers"})
    products_run = _run(handlers, simulator, s3, {**BACKFILL, "resource": "products"})
    orders = _lines(s3, orders_run, "Order")
    items = _lines(s3, orders_run, "LineItem")
    customers = {c["id"]: c for c in _lines(s3, customers_run, "Customer")}
    variants = {v["id"] for v in _lines(s3, products_run, "ProductVariant")}
    products = {p["id"] for p in _lines(s3, products_run, "Product")}
    referenced = [o["customer"]["id"] for o in orders if o["customer"]]
    assert referenced
    assert set(referenced) <= set(customers), "every order's customer is among the customers"
    for gid, customer in customers.items():
        theirs = [o for o in orders if o["customer"] and o["customer"]["id"] == gid]
        assert int(customer["numberOfOrders"]) == len(theirs)
        spent = sum(float(o["totalPriceSet"]["shopMoney"]["amount"]) for o in theirs)
        assert float(customer["amountSpent"]["amount"]) == pytest.approx(spent, abs=0.01)
        newest = max(theirs, key=lambda o: (o["createdAt"], o["id"]))["id"] if theirs else None
        assert (customer["lastOrder"] or {}).get("id") == newest
    assert {i["variant"]["id"] for i in items} <= variants
    assert {i["product"]["id"] for i in items} <= products
