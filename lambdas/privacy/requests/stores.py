"""The DynamoDB hot stores: which items are the person's, what links them, and erasing their contact data.

Key schemas and indexes are those of ``infrastructure/shared/dynamodb-tables.yaml`` (docs/data-model.md):

- orders (``order_id`` + ``record``): index ``by-customer`` (``customer_id`` = Shopify customer id), and
  ``Query(order_id)`` per order id (the order and its fulfillments);
- customers (``customer_key``): ``shopify:<id>``, ``recharge:<id>``, and index ``by-shopify-customer``
  (both sources' records of one Shopify customer);
- abandoned_carts (``cart_token``): the token itself (carts), ``checkout:<token>`` (checkouts), and index
  ``by-checkout-token``;
- subscriptions, charges (``subscription_id`` / ``charge_id``): index ``by-customer`` (``customer_id`` =
  Recharge customer id);
- invoices (``order_id``, the Recharge order id): index ``by-customer`` (Recharge customer id), and index
  ``by-shopify-order`` per Shopify order id.

The stores also link the person's ids while planning (``linked_subjects``): the orders of a Shopify
customer (their order ids, and the checkout and cart tokens those orders came from), the Recharge records
of a Shopify customer and the Shopify customer of a Recharge record.

Erasing an item removes every top-level attribute named in ``common.privacy.redact.CONTACT_KEYS`` or
``ADDRESS_KEYS`` (and Recharge's retired ``email``/``first_name``/``last_name``) that the item has, and
sets ``erased_at``, conditional on the item still existing (an erasure never creates an item). An item
without any of them is left as it is (the processors keep contact details in the lake only), so a
second erasure changes nothing. Ids, money, statuses and dates stay.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from common.hotstore import deserialize, serialize
from common.privacy.redact import ADDRESS_KEYS, CONTACT_KEYS
from privacy.requests.work import ItemRef

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

ORDERS = "orders"
CUSTOMERS = "customers"
ABANDONED_CARTS = "abandoned_carts"
SUBSCRIPTIONS = "subscriptions"
CHARGES = "charges"
INVOICES = "invoices"

KEYS: dict[str, tuple[str, ...]] = {
    ORDERS: ("order_id", "record"),
    CUSTOMERS: ("customer_key",),
    ABANDONED_CARTS: ("cart_token",),
    SUBSCRIPTIONS: ("subscription_id",),
    CHARGES: ("charge_id",),
    INVOICES: ("order_id",),
}
ORDER_RECORD = "ORDER"
CHECKOUT_ITEM_PREFIX = "checkout:"  # abandoned-carts key of a checkouts/* item
RECHARGE_RETIRED = frozenset({"email", "first_name", "last_name"})
# Attributes the Shopify processors store under a contact-sounding name that are not contact data: the
# order's own name (#1001) stays, as the contract says.
NOT_CONTACT = frozenset({"name"})
ERASED_AT = "erased_at"

SHOPIFY_CUSTOMER = "shopify-customer"
SHOPIFY_ORDER = "shopify-order"
RECHARGE_CUSTOMER = "recharge-customer"
CHECKOUT = "checkout"


def erasable_attributes() -> frozenset[str]:
    return (frozenset(CONTACT_KEYS) | frozenset(ADDRESS_KEYS) | RECHARGE_RETIRED) - NOT_CONTACT


def subject_values(subjects: Iterable[str], kind: str) -> list[str]:
    """The values of the subjects of one kind (``shopify-customer:42`` -> ``42``), sorted."""
    prefix = f"{kind}:"
    return sorted({s[len(prefix) :] for s in subjects if s.startswith(prefix) and len(s) > len(prefix)})


def _plain(value: Any) -> Any:
    """A deserialised DynamoDB value as plain JSON (numbers as int or float, sets as sorted lists)."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, set | frozenset):
        return sorted((_plain(v) for v in value), key=str)
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, bytes | bytearray):
        return bytes(value).hex()
    return value


