"""Silver: apply the bronze change log to a current-state Delta table (and SCD2 history).

Data contract of ``silver/<table>`` (Delta): one row per primary key holding the latest change
(SCD type 1), with the registry's columns (plus any column added at the source) and
``_sequence`` (the change's position in the total order, ``engine.sequencing``), ``_commit_ts``
and ``_source_file`` of the change that wrote it. ``silver/<table>_history`` (SCD type 2 tables)
holds one version per change of a key (a ``D`` closes the key's version and adds none) with the
same columns, ``__start_at``, ``__end_at`` (null while current) and ``__is_current``; its current
versions are silver's rows. A change silver ignores adds no version either (as APPLY CHANGES ...
STORED AS SCD TYPE 2): one arriving late, older than the key's current version or not newer than
its tombstone (a late update of a key deleted since), and one ordered before a reload that an
earlier run applied. A change ordered before a reload and arriving in the run that applies it is
a version the reload closes (its delete or baseline row), as a rebuild records it. Hence a
rebuild (``full_refresh``), which orders every change, may hold closed versions of late changes
that the incremental history skipped — never a current one.

Semantics (Databricks APPLY CHANGES, Hudi's DMS payload):
- a change older than (or equal to) what a key holds is ignored: out-of-order files, duplicates
  after a DMS restart and replayed files are all no-ops. A change delivered again under another
  file name (a DMS task restarted from an older checkpoint re-sends changes in new files) has
  the same commit timestamp and change sequence: it is the same change (its identity,
  ``engine.sequencing``), not a newer one, in silver, its tombstones and the history, which keep
  the first delivery's lineage;
- ``D`` deletes; the delete is remembered as a tombstone (``_state/tombstones/<table>``: key +
  ``_sequence``) so a late older update cannot resurrect the row; tombstones older than the
  retention period are garbage-collected (``gc_tombstones``);
- a primary-key update with a before-image moves the row (delete old key, upsert new key);
- full loads and reloads (DMS ``reload-target``): a table's first full load (generation 0 of
  ``bronze.load_log``) sets its baseline; every later generation is a *reload* that replaces it
  without losing later changes. A reload begins at its ``start`` (the earliest row of its LOAD
  files in the total order; for LOAD files without rows, their last-modified time). At that
  point every key live before the start and absent from the reload's valid LOAD rows (its new
  baseline) is deleted — a ``D`` at the start, with a tombstone like any delete, and closing its
  SCD2 version — unless silver already holds a change of that key ordered at or after the start
  (a later insert survives). Changes ordered before the start of the latest reload are
  superseded by it: ignored whenever they arrive (late files included).
  Grouping: a reload is a generation of the load log — LOAD files in ``start`` order, a new
  generation whenever a file name repeats — not a bronze batch, so a reload whose files reach
  bronze over several runs is one reload; until its last file arrives, the rows of its missing
  files are absent (they come back when it does). A LOAD row that breaks a row rule is
  quarantined and its key is not in the new baseline. A reload whose LOAD files were all
  unreadable is not seen (``bronze``); keyless (append-only) tables append a reload's rows;
- a table without a primary key is append-only (inserts only, as DMS captures it);
- PII columns are standardised (``engine.pii``) and rows breaking the registry's row-level
  rules go to ``quarantine/<table>`` (stage ``silver``) instead of the table.

Incremental and exactly once: every silver commit records in its commit metadata the bronze
version it has applied (``lakehouse.bronze_version``); the next run reads only the bronze data
files added after that version. The SCD2 history MERGE and the tombstones are written before
the silver MERGE, so a crash in between re-applies the same batch with the same result: the
history MERGE inserts only the versions whose change the key does not hold yet (matched by key
and change identity, not by comparison with the current version, which a key deleted in the
batch no longer has). ``full_refresh=True`` rebuilds from all of bronze and gives the identical
table (reloads included: the load log is part of bronze).
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import polars as pl
import pyarrow as pa
import pyarrow.dataset as pads

from lakehouse.engine.delta import open_table
from lakehouse.engine.pii import standardize_pii
from lakehouse.engine.sequencing import (
    SAME_CHANGE_SQL,
    SEQUENCE,
    change_id_expr,
    explode_key_changes,
    last_per_key,
    same_change_bounds,
    sequence_commit_ts,
    unique_changes,
    with_sequence,
)
from lakehouse.registry.model import TableSpec
from lakehouse.storage import Lake

BRONZE_VERSION_KEY = "lakehouse.bronze_version"
LINEAGE_KEEP = ("_commit_ts", "_source_file")
_BRONZE_ONLY = ("_op", "_change_seq", "_before_key", "_source_row", "_file_kind", "_ingested_at")


#: bounded files (MERGE rewrites keep this size), so a batch rewrites few files: cost follows the
#: change, not the table
TARGET_FILE_BYTES = 8 * 1024 * 1024
TABLE_CONFIG = {"delta.targetFileSize": str(TARGET_FILE_BYTES)}


def _clustered(frame: pl.DataFrame, spec: TableSpec) -> pl.DataFrame:
    """Rows in key order, so files cover key ranges and MERGE can skip most of them."""
    return frame.sort(list(spec.primary_key)) if spec.primary_key and frame.height else frame


class SchemaChangeError(ValueError):
    """An incompatible column type change between bronze and silver."""


@dataclass
class SilverResult:
    table: str
    bronze_version: int | None = None
    changes: int = 0
    inserted: int = 0
    updated: int = 0
    deleted: int = 0
    ignored: int = 0
    version: int | None = None
    history_rows: int = 0
    quarantined: int = 0
    reload_generation: int | None = None  # the latest reload (full-load generation) applied
    reload_deletes: int = 0  # keys the reloads removed (before the MERGE's sequence check)
    full_refresh: bool = False
    seconds: float = 0.0
    metrics: dict = field(default_factory=dict)


def silver_key(spec: TableSpec) -> str:
    return f"silver/{spec.name}"


def history_key(spec: TableSpec) -> str:
    return f"silver/{spec.name}_history"


def tombstone_key(spec: TableSpec) -> str:
    return f"_state/tombstones/{spec.name}"


def applied_bronze_version(lake: Lake, key: str) -> int | None:
    """The bronze version recorded by the latest commit of the silver table at ``key``."""
    dt = open_table(lake, key)
    if dt is None:
        return None
    for entry in dt.history(20):  # newest first; maintenance commits carry no bronze version
        if BRONZE_VERSION_KEY in entry:
            return int(entry[BRONZE_VERSION_KEY])
    return None


def read_bronze_changes(
    lake: Lake, spec: TableSpec, after_version: int | None
) -> tuple[pl.DataFrame, int | None]:
    """Bronze rows added after ``after_version`` (all rows when None) and the current version."""
    bronze = open_table(lake, f"bronze/{spec.name}")
    if bronze is None:
        return pl.DataFrame(), None
    current = bronze.version()
    dataset = bronze.to_pyarrow_dataset()
    if after_version is not None:
        if after_version >= current:
            return pl.DataFrame(), current
        old_files = {
            _base(u) for u in open_table(lake, f"bronze/{spec.name}", after_version).file_uris()
        }
        now_files = {_base(u) for u in bronze.file_uris()}
        if not old_files <= now_files:  # bronze was compacted: re-read everything (idempotent)
            after_version = None
        else:
            new = now_files - old_files
            fragments = [f for f in dataset.get_fragments() if _base(f.path) in new]
            dataset = pads.FileSystemDataset(
                fragments, dataset.schema, dataset.format, dataset.filesystem
            )
    table = dataset.to_table()
    return pl.from_arrow(table), current


def _base(path: str) -> str:
    """A data file's name (Delta part-file names are unique within a table)."""
    return path.rstrip("/").rsplit("/", 1)[-1]


