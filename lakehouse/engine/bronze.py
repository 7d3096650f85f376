"""Bronze: raw files → an append-only Delta change log per table, with lineage.

Data contract of ``bronze/<table>`` (Delta, one row per change as it arrived):
- the registry's columns, cast to their logical types (``engine.casting``); a column found in a
  file but not in the registry (added at the source) is kept as String and added to the table's
  schema (schema evolution: no rebuild);
- lineage: ``_op`` (I/U/D; I for full-load and CSV-drop rows), ``_commit_ts`` (the DMS timestamp
  column, UTC; null when the settings have none), ``_change_seq`` (the change-sequence column or
  null), ``_before_key`` (JSON object: key column → its before-image value as text, or null),
  ``_source_file`` (lake key), ``_source_row`` (1-based record number in that file, header
  included), ``_file_kind`` (load | cdc | csv), ``_ingested_at`` (UTC).

Each DMS file is read by its own layout (``table_mappings.DmsLayout``), one of the table's known
layouts (``ingest(layouts=...)``; by default the one the settings' ``before_image_key`` /
``change_seq_column`` stand for): the change sequence and the before-images of key columns are
found by the layout's names and roles (any prefix), data columns a rule renamed get their source
names back, and the other DMS-added columns (before-images of non-key columns, ``$AR_H_…``
header values) are dropped; a computed added column is row data. A row whose key before-image
does not cast to the key's type is quarantined (column = the before-image column).

Exactly once: each run appends the rows of every file not yet ingested in ONE Delta commit whose
commit metadata lists those files (``lakehouse.files``); ``_state/bronze/<table>.json`` caches the
list with the Delta version it matches, and is rebuilt from the commit history when it lags the
table (a crash between the commit and the cache write). A CDC or CSV file is identified by key
and size, so replaying a run is a no-op; a full-load (``LOAD…``) file by key, size and
last-modified time, so a rewritten one (a DMS reload, even of unchanged data whose new timestamps
have the same width) is ingested again. (Ids recorded as ``key#size`` before last-modified times
were recorded still match by key and size.)

The load log: every ingestion of a full-load file — empty ones included, which add no rows — is
recorded in the same commit (``lakehouse.loads``: key, ``ingested_at`` = the rows'
``_ingested_at``, ``start``) and in the cache — except a file that cannot be read or whose every
row was rejected, which tells nothing about the baseline; ``load_log`` returns it with the commit version
and the full load (*generation*) each ingestion belongs to. ``start`` is the position in the
total order (``engine.sequencing``) where the file's load begins: the smallest ``_sequence`` of
its rows, or for a file without rows its last-modified time. Generations (``engine.core.reloads.load_generations``):
the ingestions in ``start`` order, a new generation beginning whenever a file name repeats within
the current one — a full load writes each ``LOAD`` name once, and a reload starts again at
``LOAD00000001``. So a full load spread over several files and bronze runs is one generation,
however bronze batches it; generation 0 is the first baseline, every later one a reload (see
``engine.silver``). Ingestions with the same key and start (a replayed file) count once.

Bad input never stops the other files: rows that fail parsing or casting, and whole files that
cannot be read (truncated gzip, another table's shape — the header rule is ``_check_shape``: the
key, and unknown columns only on top of every registry column), go to ``quarantine/<table>``
(Delta: ``_source_file``, ``_source_row``, ``_column``, ``_reason``, ``_raw``,
``_quarantined_at``; a whole file has a null ``_source_row``). Quarantine writes are idempotent
(``engine.quarantine``): a run that dies before its commit does not record the entries twice.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime

import polars as pl

from lakehouse.engine.casting import cast_to_registry
from lakehouse.engine.core.keys import bronze_key
from lakehouse.engine.core.lineage import LINEAGE_COLUMNS
from lakehouse.engine.core.order import sequence_text
from lakehouse.engine.core.reloads import LOADS_METADATA_KEY, LoadIngestion, load_generations
from lakehouse.engine.delta import open_table
from lakehouse.engine.quarantine import rows_from_rejects, split_null_keys, write_quarantine
from lakehouse.engine.sequencing import sequence_expr
from lakehouse.registry.model import TableSpec
from lakehouse.replication import dms_format
from lakehouse.replication.dms_settings import DmsS3Settings
from lakehouse.replication.table_mappings import DmsLayout, known_layouts
from lakehouse.storage import Lake, ObjectInfo

log = logging.getLogger(__name__)

FILES_METADATA_KEY = "lakehouse.files"


@dataclass
class BronzeResult:
    table: str
    files: list[str] = field(default_factory=list)
    rows: int = 0
    rows_by_op: dict[str, int] = field(default_factory=dict)
    quarantined: int = 0
    errors: list[str] = field(default_factory=list)
    version: int | None = None
    bytes_read: int = 0
    seconds: float = 0.0


def _state_key(spec: TableSpec) -> str:
    return f"_state/bronze/{spec.name}.json"


def _is_load(spec: TableSpec, obj: ObjectInfo) -> bool:
    if spec.source == "csv_drop":
        return False
    try:
        return dms_format.parse_file_name(obj.key)[0] == "load"
    except dms_format.DmsFormatError:
        return False


def _file_id(obj: ObjectInfo, spec: TableSpec | None = None) -> str:
    """``key#size``; a full-load file also carries its last-modified time (µs): ``#size#mtime``."""
    if spec is not None and _is_load(spec, obj):
        return f"{obj.key}#{obj.size}#{round(obj.mtime * 1_000_000)}"
    return f"{obj.key}#{obj.size}"


