"""The full load's DMS CSV rows written by the source itself: one ``COPY (SELECT …)`` whose
output *is* the LOAD file's body, so the replicator only cuts it into files.

``dms_select(spec, layout, settings, ts)`` → ``DmsSelect`` (the select list, the header line,
the positions of the key columns in a row), or None when the settings need what ``COPY`` cannot
write (Parquet, a row delimiter other than ``\\n``, a NULL value other than the empty string,
RFC 4180 quoting off, a quote or backslash delimiter): those go through Polars
(``Replicator.dms_frame``). The row is the one ``dms.writer.layout_rows`` + ``encode_dms_file``
write for a load row, read the same by any CSV reader: ``Op`` (``I``, when a load file has it),
the timestamp column, the data columns normalised as ``pg_text`` says (timestamps to UTC
``yyyy-MM-dd HH:mm:ss.ffffff``, money to a decimal, booleans to ``true``/``false``; infinite or
BC instants and every other type kept as PostgreSQL's text), then the added columns (a
before-image repeats its column, the change sequence is zeros, ``$AR_H_OPERATION`` is
``INSERT``, ``$AR_H_TIMESTAMP`` the timestamp, other header columns NULL). ``COPY`` quotes as
``write_csv`` does (a value holding the delimiter, a quote or a line break; ``""`` for an
empty string, NULL unquoted) and sends one row per message, so rows are counted, not parsed.
"""

from __future__ import annotations

from dataclasses import dataclass

from lakehouse.dms.format import OP_COLUMN
from lakehouse.dms.settings import DmsS3Settings
from lakehouse.dms.table_mappings import DmsLayout, op_in_file
from lakehouse.registry.model import Column, TableSpec, parse_type

_TS_TEXT = "'YYYY-MM-DD HH24:MI:SS.US'"


@dataclass(frozen=True)
class DmsSelect:
    select: str  # the select list
    header: str  # the header line (with its row delimiter), "" without AddColumnName
    key_positions: tuple[int, ...]  # where each primary-key column is in a row


def _quote_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _normalised(col: Column) -> str:
    """The SQL text of a column's value as ``pg_text`` normalises it."""
    c, base = _quote_ident(col.name), parse_type(col.type)[0]
    if base in ("timestamptz", "timestamp"):
        utc = f"{c} at time zone 'UTC'" if base == "timestamptz" else c
        low, high = ("'0001-01-01 00:00:00+00'", "'10000-01-01 00:00:00+00'")
        if base == "timestamp":
            low, high = "'0001-01-01 00:00:00'", "'10000-01-01 00:00:00'"
        return (f"case when isfinite({c}) and {c} >= {low} and {c} < {high}"
                f" then to_char({utc}, {_TS_TEXT}) else {c}::text end")  # fmt: skip
    if base == "money":
        return f"{c}::numeric::text"
    if base == "bool":
        return f"case when {c} then 'true' when not {c} then 'false' end"
    return c


def dms_select(
    spec: TableSpec, layout: DmsLayout, settings: DmsS3Settings, ts: str
) -> DmsSelect | None:
    """The select list of a load row of ``spec`` (see the module docstring), or None."""
    s = settings
    if (s.DataFormat == "parquet" or s.CsvDelimiter in ("'", "\\") or s.CsvRowDelimiter != "\n"
            or s.CsvNullValue != "" or not s.Rfc4180):  # fmt: skip
        return None
    by_name = {c.name: c for c in spec.columns}
    items: list[tuple[str, str]] = []  # (file column name, SQL)
    if op_in_file(s, "load"):
        items.append((OP_COLUMN, "'I'"))
    if s.TimestampColumnName:
        items.append((s.TimestampColumnName, _literal(ts)))
    for file_name, source in zip(layout.columns, layout.sources, strict=True):
        items.append((file_name, _normalised(by_name[source])))
    for a in layout.added:
        if a.role == "before_image":
            sql = _normalised(by_name[a.source])
        elif a.role == "change_seq":
            sql = _literal("0" * 35)
        elif a.role == "operation":
            sql = "'INSERT'"
        elif a.source == "$AR_H_TIMESTAMP":
            sql = _literal(ts)
        else:
            sql = "null"
        items.append((a.name, sql))
    names = [n for n, _ in items]
    header = ""
    if s.AddColumnName:
        header = s.CsvDelimiter.join(_csv_field(n, s.CsvDelimiter) for n in names) + "\n"
    position = {source: i for i, source in enumerate(layout.sources)}
    offset = len(items) - len(layout.columns) - len(layout.added)
    keys = tuple(offset + position[k] for k in spec.primary_key)
    return DmsSelect(", ".join(sql for _, sql in items), header, keys)


def key_of(row: bytes, select: DmsSelect, delimiter: str) -> list[str]:
    """The primary-key values (DMS text) of one row of the ``COPY``."""
    import csv
    import io

    fields = next(csv.reader(io.StringIO(row.decode("utf-8"), newline=""), delimiter=delimiter))
    return [fields[i] for i in select.key_positions]


def _csv_field(text: str, delimiter: str) -> str:
    if any(ch in text for ch in (delimiter, '"', "\n", "\r")) or text == "":
        return '"' + text.replace('"', '""') + '"'
    return text
