"""Shopify in the shared library: the webhook envelope and its values (``events``, ``values``), the
processors' flow (``processor``), the hot-store items (``order_attributes``, ``order_item``,
``customer_item``, ``carts``), the Admin API (``admin``, ``resources``) and the bulk exports (``bulk``,
``bulk_queries``, ``bulk_stream``, ``reconcile``).
"""
