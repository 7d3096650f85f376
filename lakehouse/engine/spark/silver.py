"""``apply_table``: the bronze → silver job for one table on Spark (what a Glue run does).

Same contract and semantics as ``engine.silver.apply_changes`` (see ``apply``): reads the bronze
rows not yet applied, standardises PII, quarantines rule failures (``quarantine/<table>``, Delta),
appends SCD2 versions (``silver/<table>_history``, Delta), resolves the change set against the
tombstones (``_state/tombstones/<table>``, Delta), records the new tombstones, then MERGEs into
``silver/<table>`` (Delta) or upserts it (Hudi, per the registry's ``table_format``).

Incremental and exactly once: the bronze version applied is recorded in a checkpoint
(``tables.write_checkpoint``) after the table commit; a crash in between re-applies the same batch,
which changes nothing (older-or-equal changes are ignored, tombstones and SCD2 versions are
filtered by sequence). A table without a checkpoint is rebuilt (full refresh), as locally.

DMS reloads (a repeated ``LOAD`` file name: a new full-load generation of bronze's load log) are
applied as locally (``reloads``): the load log is read from the bronze table's commit metadata,
keys absent from a reload's baseline are deleted at the reload's start (tombstones, SCD2 versions
closed), and changes ordered before the latest reload's start are ignored; a keyless table's
reload keeps only its rows ordered at or after the start (``_append_only``).
"""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime

from lakehouse.engine.core.keys import (
    BRONZE_VERSION_KEY,
    bronze_key,
    history_key,
    quarantine_key,
    silver_key,
    tombstone_key,
)
from lakehouse.engine.core.reloads import plan_reloads
from lakehouse.engine.core.results import SilverResult
from lakehouse.engine.spark.apply import (
    _with_target_seq,
    apply_counts,
    prepare_changes,
    resolve_changes,
    silver_rows,
    split_rule_failures,
    tombstone_rows,
)
from lakehouse.engine.spark.reloads import read_load_log
from lakehouse.engine.spark.sequencing import SEQUENCE
from lakehouse.engine.spark.tables import LakeLocations
from lakehouse.engine.spark.writers import _user_metadata, merge_delta, read_bronze, upsert_hudi
from lakehouse.registry.model import TableSpec


def apply_table(
    spark,
    spec: TableSpec,
    locations: LakeLocations,
    *,
    full_refresh: bool = False,
    now: datetime | None = None,
    hudi_database: str | None = None,
) -> SilverResult:
    """Apply the bronze changes not yet applied to ``silver/<table>`` (Delta or Hudi) on Spark."""
    from pyspark.sql import functions as F

    from lakehouse.engine.spark import tables as io
    from lakehouse.engine.spark.quarantine import not_yet_recorded, quarantine_rows

    started, now = time.perf_counter(), now or datetime.now(UTC)
    hudi = spec.table_format == "hudi"
    result = SilverResult(spec.name, table_format=spec.table_format, full_refresh=full_refresh)
    uri = locations.uri(silver_key(spec.name))
    exists = (io.hudi_exists if hudi else io.delta_exists)(spark, uri)
    ckpt = None if full_refresh else io.read_checkpoint(spark, locations, "silver", spec.name)
    if exists and ckpt is None and not full_refresh:
        full_refresh = result.full_refresh = True  # a table we cannot place in bronze: rebuild
    after = None if full_refresh or ckpt is None else ckpt.get("bronze_version")
    bronze_uri = locations.uri(bronze_key(spec.name))
    changes, result.bronze_version = read_bronze(spark, bronze_uri, after)
    if changes is None:
        return _finish(spark, result, uri, hudi, started)
    reloads, barrier, settled = plan_reloads(
        read_load_log(spark, bronze_uri), spec, after, result.bronze_version
    )
    if changes.isEmpty() and not full_refresh and not reloads:
        return _finish(spark, result, uri, hudi, started)
    meta = json.dumps({BRONZE_VERSION_KEY: result.bronze_version})
    changes, bad = split_rule_failures(prepare_changes(changes, spec), spec)
    changes = changes.persist()
    result.quarantined = bad.count()
    if result.quarantined and not full_refresh:
        quarantine = locations.uri(quarantine_key(spec.name))
        recorded = (
            spark.read.format("delta").load(quarantine).filter(F.col("_stage") == "silver")
            if io.delta_exists(spark, quarantine)
            else None
        )  # a re-run of a batch that died before its checkpoint: its entries are there already
        not_yet_recorded(quarantine_rows(bad, "silver", now), recorded).write.format("delta").mode(
            "append"
        ).option("mergeSchema", "true").save(quarantine)
    result.changes = changes.count()

    if not spec.primary_key:  # append-only: inserts as DMS captures them
        _append_only(spark, changes, result, uri, hudi, exists, full_refresh, reloads, barrier)
    else:
        _apply_keyed(
            spark,
            spec,
            locations,
            changes,
            result,
            full_refresh,
            exists,
            now,
            meta,
            hudi_database,
            reloads,
            barrier,
            settled,
        )
    io.write_checkpoint(
        spark,
        locations,
        "silver",
        spec.name,
        bronze_version=result.bronze_version,
        applied_at=now.isoformat(),
    )
    changes.unpersist()
    return _finish(spark, result, uri, hudi, started)