def _check_types(spec: TableSpec, source: pa.Schema, target: pa.Schema) -> None:
    for f in source:
        if f.name in target.names:
            old = target.field(f.name).type
            if old != f.type and not (pa.types.is_null(f.type) or _widening(old, f.type)):
                raise SchemaChangeError(
                    f"silver/{spec.name}: column {f.name!r} changed type from {old} to {f.type}; "
                    "this is not a compatible change (rebuild the table with a full refresh after "
                    "fixing the registry or the source)"
                )


def _widening(old: pa.DataType, new: pa.DataType) -> bool:
    ints = [pa.int8(), pa.int16(), pa.int32(), pa.int64()]
    if old in ints and new in ints:
        return ints.index(new) >= ints.index(old)
    if pa.types.is_timestamp(old) and pa.types.is_timestamp(new):
        return True
    # the same Delta type ("string" / "binary") in another Arrow layout
    texts = (pa.types.is_string, pa.types.is_large_string, pa.types.is_string_view)
    binaries = (pa.types.is_binary, pa.types.is_large_binary, pa.types.is_binary_view)
    for kind in (texts, binaries):
        if any(t(old) for t in kind) and any(t(new) for t in kind):
            return True
    return False


def _to_silver_rows(changes: pl.DataFrame) -> pl.DataFrame:
    return changes.drop([c for c in _BRONZE_ONLY if c in changes.columns])


