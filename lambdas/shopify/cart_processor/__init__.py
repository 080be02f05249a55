"""The shopify/cart_processor function (lambdas/shopify/cart_processor)."""
