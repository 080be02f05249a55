"""The recharge functions (lambdas/recharge)."""