def _filter_tombstoned(
    lake: Lake, spec: TableSpec, batch: pl.DataFrame
) -> tuple[pl.DataFrame, int]:
    """Drop changes not newer than a key's tombstone (the delete itself, equal, still applies;
    the delete delivered again under another file name is not newer); returns the rest and how
    many were dropped. ``batch`` may hold several changes per key: ``apply_changes`` filters all
    of the batch's changes once, before the history and silver take them."""
    tomb = open_table(lake, tombstone_key(spec))
    if tomb is None or batch.height == 0:
        return batch, 0
    keys = list(spec.primary_key)
    tombs = pl.from_arrow(tomb.to_pyarrow_table()).select(*keys, pl.col(SEQUENCE).alias("__tomb"))
    joined = batch.join(tombs, on=keys, how="left", nulls_equal=False)
    keep = (
        pl.col("__tomb").is_null()
        | ((pl.col(SEQUENCE) > pl.col("__tomb")) & (change_id_expr() != change_id_expr("__tomb")))
        | ((pl.col("_op") == "D") & (pl.col(SEQUENCE) == pl.col("__tomb")))
    )
    kept = joined.filter(keep).drop("__tomb")
    return kept, batch.height - kept.height


def _write_tombstones(lake: Lake, spec: TableSpec, batch: pl.DataFrame, now: datetime) -> None:
    from deltalake import write_deltalake

    deletes = batch.filter(pl.col("_op") == "D").select(
        *spec.primary_key, SEQUENCE, pl.lit(now).cast(pl.Datetime("us", "UTC")).alias("_deleted_at")
    )
    if deletes.height == 0:
        return
    tomb = open_table(lake, tombstone_key(spec))
    if tomb is None:
        write_deltalake(
            lake.uri(tombstone_key(spec)), deletes.to_arrow(), storage_options=lake.storage_options
        )
        return
    pred = " AND ".join(f't."{k}" = s."{k}"' for k in spec.primary_key)
    (
        tomb.merge(
            deletes.to_arrow(),
            predicate=pred,
            source_alias="s",
            target_alias="t",
            streamed_exec=False,
        )
        .when_matched_update_all(predicate=f"s.{SEQUENCE} > t.{SEQUENCE}")
        .when_not_matched_insert_all()
        .execute()
    )


def gc_tombstones(
    lake: Lake, spec: TableSpec, retention: timedelta, now: datetime | None = None
) -> int:
    """Delete tombstones older than ``retention``; returns how many were removed."""
    tomb = open_table(lake, tombstone_key(spec))
    if tomb is None:
        return 0
    cutoff = (now or datetime.now(UTC)) - retention
    metrics = tomb.delete(f"_deleted_at < '{cutoff.strftime('%Y-%m-%dT%H:%M:%S.%fZ')}'")
    return int(metrics.get("num_deleted_rows", 0))


def _commit_props(bronze_version: int | None):
    from deltalake import CommitProperties

    return CommitProperties(
        custom_metadata={BRONZE_VERSION_KEY: str(-1 if bronze_version is None else bronze_version)}
    )


