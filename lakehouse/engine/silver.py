"""Silver: apply the bronze change log to a current-state Delta table (and SCD2 history).

Data contract of ``silver/<table>`` (Delta): one row per primary key holding the latest change
(SCD type 1), with the registry's columns (plus any column added at the source) and
``_sequence`` (the change's position in the total order, ``engine.sequencing``), ``_commit_ts``
and ``_source_file`` of the change that wrote it. ``silver/<table>_history`` (SCD type 2 tables)
holds one version per change of a key (a ``D`` closes the key's version and adds none; a reload
row identical to the key's version adds none either, ``history``) with the
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
  unreadable is not seen (``bronze``). A keyless (append-only) table's reload replaces it the
  same way: the rows ordered before the start are deleted (there is no key to keep them by),
  and inserts ordered before the start are superseded;
- an update that left a TOASTed value unsent (bronze's ``_unchanged``) keeps the key's value
  (``engine.unchanged``); a NULL written on purpose is sent, and applied;
- a column type widened at the source (int→bigint, numeric precision up, timestamp→timestamptz)
  widens silver, its history and tombstones first (``engine.widening``: a rewrite with the
  rows cast); a narrower or other change fails naming table, column and both types;
- a table without a primary key is append-only (inserts only, as DMS captures it);
- PII columns are standardised (``engine.pii``) and rows breaking the registry's row-level
  rules go to ``quarantine/<table>`` (stage ``silver``) instead of the table.

Incremental and exactly once: every silver commit records in its commit metadata the bronze version
it has applied (``lakehouse.bronze_version``); the next run reads only the bronze data files added
after that version. A backlog of more than ``BATCH_ROWS`` bronze rows (a big full load) is applied
in several commits of whole bronze commits, each recording the version it reached, so memory is
bounded by a batch; a reload cut by a batch keeps the keys of its later LOAD rows in its baseline
(``reloads.reload_rows_after``), so they are not deleted in between. The outcome is that of one
commit, except that an SCD2 history skips a late change that another commit of the run applied a
newer change of its key before (as between runs). The SCD2 history MERGE and the tombstones are
written before the silver MERGE, so a crash in between re-applies the same batch with the same
result: the history MERGE inserts only the versions whose change the key does not hold yet (matched
by key and change identity, not by comparison with the current version, which a key deleted in the
batch no longer has). ``full_refresh=True`` rebuilds from all of bronze and gives the identical
table (reloads included: the load log is part of bronze).

The pieces: ``increments`` (what bronze rows a run reads, the bronze version a commit records),
``reloads`` (the reload plan, ``engine.core.reloads``, and a reload's deletes), ``tombstones``,
``history`` (SCD2), ``silver_writes`` (the MERGE and the overwrites), ``silver_rewrite`` (the
MERGE of a batch over most of the table, as a copy-on-write in Polars), ``quarantine`` (row rules);
this module resolves a batch with ``sequencing`` and runs them in that order. The result is
``engine.core.results.SilverResult``, the Spark engine's too.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime

import polars as pl
import pyarrow as pa

from lakehouse.engine.core.keys import history_key, silver_key, tombstone_key
from lakehouse.engine.core.order import SEQUENCE
from lakehouse.engine.core.reloads import ReloadPlan
from lakehouse.engine.core.results import SilverResult
from lakehouse.engine.delta import open_table
from lakehouse.engine.history import apply_history
from lakehouse.engine.increments import applied_bronze_version, read_bronze_changes
from lakehouse.engine.pii import pii_exprs
from lakehouse.engine.quarantine import quarantine_rule_failures
from lakehouse.engine.reloads import reload_deletes, reload_plan, reload_rows_after
from lakehouse.engine.sequencing import (
    explode_key_changes,
    last_per_key,
    sequence_expr,
    unique_changes,
)
from lakehouse.engine.silver_rewrite import StaleTableError, rewrite_batch
from lakehouse.engine.silver_writes import (
    append_rows,
    merge_batch,
    merge_source,
    overwrite_rows,
    prunes,
    silver_rows,
)
from lakehouse.engine.tombstones import filter_tombstoned, overwrite_tombstones, write_tombstones
from lakehouse.engine.unchanged import resolve_unchanged
from lakehouse.engine.widening import widen, widens_in_lake
from lakehouse.registry import widened
from lakehouse.registry.model import TableSpec
from lakehouse.storage import Lake

# bronze rows one silver commit applies at most (whole bronze commits): memory is bounded by a
# batch, not by the table, when a big full load or a long backlog is applied
BATCH_ROWS = 500_000


def apply_changes(
    lake: Lake,
    spec: TableSpec,
    *,
    full_refresh: bool = False,
    now: datetime | None = None,
    batch_rows: int | None = None,
    progress: Callable[[SilverResult], None] | None = None,
) -> SilverResult:
    """Apply the bronze changes not yet applied to ``silver/<table>`` (see module docstring): in
    commits of at most ``batch_rows`` (default ``BATCH_ROWS``) bronze rows (whole bronze
    commits, at least one), so a big backlog never sits in memory whole; a full refresh reads
    all of bronze at once. ``progress`` gets the running result after each commit when there
    are several."""
    started = time.perf_counter()
    now = now or datetime.now(UTC)
    batch_rows = batch_rows or BATCH_ROWS
    spec = widened.apply(lake, spec)  # types widened at the source, not declared yet
    total, more = _apply(lake, spec, full_refresh, now, None if full_refresh else batch_rows)
    while more:
        if progress is not None:
            progress(replace(total))  # a copy: the total goes on
        part, more = _apply(lake, spec, False, now, batch_rows, after=total.bronze_version)
        total.absorb(part)
    total.seconds = time.perf_counter() - started
    return total


def _apply(
    lake: Lake,
    spec: TableSpec,
    full_refresh: bool,
    now: datetime,
    batch_rows: int | None,
    after: int | None = None,
) -> tuple[SilverResult, bool]:
    """One silver commit: the bronze rows of the next batch, after the bronze version ``after``
    (by default the one silver records); (its result, whether more is left)."""
    result = SilverResult(spec.name, full_refresh=full_refresh)
    key = silver_key(spec.name)
    target = open_table(lake, key)
    if after is None:
        after = (
            None if (full_refresh or target is None) else applied_bronze_version(lake, key, target)
        )
    if target is not None and after is None and not full_refresh:
        full_refresh = result.full_refresh = True  # a table we cannot place in bronze: rebuild
        batch_rows = None
    read = read_bronze_changes(lake, spec.name, after, batch_rows)
    changes, result.bronze_version = read.frame, read.version
    more = read.version != read.latest
    plan = reload_plan(lake, spec, after, result.bronze_version)
    if changes.height == 0 and not full_refresh and not plan.reloads:
        if target is not None or not changes.width:
            return _finish(lake, spec, result), more
        # an empty source table: its silver table is created empty, with its columns
    changes = _prepare(lake, spec, changes, result, now, full_refresh)
    if target is not None and not full_refresh and _widen_tables(lake, spec, target, changes):
        target = open_table(lake, key)
    if not spec.primary_key:  # append-only
        _append_only(lake, spec, changes, plan, target, result, full_refresh)
        return _finish(lake, spec, result), more
    # the rest of a reload cut by this batch is in its baseline too
    ahead = {}
    if more and plan.reloads:
        ahead = reload_rows_after(lake, spec, plan.reloads, read.version)
    batch, candidates = _resolve(lake, spec, changes, result, plan, target, full_refresh, ahead)
    if full_refresh:
        _rebuild(lake, spec, batch, result, now)
    else:
        # older changes of a key within the batch, changes delivered twice, changes not newer
        # than their key's tombstone, and changes from before the latest reload
        result.ignored = candidates - batch.height
        write_tombstones(lake, spec, batch, now)
        _merge(lake, spec, batch, target, result)
    return _finish(lake, spec, result), more


def _append_only(
    lake: Lake,
    spec: TableSpec,
    changes: pl.DataFrame,
    plan: ReloadPlan,
    target,
    result: SilverResult,
    full_refresh: bool,
) -> None:
    """A keyless table: its inserts appended, except that a reload replaces the baseline — the
    inserts ordered before the latest reload's start are superseded by it (whenever they arrive),
    and a run applying a reload keeps only the silver rows ordered at or after its start (its
    rows of an earlier batch or run, and the inserts after it began)."""
    rows = changes.filter(pl.col("_op") == "I") if changes.height else changes
    if plan.barrier is not None and rows.height:
        rows = rows.filter(pl.col(SEQUENCE) >= plan.barrier)
    rows = silver_rows(rows)
    result.inserted = rows.height
    if plan.reloads:
        result.reload_generation = plan.reloads[-1].generation
    if plan.reloads and target is not None and not full_refresh:
        held = pl.from_arrow(target.to_pyarrow_table())
        kept = held.filter(pl.col(SEQUENCE) >= plan.barrier) if held.height else held
        result.reload_deletes = held.height - kept.height
        if result.reload_deletes:  # one commit: the new baseline replaces the table
            if rows.width:
                kept = pl.concat([kept, rows], how="diagonal_relaxed")
            append_rows(lake, spec, kept, result.bronze_version, full_refresh=True)
            return
    if rows.width == 0 or (rows.height == 0 and target is not None and not full_refresh):
        return  # nothing to append (a reload's silver rows all kept)
    append_rows(lake, spec, rows, result.bronze_version, full_refresh=full_refresh)


def _widen_tables(lake: Lake, spec: TableSpec, target, changes: pl.DataFrame) -> bool:
    """A type widened at the source (and so in bronze): silver, its history and tombstones
    widened first (``engine.widening``); whether silver was."""
    incoming = changes.head(0).to_arrow().schema  # the types only: no copy of the batch
    current = pa.schema(target.schema().to_arrow())
    if not any(f.name in current.names and widens_in_lake(current.field(f.name).type, f.type)
               for f in incoming):  # fmt: skip
        return False
    for table_key in (history_key(spec.name), tombstone_key(spec.name)):
        widen(lake, table_key, incoming)
    return bool(widen(lake, silver_key(spec.name), incoming))


def _prepare(
    lake: Lake,
    spec: TableSpec,
    changes: pl.DataFrame,
    result: SilverResult,
    now: datetime,
    full_refresh: bool,
) -> pl.DataFrame:
    """``_sequence``, standardised PII, and rule failures set aside (recorded in quarantine
    unless this is a full refresh, which re-reads rows quarantined before)."""
    if changes.width:  # one pass: Polars computes the columns side by side
        changes = changes.with_columns(sequence_expr(), *pii_exprs(changes.schema, spec))
    if changes.height:
        changes, result.quarantined = quarantine_rule_failures(
            lake, spec, changes, now, write=not full_refresh
        )
    result.changes = changes.height
    return changes


def _resolve(
    lake: Lake,
    spec: TableSpec,
    changes: pl.DataFrame,
    result: SilverResult,
    plan: ReloadPlan,
    target,
    full_refresh: bool,
    ahead: dict[int, pl.DataFrame] | None = None,
) -> tuple[pl.DataFrame, int]:
    """(the batch: one change per key, the MERGE source; how many candidate changes there were).
    The SCD2 history takes the changes in between (before the last change per key). ``ahead``:
    the reloads' LOAD rows in bronze after this batch (``reload_rows_after``)."""
    exploded = explode_key_changes(changes, spec)
    if plan.reloads:
        gone = reload_deletes(
            spec, changes, plan.reloads, None if full_refresh else target, ahead=ahead
        )
        result.reload_generation, result.reload_deletes = plan.reloads[-1].generation, gone.height
        exploded = pl.concat([exploded, gone], how="diagonal_relaxed") if gone.height else exploded
    candidates = exploded.height
    exploded = unique_changes(exploded, spec)  # a change delivered twice is applied once
    if not full_refresh:  # not newer than the key's tombstone: ignored by silver and its history
        exploded, _ = filter_tombstoned(lake, spec, exploded)
    # unsent unchanged (TOASTed) values: the key's earlier value (on a rebuild, bronze has it)
    exploded = resolve_unchanged(None if full_refresh else lake, spec, exploded)
    if spec.scd_type == 2:  # without the changes superseded by a reload applied before this run
        settled = plan.settled
        versions = exploded if settled is None else exploded.filter(pl.col(SEQUENCE) >= settled)
        result.history_rows = apply_history(
            lake, spec, versions, result.bronze_version, full_refresh
        )
    if plan.barrier is not None:  # changes ordered before the latest reload began: superseded
        exploded = exploded.filter(pl.col(SEQUENCE) >= plan.barrier)
    return last_per_key(exploded, spec), candidates


