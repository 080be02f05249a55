"""The two ways an input can fail, which decide what a handler does with it.

``BadInput``: the input itself is wrong; a retry cannot fix it. Keep it verbatim in quarantine with
``reason`` (a short slug that becomes part of the quarantine key), report success to the sender.

``TransientError``: the input is fine but something it needs is not (throttling, a 5xx, a timeout).
Raise it so the platform retries and, when retries are exhausted, the dead-letter queue keeps the input.
"""

from __future__ import annotations

import re

_REASON = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")


class BadInput(Exception):  # noqa: N818 - the name says what the input is, not that it is an error
    """An input that can never be processed as it is."""

    def __init__(self, reason: str, detail: str) -> None:
        if not _REASON.match(reason):
            raise ValueError(f"quarantine reason must be a lower-case slug, got {reason!r}")
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


class TransientError(Exception):
    """A failure worth retrying: the same input may succeed later."""
