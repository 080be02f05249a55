"""The privacy/indexer function (lambdas/privacy/indexer)."""
