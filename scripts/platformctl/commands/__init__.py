"""Operator commands beyond the core ones, one module each (bulk, replay, redrive, recharge ...).

A module here defines ``register(subparsers)``, adding its sub-command with ``set_defaults(func=...)``
where ``func(args) -> int``; ``platformctl`` finds it by itself. Raise ``UserError`` for anything the
operator can fix.
"""
