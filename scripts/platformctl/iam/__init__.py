"""IAM policy evaluation (AWS's logic for requests within one account) and the local cloud's use of it."""
