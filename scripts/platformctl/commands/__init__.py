"""Every platformctl command, one module each (deploy, status, local, bulk, replay, privacy ...).

A module here defines ``register(subparsers)``, adding its sub-command(s) with ``set_defaults(func=...)``
where ``func(args) -> int``; ``platformctl`` finds it by itself. A command that acts on an environment
takes ``--env`` through ``platformctl.aws_target.add_env_argument`` and reads stack outputs through
``platformctl.aws_target``. Raise ``UserError`` for anything the operator can fix. Keep imports of
development-only packages (the local cloud, DuckDB) inside the functions: the deploy environment
(requirements-deploy.txt) imports every module here.
"""
