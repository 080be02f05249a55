"""The shopify/order_processor function (lambdas/shopify/order_processor)."""
