"""The data_quality/checks function (lambdas/data_quality/checks)."""