def apply_changes(
    lake: Lake, spec: TableSpec, *, full_refresh: bool = False, now: datetime | None = None
) -> SilverResult:
    """Apply the bronze changes not yet applied to ``silver/<table>`` (see module docstring)."""
    from deltalake import write_deltalake

    started = time.perf_counter()
    now = now or datetime.now(UTC)
    result = SilverResult(spec.name, full_refresh=full_refresh)
    target = open_table(lake, silver_key(spec))
    after = (
        None if (full_refresh or target is None) else applied_bronze_version(lake, silver_key(spec))
    )
    if target is not None and after is None and not full_refresh:
        full_refresh = result.full_refresh = True  # a table we cannot place in bronze: rebuild
    changes, bronze_version = read_bronze_changes(lake, spec, after)
    result.bronze_version = bronze_version
    reloads, barrier, settled = _reload_plan(lake, spec, after, bronze_version)
    if changes.height == 0 and not full_refresh and not reloads:
        return _finish(lake, spec, result, started)
    if changes.width:
        changes = standardize_pii(with_sequence(changes), spec)
    if changes.height:
        changes, result.quarantined = _quarantine_rule_failures(
            lake, spec, changes, now, write=not full_refresh
        )
    result.changes = changes.height

    if not spec.primary_key:  # append-only
        rows = _to_silver_rows(changes.filter(pl.col("_op") == "I")) if changes.height else changes
        mode = "overwrite" if full_refresh else "append"
        write_deltalake(
            lake.uri(silver_key(spec)),
            rows.to_arrow(),
            mode=mode,
            schema_mode="merge" if mode == "append" else "overwrite",
            storage_options=lake.storage_options,
            commit_properties=_commit_props(bronze_version),
        )
        result.inserted = rows.height
        return _finish(lake, spec, result, started)

    exploded = explode_key_changes(changes, spec)
    if reloads:
        gone = _reload_deletes(spec, changes, reloads, None if full_refresh else target)
        result.reload_generation, result.reload_deletes = reloads[-1].generation, gone.height
        exploded = pl.concat([exploded, gone], how="diagonal_relaxed") if gone.height else exploded
    candidates = exploded.height
    exploded = unique_changes(exploded, spec)  # a change delivered twice is applied once
    if not full_refresh:  # not newer than the key's tombstone: ignored by silver and its history
        exploded, _ = _filter_tombstoned(lake, spec, exploded)
    if spec.scd_type == 2:  # without the changes superseded by a reload applied before this run
        versions = exploded if settled is None else exploded.filter(pl.col(SEQUENCE) >= settled)
        result.history_rows = _apply_history(lake, spec, versions, bronze_version, full_refresh)
    if barrier is not None:  # changes ordered before the latest reload began: superseded by it
        exploded = exploded.filter(pl.col(SEQUENCE) >= barrier)
    batch = last_per_key(exploded, spec)
    if full_refresh:
        tomb_rows = batch.filter(pl.col("_op") == "D")
        current = _to_silver_rows(batch.filter(pl.col("_op") != "D"))
        if tomb_rows.height or open_table(lake, tombstone_key(spec)) is not None:
            write_deltalake(
                lake.uri(tombstone_key(spec)),
                tomb_rows.select(
                    *spec.primary_key,
                    SEQUENCE,
                    pl.lit(now).cast(pl.Datetime("us", "UTC")).alias("_deleted_at"),
                ).to_arrow(),
                mode="overwrite",
                schema_mode="overwrite",
                storage_options=lake.storage_options,
            )
        write_deltalake(
            lake.uri(silver_key(spec)),
            _clustered(current, spec).to_arrow(),
            mode="overwrite",
            schema_mode="overwrite",
            configuration=TABLE_CONFIG,
            storage_options=lake.storage_options,
            commit_properties=_commit_props(bronze_version),
        )
        result.inserted = current.height
        result.ignored = changes.height - batch.height
        return _finish(lake, spec, result, started)

    # older changes of a key within the batch, changes delivered twice, changes not newer than
    # their key's tombstone, and changes from before the latest reload
    result.ignored = candidates - batch.height
    _write_tombstones(lake, spec, batch, now)
    source = _to_silver_rows(batch.with_columns(pl.col("_op").alias("__op"), *same_change_bounds()))
    if target is None:
        rows = source.filter(pl.col("__op") != "D").drop("__op", "__same_lo", "__same_hi")
        write_deltalake(
            lake.uri(silver_key(spec)),
            _clustered(rows, spec).to_arrow(),
            configuration=TABLE_CONFIG,
            storage_options=lake.storage_options,
            commit_properties=_commit_props(bronze_version),
        )
        result.inserted = rows.height
        return _finish(lake, spec, result, started)
    src_arrow = source.to_arrow()
    _check_types(spec, src_arrow.schema, pa.schema(target.schema().to_arrow()))
    pred = " AND ".join(f't."{k}" = s."{k}"' for k in spec.primary_key)
    # newer, and not the same change delivered again under a greater file name
    newer = f"s.{SEQUENCE} > t.{SEQUENCE} AND NOT {SAME_CHANGE_SQL}"
    data_cols = [c for c in source.columns if c not in ("__op", "__same_lo", "__same_hi")]
    updates = {f'"{c}"': f's."{c}"' for c in data_cols}
    metrics = (
        # streamed_exec=False lets delta-rs prune target files by the source's key statistics
        target.merge(
            src_arrow,
            predicate=pred,
            source_alias="s",
            target_alias="t",
            merge_schema=True,
            streamed_exec=False,
            commit_properties=_commit_props(bronze_version),
        )
        .when_matched_delete(predicate=f"{newer} AND s.__op = 'D'")
        .when_matched_update(updates=updates, predicate=f"{newer} AND s.__op <> 'D'")
        .when_not_matched_insert(updates=updates, predicate="s.__op <> 'D'")
        .execute()
    )
    result.metrics = metrics
    result.inserted = int(metrics.get("num_target_rows_inserted", 0))
    result.updated = int(metrics.get("num_target_rows_updated", 0))
    result.deleted = int(metrics.get("num_target_rows_deleted", 0))
    result.ignored += batch.height - result.inserted - result.updated - result.deleted
    return _finish(lake, spec, result, started)


