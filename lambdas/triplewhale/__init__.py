"""The triplewhale functions (lambdas/triplewhale)."""