def _append_only(spark, changes, result, uri, hudi, exists, full_refresh, reloads, barrier):
    """A keyless table's inserts appended, a reload replacing its baseline (as locally,
    ``engine.silver._append_only``): inserts ordered before the latest reload's start are
    superseded, and a run applying a reload keeps only the rows ordered at or after it."""
    from pyspark.sql import functions as F

    fmt = "hudi" if hudi else "delta"
    rows = changes.filter(F.col("_op") == "I")
    if barrier is not None:
        rows = rows.filter(F.col(SEQUENCE) >= barrier)
    rows = silver_rows(rows)
    result.inserted = rows.count()
    if reloads:
        result.reload_generation = reloads[-1].generation
    if reloads and exists and not full_refresh:
        # eager: the table is read whole before it is overwritten
        held = spark.read.format(fmt).load(uri).localCheckpoint()
        kept = held.filter(F.col(SEQUENCE) >= barrier)
        result.reload_deletes = held.count() - kept.count()
        if result.reload_deletes:  # one commit: the new baseline replaces the table
            table = kept.unionByName(rows, allowMissingColumns=True).localCheckpoint()
            table.write.format(fmt).mode("overwrite").option("mergeSchema", "true").save(uri)
            return
    rows.write.format(fmt).mode("overwrite" if full_refresh else "append").option(
        "mergeSchema", "true"
    ).save(uri)


