"""The shopify/product_processor function (lambdas/shopify/product_processor)."""
