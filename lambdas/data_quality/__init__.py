"""The data_quality functions (lambdas/data_quality)."""
