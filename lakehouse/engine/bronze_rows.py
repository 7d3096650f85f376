"""One DMS raw file read as bronze rows: ``read_dms_rows`` (the rows and their quarantine rows).

Each file is read by its own layout (one of the table's known layouts, ``table_layouts`` by
default): data columns a rule renamed get their source names back; the registry's columns are
cast (``registry.casting``), a row without its key or whose key before-image does not cast is
quarantined; the DMS columns become bronze's lineage (``_op``, ``_commit_ts``, ``_change_seq``,
``_before_key``, ``_source_file``, ``_source_row``, ``_file_kind``, ``_ingested_at``; see
``engine.bronze``). ``check_shape``: a header that is not a shape of the table is another
table's file (a ``DmsFormatError``). ``empty_rows``: the frame of no rows with bronze's schema.
"""

from __future__ import annotations

import json
from datetime import datetime

import polars as pl

from lakehouse.dms import format as dms_format
from lakehouse.dms import reader as dms_reader
from lakehouse.dms.settings import DmsS3Settings
from lakehouse.dms.table_mappings import DmsLayout, known_layouts
from lakehouse.engine.core.lineage import RESERVED_COLUMNS
from lakehouse.engine.quarantine import rows_from_rejects, split_null_keys
from lakehouse.registry.casting import cast_to_registry
from lakehouse.registry.model import TableSpec
from lakehouse.storage import Lake, ObjectInfo


def read_dms_rows(
    raw: Lake,
    spec: TableSpec,
    settings: DmsS3Settings,
    obj: ObjectInfo,
    now: datetime,
    layouts: list[DmsLayout] | None = None,
) -> tuple[pl.DataFrame | None, list[dict]]:
    """One DMS file of ``raw`` (the lake holding the table's raw files) → (bronze rows or
    None, quarantine rows). Never raises for bad input. ``layouts``: the table's known file
    layouts, oldest first; by default the one ``settings`` stands for."""
    try:
        dms = _read_dms(raw, spec, settings, obj, layouts or table_layouts(spec, settings))
    except (dms_format.DmsFormatError, OSError, ValueError, pl.exceptions.DuplicateError) as err:
        return None, [
            dict(
                _source_file=obj.key,
                _source_row=None,
                _column=None,
                _reason=f"unreadable file: {err}",
                _raw=None,
            )
        ]
    layout = dms.layout
    quarantine = [
        dict(
            _source_file=obj.key, _source_row=r.row, _column=r.column, _reason=r.reason, _raw=r.raw
        )
        for r in dms.rejected
    ]
    frame = dms.frame
    rows = pl.Series("_source_row", _row_numbers(dms))
    # unknown extra columns pass through as strings; registry columns are typed
    typed, rejects = cast_to_registry(frame, spec.columns, row_numbers=rows)
    typed, null_keys = split_null_keys(typed, spec, obj.key)  # a change needs its key
    quarantine += null_keys + rows_from_rejects(rejects, obj.key)
    typed, bad_before = _check_before_images(typed, spec, layout, obj.key)
    quarantine.extend(bad_before)
    rows = typed["__row"]
    out = _lineage(typed.drop("__row"), spec, settings, layout, obj.key, dms.kind, rows, now)
    return out, quarantine


def _read_dms(
    raw: Lake, spec: TableSpec, settings: DmsS3Settings, obj: ObjectInfo, layouts: list[DmsLayout]
):
    """The file read by its own layout, renamed data columns back to their source names; a
    header that is not a shape of the table raises."""
    dms = dms_reader.read_dms_file(raw.read_bytes(obj.key), obj.key, settings, layouts=layouts)
    layout = dms.layout
    if layout.renames:  # data columns a rule renamed: back to their source names
        dms.frame = dms.frame.rename(
            {f: src for f, src in layout.renames.items() if f in dms.frame.columns}
        )
    # with a header the file names its columns: check the shape here, so that a column
    # added at the source flows (schema evolution) while another table's file does not
    if settings.AddColumnName:
        check_shape(spec, dms.frame.columns, obj.key, settings, layout)
    return dms


def _key_before_images(layout: DmsLayout, spec: TableSpec, frame: pl.DataFrame) -> dict[str, str]:
    """File column → key column, for the layout's before-images of key columns in ``frame``."""
    return {
        f: src
        for f, src in layout.before_images.items()
        if src in spec.primary_key and f in frame.columns
    }


def _lineage(
    frame: pl.DataFrame,
    spec: TableSpec,
    settings: DmsS3Settings,
    layout: DmsLayout,
    key: str,
    kind: str,
    rows: pl.Series,
    now: datetime,
) -> pl.DataFrame:
    ts_col, seq_col = settings.TimestampColumnName, layout.change_seq
    bi_cols = _key_before_images(layout, spec, frame)
    exprs = [
        pl.col(dms_format.OP_COLUMN).alias("_op"),
        (
            pl.col(ts_col)
            .cast(pl.String)
            .str.to_datetime("%Y-%m-%d %H:%M:%S%.f", time_unit="us", time_zone="UTC", strict=False)
            if ts_col and ts_col in frame.columns
            else pl.lit(None, pl.Datetime("us", "UTC"))
        ).alias("_commit_ts"),
        (
            pl.col(seq_col).cast(pl.String)
            if seq_col and seq_col in frame.columns
            else pl.lit(None, pl.String)
        ).alias("_change_seq"),
        (
            pl.struct(
                [pl.col(c).cast(pl.String).alias(k) for c, k in bi_cols.items()]
            ).struct.json_encode()
            if bi_cols
            else pl.lit(None, pl.String)
        ).alias("_before_key"),
        pl.lit(key).alias("_source_file"),
        rows.cast(pl.Int64).alias("_source_row"),
        pl.lit(kind).alias("_file_kind"),
        pl.lit(now).cast(pl.Datetime("us", "UTC")).alias("_ingested_at"),
    ]
    if dms_format.UNCHANGED_COLUMN in frame.columns:  # columns an update left unsent
        exprs.append(pl.col(dms_format.UNCHANGED_COLUMN).cast(pl.String).alias("_unchanged"))
    # the DMS columns lineage replaces; a computed (``value``) added column is row data
    meta = [a.name for a in layout.added if a.role != "value"]
    meta.append(dms_format.UNCHANGED_COLUMN)
    drop = [c for c in (dms_format.OP_COLUMN, ts_col, *meta) if c and c in frame.columns]
    return frame.with_columns(exprs).drop(drop)


