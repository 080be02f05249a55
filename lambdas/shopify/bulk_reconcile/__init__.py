"""The shopify/bulk_reconcile function (lambdas/shopify/bulk_reconcile)."""
