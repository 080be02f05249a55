"""Which days a run fetches: the window rule of the Triple Whale summary job (docs/triplewhale.md).

Days are calendar dates in the shop's time zone (Triple Whale reports a shop's day in the shop's own
zone), both ends inclusive.

- Scheduled run (an event without ``since``): from the watermark minus ``lookback_days`` (attribution
  is restated for recent days, so they are fetched again) to today. Before the first complete run
  there is no watermark: the last ``first_run_days`` days up to today. A window longer than
  ``max_days`` (a watermark far behind) is its oldest ``max_days`` days: the schedule catches up.
- Backfill (``{"since": "YYYY-MM-DD", "until": "YYYY-MM-DD"}``, ``until`` optional and defaulting to
  today): exactly those days. A ``until`` after today is cut to today.

The watermark is the newest *complete* day (before today) up to which a run handled every day, in
order (a run that stops part-way keeps the days it handled before stopping); it only ever moves
forward, so a backfill of old days never pulls it back.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


class InvalidRunRequest(ValueError):  # noqa: N818 - named after what the caller sent
    """The invocation's event asks for a window the job cannot run; retrying it cannot help."""


@dataclass(frozen=True)
class Window:
    first: date
    last: date
    today: date
    backfill: bool

    def days(self) -> list[date]:
        return [self.first + timedelta(days=offset) for offset in range((self.last - self.first).days + 1)]

    def newest_complete_day(self, through: date | None = None) -> date | None:
        """The newest day of the window, up to ``through`` when given, that is over in the shop's zone
        (today is still changing)."""
        last = self.last if through is None else min(through, self.last)
        newest = min(last, self.today - timedelta(days=1))
        return newest if newest >= self.first else None

    def as_dict(self) -> dict[str, Any]:
        return {
            "since": self.first.isoformat(),
            "until": self.last.isoformat(),
            "days": len(self.days()),
            "backfill": self.backfill,
        }


def shop_now(now: datetime, zone: ZoneInfo) -> datetime:
    return now.astimezone(zone)


def today_hour(now: datetime, zone: ZoneInfo) -> int:
    """The current hour of the shop's day, base 1 (1-24) as the Summary Page's ``todayHour`` counts."""
    return shop_now(now, zone).hour + 1


def _day(value: Any, name: str) -> date:
    if not isinstance(value, str) or not _DATE.match(value.strip()):
        raise InvalidRunRequest(f"{name} must be a date YYYY-MM-DD, got {str(value)[:40]!r}")
    try:
        return date.fromisoformat(value.strip())
    except ValueError:
        raise InvalidRunRequest(f"{name} is not a calendar date: {value[:40]!r}") from None


def resolve_window(
    event: Mapping[str, Any] | None,
    *,
    now: datetime,
    zone: ZoneInfo,
    watermark: date | None,
    lookback_days: int,
    first_run_days: int,
    max_days: int,
) -> Window:
    event = event or {}
    if not isinstance(event, Mapping):
        raise InvalidRunRequest("the event must be a JSON object ({} or {'since': ..., 'until': ...})")
    today = shop_now(now, zone).date()
    since, until = event.get("since"), event.get("until")
    if since is None and until is not None:
        raise InvalidRunRequest("a backfill names its first day: give 'since' with 'until'")
    if since is not None:
        first = _day(since, "since")
        last = min(_day(until, "until"), today) if until is not None else today
        if first > last:
            raise InvalidRunRequest(f"since {first} is after until {last} (until is cut to today, {today})")
        window = Window(first, last, today, backfill=True)
    else:
        if watermark is None:
            first = today - timedelta(days=max(1, first_run_days) - 1)
        else:
            first = min(watermark - timedelta(days=lookback_days), today)
            # A lookback as long as a run's max_days is shortened so the window still reaches the day after
            # the watermark; otherwise the watermark could never move again.
            first = max(first, min(watermark + timedelta(days=1), today) - timedelta(days=max_days - 1))
        # A watermark far behind (the schedule was off for a while) is caught up max_days at a time:
        # each run lands the oldest days it lacks and moves the watermark, the next run goes on.
        last = min(today, first + timedelta(days=max_days - 1))
        window = Window(first, last, today, backfill=False)
    count = len(window.days())
    if count > max_days:
        raise InvalidRunRequest(
            f"the window {window.first}..{window.last} has {count} days, more than the {max_days} one run "
            "fetches: split the backfill into smaller since/until windows"
        )
    return window
