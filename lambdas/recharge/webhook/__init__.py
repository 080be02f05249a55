"""The recharge/webhook function (lambdas/recharge/webhook)."""
