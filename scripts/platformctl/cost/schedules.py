"""How often a schedule expression fires per day: ``rate(N unit)`` and the common ``cron(...)`` forms
(fixed, ``*``, lists and ``/`` steps in the minute and hour fields; day fields are taken as every day)."""

from __future__ import annotations

import re

from platformctl.errors import UserError

_RATE = re.compile(r"rate\((\d+)\s+(minute|minutes|hour|hours|day|days)\)")
_PER_DAY = {"minute": 1440.0, "hour": 24.0, "day": 1.0}


def _field_count(text: str, size: int) -> int:
    if text == "*":
        return size
    if "/" in text:
        start, step = text.split("/", 1)
        first = 0 if start in ("*", "") else int(start)
        return len(range(first, size, int(step)))
    return len(text.split(","))


def runs_per_day(expression: str) -> float:
    """Runs per day; 0 for an empty expression (no schedule)."""
    expression = expression.strip()
    if not expression:
        return 0.0
    rate = _RATE.fullmatch(expression)
    if rate:
        return _PER_DAY[rate[2].rstrip("s")] / int(rate[1])
    cron = re.fullmatch(r"cron\((.+)\)", expression)
    if cron:
        fields = cron[1].split()
        if len(fields) == 6:
            return float(_field_count(fields[0], 60) * _field_count(fields[1], 24))
    raise UserError(f"cannot tell how often the schedule {expression!r} runs")
