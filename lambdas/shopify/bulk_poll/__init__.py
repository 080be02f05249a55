"""The shopify/bulk_poll function (lambdas/shopify/bulk_poll)."""
