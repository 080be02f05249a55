"""Errors an operator can act on: printed as one line, never as a traceback."""


class UserError(Exception):
    """Something the operator must fix (a name, a file, a credential); the message says what to do."""
