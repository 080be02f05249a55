"""The privacy functions (lambdas/privacy)."""
