"""Durations as a person writes them in a declaration or an environment variable.

``parse_duration("90s")`` → 90 seconds; a number (decimals allowed) and one unit: ``s``
(seconds), ``m`` (minutes), ``h`` (hours) or ``d`` (days). Anything else, or zero, is a
``ValueError`` whose message the caller puts after the file and key (or variable) it came from.
``format_duration`` writes a ``timedelta`` back in the largest unit that divides it.
"""

from __future__ import annotations

import re
from datetime import timedelta

UNITS = {"d": 86400, "h": 3600, "m": 60, "s": 1}
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhd])\s*$")
#: the fix a message about a bad duration ends with
DURATION_FIX = "a number and a unit: 90s, 2m, 1h or 7d"


def parse_duration(value: object) -> timedelta:
    """``"2m"`` → ``timedelta(minutes=2)`` (see the module docstring)."""
    if isinstance(value, timedelta):
        seconds = value.total_seconds()
    else:
        m = _DURATION.match(value) if isinstance(value, str) else None
        if m is None:
            unit = " (no unit)" if isinstance(value, int | float) else ""
            raise ValueError(f"{value!r} is not a duration{unit}")
        seconds = float(m.group(1)) * UNITS[m.group(2)]
    if seconds <= 0:
        raise ValueError(f"{value!r} is not a positive duration")
    return timedelta(seconds=seconds)


def format_duration(value: timedelta) -> str:
    """``timedelta(minutes=2)`` → ``"2m"``; ``timedelta(seconds=90)`` → ``"90s"``."""
    seconds = value.total_seconds()
    for unit, size in UNITS.items():
        if seconds >= size and seconds % size == 0:
            return f"{int(seconds // size)}{unit}"
    return f"{seconds:g}s"
