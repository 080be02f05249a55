"""The shopify/compliance_webhook function (lambdas/shopify/compliance_webhook)."""