def _done(obj: ObjectInfo, spec: TableSpec, done: set[str]) -> bool:
    return _file_id(obj, spec) in done or f"{obj.key}#{obj.size}" in done


def raw_lake(lake: Lake, spec: TableSpec) -> Lake:
    """Where a table's raw files are: an existing DMS output (``spec.raw_root``, opened with the
    lake's S3 endpoint and region) or the lake itself."""
    if spec.raw_root is None:
        return lake
    from lakehouse.storage import open_lake

    return open_lake(
        spec.raw_root,
        endpoint_url=getattr(lake, "endpoint_url", None),
        region=getattr(lake, "region", "us-east-1"),
    )


def raw_files(lake: Lake, spec: TableSpec) -> list[ObjectInfo]:
    """The raw objects of a table, in ingestion order (full load first, then CDC by name)."""
    objs = []
    for obj in raw_lake(lake, spec).list(spec.raw_prefix):
        base = obj.key.rsplit("/", 1)[-1]
        if spec.source == "csv_drop":
            import fnmatch

            if fnmatch.fnmatch(base, spec.file_glob):
                objs.append((("csv", base), obj))
            continue
        try:
            kind, token = dms_format.parse_file_name(base)
        except dms_format.DmsFormatError:
            continue  # not a DMS data file (e.g. a crawler's marker)
        objs.append(((kind, token), obj))
    objs.sort(key=lambda t: (t[0][0] != "load", t[0][1], t[1].key))
    return [o for _, o in objs]


def ingested_files(lake: Lake, spec: TableSpec) -> set[str]:
    """File ids (``key#size[#mtime]``) already in ``bronze/<table>``; see the module docstring."""
    return _state(lake, spec)[0]


def pending_files(lake: Lake, spec: TableSpec, objs: list[ObjectInfo]) -> list[ObjectInfo]:
    """Those of ``objs`` (raw objects of ``spec``) that are not in ``bronze/<table>`` yet."""
    done = ingested_files(lake, spec)
    return [o for o in objs if not _done(o, spec, done)]


def load_log(lake: Lake, spec: TableSpec) -> list[LoadIngestion]:
    """Every full-load file ingestion of ``bronze/<table>``, by version and key, with its
    generation (``load_generations``); see "The load log" in the module docstring."""
    return load_generations(_state(lake, spec)[1])


