"""The AWS DMS S3-target file format: its contract and the types the reader and writer share.

File names are ``dms.names``, writing ``dms.writer``, reading ``dms.reader`` (its CSV parsing
``dms.csv_reader``); this module holds the contract they implement, ``OP_COLUMN``, the
``DmsFile`` a read returns, its ``RejectedRow``s and ``DmsFormatError``.

Data contract (AWS DMS user guide, "Using Amazon S3 as a target"; tested on files real DMS
tasks wrote), driven by one :class:`DmsS3Settings`:

- Names: full-load files ``LOAD`` + 8 upper-case hex digits (counter from 1), CDC files
  ``yyyymmdd-hhmmssfff`` (UTC, milliseconds; 9 or 10 digits accepted when reading), extension
  ``.csv``, ``.csv.gz`` or ``.parquet``; optional date-partition folders (``2024/01/31/``).
- Layout: ``Op`` (``I``/``U``/``D``) first, in CDC files always (except CdcInsertsOnly or
  CdcInsertsAndUpdates without IncludeOpForFullLoad: then no ``Op``, its rows read as upserts),
  in full-load files only with IncludeOpForFullLoad; then the
  TimestampColumnName column when set (``yyyy-MM-dd HH:mm:ss.ffffff``); then the table's columns in
  source order; then the columns the task's transformation rules add, in rule order (a
  ``table_mappings.DmsLayout``; by default ``BI_<key>`` before-images, then the change
  sequence, as the settings' task-level options say). A table may have several known layouts
  over time: a file with a header (or Parquet) names its columns, one without is read by the
  known layout its field count matches. The lakehouse's replicator adds ``UNCHANGED_COLUMN``
  last to a CDC file with column names when an update left a TOASTed value unsent.
- CSV: header only with AddColumnName; CsvDelimiter between fields; every row ends with
  CsvRowDelimiter; RFC 4180 quoting (fields holding the delimiter, a quote, CR or LF are quoted,
  quotes doubled, CR/LF allowed inside quotes); NULL is CsvNullValue *unquoted* (empty by default);
  an empty string is written ``""`` so it stays distinct from NULL (likewise a string equal to
  CsvNullValue is quoted); UTF-8, no BOM; gzip when CompressionType is GZIP (mtime 0).
- Parquet: typed columns (``Op``/timestamp/change sequence as strings), timestamps in
  microseconds (milliseconds with ParquetTimestampInMillisecond), gzip codec with GZIP else
  uncompressed, no Arrow schema blob (as DMS writes it).

Reading gives a :class:`DmsFile` whose frame always starts with ``Op`` (``I`` filled when the file
has none), then the timestamp column, then the other columns in file order. CSV values stay
``String`` (typing is the caller's job). Rows with the wrong field count or an ``Op`` outside
I/U/D are returned as :class:`RejectedRow` (row = 1-based record number in the file, header
included) and the rest of the file is kept; ``DmsFile.row_numbers`` gives the record number of each
kept row. A quote that never closes (RFC 4180) loses no other row: when a quoted field runs past
the end of its physical line and the record has the wrong field count, that line alone is the
rejected record (``column`` = the field whose quote stays open) and reading resumes at the next
line (DMS writes CR/LF inside a value only quoted; a multi-line value with the right field count
is a value). Writing the same frame twice gives the same bytes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import polars as pl

from lakehouse.dms.table_mappings import DmsLayout

OP_COLUMN = "Op"
#: the lakehouse's one extension of the format (its replicator only; AWS DMS writes NULL): in a
#: CDC file with column names (a header, Parquet), a JSON array of the columns an update left
#: unchanged without sending them (TOASTed values under REPLICA IDENTITY DEFAULT), else null
UNCHANGED_COLUMN = "_lakehouse_unchanged"
OPS = ("I", "U", "D")
GZIP_MAGIC = b"\x1f\x8b"
BOM = b"\xef\xbb\xbf"


class DmsFormatError(ValueError):
    """A file that is not in the DMS format the settings describe."""

    def __init__(
        self, message: str, key: str = "", row: int | None = None, column: str | None = None
    ):
        where = ", ".join(
            p
            for p in (
                f"file {key!r}" if key else "",
                f"row {row}" if row is not None else "",
                f"column {column!r}" if column else "",
            )
            if p
        )
        super().__init__(f"{where}: {message}" if where else message)
        self.key, self.row, self.column = key, row, column


@dataclass
class RejectedRow:
    key: str
    row: int  # 1-based record number in the file, header included
    column: str | None
    reason: str
    raw: str  # the row's text (CSV) or repr of the record (Parquet)


@dataclass
class DmsFile:
    key: str
    kind: Literal["load", "cdc"]
    frame: pl.DataFrame
    rejected: list[RejectedRow] = field(default_factory=list)
    #: 1-based record number in the file (header included) of each row of ``frame``
    row_numbers: pl.Series | None = None
    #: the layout the file was read by (when ``read_dms_file`` was given layouts)
    layout: DmsLayout | None = None
