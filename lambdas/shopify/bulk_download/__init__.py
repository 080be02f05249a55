"""The shopify/bulk_download function (lambdas/shopify/bulk_download)."""