def _state(lake: Lake, spec: TableSpec) -> tuple[set[str], list[LoadIngestion]]:
    """(file ids, load log) of the bronze table: the cache, caught up with the commit history."""
    cache = json.loads(lake.read_text(_state_key(spec))) if lake.exists(_state_key(spec)) else None
    if cache is not None and "loads" not in cache:
        cache = None  # written before the load log existed: rebuild from the history
    dt = open_table(lake, bronze_key(spec.name))
    if dt is None:  # no table yet
        return set(), []
    version = dt.version()
    files = set(cache["files"]) if cache else set()
    loads = [LoadIngestion.from_json(e, e["version"]) for e in cache["loads"]] if cache else []
    cached_version = cache["version"] if cache else -1
    if cached_version < version:
        for entry in dt.history(version - cached_version):
            meta = entry.get(FILES_METADATA_KEY) or (entry.get("userMetadata") or None)
            if meta and isinstance(meta, str):
                files.update(json.loads(meta))
            if entry.get(LOADS_METADATA_KEY) and entry.get("version", -1) > cached_version:
                loads += [
                    LoadIngestion.from_json(e, entry["version"])
                    for e in json.loads(entry[LOADS_METADATA_KEY])
                ]
        loads.sort(key=lambda e: (e.version, e.key))
        _save_cache(lake, spec, version, files, loads)
    return files, loads


def _save_cache(
    lake: Lake, spec: TableSpec, version: int, files: set[str], loads: list[LoadIngestion]
) -> None:
    state = {
        "version": version,
        "files": sorted(files),
        "loads": [{**e.to_json(), "version": e.version} for e in loads],
    }
    lake.write_text(_state_key(spec), json.dumps(state))


def _load_start(obj: ObjectInfo, frame: pl.DataFrame | None) -> str:
    """Where a full-load file's load begins: its first row in the total order, or its mtime."""
    if frame is not None and frame.height:
        return frame.select(sequence_expr().min()).item()
    return sequence_text(datetime.fromtimestamp(obj.mtime, UTC), None, "load", obj.key, 0)


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
    # the DMS columns lineage replaces; a computed (``value``) added column is row data
    meta = [a.name for a in layout.added if a.role != "value"]
    drop = [c for c in (dms_format.OP_COLUMN, ts_col, *meta) if c and c in frame.columns]
    return frame.with_columns(exprs).drop(drop)


def table_layouts(spec: TableSpec, settings: DmsS3Settings) -> list[DmsLayout]:
    """The one layout a table's files have when only ``settings`` describe the task."""
    return known_layouts(
        spec.schema, spec.source_table, spec.column_names, spec.primary_key, settings=settings
    )


def read_file(
    lake: Lake,
    spec: TableSpec,
    settings: DmsS3Settings,
    obj: ObjectInfo,
    now: datetime,
    layouts: list[DmsLayout] | None = None,
) -> tuple[pl.DataFrame | None, list[dict]]:
    """One raw file → (bronze rows or None, quarantine rows). Never raises for bad input.

    ``layouts``: the table's known file layouts (``table_mappings.known_layouts``), oldest
    first; by default the one ``settings`` stands for. Each file is read by its own."""
    if spec.source == "csv_drop":  # read with the table's CsvOptions
        from lakehouse.engine.csv_drop import read_csv_drop

        return read_csv_drop(lake, spec, obj, now)
    if not layouts:
        layouts = table_layouts(spec, settings)
    try:
        data = raw_lake(lake, spec).read_bytes(obj.key)
        dms = dms_format.read_dms_file(
            data,
            obj.key,
            settings,
            layouts=layouts,
        )
        layout = dms.layout
        if layout.renames:  # data columns a rule renamed: back to their source names
            dms.frame = dms.frame.rename(
                {f: src for f, src in layout.renames.items() if f in dms.frame.columns}
            )
        # with a header the file names its columns: check the shape here, so that a column
        # added at the source flows (schema evolution) while another table's file does not
        if settings.AddColumnName:
            _check_shape(spec, dms.frame.columns, obj.key, settings, layout)
    except (dms_format.DmsFormatError, OSError, ValueError) as err:
        return None, [
            dict(
                _source_file=obj.key,
                _source_row=None,
                _column=None,
                _reason=f"unreadable file: {err}",
                _raw=None,
            )
        ]
    quarantine = [
        dict(
            _source_file=obj.key, _source_row=r.row, _column=r.column, _reason=r.reason, _raw=r.raw
        )
        for r in dms.rejected
    ]
    frame = dms.frame
    rows = pl.Series(
        "_source_row",
        _row_numbers(dms),
    )
    # unknown extra columns pass through as strings; registry columns are typed
    typed, rejects = cast_to_registry(frame, spec.columns, row_numbers=rows)
    typed, null_keys = split_null_keys(typed, spec, obj.key)  # a change needs its key
    quarantine += null_keys + rows_from_rejects(rejects, obj.key)
    typed, bad_before = _check_before_images(typed, spec, layout, obj.key)
    quarantine.extend(bad_before)
    rows = typed["__row"]
    out = _lineage(
        typed.drop("__row"),
        spec,
        settings,
        layout,
        obj.key,
        dms.kind,
        rows,
        now,
    )
    return out, quarantine


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