def _rebuild(
    lake: Lake, spec: TableSpec, batch: pl.DataFrame, result: SilverResult, now: datetime
) -> None:
    """A full refresh: the batch's deletes are the tombstones, its other changes the table."""
    overwrite_tombstones(lake, spec, batch, now)
    current = silver_rows(batch.filter(pl.col("_op") != "D"))
    overwrite_rows(lake, spec, current, result.bronze_version)
    result.inserted = current.height
    result.ignored = result.changes - batch.height


def _merge(lake: Lake, spec: TableSpec, batch: pl.DataFrame, target, result: SilverResult):
    """The batch into silver: the first write of the table, or THE incremental MERGE (rewritten
    in Polars where the batch touches most of the table's files)."""
    if target is None:  # no MERGE: no source columns to compute
        rows = silver_rows(batch.filter(pl.col("_op") != "D"))
        overwrite_rows(lake, spec, rows, result.bronze_version, create=True)
        result.inserted = rows.height
        return
    source = merge_source(batch)
    pruned = prunes(target, source, spec.primary_key[0])  # one look at the files for both
    try:
        metrics = rewrite_batch(lake, spec, target, source, result.bronze_version, pruned=pruned)
    except StaleTableError:  # a commit (a compaction) came after the version read
        metrics, target, pruned = None, open_table(lake, silver_key(spec.name)), None
    if metrics is None:  # a batch the MERGE prunes for, or a table the rewrite leaves to it
        metrics = merge_batch(lake, spec, target, source, result.bronze_version, pruned=pruned)
    result.metrics = metrics
    result.inserted = int(metrics.get("num_target_rows_inserted", 0))
    result.updated = int(metrics.get("num_target_rows_updated", 0))
    result.deleted = int(metrics.get("num_target_rows_deleted", 0))
    result.ignored += batch.height - result.inserted - result.updated - result.deleted


def _finish(lake: Lake, spec: TableSpec, result: SilverResult) -> SilverResult:
    dt = open_table(lake, silver_key(spec.name))
    result.version = dt.version() if dt is not None else None
    return result


def read_silver(
    lake: Lake, spec: TableSpec, *, version: int | None = None, columns: list[str] | None = None
) -> pl.DataFrame:
    """``silver/<table>`` (at ``version``; only ``columns`` when given) as a frame; empty when
    there is none."""
    dt = open_table(lake, silver_key(spec.name), version)
    return pl.DataFrame() if dt is None else pl.from_arrow(dt.to_pyarrow_table(columns=columns))
