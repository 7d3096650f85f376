"""The text layout of ``_sequence``, the total order of changes, shared by every engine.

``_sequence`` = ``<commit ts, UTC, microseconds>|<change seq padded to 35>|<0 load/csv,
1 cdc>|<source file>|<row padded to 12>``; a null commit timestamp or change sequence is written
as zeros (``NULL_TS``, ``NULL_SEQ``) so it sorts first. ``engine.sequencing`` (Polars) and
``engine.spark.sequencing`` build the column; the values here are what they must produce
(``sequence_text``) and how a value is read back (``sequence_commit_ts``).
"""

from __future__ import annotations

from datetime import UTC, datetime

SEQUENCE = "_sequence"
NULL_TS = "0000-00-00T00:00:00.000000"
NULL_SEQ = "0" * 35
TS_FORMAT = "%Y-%m-%dT%H:%M:%S.%f"


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
    return f"{ts}|{seq}|{rank}|{source_file}|{source_row or 0:012d}"


def sequence_commit_ts(sequence: str) -> datetime | None:
    """The commit timestamp a ``_sequence`` value starts with (None for a null timestamp)."""
    ts = sequence.split("|", 1)[0]
    return None if ts == NULL_TS else datetime.strptime(ts, TS_FORMAT).replace(tzinfo=UTC)
