"""Bronze: raw files → an append-only Delta change log per table, with lineage.

Data contract of ``bronze/<table>`` (Delta, one row per change as it arrived):
- the registry's columns, cast to their logical types (``registry.casting``); a column found in a
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

Exactly once: each run appends the rows of every file not yet ingested, in batches of files of
at most ``BATCH_BYTES`` (128 MiB, estimated in memory: ``file_batches``) so memory is bounded by
a batch, not by the table; ONE Delta commit per batch, whose commit metadata lists its files
(``lakehouse.files``); ``_state/bronze/<table>.json`` caches the list with the Delta version it
matches, and is rebuilt from the commit history when it lags the
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
cannot be read (truncated gzip, another table's shape — the header rule is ``bronze_rows.check_shape``: the
key, and unknown columns only on top of every registry column), go to ``quarantine/<table>``
(Delta: ``_source_file``, ``_source_row``, ``_column``, ``_reason``, ``_raw``,
``_quarantined_at``; a whole file has a null ``_source_row``). Quarantine writes are idempotent
(``engine.quarantine``): a run that dies before its commit does not record the entries twice.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime

import polars as pl

from lakehouse.dms import format as dms_format
from lakehouse.dms import names as dms_names
from lakehouse.dms.settings import DmsS3Settings
from lakehouse.dms.table_mappings import DmsLayout
from lakehouse.engine.bronze_rows import empty_rows, read_dms_rows
from lakehouse.engine.core.keys import bronze_key
from lakehouse.engine.core.order import sequence_text
from lakehouse.engine.core.reloads import LOADS_METADATA_KEY, LoadIngestion, load_generations
from lakehouse.engine.delta import open_table
from lakehouse.engine.delta_write import write_frame
from lakehouse.engine.quarantine import write_quarantine
from lakehouse.engine.sequencing import sequence_expr
from lakehouse.engine.widening import widen
from lakehouse.registry import widened
from lakehouse.registry.model import TableSpec
from lakehouse.storage import Lake, ObjectInfo, S3Lake

log = logging.getLogger(__name__)

FILES_METADATA_KEY = "lakehouse.files"
# estimated bytes of raw files read into one bronze commit: memory stays bounded by a batch,
# not by the table (a full load of a big table is many LOAD files)
BATCH_BYTES = 128 * 1024 * 1024


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
        return dms_names.parse_file_name(obj.key)[0] == "load"
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
    """Where a table's raw files are: the lake itself, or an existing DMS output
    (``spec.raw_root``) opened with the S3 endpoint and region of an S3 lake, else (a local
    lake has none) with the process settings' (``LAKEHOUSE_S3_ENDPOINT``, ``AWS_REGION``)."""
    if spec.raw_root is None:
        return lake
    from lakehouse.storage import open_lake

    if isinstance(lake, S3Lake):
        endpoint, region = lake.endpoint_url, lake.region
    else:
        from lakehouse.profiles import Settings

        process = Settings.from_env()
        endpoint, region = process.s3_endpoint, process.region
    return open_lake(spec.raw_root, endpoint_url=endpoint, region=region)


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
            kind, token = dms_names.parse_file_name(base)
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
    return read_dms_rows(raw_lake(lake, spec), spec, settings, obj, now, layouts)


