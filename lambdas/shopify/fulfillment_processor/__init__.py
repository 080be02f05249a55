"""The shopify/fulfillment_processor function (lambdas/shopify/fulfillment_processor)."""
