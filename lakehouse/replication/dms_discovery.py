"""Discover the tables of an existing AWS DMS S3 output from its files.

Contract of ``discover_dms_tables(root, settings, dataset, rules=...)``: every ``<schema>/<table>/``
folder under ``root`` holding DMS data files (``LOAD…``/CDC names, date partitions included)
and matching the selection rules becomes a ``TableSpec`` whose columns come from one file: a
Parquet file's schema (Arrow types mapped to logical types), or a CSV file's header with each
column's type inferred from its values (``registry.inference.infer_type``). DMS's own columns
(``Op``, the timestamp column, before-images ``BI_…``, the change sequence) are left out. With
the task's table ``mappings``, the tables and columns are named as in the source (schema, table
and column rules undone, ``TableMappings.source_of_folder``) and what the rules add is left out. DMS
files carry no key: ``primary_key`` is empty and ``discover`` says to declare it. Nor can they
prove a column NOT NULL (a sample without NULLs proves nothing; a delete carries only the key):
a column is nullable unless a Parquet schema says required or the declaration (``declared``: the
dataset's declared tables, looked up by ``dataset`` when not given) says NOT NULL. A CSV file
without a header cannot name its columns: a declared table is found with its declared columns
when the file's records have the field count they give; otherwise it is reported, not guessed.
"""

from __future__ import annotations

from dataclasses import replace

import pyarrow as pa

from lakehouse.dms import format as dms_format
from lakehouse.dms import names as dms_names
from lakehouse.dms import reader as dms_reader
from lakehouse.dms.settings import DmsS3Settings
from lakehouse.dms.table_mappings import DmsLayout, TableMappings
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
    lake: Lake,
    settings: DmsS3Settings,
    dataset: str,
    rules: list[dict] | None = None,
    mappings: TableMappings | None = None,
    declared: list | None = None,
) -> tuple[list[TableSpec], list[str]]:
    """``(tables, notes)`` of the DMS output under ``lake`` (see the module docstring).
    ``declared``: the dataset's ``TableDecl``s (None: read from its declaration, if any)."""
    by_name = {t.name: t for t in (_declared_tables(dataset) if declared is None else declared)}
    tables, notes = _discover(lake, settings, dataset, rules, mappings, by_name)
    return [_declared_not_null(t, by_name.get(t.name)) for t in tables], notes


def _declared_tables(dataset: str) -> list:
    """The declared tables of ``dataset`` (none when it is not declared)."""
    from lakehouse.declarations import DeclarationError, declaration

    try:
        return list(declaration(dataset).decl.tables)
    except DeclarationError:
        return []


def _declared_not_null(table: TableSpec, declared) -> TableSpec:
    """``table`` with the nullability its declaration gives a column (a declared column's own, a
    primary-key column NOT NULL) where the file does not already prove NOT NULL."""
    if declared is None or declared.schema_ != table.schema:
        return table
    said = {c.name: c.nullable for c in declared.columns}
    said.update({k: said.get(k, False) for k in declared.primary_key})
    columns = tuple(
        replace(c, nullable=c.nullable and said.get(c.name, True)) for c in table.columns
    )
    return replace(table, columns=columns)


def _headerless(
    lake: Lake, obj, settings: DmsS3Settings, dataset: str, schema: str, name: str,
    declared, mappings: TableMappings | None,
) -> tuple[TableSpec | None, str]:  # fmt: skip
    """A table whose file has no header: its declared columns when the file's records have the
    field count they give (``(spec, "")``), else ``(None, why)``."""
    why = (f"{schema}.{name}: {obj.key} has no header (AddColumnName is off):"
           " declare its columns in the order DMS writes them")  # fmt: skip
    if declared is None or declared.schema_ != schema or not declared.columns:
        return None, why
    names = [c.name for c in declared.columns]
    key = list(declared.primary_key)
    kind = dms_names.parse_file_name(obj.key.rsplit("/", 1)[-1])[0]
    layout = (
        mappings.layout(schema, name, names, key)
        if mappings is not None
        else DmsLayout.from_settings(settings, names, key)
    )
    want = len(layout.names(settings, kind))
    counts = dms_reader._field_counts(lake.read_bytes(obj.key), settings)
    if counts and max(set(counts), key=counts.count) != want:
        return None, (
            f"{schema}.{name}: {obj.key} has no header and records of "
            f"{max(set(counts), key=counts.count)} fields; the declared columns give {want}:"
            " declare its columns in the order DMS writes them"
        )
    columns = tuple(Column(c.name, c.type, nullable=c.nullable) for c in declared.columns)
    return TableSpec(dataset=dataset, name=name, schema=schema, columns=columns,
                     primary_key=()), ""  # fmt: skip


