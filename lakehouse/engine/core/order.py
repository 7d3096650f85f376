"""The text layout of ``_sequence``, the total order of changes, shared by every engine.

``_sequence`` = ``<commit ts, UTC, microseconds>|<change seq padded to 35>|<0 load/csv,
1 cdc>|<file>|<row padded to 12>``; a null commit timestamp or change sequence is written
as zeros (``NULL_TS``, ``NULL_SEQ``) so it sorts first. ``<file>`` orders the files: for a DMS
file (kind ``load`` or ``cdc`` and a DMS name) its name's token then ``:`` and the source file
(``<token>:<key>``: the load counter's 8 hex digits, or a CDC file's ``yyyymmdd-`` and time
right-padded to 10 digits, as ``dms.names.parse_file_name``), so files sort by their DMS name
and their folders (date partitions in any order: ``31/01/2024/``) only break ties; for any
other file the source file itself. ``engine.sequencing`` (Polars) and
``engine.spark.sequencing`` build the column; the values here are what they must produce
(``sequence_text``) and how a value is read back (``sequence_commit_ts``).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

SEQUENCE = "_sequence"
NULL_TS = "0000-00-00T00:00:00.000000"
NULL_SEQ = "0" * 35
TS_FORMAT = "%Y-%m-%dT%H:%M:%S.%f"
#: a DMS data file's name at the end of a key (``dms.names``' pattern, a test holds them equal):
#: group 1 a full-load file's counter, groups 2 and 3 a CDC file's day and time. ASCII digits and
#: ``\z`` so Polars (Rust), Spark (Java) and Python (``\Z``) read it alike.
DMS_NAME_PATTERN = (
    r"(?:^|/)(?:[^/]*[_.-])?(?:LOAD([0-9A-F]{8})|([0-9]{8})-([0-9]{9,10}))"
    r"\.(?:csv|csv\.gz|parquet)\z"
)
_DMS_NAME = re.compile(DMS_NAME_PATTERN.replace(r"\z", r"\Z"))
#: between a DMS file's token and its source file in ``<file>``
FILE_TOKEN_SEP = ":"
DMS_KINDS = ("load", "cdc")


def file_order(file_kind: str | None, source_file: str) -> str:
    """The ``<file>`` part of ``_sequence`` (module docstring)."""
    m = _DMS_NAME.search(source_file) if file_kind in DMS_KINDS else None
    if m is None:
        return source_file
    token = m[1] if m[1] is not None else f"{m[2]}-{m[3].ljust(10, '0')}"
    return f"{token}{FILE_TOKEN_SEP}{source_file}"


def sequence_text(
    commit_ts: datetime | None,
    change_seq: str | None,
    file_kind: str,
    source_file: str,
    source_row: int | None,
) -> str:
    """The ``_sequence`` of a row with these lineage values."""
    ts = NULL_TS if commit_ts is None else commit_ts.astimezone(UTC).strftime(TS_FORMAT)
    seq = (change_seq or NULL_SEQ).rjust(35, "0")
    rank = "1" if file_kind == "cdc" else "0"
    return f"{ts}|{seq}|{rank}|{file_order(file_kind, source_file)}|{source_row or 0:012d}"


def sequence_commit_ts(sequence: str) -> datetime | None:
    """The commit timestamp a ``_sequence`` value starts with (None for a null timestamp)."""
    ts = sequence.split("|", 1)[0]
    return None if ts == NULL_TS else datetime.strptime(ts, TS_FORMAT).replace(tzinfo=UTC)
