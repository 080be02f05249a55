"""The triplewhale/summary function (lambdas/triplewhale/summary)."""
