"""Source timestamps to aware UTC datetimes, and the few formats the platform writes.

Sources disagree: Shopify sends offsets (``2022-04-05T13:02:42-04:00``) and, in webhook headers,
nanoseconds (``2024-09-26T06:51:35.781200288Z``); some Recharge fields are naive. A naive value is
never guessed at: the caller states which zone it is in (``naive_as``), or parsing fails.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, tzinfo

_ISO = re.compile(
    r"^(?P<date>\d{4}-\d{2}-\d{2})[T ](?P<time>\d{2}:\d{2}(?::\d{2})?)"
    r"(?:\.(?P<frac>\d{1,12}))?(?P<tz>Z|z|[+-]\d{2}:?\d{2})?$"
)


class TimestampError(ValueError):
    """A value that is not a timestamp the platform understands."""


def parse_timestamp(value: object, *, naive_as: tzinfo | None = None) -> datetime:
    """Parse an ISO-8601 timestamp (any fractional precision) to an aware UTC datetime.

    Precision beyond microseconds is truncated (Python keeps microseconds). A value without an offset
    is read in ``naive_as``; without ``naive_as`` it is an error.
    """
    if not isinstance(value, str):
        raise TimestampError(f"expected an ISO-8601 string, got {type(value).__name__}")
    match = _ISO.match(value.strip())
    if match is None:
        raise TimestampError(f"not an ISO-8601 timestamp: {value[:40]!r}")
    time_part = match["time"] if match["time"].count(":") == 2 else match["time"] + ":00"
    frac = (match["frac"] or "")[:6].ljust(6, "0")
    tz = match["tz"]
    offset = "" if tz is None else "+00:00" if tz in ("Z", "z") else tz
    try:
        parsed = datetime.fromisoformat(f"{match['date']}T{time_part}.{frac}{offset}")
    except ValueError as exc:
        raise TimestampError(f"not a valid date/time: {value[:40]!r}") from exc
    if parsed.tzinfo is None:
        if naive_as is None:
            raise TimestampError(f"timestamp has no UTC offset and no zone was given: {value[:40]!r}")
        parsed = parsed.replace(tzinfo=naive_as)
    return parsed.astimezone(UTC)


def to_epoch_micros(moment: datetime) -> int:
    """Microseconds since the epoch: a total order for versions, exact for any parsed timestamp."""
    if moment.tzinfo is None:
        raise TimestampError("naive datetime: attach a zone before comparing versions")
    delta = moment - datetime(1970, 1, 1, tzinfo=UTC)
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def iso_utc(moment: datetime) -> str:
    """Fixed-width UTC form (``2024-09-26T06:51:35.781200Z``): sorts as text in time order."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def partition_date(moment: datetime) -> str:
    """The ``dt=`` partition value: the UTC calendar date."""
    return moment.astimezone(UTC).strftime("%Y-%m-%d")


def utc_now() -> datetime:
    return datetime.now(UTC)