def ingest(
    lake: Lake,
    spec: TableSpec,
    settings: DmsS3Settings,
    *,
    now: datetime | None = None,
    max_files: int | None = None,
    layouts: list[DmsLayout] | None = None,
) -> BronzeResult:
    """Append every raw file of ``spec`` not yet in bronze (see the module docstring).
    ``layouts``: the table's known DMS file layouts (``read_file``)."""
    from deltalake import CommitProperties, write_deltalake

    started = time.perf_counter()
    now = now or datetime.now(UTC)
    result = BronzeResult(spec.name)
    done, loads = _state(lake, spec)
    todo = [o for o in raw_files(lake, spec) if not _done(o, spec, done)]
    if max_files is not None:
        todo = todo[:max_files]
    if not todo:
        result.seconds = time.perf_counter() - started
        return result
    frames, quarantine, new_loads = [], [], []
    at = (now if now.tzinfo else now.replace(tzinfo=UTC)).astimezone(UTC)
    for obj in todo:
        frame, q = read_file(lake, spec, settings, obj, now, layouts)
        # a full-load file that cannot be read, or whose every row was rejected, tells nothing
        # about the baseline: it is not logged (an empty file is: it empties the table)
        if _is_load(spec, obj) and frame is not None and (frame.height or not q):
            new_loads.append(LoadIngestion(obj.key, -1, at, _load_start(obj, frame)))
        quarantine.extend(q)
        result.bytes_read += obj.size
        if q:
            result.errors.extend(
                f"{x['_source_file']} row {x['_source_row']}: {x['_reason']}" for x in q[:5]
            )
        if frame is not None and frame.height:
            frames.append(frame)
    result.quarantined = write_quarantine(lake, spec.name, quarantine, "bronze", now)
    ids = [_file_id(o, spec) for o in todo]
    if len(frames) == 1:
        data = frames[0]
    else:
        data = pl.concat(frames, how="diagonal_relaxed") if frames else _empty(spec)
    metadata = {FILES_METADATA_KEY: json.dumps(ids)}
    if new_loads:
        metadata[LOADS_METADATA_KEY] = json.dumps([e.to_json() for e in new_loads])
    props = CommitProperties(custom_metadata=metadata)
    write_deltalake(
        lake.uri(bronze_key(spec.name)),
        # view types: no copy (the Delta schema is the same "string"/"binary" either way)
        data.to_arrow(compat_level=pl.CompatLevel.newest()),
        mode="append",
        schema_mode="merge",
        storage_options=lake.storage_options,
        commit_properties=props,
        partition_by=None,
    )
    version = open_table(lake, bronze_key(spec.name)).version()
    loads = loads + [replace(e, version=version) for e in new_loads]
    _save_cache(lake, spec, version, done | set(ids), loads)
    result.files = [o.key for o in todo]
    result.rows = data.height
    result.rows_by_op = dict(data.group_by("_op").len().iter_rows()) if data.height else {}
    result.version = version
    result.seconds = time.perf_counter() - started
    return result


def _empty(spec: TableSpec) -> pl.DataFrame:
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


def _check_shape(
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
    meta = {dms_format.OP_COLUMN, settings.TimestampColumnName}
    if layout is None:
        layout = DmsLayout.from_settings(settings, spec.column_names, spec.primary_key)
    meta |= {a.name for a in layout.added}
    meta |= set(LINEAGE_COLUMNS) - set(spec.column_names)
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