@dataclass(frozen=True)
class _Reload:
    """One reload (a full-load generation >= 1 of ``bronze.load_log``)."""

    generation: int
    start: str  # the smallest start of its files: where the reload begins in the total order
    files: tuple[tuple[str, datetime], ...]  # (key, ingested_at) of its ingestions
    source_file: str  # the file ``start`` comes from (lineage of the deletes)
    ingested_at: datetime


def _reloads(
    lake: Lake, spec: TableSpec, after: int | None, bronze_version: int | None
) -> tuple[list[_Reload], str | None]:
    """(the reloads with a file in bronze versions after ``after`` — all when None —, oldest
    first; the start of the latest reload up to ``bronze_version``: the barrier)."""
    new, barrier, _ = _reload_plan(lake, spec, after, bronze_version)
    return new, barrier


def _reload_plan(
    lake: Lake, spec: TableSpec, after: int | None, bronze_version: int | None
) -> tuple[list[_Reload], str | None, str | None]:
    """``_reloads`` and the history barrier: the latest start of the reloads applied before this
    run (none of their files after ``after``). A change ordered before it was superseded by a
    reload an earlier run applied; one ordered after it and before the barrier is closed by a
    reload of this run (``_apply_history``)."""
    from lakehouse.engine.bronze import load_log

    if bronze_version is None or not spec.primary_key:
        return [], None, None
    by_gen: dict[int, list] = {}
    for e in load_log(lake, spec):
        if e.version <= bronze_version:
            by_gen.setdefault(e.generation, []).append(e)
    reloads = []
    for gen, entries in sorted(by_gen.items()):
        if gen == 0:
            continue  # the first baseline: nothing to replace
        first = min(entries, key=lambda e: e.start)
        files = tuple((e.key, e.ingested_at) for e in entries)
        reloads.append(_Reload(gen, first.start, files, first.key, first.ingested_at))
    barrier = reloads[-1].start if reloads else None
    new = [
        r for r in reloads if after is None or any(e.version > after for e in by_gen[r.generation])
    ]
    applied = [r.start for r in reloads if r not in new]
    return new, barrier, max(applied, default=None)


