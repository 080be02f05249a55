"""The shopify/customer_processor function (lambdas/shopify/customer_processor)."""
