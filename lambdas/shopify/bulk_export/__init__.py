"""The shopify/bulk_export function (lambdas/shopify/bulk_export)."""