def _reload_deletes(
    spec: TableSpec, changes: pl.DataFrame, reloads: list[_Reload], target
) -> pl.DataFrame:
    """``D`` changes at each reload's start for the keys live just before it and absent from its
    baseline (its valid full-load rows). Live: every silver row (``target``; None for a full
    refresh) older than the start, and the keys whose latest change of the batch before the start
    is not a delete; a silver row at or after the start was changed after the reload began and
    stays."""
    keys = list(spec.primary_key)
    cols = [*keys, SEQUENCE, "_op"]
    prior = changes.select(cols) if changes.width else pl.DataFrame()
    current = None
    if target is not None:
        current = pl.from_arrow(target.to_pyarrow_table(columns=[*keys, SEQUENCE]))
        current = current.with_columns(pl.lit("I").alias("_op")).select(cols)
        prior = pl.concat([current, prior], how="vertical_relaxed") if prior.width else current
    if prior.height == 0:
        return pl.DataFrame()
    loads = changes.filter(pl.col("_file_kind") == "load") if changes.height else changes.clear()
    out: list[pl.DataFrame] = []
    for r in reloads:
        members = pl.DataFrame(
            {"_source_file": [f for f, _ in r.files], "_ingested_at": [t for _, t in r.files]},
            schema={"_source_file": pl.String, "_ingested_at": pl.Datetime("us", "UTC")},
        )
        baseline = (
            loads.join(members, on=["_source_file", "_ingested_at"], how="semi").select(keys)
            if loads.height
            else prior.clear().select(keys)
        )
        before = pl.concat(
            [prior.filter(pl.col(SEQUENCE) < r.start), *[o.select(cols) for o in out]]
        )
        live = last_per_key(before, spec).filter(pl.col("_op") != "D").select(keys)
        if current is not None:  # a silver row older than the reload goes even when the batch
            # deletes it before the reload: that delete is superseded by the reload's
            older = current.filter(pl.col(SEQUENCE) < r.start).select(keys)
            live = pl.concat([live, older], how="vertical_relaxed").unique()
            changed = current.filter(pl.col(SEQUENCE) >= r.start).select(keys)
            live = live.join(changed, on=keys, how="anti")
        gone = live.join(baseline, on=keys, how="anti")
        out.append(
            gone.with_columns(
                pl.lit("D").alias("_op"),
                pl.lit(r.start).alias(SEQUENCE),
                pl.lit(sequence_commit_ts(r.start), pl.Datetime("us", "UTC")).alias("_commit_ts"),
                pl.lit(r.source_file).alias("_source_file"),
                pl.lit(r.ingested_at, pl.Datetime("us", "UTC")).alias("_ingested_at"),
                pl.lit("load").alias("_file_kind"),
            )
        )
    return pl.concat(out, how="vertical") if out else pl.DataFrame()


def _quarantine_rule_failures(
    lake: Lake, spec: TableSpec, changes: pl.DataFrame, now: datetime, *, write: bool
) -> tuple[pl.DataFrame, int]:
    """Rows breaking the registry's row-level rules go to quarantine; deletes (key only) pass."""
    from lakehouse.engine.quarantine import rows_from_frame, write_quarantine
    from lakehouse.quality.validate import split_valid

    deletes = changes.filter(pl.col("_op") == "D")
    good, bad = split_valid(changes.filter(pl.col("_op") != "D"), spec)
    if bad.height == 0:
        return changes, 0
    if write:  # a full refresh re-reads rows quarantined before: do not record them twice
        write_quarantine(lake, spec.name, rows_from_frame(bad), "silver", now)
    return pl.concat([good, deletes], how="vertical"), bad.height


def _finish(lake: Lake, spec: TableSpec, result: SilverResult, started: float) -> SilverResult:
    dt = open_table(lake, silver_key(spec))
    result.version = dt.version() if dt is not None else None
    result.seconds = time.perf_counter() - started
    return result