def _apply_keyed(
    spark,
    spec,
    locations,
    changes,
    result,
    full_refresh,
    exists,
    now,
    meta,
    hudi_database,
    reloads=(),
    barrier=None,
    settled=None,
):
    from pyspark.sql import functions as F

    from lakehouse.engine.spark import tables as io

    uri, tomb_uri = locations.uri(silver_key(spec.name)), locations.uri(tombstone_key(spec.name))
    hudi = spec.table_format == "hudi"
    state, fmt = None, "hudi" if hudi else "delta"
    if reloads and exists and not full_refresh:  # the reloads delete against the current table
        # eager: the deletes must see the table as it was before this run's MERGE rewrites it
        state = (
            spark.read.format(fmt).load(uri).select(*spec.primary_key, SEQUENCE).localCheckpoint()
        )
    tombs = None
    if not full_refresh and io.delta_exists(spark, tomb_uri):  # a rebuild rewrites them
        tombs = spark.read.format("delta").load(tomb_uri)
    # read only if a change leaves a TOASTed value unsent (then before this run's MERGE)
    current = None if full_refresh or not exists else spark.read.format(fmt).load(uri)
    resolved = resolve_changes(
        changes,
        spec,
        tombs,
        state=state,
        current=current,
        reloads=reloads,
        barrier=barrier,
        settled=settled,
    )
    exploded = resolved.exploded.persist()
    if resolved.reload_deletes is not None:
        result.reload_generation = reloads[-1].generation
        result.reload_deletes = resolved.reload_deletes.count()
    if spec.scd_type == 2:
        result.history_rows = _apply_history(spark, spec, locations, exploded, full_refresh, meta)
    batch = resolved.batch.persist()
    if full_refresh:
        tombstone_rows(batch, spec, now).write.format("delta").mode("overwrite").option(
            "overwriteSchema", "true"
        ).save(tomb_uri)
        current = batch.filter(F.col("_op") != "D")
        if hudi:
            upsert_hudi(current, uri, spec, database=hudi_database, overwrite=True)
        else:
            with _user_metadata(spark, meta):
                silver_rows(current).write.format("delta").mode("overwrite").option(
                    "overwriteSchema", "true"
                ).save(uri)
        result.inserted = current.count()
        result.ignored = result.changes - batch.count()
        batch.unpersist()
        exploded.unpersist()
        return
    # older changes of a key, changes not newer than their key's tombstone, changes from before
    # the latest reload (counted before the tombstone MERGE below changes what ``tombs`` reads)
    result.ignored = resolved.candidates.count() - batch.count()
    deletes = tombstone_rows(batch, spec, now)
    if tombs is None:
        if not deletes.isEmpty():
            deletes.write.format("delta").save(tomb_uri)
    else:
        from delta.tables import DeltaTable

        pred = " AND ".join(f"t.`{k}` = s.`{k}`" for k in spec.primary_key)
        (
            DeltaTable.forPath(spark, tomb_uri)
            .alias("t")
            .merge(deletes.alias("s"), pred)
            .whenMatchedUpdateAll(condition=f"s.{SEQUENCE} > t.{SEQUENCE}")
            .whenNotMatchedInsertAll()
            .execute()
        )
    if hudi:
        state = spark.read.format("hudi").load(uri) if exists else None
        counts = apply_counts(state, batch, spec)
        applying = (
            batch
            if state is None
            else _with_target_seq(state, batch, spec).filter("__applies").select(*batch.columns)
        ).persist()
        applying.count()  # computed from the table before the upsert rewrites its files
        upsert_hudi(applying, uri, spec, database=hudi_database)
        applying.unpersist()
    elif not exists:
        with _user_metadata(spark, meta):
            silver_rows(batch.filter(F.col("_op") != "D")).write.format("delta").save(uri)
        counts = {"inserted": batch.filter(F.col("_op") != "D").count(), "updated": 0, "deleted": 0}
    else:
        counts = merge_delta(spark, uri, batch, spec, user_metadata=meta)
    result.inserted, result.updated, result.deleted = (
        counts["inserted"],
        counts["updated"],
        counts["deleted"],
    )
    result.ignored += batch.count() - result.inserted - result.updated - result.deleted
    batch.unpersist()
    exploded.unpersist()


def _apply_history(spark, spec, locations, exploded, full_refresh: bool, meta: str) -> int:
    from lakehouse.engine.spark import tables as io
    from lakehouse.engine.spark.scd2 import history_changes, merge_history_delta

    uri = locations.uri(history_key(spec.name))
    hist = (
        None
        if full_refresh or not io.delta_exists(spark, uri)
        else spark.read.format("delta").load(uri)
    )
    rows, closers = history_changes(exploded, spec, hist)
    if rows is None:
        return 0
    with _user_metadata(spark, meta):
        if hist is None:
            rows.write.format("delta").mode("overwrite").option("overwriteSchema", "true").save(uri)
        else:
            merge_history_delta(spark, uri, rows, closers, spec)
    return rows.count()


def _finish(spark, result: SilverResult, uri: str, hudi: bool, started: float) -> SilverResult:
    from lakehouse.engine.spark import tables as io

    if not hudi:
        result.version = io.delta_version(spark, uri)
    result.seconds = time.perf_counter() - started
    return result