@dataclass(frozen=True)
class HotStores:
    dynamodb: DynamoDBClient
    tables: Mapping[str, str]  # store -> table name; a store without a table is not searched

    def table(self, store: str) -> str:
        return self.tables[store]

    def _has(self, store: str) -> bool:
        return bool(self.tables.get(store))

    # ------------------------------------------------------------------------------------ reading

    def _query(self, store: str, attribute: str, value: str, index: str | None = None) -> Iterator[dict[str, Any]]:
        arguments: dict[str, Any] = {
            "TableName": self.table(store),
            "KeyConditionExpression": "#k = :v",
            "ExpressionAttributeNames": {"#k": attribute},
            "ExpressionAttributeValues": {":v": {"S": value}},
        }
        if index:
            arguments["IndexName"] = index
        for page in self.dynamodb.get_paginator("query").paginate(**arguments):
            for item in page.get("Items", []):
                yield deserialize(item)

    def _get(self, store: str, key: Mapping[str, str]) -> dict[str, Any] | None:
        response = self.dynamodb.get_item(TableName=self.table(store), Key=serialize(key), ConsistentRead=True)
        item = response.get("Item")
        return deserialize(item) if item else None

    def _ref(self, store: str, item: Mapping[str, Any]) -> ItemRef | None:
        names = KEYS[store]
        if not all(isinstance(item.get(name), str) for name in names):
            return None
        return ItemRef.of(store, {name: str(item[name]) for name in names})

    def read(self, ref: ItemRef) -> dict[str, Any] | None:
        """The item as plain JSON, or None when it is gone."""
        item = self._get(ref.store, ref.key_dict())
        return _plain(item) if item is not None else None

    # ------------------------------------------------------------------------------------ planning

    def linked_subjects(self, subjects: Iterable[str]) -> set[str]:
        """Ids the hot stores link to these subjects: a Shopify customer's orders (and the checkout and
        cart tokens they came from) and Recharge records; a Recharge customer's Shopify customer."""
        subjects = set(subjects)
        linked: set[str] = set()
        for customer_id in subject_values(subjects, SHOPIFY_CUSTOMER):
            if self._has(ORDERS):
                for item in self._query(ORDERS, "customer_id", customer_id, "by-customer"):
                    if item.get("record", ORDER_RECORD) == ORDER_RECORD and item.get("order_id"):
                        linked.add(f"{SHOPIFY_ORDER}:{item['order_id']}")
                    for token_name in ("checkout_token", "cart_token"):
                        token = item.get(token_name)
                        if isinstance(token, str) and token:
                            linked.add(f"{CHECKOUT}:{token}")
            if self._has(CUSTOMERS):
                for item in self._query(CUSTOMERS, "shopify_customer_id", customer_id, "by-shopify-customer"):
                    key = str(item.get("customer_key", ""))
                    if key.startswith("recharge:") and len(key) > len("recharge:"):
                        linked.add(f"{RECHARGE_CUSTOMER}:{key[len('recharge:') :]}")
        if self._has(CUSTOMERS):
            for recharge_id in subject_values(subjects, RECHARGE_CUSTOMER):
                record = self._get(CUSTOMERS, {"customer_key": f"recharge:{recharge_id}"})
                shopify_id = (record or {}).get("shopify_customer_id")
                if isinstance(shopify_id, str) and shopify_id:
                    linked.add(f"{SHOPIFY_CUSTOMER}:{shopify_id}")
        return linked - subjects

    def item_refs(self, subjects: Iterable[str]) -> set[ItemRef]:
        """Every hot-store item that belongs to the person, by their ids and tokens."""
        subjects = set(subjects)
        customers = subject_values(subjects, SHOPIFY_CUSTOMER)
        orders = subject_values(subjects, SHOPIFY_ORDER)
        recharge = subject_values(subjects, RECHARGE_CUSTOMER)
        refs: set[ItemRef | None] = set()
        if self._has(ORDERS):
            refs |= self._orders(customers, orders)
        if self._has(CUSTOMERS):
            refs |= self._customers(customers, recharge)
        if self._has(ABANDONED_CARTS):
            refs |= self._carts(subject_values(subjects, CHECKOUT))
        for store in (SUBSCRIPTIONS, CHARGES, INVOICES):
            if self._has(store):
                for recharge_id in recharge:
                    refs |= {self._ref(store, i) for i in self._query(store, "customer_id", recharge_id, "by-customer")}
        if self._has(INVOICES):
            for order_id in orders:
                found = self._query(INVOICES, "shopify_order_id", order_id, "by-shopify-order")
                refs |= {self._ref(INVOICES, i) for i in found}
        return {ref for ref in refs if ref is not None}

    def _orders(self, customers: list[str], orders: list[str]) -> set[ItemRef | None]:
        refs: set[ItemRef | None] = set()
        for customer_id in customers:
            refs |= {self._ref(ORDERS, i) for i in self._query(ORDERS, "customer_id", customer_id, "by-customer")}
        for order_id in orders:
            refs |= {self._ref(ORDERS, i) for i in self._query(ORDERS, "order_id", order_id)}
        return refs

    def _customers(self, customers: list[str], recharge: list[str]) -> set[ItemRef | None]:
        refs: set[ItemRef | None] = set()
        for key in [f"shopify:{c}" for c in customers] + [f"recharge:{r}" for r in recharge]:
            if self._get(CUSTOMERS, {"customer_key": key}) is not None:
                refs.add(ItemRef.of(CUSTOMERS, {"customer_key": key}))
        for customer_id in customers:
            found = self._query(CUSTOMERS, "shopify_customer_id", customer_id, "by-shopify-customer")
            refs |= {self._ref(CUSTOMERS, i) for i in found}
        return refs

    def _carts(self, tokens: list[str]) -> set[ItemRef | None]:
        refs: set[ItemRef | None] = set()
        for token in tokens:
            for key in (token, f"{CHECKOUT_ITEM_PREFIX}{token}"):
                if self._get(ABANDONED_CARTS, {"cart_token": key}) is not None:
                    refs.add(ItemRef.of(ABANDONED_CARTS, {"cart_token": key}))
            found = self._query(ABANDONED_CARTS, "checkout_token", token, "by-checkout-token")
            refs |= {self._ref(ABANDONED_CARTS, i) for i in found}
        return refs

    # ------------------------------------------------------------------------------------ erasing

    def erase(self, ref: ItemRef, *, erased_at: str) -> dict[str, Any]:
        """Remove the contact attributes the item has; returns what was done (attribute names only)."""
        result: dict[str, Any] = {
            "kind": "item",
            "store": ref.store,
            "table": self.table(ref.store),
            "key": ref.key_dict(),
            "removed": [],
        }
        item = self._get(ref.store, ref.key_dict())
        if item is None:
            result["missing"] = True
            return result
        present = sorted(erasable_attributes().intersection(item))
        if not present:
            return result
        names = {f"#r{i}": name for i, name in enumerate(present)}
        names["#erased"] = ERASED_AT
        names["#key"] = KEYS[ref.store][0]
        try:
            self.dynamodb.update_item(
                TableName=self.table(ref.store),
                Key=serialize(ref.key_dict()),
                UpdateExpression="SET #erased = :at REMOVE " + ", ".join(f"#r{i}" for i in range(len(present))),
                ConditionExpression="attribute_exists(#key)",
                ExpressionAttributeNames=names,
                ExpressionAttributeValues={":at": {"S": erased_at}},
            )
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
                raise
            result["missing"] = True  # deleted between the read and the update: nothing left to erase
            return result
        result["removed"] = present
        return result
