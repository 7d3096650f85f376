"""The AWS DMS S3-target file format: file names, writer and reader.

Data contract (AWS DMS user guide, "Using Amazon S3 as a target"; real files in
``shared/fixtures/dms``), driven by one :class:`DmsS3Settings`:

- Names: full-load files ``LOAD`` + 8 upper-case hex digits (counter from 1), CDC files
  ``yyyymmdd-hhmmssfff`` (UTC, milliseconds; 9 or 10 digits accepted when reading), extension
  ``.csv``, ``.csv.gz`` or ``.parquet``; optional date-partition folders (``2024/01/31/``).
- Layout: ``Op`` (``I``/``U``/``D``) first, in CDC files always (except CdcInsertsOnly without
  IncludeOpForFullLoad), in full-load files only with IncludeOpForFullLoad; then the
  TimestampColumnName column when set (``yyyy-MM-dd HH:mm:ss.ffffff``); then the table's columns in
  source order; then the columns the task's transformation rules add, in rule order (a
  ``table_mappings.DmsLayout``; by default ``BI_<key>`` before-images, then the change
  sequence, as the settings' task-level options say). A table may have several known layouts
  over time: a file with a header (or Parquet) names its columns, one without is read by the
  known layout its field count matches.
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

import csv
import gzip
import io
import re
import zlib
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Literal

import polars as pl
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from lakehouse.dms.settings import DmsS3Settings
from lakehouse.dms.table_mappings import DmsLayout, op_in_file

OP_COLUMN = "Op"
OPS = ("I", "U", "D")
_GZIP_MAGIC = b"\x1f\x8b"
_BOM = b"\xef\xbb\xbf"
_NAME_RE = re.compile(
    r"^(?:.*[_\-.])?(?:LOAD(?P<load>[0-9A-F]{8})|(?P<cdc>\d{8}-\d{9,10}))"
    r"\.(?P<ext>csv|csv\.gz|parquet)$"
)
_PARTITION_PARTS = {
    "YYYYMMDD": ("%Y", "%m", "%d"),
    "YYYYMMDDHH": ("%Y", "%m", "%d", "%H"),
    "YYYYMM": ("%Y", "%m"),
    "MMYYYYDD": ("%m", "%Y", "%d"),
    "DDMMYYYY": ("%d", "%m", "%Y"),
}
_PARTITION_DELIMS = {"SLASH": "/", "UNDERSCORE": "_", "DASH": "-", "NONE": ""}
_PARQUET_VERSIONS = {"parquet-1-0": "1.0", "parquet-2-0": "2.6"}


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


# ---------------------------------------------------------------------------------- file naming


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


_op_in_file = op_in_file


# --------------------------------------------------------------------------------------- writer


_OPERATION_NAMES = {"I": "INSERT", "U": "UPDATE", "D": "DELETE"}


def layout_rows(
    frame: pl.DataFrame,
    layout: DmsLayout,
    settings: DmsS3Settings,
    *,
    op,
    ts=None,
    change_seq=None,
    before: dict[str, pl.Series] | None = None,
) -> pl.DataFrame:
    """Rows of ``frame`` (the data columns under their source names) laid out as ``layout``
    says: ``Op`` (always; ``encode_dms_file`` drops it where the file has none), the timestamp
    column when set, the data columns under their file names, then the added columns in rule
    order. ``op``/``ts``/``change_seq``: a value for every row (str) or one per row (list,
    Series); a change sequence defaults to zeros. ``before``: source column → before-image values
    (default: the row's own value). Added ``$AR_H_OPERATION`` columns hold INSERT/UPDATE/DELETE,
    ``$AR_H_TIMESTAMP`` the timestamp; other header and computed columns are null."""
    n = frame.height

    def col(name: str, v, dtype=pl.String) -> pl.Series:
        if v is None or isinstance(v, str):
            return pl.Series(name, [v] * n, dtype=dtype)
        return pl.Series(name, v, dtype=dtype).alias(name)

    ops = col(OP_COLUMN, op)
    out = [ops]
    ts_values = col(settings.TimestampColumnName or "__ts", ts)
    if settings.TimestampColumnName:
        out.append(ts_values)
    for file_name, source in zip(layout.columns, layout.sources, strict=True):
        out.append(frame.get_column(source).alias(file_name))
    for a in layout.added:
        if a.role == "before_image":
            values = (before or {}).get(a.source)
            out.append(
                frame.get_column(a.source).cast(pl.String).alias(a.name)
                if values is None
                else values.cast(pl.String).alias(a.name)
            )
        elif a.role == "change_seq":
            out.append(col(a.name, "0" * 35 if change_seq is None else change_seq))
        elif a.role == "operation":
            out.append(ops.replace_strict(_OPERATION_NAMES, default=None).alias(a.name))
        elif a.source == "$AR_H_TIMESTAMP":
            out.append(ts_values.alias(a.name))
        else:
            out.append(pl.Series(a.name, [None] * n, dtype=pl.String))
    return pl.DataFrame(out)


def encode_dms_file(frame: pl.DataFrame, settings: DmsS3Settings, *, full_load: bool) -> bytes:
    """Bytes of one DMS file holding ``frame`` (columns already in final order)."""
    kind = "load" if full_load else "cdc"
    if OP_COLUMN in frame.columns:
        if not _op_in_file(settings, kind):
            frame = frame.drop(OP_COLUMN)
    elif _op_in_file(settings, kind):
        raise DmsFormatError(f"the frame has no {OP_COLUMN!r} column, which a {kind} file needs")
    if settings.DataFormat == "parquet":
        return _encode_parquet(frame, settings)
    data = _encode_csv(frame, settings).encode()
    if settings.CompressionType == "GZIP":
        data = gzip.compress(data, compresslevel=6, mtime=0)
    return data


def _encode_csv(frame: pl.DataFrame, s: DmsS3Settings) -> str:
    if s.CsvNullValue == "" or not s.Rfc4180:
        # polars already writes NULL unquoted, "" for an empty string, RFC 4180 quoting
        return frame.write_csv(
            include_header=s.AddColumnName,
            separator=s.CsvDelimiter,
            line_terminator=s.CsvRowDelimiter,
            null_value=s.CsvNullValue,
            quote_style="necessary" if s.Rfc4180 else "never",
        )
    # A custom null value: a string equal to it must be quoted, which write_csv cannot do.
    special = re.escape(s.CsvDelimiter) + r'"\r\n'

    def quote(e: pl.Expr) -> pl.Expr:
        need = e.str.contains(f"[{special}]") | (e == "") | (e == s.CsvNullValue)
        quoted = pl.concat_str(pl.lit('"'), e.str.replace_all('"', '""', literal=True), pl.lit('"'))
        return pl.when(need).then(quoted).otherwise(e).fill_null(pl.lit(s.CsvNullValue))

    lines = frame.select(
        pl.concat_str(
            [quote(pl.col(c).cast(pl.String)) for c in frame.columns], separator=s.CsvDelimiter
        )
    ).to_series()
    header = ""
    if s.AddColumnName:
        header = (
            pl.DataFrame({"h": frame.columns})
            .select(quote(pl.col("h")).str.join(s.CsvDelimiter))
            .item()
        )
        header += s.CsvRowDelimiter
    if not frame.width or not frame.height:
        return header
    return header + lines.str.join(s.CsvRowDelimiter).item() + s.CsvRowDelimiter


def _encode_parquet(frame: pl.DataFrame, s: DmsS3Settings) -> bytes:
    buf = io.BytesIO()
    pq.write_table(
        frame.to_arrow(),
        buf,
        compression="gzip" if s.CompressionType == "GZIP" else "none",
        version=_PARQUET_VERSIONS.get(s.ParquetVersion, "1.0"),
        coerce_timestamps="ms" if s.ParquetTimestampInMillisecond else "us",
        allow_truncated_timestamps=True,
        store_schema=False,
    )
    return buf.getvalue()


# --------------------------------------------------------------------------------------- reader


def read_dms_file(
    data: bytes,
    key: str,
    settings: DmsS3Settings,
    columns: list[str] | None = None,
    *,
    kind: str | None = None,
    layouts: list[DmsLayout] | tuple[DmsLayout, ...] | None = None,
) -> DmsFile:
    """Parse one DMS file. ``columns`` are the table's data columns in source order (needed for
    a CSV file without header; with a header they are only checked against it).

    ``layouts``: the table's known layouts (``table_mappings.known_layouts``), instead of
    ``columns``. A file with column names (a header, Parquet) is read by them and its layout
    built from them (a name is a before-image, change-sequence… column when a known layout says
    so); a CSV file without header by the known layout whose field count its records have
    (``DmsFormatError`` when none has it, or when layouts of different meaning share it).
    ``DmsFile.layout`` is the layout used."""
    if layouts is not None and not layouts:
        raise DmsFormatError("no known layout given for the table", key=key)
    if kind is None:
        kind = parse_file_name(key)[0]
    if kind not in ("load", "cdc"):
        raise DmsFormatError(f"kind {kind!r}: expected 'load' or 'cdc'", key=key)
    ts_col = settings.TimestampColumnName
    if columns is not None:
        columns = [c for c in columns if c not in (OP_COLUMN, ts_col)]
    if data[:2] == _GZIP_MAGIC:
        try:
            data = gzip.decompress(data)
        except (EOFError, OSError, zlib.error) as e:
            raise DmsFormatError(f"truncated or corrupt gzip data ({e})", key=key) from e
    if not data:
        if layouts:
            names = layouts[-1].names(settings, kind)
            empty = pl.DataFrame(
                schema={n: pl.String for n in ([OP_COLUMN] * (OP_COLUMN not in names) + names)}
            )
            return DmsFile(key, kind, empty, [], pl.Series("row", [], pl.Int64), layouts[-1])
        empty = _empty_frame(settings, kind, columns)
        return DmsFile(key, kind, empty, [], pl.Series("row", [], pl.Int64))
    base = key.rsplit("/", 1)[-1].lower()
    fmt = (
        "parquet"
        if ".parquet" in base
        else "csv"
        if base.endswith((".csv", ".csv.gz"))
        else settings.DataFormat
    )
    layout = None
    if fmt == "parquet":
        frame, rejected, header_rows = _read_parquet(data, key), [], 0
    elif layouts and not settings.AddColumnName:
        layout = _layout_by_count(data, key, settings, kind, list(layouts))
        names = layout.names(settings, kind)
        frame, rejected, header_rows = _read_csv(data, key, settings, None, kind, names=names)
    else:
        frame, rejected, header_rows = _read_csv(data, key, settings, columns, kind)
    if layouts:
        if layout is None:
            layout = _layout_of_names(frame.columns, list(layouts), settings, key)
    else:
        _check_columns(frame.columns, columns, settings, key)

    if OP_COLUMN not in frame.columns:
        if kind == "cdc" and _op_in_file(settings, kind):
            raise DmsFormatError(f"a CDC file without an {OP_COLUMN!r} column", key=key)
        frame = frame.with_columns(pl.lit("I", pl.String).alias(OP_COLUMN))
    elif frame.schema[OP_COLUMN] != pl.String:
        frame = frame.with_columns(pl.col(OP_COLUMN).cast(pl.String))
    first = [OP_COLUMN] + ([ts_col] if ts_col and ts_col in frame.columns else [])
    frame = frame.select(first + [c for c in frame.columns if c not in first])

    # 1-based record number of every kept row; the rows arrow already skipped shift the count
    rows = pl.int_range(header_rows + 1, header_rows + 1 + frame.height + len(rejected), eager=True)
    if rejected:
        rows = rows.filter(~rows.is_in([r.row for r in rejected]))
    bad = frame.select(~pl.col(OP_COLUMN).is_in(OPS).fill_null(False)).to_series()
    if bad.any():
        for row, rec in zip(rows.filter(bad), frame.filter(bad).iter_rows(named=True), strict=True):
            raw = _csv_line(rec.values(), settings) if fmt == "csv" else repr(rec)
            reason = f"Op {rec[OP_COLUMN]!r} is not one of I/U/D"
            rejected.append(RejectedRow(key, row, OP_COLUMN, reason, raw))
        frame, rows = frame.filter(~bad), rows.filter(~bad)
        rejected.sort(key=lambda r: r.row)
    return DmsFile(key, kind, frame, rejected, rows.alias("row"), layout)


def _layout_of_names(
    found: list[str], layouts: list[DmsLayout], s: DmsS3Settings, key: str
) -> DmsLayout:
    """The layout of a file that names its columns: a column is an added (before-image, change
    sequence…) column when a known layout has it so; the others are data columns."""
    dupes = sorted({c for c in found if found.count(c) > 1})
    if dupes:
        raise DmsFormatError(f"duplicate column name(s) {dupes}", key=key)
    roles = {}
    renamed: dict[str, str] = {}
    for lay in layouts:
        renamed.update(lay.renames)
        for a in lay.added:
            prev = roles.setdefault(a.name, a)
            if (prev.role, prev.source) != (a.role, a.source):
                raise DmsFormatError(
                    f"column {a.name!r} is {prev.role} {prev.source!r} in one known layout and "
                    f"{a.role} {a.source!r} in another: the file's header cannot say which",
                    key=key,
                    column=a.name,
                )
    lead = {OP_COLUMN, s.TimestampColumnName}
    data = [c for c in found if c not in lead and c not in roles]
    return DmsLayout(
        tuple(data),
        tuple(roles[c] for c in found if c in roles),
        tuple(renamed.get(c, c) for c in data),
        label="the file's own column names",
    )


def _field_counts(data: bytes, s: DmsS3Settings, limit: int = 200) -> list[int]:
    """Field counts of the first ``limit`` records of a CSV file (a cut last record left out)."""
    head = data[: 1 << 20]
    text = head.decode("utf-8", errors="replace")
    quoting = csv.QUOTE_MINIMAL if s.Rfc4180 else csv.QUOTE_NONE
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=s.CsvDelimiter, quoting=quoting)
    counts = []
    try:
        for rec in reader:
            counts.append(len(rec))
            if len(counts) > limit:
                break
    except csv.Error:
        pass
    if len(head) < len(data) and counts:
        counts.pop()
    return counts[:limit]


def _layout_by_count(
    data: bytes, key: str, s: DmsS3Settings, kind: str, layouts: list[DmsLayout]
) -> DmsLayout:
    """The known layout of a CSV file without header: the one whose field count most of its
    first records have."""
    counts = _field_counts(data, s)
    if not counts:
        return layouts[-1]
    by_n: dict[int, list[DmsLayout]] = {}
    for lay in layouts:
        by_n.setdefault(len(lay.names(s, kind)), []).append(lay)
    fits = {n: counts.count(n) for n in by_n}
    best = max(fits, key=lambda n: (fits[n], n))
    known = "; ".join(f"{len(lay.names(s, kind))} fields: {lay.describe()}" for lay in layouts)
    if not fits[best]:
        raise DmsFormatError(
            f"its records have {sorted(set(counts))} fields, which matches no known layout of "
            f"the table for a {kind} file ({known}); add the table mapping that wrote it to the "
            "table's layouts",
            key=key,
        )
    cands = by_n[best]
    if len({lay.meaning for lay in cands}) > 1:
        raise DmsFormatError(
            f"its records have {best} fields, which several known layouts of different meaning "
            f"have ({'; '.join(lay.describe() for lay in cands)}): the file cannot be read "
            "without a header (AddColumnName) or fewer candidate layouts",
            key=key,
        )
    return cands[-1]


def _expected_names(s: DmsS3Settings, kind: str, columns: list[str]) -> list[str]:
    names = ([OP_COLUMN] if _op_in_file(s, kind) else []) + (
        [s.TimestampColumnName] if s.TimestampColumnName else []
    )
    names += columns
    if s.change_seq_column and s.change_seq_column not in columns:
        names.append(s.change_seq_column)
    return names


def _empty_frame(s: DmsS3Settings, kind: str, columns: list[str] | None) -> pl.DataFrame:
    names = _expected_names(s, kind, columns or [])
    if OP_COLUMN not in names:
        names.insert(0, OP_COLUMN)
    return pl.DataFrame(schema={n: pl.String for n in names})


def _check_columns(found: list[str], columns: list[str] | None, s: DmsS3Settings, key: str) -> None:
    dupes = sorted({c for c in found if found.count(c) > 1})
    if dupes:
        raise DmsFormatError(f"duplicate column name(s) {dupes}", key=key)
    if columns is None:
        return
    known = set(columns) | {OP_COLUMN, s.TimestampColumnName, s.change_seq_column}
    known |= {f"BI_{c}" for c in columns}
    unknown = [c for c in found if c not in known]
    if unknown:
        raise DmsFormatError(
            f"column(s) {unknown} are not columns of this table (expected {columns}): "
            "a file of another table's shape",
            key=key,
            column=unknown[0],
        )


def _read_parquet(data: bytes, key: str) -> pl.DataFrame:
    try:
        table = pq.read_table(pa.BufferReader(data))
    except (pa.ArrowException, OSError) as e:
        raise DmsFormatError(f"not a readable Parquet file ({e})", key=key) from e
    return pl.from_arrow(table)


def _csv_line(values, s: DmsS3Settings) -> str:
    out = io.StringIO()
    csv.writer(out, delimiter=s.CsvDelimiter, lineterminator="").writerow(
        s.CsvNullValue if v is None else v for v in values
    )
    return out.getvalue()


def _first_record(data: bytes, s: DmsS3Settings) -> list[str]:
    text = data[: 1 << 20].decode("utf-8", errors="replace")
    quoting = csv.QUOTE_MINIMAL if s.Rfc4180 else csv.QUOTE_NONE
    return next(
        csv.reader(io.StringIO(text, newline=""), delimiter=s.CsvDelimiter, quoting=quoting), []
    )


def _read_csv(
    data: bytes,
    key: str,
    s: DmsS3Settings,
    columns: list[str] | None,
    kind: str,
    names: list[str] | None = None,
):
    if s.CsvRowDelimiter not in ("\n", "\r\n", "\r"):
        raise DmsFormatError(
            f"CsvRowDelimiter {s.CsvRowDelimiter!r} is not supported by the reader", key=key
        )
    if data.startswith(_BOM):  # DMS writes no BOM: a leading one is data, which arrow would strip
        data = _BOM + data
    header_rows = 1 if s.AddColumnName else 0
    if names is not None:
        pass
    elif header_rows:
        names = _first_record(data, s)
        if not names or names == [""]:
            raise DmsFormatError("empty header row", key=key, row=1)
    elif columns is not None:
        names = _expected_names(s, kind, columns)
    else:
        names = _expected_names(s, kind, [])
        n = len(_first_record(data, s)) - len(names)
        names += [f"column_{i + 1}" for i in range(max(n, 0))]
    fast = _read_csv_fast(data, s, names, header_rows)
    if fast is not None:
        return fast, [], header_rows
    try:
        table, rejected = _read_csv_precise(data, key, s, names, header_rows)
    except pa.ArrowException as e:
        raise DmsFormatError(f"unreadable CSV ({e})", key=key) from e
    return pl.from_arrow(table), rejected, header_rows


def _arrow_csv(
    buf: pa.Buffer, s: DmsS3Settings, names: list[str], skip_rows: int, quoted: bool, threads: bool
) -> tuple[pa.Table, list]:
    """One pyarrow parse of ``buf``: (table, the invalid rows, numbered from ``buf``'s start).
    ``quoted``: the data holds a quote (then CR/LF may be inside values)."""
    invalid = []

    def on_invalid(r) -> str:
        invalid.append(r)
        return "skip"

    table = pacsv.read_csv(
        pa.BufferReader(buf),
        read_options=pacsv.ReadOptions(
            column_names=names, skip_rows=skip_rows, use_threads=threads
        ),
        parse_options=pacsv.ParseOptions(
            delimiter=s.CsvDelimiter,
            quote_char='"' if s.Rfc4180 else False,
            double_quote=True,
            newlines_in_values=s.Rfc4180 and quoted,
            ignore_empty_lines=False,
            invalid_row_handler=on_invalid,
        ),
        convert_options=pacsv.ConvertOptions(
            column_types={n: pa.string() for n in names},
            null_values=[s.CsvNullValue],
            strings_can_be_null=True,
            quoted_strings_can_be_null=False,
        ),
    )
    if any(r.number is None for r in invalid):  # arrow numbers rows only when single-threaded
        return _arrow_csv(buf, s, names, skip_rows, quoted, False)
    return table, invalid


def _read_csv_precise(
    data: bytes, key: str, s: DmsS3Settings, names: list[str], header_rows: int
) -> tuple[pa.Table, list[RejectedRow]]:
    """The CSV read by pyarrow, recovering from a quote that never closes.

    With RFC 4180 quoting, a field opened by a quote that is not closed on its line runs on into
    the next lines (DMS writes CR/LF inside a value only quoted), so a stray quote would swallow
    the following records into one. When such a record has the wrong field count, its first
    physical line alone is the bad record (rejected, naming the column whose quote stays open)
    and reading resumes at the next line; a quoted multi-line value giving the right field count
    is a value. Record numbers stay those of the file (header included).
    """
    whole, quoted = pa.py_buffer(data), b'"' in data
    tables: list[pa.Table] = []
    rejected: list[RejectedRow] = []
    pos, base, skip = 0, 0, header_rows  # byte offset, records before ``pos``, header to skip
    while True:
        table, invalid = _arrow_csv(whole.slice(pos), s, names, skip, quoted, True)
        cut = None
        for r in invalid if s.Rfc4180 and quoted else ():
            cut = _unclosed_quote_line(data, pos, r, s)
            if cut is not None:
                break
        kept = [r for r in invalid if cut is None or r.number < cut[0].number]
        rejected += [
            RejectedRow(
                key,
                base + r.number,
                None,
                f"expected {r.expected_columns} fields, found {r.actual_columns}",
                r.text,
            )
            for r in kept
        ]
        if cut is None:
            tables.append(table)
            break
        r, end, line, fields, open_at = cut
        # the rows arrow kept before the bad record; those after it are read again
        tables.append(table.slice(0, r.number - 1 - skip - len(kept)))
        column = names[open_at] if open_at < len(names) else None
        rejected.append(
            RejectedRow(
                key,
                base + r.number,
                column,
                f"expected {len(names)} fields, found {len(fields)}: the quote opening "
                f"{'column ' + repr(column) if column else f'field {open_at + 1}'} is not "
                "closed on its line",
                line,
            )
        )
        base, skip, pos = base + r.number, 0, end
        if pos >= len(data):
            break
    return pa.concat_tables(tables) if len(tables) > 1 else tables[0], rejected


def _unclosed_quote_line(data: bytes, pos: int, r, s: DmsS3Settings):
    """For an invalid record ``r`` of ``data[pos:]`` whose first line leaves a quote open:
    ``(r, end offset of that line in data, the line, its fields, index of the open field)``;
    else None."""
    first = re.split(r"\r\n|\r|\n", r.text, maxsplit=1)[0]
    if _split_line(first, s.CsvDelimiter)[1] is None:
        return None
    start = _record_offset(data, pos, r.number, s)
    if start is None:
        return None
    m = _LINE_RE.match(data, start)
    line = m.group(1).decode("utf-8", errors="replace")
    if line != first:  # arrow and the line scan disagree on where the record starts
        return None
    fields, open_at = _split_line(line, s.CsvDelimiter)
    if open_at is None:
        return None
    return r, m.end(), line, fields, open_at


_LINE_RE = re.compile(rb"([^\r\n]*)(?:\r\n|\r|\n|\Z)")


def _record_offset(data: bytes, pos: int, number: int, s: DmsS3Settings) -> int | None:
    """Byte offset in ``data`` where record ``number`` (1-based, counted from ``pos``; RFC 4180
    records, a row ending at CR, LF or CRLF as for pyarrow) starts, or None if there is none."""
    ends = [pos]

    def lines():
        pos = ends[0]
        while pos < len(data):
            m = _LINE_RE.match(data, pos)
            pos = m.end()
            ends.append(pos)
            yield m.group(0).decode("utf-8", errors="surrogateescape")

    limit = csv.field_size_limit()
    csv.field_size_limit(max(limit, len(data) + 1))
    try:
        reader = csv.reader(lines(), delimiter=s.CsvDelimiter, quoting=csv.QUOTE_MINIMAL)
        for _ in range(number - 1):
            next(reader)
    except (StopIteration, csv.Error):
        return None
    finally:
        csv.field_size_limit(limit)
    offset = ends[reader.line_num]
    return offset if offset < len(data) else None


def _split_line(line: str, delim: str) -> tuple[list[str], int | None]:
    """The fields of one physical line read alone (RFC 4180, lenient like Python's csv: text
    after a closing quote and a quote inside an unquoted field are kept as text), and the index
    of the field whose quote is still open at the line end (None when every quote closes)."""
    fields, cur, state = [], [], "start"
    for ch in line:
        if state == "quoted":
            if ch == '"':
                state = "quote"
            else:
                cur.append(ch)
        elif ch == delim and state != "quoted":
            fields.append("".join(cur))
            cur, state = [], "start"
        elif state == "start" and ch == '"':
            state = "quoted"
        elif state == "quote" and ch == '"':
            cur.append(ch)
            state = "quoted"
        else:
            cur.append(ch)
            state = "field"
    open_at = len(fields) if state == "quoted" else None
    fields.append("".join(cur))
    return fields, open_at


def _read_csv_fast(
    data: bytes, s: DmsS3Settings, names: list[str], header_rows: int
) -> pl.DataFrame | None:
    """The CSV read by Polars, or None when the precise (pyarrow) reader must decide.

    Polars gives the same values as the pyarrow reader (NULL = empty unquoted field, ``""`` = empty
    string, RFC 4180 quoting, CR/LF inside quotes) but cannot report ragged rows: it raises on a
    row with too many fields (-> None) and pads a row with too few with nulls. A padded row has a
    null in the last column, so when that column holds a null the field count of every record is
    checked (delimiters in the file = header + records x (fields - 1) + delimiters inside values).
    Anything it does not handle exactly like the precise reader (a custom null value, a CR outside
    a CRLF row end, a leading BOM, one column, duplicate names) also gives None.
    """
    n = len(names)
    delim = s.CsvDelimiter
    if (
        n < 2
        or len(set(names)) != n
        or s.CsvNullValue != ""
        or len(delim.encode()) != 1
        or delim in '"\r\n'
        or data.startswith(_BOM)
        or data.endswith(delim.encode())  # polars drops an empty last field at EOF without row end
    ):
        return None
    if s.CsvRowDelimiter == "\n":
        if b"\r" in data:  # pyarrow ends a row at a bare CR too
            return None
    elif s.CsvRowDelimiter == "\r\n":
        crlf = data.count(b"\r\n")  # every CR and LF must be part of a CRLF
        if data.count(b"\r") != crlf or data.count(b"\n") != crlf:
            return None
    else:
        return None
    quoted = s.Rfc4180 and b'"' in data
    if quoted and not _quotes_well_formed(data, delim):  # pyarrow and polars read those apart
        return None
    try:
        frame = pl.read_csv(
            data,
            has_header=False,
            skip_rows=header_rows,
            schema={c: pl.String for c in names},
            separator=delim,
            quote_char='"' if s.Rfc4180 else None,
            null_values=None,
            empty_string_is_null=True,
            raise_if_empty=False,
            truncate_ragged_lines=False,
            encoding="utf8",
        )
    except pl.exceptions.PolarsError:  # ragged, bad quoting, bad UTF-8...: the precise reader
        return None
    if frame.columns != names or not frame.height:  # e.g. a header without row end: pyarrow
        return None
    if frame.get_column(names[-1]).null_count():
        header_delims = (n - 1) + sum(c.count(delim) for c in names) if header_rows else 0
        inner = 0
        if quoted:
            inner = frame.select(
                pl.sum_horizontal(pl.all().str.count_matches(delim, literal=True).sum())
            ).item()
        if data.count(delim.encode()) != header_delims + frame.height * (n - 1) + (inner or 0):
            return None
    return frame


def _quotes_well_formed(data: bytes, delim: str) -> bool:
    """Whether every quote of ``data`` is RFC 4180 quoting: a quoted field starts at a field start
    (after a delimiter, CR, LF or at the start), ends before a delimiter, CR, LF or the end, and
    holds only doubled quotes; no quote in an unquoted field and none left open at the end.

    Works on the runs of consecutive quotes: before a run, the field is quoted iff the number of
    quotes so far is odd; a run that leaves the field closed must be followed by a field end.
    """
    import numpy as np

    buf = np.frombuffer(data, dtype=np.uint8)
    pos = np.flatnonzero(buf == ord('"'))
    if not len(pos):
        return True
    if len(pos) % 2:
        return False
    starts = np.flatnonzero(np.diff(pos, prepend=-2) != 1)  # index in pos of each run's first quote
    lengths = np.diff(starts, append=len(pos))
    inside = (starts % 2).astype(bool)  # quotes before the run = its index in pos
    closes = ((starts + lengths) % 2) == 0
    ends = np.frombuffer(f"{delim}\r\n".encode(), dtype=np.uint8)
    first, last = pos[starts], pos[starts + lengths - 1]
    # an opening run must be at a field start
    opening = first[~inside]
    before = buf[np.maximum(opening - 1, 0)]
    if not np.all((opening == 0) | np.isin(before, ends)):
        return False
    # a closing run must be followed by a field end
    closing = last[closes] + 1
    after = buf[np.minimum(closing, len(buf) - 1)]
    return bool(np.all((closing == len(buf)) | np.isin(after, ends)))