def ingest(
    lake: Lake,
    spec: TableSpec,
    settings: DmsS3Settings,
    *,
    now: datetime | None = None,
    max_files: int | None = None,
    layouts: list[DmsLayout] | None = None,
    batch_bytes: int | None = None,
    progress: Callable[[BronzeResult], None] | None = None,
) -> BronzeResult:
    """Append every raw file of ``spec`` not yet in bronze (see the module docstring), in
    batches of files of at most ``batch_bytes`` (default ``BATCH_BYTES``; ``file_batches``), one
    commit each; ``progress`` gets the running result after each commit when there are several.
    ``layouts``: the table's known DMS file layouts (``read_file``)."""
    started = time.perf_counter()
    now = now or datetime.now(UTC)
    spec = widened.apply(lake, spec)  # types widened at the source, not declared yet
    result = BronzeResult(spec.name)
    done, loads = _state(lake, spec)
    todo = [o for o in raw_files(lake, spec) if not _done(o, spec, done)]
    if max_files is not None:
        todo = todo[:max_files]
    if not todo:
        result.seconds = time.perf_counter() - started
        return result
    batches = file_batches(todo, batch_bytes or BATCH_BYTES)
    for batch in batches:
        frames, quarantine, new_loads = _read_pending(
            lake, spec, settings, batch, now, layouts, result
        )
        result.quarantined += write_quarantine(lake, spec.name, quarantine, "bronze", now)
        ids = [_file_id(o, spec) for o in batch]
        if len(frames) == 1:
            data = frames[0]
        else:
            data = pl.concat(frames, how="diagonal_relaxed") if frames else empty_rows(spec)
        del frames
        version = _append(lake, spec, data, ids, new_loads)
        loads = loads + [replace(e, version=version) for e in new_loads]
        done = done | set(ids)
        _save_cache(lake, spec, version, done, loads)
        result.files += [o.key for o in batch]
        result.rows += data.height
        for op, n in data.group_by("_op").len().iter_rows() if data.height else ():
            result.rows_by_op[op] = result.rows_by_op.get(op, 0) + n
        result.version = version
        if progress is not None and len(batches) > 1:
            progress(replace(result))  # a copy: the result goes on
    result.seconds = time.perf_counter() - started
    return result


def _weight(obj: ObjectInfo) -> int:
    """A raw file's estimated size in memory: its bytes, times a typical compression ratio for
    gzip (6) and Parquet (4) files."""
    key = obj.key.lower()
    return obj.size * (6 if key.endswith(".gz") else 4 if key.endswith(".parquet") else 1)


def file_batches(todo: list[ObjectInfo], limit: int) -> list[list[ObjectInfo]]:
    """``todo`` in order, cut into consecutive batches of at most ``limit`` estimated bytes
    (``_weight``); a file larger than ``limit`` is a batch of its own."""
    batches: list[list[ObjectInfo]] = []
    size = 0
    for obj in todo:
        if not batches or size + _weight(obj) > limit:
            batches.append([])
            size = 0
        batches[-1].append(obj)
        size += _weight(obj)
    return batches


def _read_pending(
    lake: Lake,
    spec: TableSpec,
    settings: DmsS3Settings,
    todo: list[ObjectInfo],
    now: datetime,
    layouts: list[DmsLayout] | None,
    result: BronzeResult,
) -> tuple[list[pl.DataFrame], list[dict], list[LoadIngestion]]:
    """The rows (non-empty frames), quarantine rows and load-log entries of the files ``todo``;
    bytes read and the first errors per file go to ``result``."""
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
    return frames, quarantine, new_loads


def _append(
    lake: Lake, spec: TableSpec, data: pl.DataFrame, ids: list[str], new_loads: list
) -> int:
    """Append ``data`` in one Delta commit recording the files ``ids`` and the load-log entries
    (see the module docstring); the new version."""
    from deltalake import CommitProperties, write_deltalake

    metadata = {FILES_METADATA_KEY: json.dumps(ids)}
    if new_loads:
        metadata[LOADS_METADATA_KEY] = json.dumps([e.to_json() for e in new_loads])
    props = CommitProperties(custom_metadata=metadata)
    newest = pl.CompatLevel.newest()  # view types: the Delta schema is the same either way
    widen(lake, bronze_key(spec.name), data.head(0).to_arrow(compat_level=newest).schema)
    if write_frame(lake, bronze_key(spec.name), data, commit_properties=props):
        return open_table(lake, bronze_key(spec.name)).version()
    write_deltalake(
        lake.uri(bronze_key(spec.name)),
        data.to_arrow(compat_level=newest),
        mode="append",
        schema_mode="merge",
        storage_options=lake.storage_options,
        commit_properties=props,
        partition_by=None,
    )
    return open_table(lake, bronze_key(spec.name)).version()
