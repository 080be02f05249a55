"""The one parser of the ``--since`` durations the commands take (``alerts``, ``dashboard``)."""

from __future__ import annotations

import re
from datetime import timedelta

from platformctl.errors import UserError

_SHORT = re.compile(r"^P?T?(\d+)([smhdwSMHDW])$")
# An ISO 8601 duration as CloudWatch dashboards write their ``start`` (``-PT12H``, ``P1D``).
ISO_DURATION = re.compile(r"^-?P(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+)S)?)?$")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_since(text: str) -> timedelta:
    """``12h``, ``90m``, ``2d``, ``1w``, ``30s`` or an ISO 8601 duration (``PT12H``, ``-PT3H``, ``P1D``)."""
    text = text.strip()
    match = _SHORT.match(text)
    if match and not text.upper().startswith("P"):
        seconds = _UNIT_SECONDS[match.group(2).lower()] * int(match.group(1))
    else:
        iso = ISO_DURATION.match(text.upper())
        if not iso or not any(iso.groups()):
            raise UserError(f"--since {text!r}: give a duration such as 3h, 90m, 2d or PT12H")
        days, hours, minutes, secs = (int(g or 0) for g in iso.groups())
        seconds = days * 86400 + hours * 3600 + minutes * 60 + secs
    if seconds <= 0:
        raise UserError(f"--since {text!r}: the duration must be longer than zero")
    return timedelta(seconds=seconds)
