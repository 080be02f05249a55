"""The shopify functions (lambdas/shopify)."""