def table_layouts(spec: TableSpec, settings: DmsS3Settings) -> list[DmsLayout]:
    """The one layout a table's files have when only ``settings`` describe the task."""
    return known_layouts(
        spec.schema, spec.source_table, spec.column_names, spec.primary_key, settings=settings
    )


def _check_before_images(
    typed: pl.DataFrame, spec: TableSpec, layout: DmsLayout, key: str
) -> tuple[pl.DataFrame, list[dict]]:
    """Quarantine the rows whose before-image of a key column does not cast to the key's type
    (silver compares it with the key); the other rows are returned."""
    bi = _key_before_images(layout, spec, typed)
    if not bi or not typed.height:
        return typed, []
    probe = typed.select(pl.col(f).cast(pl.String).alias(src) for f, src in bi.items())
    _, bad = cast_to_registry(
        probe, [spec.column(src) for src in bi.values()], row_numbers=typed["__row"]
    )
    if not bad.height:
        return typed, []
    file_col = {src: f for f, src in bi.items()}
    by_row = {
        r["__row"]: r
        for r in typed.filter(pl.col("__row").is_in(bad["__row"].implode())).iter_rows(named=True)
    }
    out = [
        dict(
            _source_file=key,
            _source_row=r["__row"],
            _column=file_col[r["__column"]],
            _reason=f"before-image column {file_col[r['__column']]!r} of key column "
            f"{r['__column']!r}: {r['__reason']}",
            _raw=json.dumps(
                {k: _s(v) for k, v in by_row[r["__row"]].items() if not k.startswith("__")}
            ),
        )
        for r in bad.iter_rows(named=True)
    ]
    return typed.filter(~pl.col("__row").is_in(bad["__row"].implode())), out


def _s(v):
    return None if v is None else str(v)


def empty_rows(spec: TableSpec) -> pl.DataFrame:
    from lakehouse.registry.types import table_polars_schema

    schema = dict(table_polars_schema(spec))
    schema.update(
        {
            "_op": pl.String,
            "_commit_ts": pl.Datetime("us", "UTC"),
            "_change_seq": pl.String,
            "_before_key": pl.String,
            "_source_file": pl.String,
            "_source_row": pl.Int64,
            "_file_kind": pl.String,
            "_ingested_at": pl.Datetime("us", "UTC"),
        }
    )
    return pl.DataFrame(schema=schema)


def check_shape(
    spec: TableSpec,
    found: list[str],
    key: str,
    settings: DmsS3Settings,
    layout: DmsLayout | None = None,
) -> None:
    """Reject (``DmsFormatError`` naming file, table and columns) a header that is not a shape of
    ``spec``. Besides the DMS columns (``Op``, timestamp, the layout's added columns: change
    sequence, before-images…) and columns
    named like bronze's lineage (``_commit_ts``…: bronze overwrites them, so they are neither
    registry nor added columns), a header of the table:

    - has every primary-key column;
    - has columns the registry does not know for the table only on top of *every* registry
      column: schema evolution adds columns at the source, so a file with an added column has
      the table's full current shape plus the new ones. A header that both lacks registry
      columns and has unknown ones is another table's file (tables of a dataset share ``id``,
      ``tenant_id``, ``created_at``…) — or a renamed column, which needs a registry change;
    - has at least half of the registry columns (a file older than columns added to the
      registry may lack a few: they are read as nulls).

    An empty file (no header) is not judged.
    """
    meta = {dms_format.OP_COLUMN, settings.TimestampColumnName, dms_format.UNCHANGED_COLUMN}
    if layout is None:
        layout = DmsLayout.from_settings(settings, spec.column_names, spec.primary_key)
    meta |= {a.name for a in layout.added}
    meta |= set(RESERVED_COLUMNS) - set(spec.column_names)
    data_cols = [c for c in found if c not in meta]
    if not data_cols:  # an empty file has no header to judge
        return
    known = [c for c in data_cols if c in spec.column_names]
    missing = [c for c in spec.column_names if c not in data_cols]
    unknown = [c for c in data_cols if c not in spec.column_names]
    missing_key = [k for k in spec.primary_key if k not in data_cols]
    if missing_key:
        why = f"lacks the primary key column(s) {missing_key}"
    elif unknown and missing:
        why = (
            f"has column(s) {unknown} the registry does not know for it while it lacks its "
            f"column(s) {missing} (an added column comes with every registry column)"
        )
    elif len(known) * 2 < len(spec.column_names):
        why = f"lacks most of its columns: {missing}"
    else:
        return
    raise dms_format.DmsFormatError(
        f"not a file of table {spec.name}: the header {why}; header columns {data_cols}", key=key
    )


def _row_numbers(dms) -> list[int] | range:
    """1-based record numbers of the frame's rows in their file (header included)."""
    rows = getattr(dms, "row_numbers", None)
    return rows if rows is not None else range(1, dms.frame.height + 1)
