"""Reading DMS files: ``read_dms_file`` per the contract in ``dms.format``.

A file is read by its known layouts (``table_mappings.known_layouts``) or by the table's
columns: a file with column names (a header, Parquet) is read by them, a CSV file without header
by the known layout whose field count its records have. A file whose column names repeat (a
column of the table named like a DMS column: ``Op``, the timestamp, ``BI_<key>``, the change
sequence) is a ``DmsFormatError`` naming the column and the fix, whatever the format: such a
file cannot say which column is DMS's. The frame always starts with ``Op``,
then the timestamp column; rows with the wrong field count or an ``Op`` outside I/U/D are
``RejectedRow``s and the rest of the file is kept. In a CSV CDC file under ``UseCsvNoSupValue``,
a data column holding ``CsvNoSupValue`` is NULL marked unchanged (``UNCHANGED_COLUMN``).
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import zlib

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq

from lakehouse.dms import csv_reader
from lakehouse.dms.format import (
    BOM,
    GZIP_MAGIC,
    OP_COLUMN,
    OPS,
    UNCHANGED_COLUMN,
    DmsFile,
    DmsFormatError,
    RejectedRow,
)
from lakehouse.dms.names import parse_file_name
from lakehouse.dms.settings import DmsS3Settings
from lakehouse.dms.table_mappings import DmsLayout, op_in_file


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
    if data[:2] == GZIP_MAGIC:
        try:
            data = gzip.decompress(data)
        except (EOFError, OSError, zlib.error) as e:
            raise DmsFormatError(f"truncated or corrupt gzip data ({e})", key=key) from e
    if not data:
        return _empty_file(key, kind, settings, columns, layouts)
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
        frame, rejected, header_rows = _read_parquet(data, key, settings), [], 0
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

    frame = _op_first(frame, settings, kind, key)
    frame, rows = _reject_bad_ops(frame, header_rows, rejected, settings, fmt, key)
    if fmt == "csv" and kind == "cdc" and settings.no_sup_value is not None:
        frame = _no_sup_as_unchanged(frame, settings, layout)
    return DmsFile(key, kind, frame, rejected, rows.alias("row"), layout)


def _no_sup_as_unchanged(
    frame: pl.DataFrame, s: DmsS3Settings, layout: DmsLayout | None
) -> pl.DataFrame:
    """A data column holding ``CsvNoSupValue`` (a column DMS could not capture in the change)
    becomes NULL marked in ``UNCHANGED_COLUMN``, as an unsent TOASTed value is: silver keeps the
    key's previous value."""
    meta = {OP_COLUMN, s.TimestampColumnName, UNCHANGED_COLUMN, s.change_seq_column}
    if layout is not None:
        meta |= {a.name for a in layout.added if a.role != "value"}
        data = [c for c in frame.columns if c in layout.columns]
    else:
        data = [c for c in frame.columns if c not in meta and not c.startswith("BI_")]
    nosup = s.no_sup_value
    hits = [c for c in data if frame.schema[c] == pl.String and (frame[c] == nosup).any()]
    if not hits:
        return frame
    prior = (
        frame[UNCHANGED_COLUMN].cast(pl.String).to_list()
        if UNCHANGED_COLUMN in frame.columns
        else [None] * frame.height
    )
    flags = frame.select((pl.col(c) == nosup).fill_null(False).alias(c) for c in hits)
    marks = []
    for before, row in zip(prior, flags.iter_rows(), strict=True):
        names = json.loads(before) if before else []
        names += [c for c, hit in zip(hits, row, strict=True) if hit and c not in names]
        marks.append(json.dumps(names) if names else None)
    return frame.with_columns(
        *(pl.when(pl.col(c) == nosup).then(None).otherwise(pl.col(c)).alias(c) for c in hits),
        pl.Series(UNCHANGED_COLUMN, marks, dtype=pl.String),
    )


def _empty_file(key: str, kind: str, settings: DmsS3Settings, columns, layouts) -> DmsFile:
    """A file without bytes: no rows, the columns of the newest layout (or of ``columns``)."""
    if layouts:
        names = layouts[-1].names(settings, kind)
        empty = pl.DataFrame(
            schema={n: pl.String for n in ([OP_COLUMN] * (OP_COLUMN not in names) + names)}
        )
        return DmsFile(key, kind, empty, [], pl.Series("row", [], pl.Int64), layouts[-1])
    empty = _empty_frame(settings, kind, columns)
    return DmsFile(key, kind, empty, [], pl.Series("row", [], pl.Int64))


