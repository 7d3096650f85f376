"""Byte sizes as a person writes them in a declaration: ``512MiB``, ``1GiB``, ``10GB``.

``parse_size`` takes a number (decimals allowed) and a unit: ``B``, ``kB``/``KiB``, ``MB``/``MiB``,
``GB``/``GiB``, ``TB``/``TiB`` (decimal and binary units alike are read as powers of 1024, as
PostgreSQL's own size settings are), or a bare integer of bytes. Anything else, or zero, is a
``ValueError`` whose message the caller puts after the file and key it came from.
``format_size`` writes bytes back in the largest binary unit that divides them.
"""

from __future__ import annotations

import re

UNITS = {"TiB": 1 << 40, "GiB": 1 << 30, "MiB": 1 << 20, "KiB": 1 << 10, "B": 1}
_ALIASES = {"tb": "TiB", "tib": "TiB", "gb": "GiB", "gib": "GiB", "mb": "MiB", "mib": "MiB",
            "kb": "KiB", "kib": "KiB", "b": "B"}  # fmt: skip
_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]+)\s*$")
#: the fix a message about a bad size ends with
SIZE_FIX = "a number and a unit: 512MiB, 1GiB or 10GiB"


def parse_size(value: object) -> int:
    """``"1GiB"`` → ``1073741824`` (see the module docstring)."""
    if isinstance(value, int) and not isinstance(value, bool):
        size = value
    else:
        m = _SIZE.match(value) if isinstance(value, str) else None
        unit = _ALIASES.get(m.group(2).lower()) if m else None
        if unit is None:
            raise ValueError(f"{value!r} is not a size")
        size = int(float(m.group(1)) * UNITS[unit])
    if size <= 0:
        raise ValueError(f"{value!r} is not a positive size")
    return size


def format_size(size: int) -> str:
    """``1073741824`` → ``"1GiB"``."""
    for unit, factor in UNITS.items():
        if size >= factor and size % factor == 0:
            return f"{size // factor}{unit}"
    return f"{size}B"