def _apply_history(
    lake: Lake, spec: TableSpec, changes: pl.DataFrame, bronze_version, full_refresh: bool
) -> int:
    """SCD type 2: every change newer than the key's current version, and not yet a version of
    the key, becomes a version row; returns how many versions were added.

    ``changes`` are already without the changes silver ignores for good (``apply_changes``: not
    newer than the key's tombstone, or ordered before a reload applied by an earlier run), so a
    key without a current version (deleted) gets none from a late older change; a change ordered
    before a reload of this batch is closed by the reload's delete or baseline row of its key.

    ``changes`` holds one row per key and change identity (``unique_changes``). Idempotent by the
    change's identity, not by "is there a current version": the history commits before the silver
    MERGE, so a crash in between re-applies the batch, and a key whose last change of the batch
    is a delete has no current version left to compare with; the MERGE inserts a version only if
    the key holds no version of the same change (``SAME_CHANGE_SQL``), which also keeps a change
    delivered again under another file name from adding a version."""
    from deltalake import write_deltalake

    keys = list(spec.primary_key)
    hist = None if full_refresh else open_table(lake, history_key(spec))
    ordered = changes.sort(SEQUENCE)
    if hist is not None and ordered.height:
        current = _current_versions(hist, keys, ordered.select(keys).unique())
        ordered = ordered.join(current, on=keys, how="left")
        ordered = ordered.filter(
            pl.col("__cur").is_null()
            | ((pl.col(SEQUENCE) > pl.col("__cur")) & (change_id_expr() != change_id_expr("__cur")))
        ).drop("__cur")
    if ordered.height == 0:
        return 0
    start = pl.coalesce(pl.col("_commit_ts"), pl.col("_ingested_at"))
    versions = ordered.with_columns(start.alias("__start_at")).with_columns(
        pl.col("__start_at").shift(-1).over(keys).alias("__end_at"),
    )
    first_start = versions.group_by(keys).agg(
        pl.col("__start_at").min().alias("__close_at"), pl.col(SEQUENCE).min().alias("__first_seq")
    )
    rows = versions.filter(pl.col("_op") != "D").with_columns(
        pl.col("__end_at").is_null().alias("__is_current")
    )
    rows = _to_silver_rows(rows)
    if hist is None:
        write_deltalake(
            lake.uri(history_key(spec)),
            rows.to_arrow(),
            mode="overwrite",
            schema_mode="overwrite",
            storage_options=lake.storage_options,
            commit_properties=_commit_props(bronze_version),
        )
        return rows.height
    # one atomic MERGE: close the current version of touched keys (closers), insert the versions
    # the key does not hold yet (matched by the change's identity, so a re-applied batch adds none)
    inserts = rows.with_columns(pl.lit("version").alias("__kind"), *same_change_bounds())
    closers = first_start.with_columns(pl.lit("close").alias("__kind"))
    source = pl.concat([inserts, closers], how="diagonal_relaxed")
    pred = " AND ".join(f't."{k}" = s."{k}"' for k in keys) + (
        f" AND ((s.__kind = 'close' AND t.__is_current)"
        f" OR (s.__kind = 'version' AND {SAME_CHANGE_SQL}))"
    )
    data_cols = rows.columns
    metrics = (
        hist.merge(
            source.to_arrow(),
            predicate=pred,
            source_alias="s",
            target_alias="t",
            merge_schema=True,
            streamed_exec=False,
            commit_properties=_commit_props(bronze_version),
        )
        .when_matched_update(
            updates={"__end_at": "s.__close_at", "__is_current": "false"},
            predicate=f"s.__kind = 'close' AND s.__first_seq > t.{SEQUENCE}",
        )
        .when_not_matched_insert(
            updates={f'"{c}"': f's."{c}"' for c in data_cols}, predicate="s.__kind = 'version'"
        )
        .execute()
    )
    return int(metrics.get("num_target_rows_inserted", 0))


def _current_versions(hist, keys: list[str], batch_keys: pl.DataFrame) -> pl.DataFrame:
    """``keys`` and ``__cur`` (the ``_sequence`` of the current version) of the batch's keys."""
    current = pl.from_arrow(
        hist.to_pyarrow_table(columns=[*keys, SEQUENCE], filters=[("__is_current", "=", True)])
    ).select(*keys, pl.col(SEQUENCE).alias("__cur"))
    return current.join(batch_keys, on=keys, how="semi")


def read_silver(lake: Lake, spec: TableSpec, *, version: int | None = None) -> pl.DataFrame:
    dt = open_table(lake, silver_key(spec), version)
    return pl.DataFrame() if dt is None else pl.from_arrow(dt.to_pyarrow_table())


def describe(result: SilverResult) -> str:
    return json.dumps({k: v for k, v in result.__dict__.items() if k != "metrics"}, default=str)
