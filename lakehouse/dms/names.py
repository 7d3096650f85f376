"""DMS file names: ``LOAD`` + 8 upper-case hex digits (full load, counter from 1), CDC files
``yyyymmdd-hhmmssfff`` (UTC, milliseconds; 9 or 10 digits accepted when reading), extension
``.csv``, ``.csv.gz`` or ``.parquet`` (``DmsS3Settings.extension``); optional date-partition
folders (``2024/01/31/``, as DatePartitionSequence/Delimiter say). ``parse_file_name`` gives a
name's kind and a token that sorts files of one kind in DMS order (a ``DmsFormatError`` for a
name that is not a DMS file's).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Literal

from lakehouse.dms.format import DmsFormatError
from lakehouse.dms.settings import DmsS3Settings

#: ASCII digits, any character before the separator, the very end (not before a newline): the
#: pattern ``engine.core.order.DMS_NAME_PATTERN`` reads in Polars and Spark too
_NAME_RE = re.compile(
    r"(?s)^(?:.*[_\-.])?(?:LOAD(?P<load>[0-9A-F]{8})|(?P<cdc>[0-9]{8}-[0-9]{9,10}))"
    r"\.(?P<ext>csv|csv\.gz|parquet)\Z"
)
_PARTITION_PARTS = {
    "YYYYMMDD": ("%Y", "%m", "%d"),
    "YYYYMMDDHH": ("%Y", "%m", "%d", "%H"),
    "YYYYMM": ("%Y", "%m"),
    "MMYYYYDD": ("%m", "%Y", "%d"),
    "DDMMYYYY": ("%d", "%m", "%Y"),
}
_PARTITION_DELIMS = {"SLASH": "/", "UNDERSCORE": "_", "DASH": "-", "NONE": ""}


def _utc(ts: datetime) -> datetime:
    return ts.astimezone(UTC) if ts.tzinfo else ts


def load_file_name(counter: int, settings: DmsS3Settings) -> str:
    if not 1 <= counter <= 0xFFFFFFFF:
        raise ValueError(f"full-load file counter {counter} outside 1..0xFFFFFFFF")
    return f"LOAD{counter:08X}.{settings.extension}"


def cdc_file_name(ts: datetime, settings: DmsS3Settings) -> str:
    ts = _utc(ts)
    return f"{ts:%Y%m%d-%H%M%S}{ts.microsecond // 1000:03d}.{settings.extension}"


def parse_file_name(name: str) -> tuple[Literal["load", "cdc"], str]:
    """``(kind, sort_token)`` of a DMS file name (a key's directories are ignored).

    The token sorts files of one kind in DMS order: the 8 hex digits for full-load files, and for
    CDC files ``yyyymmdd-`` plus the time right-padded to 10 digits, so that 9- and 10-digit names
    sort together.
    """
    base = name.rsplit("/", 1)[-1]
    m = _NAME_RE.match(base)
    if not m:
        raise DmsFormatError(
            "not a DMS file name (LOAD + 8 upper-case hex digits or yyyymmdd-hhmmssfff, "
            "with .csv, .csv.gz or .parquet)",
            key=name,
        )
    if m["load"]:
        return "load", m["load"]
    day, time = m["cdc"].split("-")
    return "cdc", f"{day}-{time.ljust(10, '0')}"


def date_partition_folder(ts: datetime, settings: DmsS3Settings) -> str:
    if not settings.DatePartitionEnabled:
        return ""
    ts = _utc(ts)
    parts = _PARTITION_PARTS[settings.DatePartitionSequence]
    return (
        _PARTITION_DELIMS[settings.DatePartitionDelimiter].join(ts.strftime(p) for p in parts) + "/"
    )
