"""Kept so ``platformctl.simulators.shopify_resources`` goes on working: the lookups live in
``platformctl.simulators.shopify.resources`` (importing either registers them)."""

from __future__ import annotations

from platformctl.simulators.shopify.resources import (
    LOOKUPS,
    customer_node,
    fulfillment_node,
    order_node,
    product_node,
)

__all__ = ["LOOKUPS", "customer_node", "fulfillment_node", "order_node", "product_node"]
