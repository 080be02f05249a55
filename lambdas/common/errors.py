"""The two ways an input can fail, which decide what a handler does with it.

``BadInput``: the input itself is wrong; a retry cannot fix it. Keep it verbatim in quarantine with
``reason`` (a short slug that becomes part of the quarantine key), report success to the sender.

``TransientError``: the input is fine but something it needs is not (throttling, a 5xx, a timeout).
Raise it so the platform retries and, when retries are exhausted, the dead-letter queue keeps the input.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager

from botocore.exceptions import BotoCoreError, ClientError

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


# AWS error codes that mean "not now" (throttling, a service's own failure), not "never".
_TRANSIENT_AWS_CODES = frozenset(
    {
        "Throttling", "ThrottlingException", "ThrottledException", "RequestLimitExceeded", "SlowDown",
        "ProvisionedThroughputExceededException", "RequestThrottled", "TooManyRequestsException",
        "InternalError", "InternalServerError", "InternalFailure", "ServiceUnavailable",
        "ServiceUnavailableException", "RequestTimeout", "RequestTimeoutException",
        "TransactionConflictException", "KMSThrottlingException", "LimitExceededException",
    }
)  # fmt: skip


def is_transient(exc: BaseException) -> bool:
    """Whether a retry of the same input may succeed: ``TransientError``, a connection-level botocore
    failure, or an AWS answer that is throttling, a 5xx or a 429 (after botocore's own retries)."""
    if isinstance(exc, TransientError | BotoCoreError):
        return True
    if isinstance(exc, ClientError):
        code = exc.response.get("Error", {}).get("Code", "")
        status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) or 0)
        return code in _TRANSIENT_AWS_CODES or status >= 500 or status == 429
    return False


@contextmanager
def transient_aws_errors(what: str) -> Iterator[None]:
    """Raise a transient AWS failure inside the block as ``TransientError``, the name a Step Functions
    Retry (or a caller) matches; any other failure passes through unchanged."""
    try:
        yield
    except (ClientError, BotoCoreError) as exc:
        if not is_transient(exc):
            raise
        code = exc.response.get("Error", {}).get("Code", "") if isinstance(exc, ClientError) else type(exc).__name__
        raise TransientError(f"{what}: AWS answered {code}; worth retrying") from exc