def _discover(
    lake, settings, dataset, rules, mappings, declared: dict
) -> tuple[list[TableSpec], list[str]]:
    if mappings is not None:
        return _discover_mapped(lake, settings, dataset, mappings, declared)
    parsed = [SelectionRule.parse(r) for r in (rules or [{"schema-name": "%", "table-name": "%"}])]
    tables, notes = [], []
    for (schema, name), files in sorted(_folders(lake).items()):
        if not selected(parsed, schema, name):
            continue
        obj = sorted(files, key=lambda f: (f[0], f[1]))[0][2]  # a full-load file when there is one
        columns = _columns(lake.read_bytes(obj.key), obj.key, settings)
        if columns is None:
            spec, why = _headerless(lake, obj, settings, dataset, schema, name,
                                    declared.get(name), None)  # fmt: skip
            tables += [spec] if spec else []
            notes += [why] if why else []
            continue
        tables.append(TableSpec(dataset=dataset, name=name, schema=schema,
                                columns=tuple(columns), primary_key=()))  # fmt: skip
        notes.append(f"{schema}.{name}: DMS files carry no key: set primary_key to apply updates")
    return tables, notes


def _folders(lake: Lake) -> dict[tuple[str, str], list]:
    """``{(schema, table): [(is_cdc, name token, object)]}`` of the DMS data files under ``lake``."""
    by_table: dict[tuple[str, str], list] = {}
    for obj in _listed(lake):
        parts = obj.key.split("/")
        if len(parts) < 3:
            continue
        try:
            kind, token = dms_names.parse_file_name(parts[-1])
        except dms_format.DmsFormatError:
            continue
        by_table.setdefault((parts[0], parts[1]), []).append((kind != "load", token, obj))
    return by_table


def _listed(lake: Lake) -> list:
    """Every object under the DMS output's root; a root that cannot be listed is a person's
    mistake (the template's placeholder path, a bucket that does not exist) in one line."""
    from botocore.exceptions import BotoCoreError, ClientError

    root = getattr(lake, "root", "")
    fix = " — fix: set the dms_s3 source's path to the DMS output (a folder or s3://bucket/prefix)"
    if "<" in str(root):
        raise ValueError(f"the dms_s3 source's path {root} is the template's placeholder{fix}")
    try:
        return lake.list("")
    except (OSError, BotoCoreError, ClientError) as err:
        raise ValueError(f"cannot list the dms_s3 source's path {root}: {err}{fix}") from err


def _discover_mapped(
    lake: Lake, settings: DmsS3Settings, dataset: str, mappings: TableMappings, declared: dict
) -> tuple[list[TableSpec], list[str]]:
    """Tables by the task's table mappings: a folder is the source table its selection and
    schema/table rules map there, its columns named as in the source (column rules undone),
    the columns the rules add left out."""
    tables, notes = [], []
    for (schema_f, table_f), files in sorted(_folders(lake).items()):
        source = mappings.source_of_folder(schema_f, table_f)
        if source is None:
            continue
        schema, name = source
        obj = sorted(files, key=lambda f: (f[0], f[1]))[0][2]
        columns = _columns(lake.read_bytes(obj.key), obj.key, settings, bi_prefix=False)
        if columns is None:
            spec, why = _headerless(lake, obj, settings, dataset, schema, name,
                                    declared.get(name), mappings)  # fmt: skip
            tables += [spec] if spec else []
            notes += [why] if why else []
            continue
        added = mappings.added_names(schema, name, [c.name for c in columns])
        columns = [c for c in columns if c.name not in added]
        sources = mappings.source_columns(schema, name, [c.name for c in columns])
        columns = [
            Column(s, c.type, nullable=c.nullable) for s, c in zip(sources, columns, strict=True)
        ]
        tables.append(TableSpec(dataset=dataset, name=name, schema=schema,
                                columns=tuple(columns), primary_key=()))  # fmt: skip
        if (schema, name) != (schema_f, table_f):
            notes.append(f"{schema}.{name}: files under {schema_f}/{table_f}/ (the task's rules)")
        notes.append(f"{schema}.{name}: DMS files carry no key: set primary_key to apply updates")
    return tables, notes


def _columns(
    data: bytes, key: str, settings: DmsS3Settings, *, bi_prefix: bool = True
) -> list[Column] | None:
    """A file's data columns (DMS's own left out, and ``BI_…`` ones when ``bi_prefix``)."""
    skip = _dms_columns(settings)
    if key.endswith(".parquet"):
        import io

        import pyarrow.parquet as pq

        schema = pq.read_schema(io.BytesIO(data))
        return [
            Column(f.name, logical_type_of_arrow(f.type), nullable=f.nullable)
            for f in schema
            if f.name not in skip and not (bi_prefix and f.name.startswith("BI_"))
        ]
    if not settings.AddColumnName:
        return None
    from lakehouse.registry.inference import infer_type

    dms = dms_reader.read_dms_file(data, key, settings, None)
    frame = dms.frame
    return [
        Column(c, infer_type(frame[c].cast(str)), nullable=True)
        for c in frame.columns
        if c not in skip and not (bi_prefix and c.startswith("BI_"))
    ]
