"""Discover the tables of an existing AWS DMS S3 output from its files.

Contract of ``discover_dms_tables(root, settings, dataset, rules=...)``: every ``<schema>/<table>/``
folder under ``root`` holding DMS data files (``LOAD…``/CDC names, date partitions included)
and matching the selection rules becomes a ``TableSpec`` whose columns come from one file: a
Parquet file's schema (Arrow types mapped to logical types), or a CSV file's header with each
column's type inferred from its values (``registry.inference.infer_type``). DMS's own columns
(``Op``, the timestamp column, before-images ``BI_…``, the change sequence) are left out. DMS
files carry no key: ``primary_key`` is empty and ``discover`` says to declare it. A CSV file
without a header cannot name its columns: that table is reported, not guessed.
"""

from __future__ import annotations

import pyarrow as pa

from lakehouse.dms import format as dms_format
from lakehouse.dms import names as dms_names
from lakehouse.dms import reader as dms_reader
from lakehouse.dms.settings import DmsS3Settings
from lakehouse.registry.model import Column, TableSpec
from lakehouse.source.catalog import SelectionRule, selected
from lakehouse.storage import Lake


def logical_type_of_arrow(t: pa.DataType) -> str:
    """The logical type of a DMS Parquet column (string for what has no closer match)."""
    if pa.types.is_int16(t) or pa.types.is_int8(t):
        return "smallint"
    if pa.types.is_int32(t):
        return "int"
    if pa.types.is_integer(t):
        return "bigint"
    if pa.types.is_float32(t):
        return "real"
    if pa.types.is_floating(t):
        return "double"
    if pa.types.is_decimal(t):
        return f"decimal({min(t.precision, 38)},{t.scale})"
    if pa.types.is_boolean(t):
        return "bool"
    if pa.types.is_date(t):
        return "date"
    if pa.types.is_timestamp(t):
        return "timestamptz" if t.tz else "timestamp"
    if pa.types.is_binary(t) or pa.types.is_large_binary(t):
        return "bytes"
    return "string"


def _dms_columns(settings: DmsS3Settings) -> set[str]:
    return {dms_format.OP_COLUMN, settings.TimestampColumnName, settings.change_seq_column} - {""}


def discover_dms_tables(
    lake: Lake, settings: DmsS3Settings, dataset: str, rules: list[dict] | None = None
) -> tuple[list[TableSpec], list[str]]:
    """``(tables, notes)`` of the DMS output under ``lake`` (see the module docstring)."""
    parsed = [SelectionRule.parse(r) for r in (rules or [{"schema-name": "%", "table-name": "%"}])]
    by_table: dict[tuple[str, str], list] = {}
    for obj in lake.list(""):
        parts = obj.key.split("/")
        if len(parts) < 3:
            continue
        try:
            kind, token = dms_names.parse_file_name(parts[-1])
        except dms_format.DmsFormatError:
            continue
        by_table.setdefault((parts[0], parts[1]), []).append((kind != "load", token, obj))
    tables, notes = [], []
    for (schema, name), files in sorted(by_table.items()):
        if not selected(parsed, schema, name):
            continue
        obj = sorted(files, key=lambda f: (f[0], f[1]))[0][2]  # a full-load file when there is one
        columns = _columns(lake.read_bytes(obj.key), obj.key, settings)
        if columns is None:
            notes.append(f"{schema}.{name}: {obj.key} has no header (AddColumnName is off):"
                         " declare its columns in the order DMS writes them")  # fmt: skip
            continue
        tables.append(TableSpec(dataset=dataset, name=name, schema=schema,
                                columns=tuple(columns), primary_key=()))  # fmt: skip
        notes.append(f"{schema}.{name}: DMS files carry no key: set primary_key to apply updates")
    return tables, notes


def _columns(data: bytes, key: str, settings: DmsS3Settings) -> list[Column] | None:
    skip = _dms_columns(settings)
    if key.endswith(".parquet"):
        import io

        import pyarrow.parquet as pq

        schema = pq.read_schema(io.BytesIO(data))
        return [
            Column(f.name, logical_type_of_arrow(f.type), nullable=f.nullable)
            for f in schema
            if f.name not in skip and not f.name.startswith("BI_")
        ]
    if not settings.AddColumnName:
        return None
    from lakehouse.registry.inference import infer_type

    dms = dms_reader.read_dms_file(data, key, settings, None)
    frame = dms.frame
    return [
        Column(c, infer_type(frame[c].cast(str)), nullable=bool(frame[c].null_count()))
        for c in frame.columns
        if c not in skip and not c.startswith("BI_")
    ]
