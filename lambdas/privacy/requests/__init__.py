"""The privacy/requests function (lambdas/privacy/requests)."""
