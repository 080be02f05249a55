"""platformctl: the operator CLI (deploy, plan, status, lint, local cloud, demo)."""