def _op_first(frame: pl.DataFrame, settings: DmsS3Settings, kind: str, key: str) -> pl.DataFrame:
    """``Op`` (a string; ``I`` when the file has none) first, then the timestamp column."""
    ts_col = settings.TimestampColumnName
    if OP_COLUMN not in frame.columns:
        if kind == "cdc" and op_in_file(settings, kind):
            raise DmsFormatError(f"a CDC file without an {OP_COLUMN!r} column", key=key)
        frame = frame.with_columns(pl.lit("I", pl.String).alias(OP_COLUMN))
    elif frame.schema[OP_COLUMN] != pl.String:
        frame = frame.with_columns(pl.col(OP_COLUMN).cast(pl.String))
    first = [OP_COLUMN] + ([ts_col] if ts_col and ts_col in frame.columns else [])
    return frame.select(first + [c for c in frame.columns if c not in first])


def _reject_bad_ops(
    frame: pl.DataFrame,
    header_rows: int,
    rejected: list[RejectedRow],
    settings: DmsS3Settings,
    fmt: str,
    key: str,
) -> tuple[pl.DataFrame, pl.Series]:
    """The rows whose ``Op`` is I/U/D and their 1-based record numbers; the others are added
    to ``rejected`` (kept in record order)."""
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
    return frame, rows


def _layout_of_names(
    found: list[str], layouts: list[DmsLayout], s: DmsS3Settings, key: str
) -> DmsLayout:
    """The layout of a file that names its columns: a column is an added (before-image, change
    sequence…) column when a known layout has it so; the others are data columns."""
    check_unique(found, key, s)
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
    lead = {OP_COLUMN, s.TimestampColumnName, UNCHANGED_COLUMN}
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
    names = ([OP_COLUMN] if op_in_file(s, kind) else []) + (
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


def check_unique(names: list[str], key: str, s: DmsS3Settings, where: str = "header") -> None:
    """A ``DmsFormatError`` naming the column when a name repeats among a file's columns: a
    column of the table named like a DMS column (``Op``, the TimestampColumnName, a ``BI_<key>``
    before-image, the change sequence) cannot be told from it, by name or by position."""
    dupes = sorted({c for c in names if names.count(c) > 1})
    if not dupes:
        return
    dms = [OP_COLUMN, s.TimestampColumnName, "BI_<key>", s.change_seq_column, UNCHANGED_COLUMN]
    raise DmsFormatError(
        f"column name(s) {dupes} appear more than once in its {where}: a column of the table"
        f" named like a DMS column ({', '.join(n for n in dms if n)}) cannot be told from it, so"
        " the file is not read — fix: keep that column out of the files (exclude_columns on a"
        " replicated table; a remove-column or rename-column rule in a DMS task's table"
        " mappings), then reload the table",
        key=key,
        column=dupes[0],
    )


def _check_columns(found: list[str], columns: list[str] | None, s: DmsS3Settings, key: str) -> None:
    check_unique(found, key, s)
    if columns is None:
        return
    known = set(columns) | {OP_COLUMN, s.TimestampColumnName, s.change_seq_column}
    known.add(UNCHANGED_COLUMN)
    known |= {f"BI_{c}" for c in columns}
    unknown = [c for c in found if c not in known]
    if unknown:
        raise DmsFormatError(
            f"column(s) {unknown} are not columns of this table (expected {columns}): "
            "a file of another table's shape",
            key=key,
            column=unknown[0],
        )


def _read_parquet(data: bytes, key: str, s: DmsS3Settings) -> pl.DataFrame:
    try:
        names = pq.read_schema(pa.BufferReader(data)).names
    except (pa.ArrowException, OSError) as e:
        raise DmsFormatError(f"not a readable Parquet file ({e})", key=key) from e
    check_unique(names, key, s, "schema")
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
    if data.startswith(BOM):  # DMS writes no BOM: a leading one is data, which arrow would strip
        data = BOM + data
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
    check_unique(names, key, s, "header" if header_rows else "layout")
    fast = csv_reader.read_csv_fast(data, s, names, header_rows)
    if fast is not None:
        return fast, [], header_rows
    try:
        table, rejected = csv_reader.read_csv_precise(data, key, s, names, header_rows)
    except pa.ArrowException as e:
        raise DmsFormatError(f"unreadable CSV ({e})", key=key) from e
    return pl.from_arrow(table), rejected, header_rows
