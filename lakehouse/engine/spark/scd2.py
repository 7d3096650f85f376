"""SCD type 2 on Spark: the ``silver/<table>_history`` versions, as ``engine.silver`` builds them.

Contract (same as the local engine's ``history.apply_history``): every change (after key-change
explosion and quarantine, before last-per-key) newer than the key's *current* history version
becomes a version; ``__start_at`` = the change's commit timestamp (ingestion time when the
settings carry none), ``__end_at`` = the next change's ``__start_at`` for the key (null while
current), ``__is_current`` = ``__end_at`` is null; a delete closes the previous version and adds
none. The current version of a touched key is closed at the batch's first ``__start_at`` for
that key when the batch's first change is newer than it.

``history_changes`` → ``(rows, closers)``; ``apply_history_in_memory`` applies them to a history
DataFrame (the reference used by the parity tests); ``merge_history_delta`` does the same in one
delta-spark MERGE.
"""

from __future__ import annotations

from lakehouse.engine.core.lineage import BRONZE_ONLY
from lakehouse.engine.spark.sequencing import SEQUENCE
from lakehouse.registry.model import TableSpec

HISTORY_COLUMNS = ("__start_at", "__end_at", "__is_current")


def history_changes(changes, spec: TableSpec, history=None):
    """``(rows, closers)`` or ``(None, None)`` when no change is newer than the current versions.

    ``rows``: new versions (silver columns + ``HISTORY_COLUMNS``); ``closers``: one row per touched
    key with ``__close_at`` and ``__first_seq``.
    """
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    keys = list(spec.primary_key)
    ordered = changes
    if history is not None:
        current = history.filter(F.col("__is_current")).select(
            *keys, F.col(SEQUENCE).alias("__cur")
        )
        ordered = ordered.join(current, on=keys, how="left")
        ordered = ordered.filter(F.col("__cur").isNull() | (F.col(SEQUENCE) > F.col("__cur")))
        ordered = ordered.select(*changes.columns)
    if ordered.isEmpty():
        return None, None
    tiebreak = [F.col("_ingested_at")] if "_ingested_at" in changes.columns else []
    w = Window.partitionBy(*keys).orderBy(F.col(SEQUENCE), *tiebreak)
    start = (
        F.coalesce(F.col("_commit_ts"), F.col("_ingested_at"))
        if "_ingested_at" in changes.columns
        else F.col("_commit_ts")
    )
    versions = ordered.withColumn("__start_at", start).withColumn(
        "__end_at", F.lead("__start_at").over(w)
    )
    closers = versions.groupBy(*keys).agg(
        F.min("__start_at").alias("__close_at"), F.min(SEQUENCE).alias("__first_seq")
    )
    rows = versions.filter(F.col("_op") != "D").withColumn(
        "__is_current", F.col("__end_at").isNull()
    )
    rows = rows.drop(*[c for c in BRONZE_ONLY if c in rows.columns])
    return rows, closers


def apply_history_in_memory(history, rows, closers, spec: TableSpec):
    """The history after closing touched keys' current versions and appending ``rows``."""
    from pyspark.sql import functions as F

    if rows is None:
        return history
    if history is None:
        return rows
    keys = list(spec.primary_key)
    joined = history.join(closers, on=keys, how="left")
    close = F.coalesce(
        F.col("__is_current") & (F.col("__first_seq") > F.col(SEQUENCE)), F.lit(False)
    )
    closed = joined.select(
        *[
            F.when(close, F.col("__close_at")).otherwise(F.col(c)).alias(c)
            if c == "__end_at"
            else F.when(close, F.lit(False)).otherwise(F.col(c)).alias(c)
            if c == "__is_current"
            else F.col(c)
            for c in history.columns
        ]
    )
    return closed.unionByName(rows, allowMissingColumns=True)


def merge_history_delta(spark, path: str, rows, closers, spec: TableSpec) -> None:
    """``apply_history_in_memory`` as one atomic delta-spark MERGE into the table at ``path``."""
    from delta.tables import DeltaTable
    from pyspark.sql import functions as F

    from lakehouse.engine.spark.tables import add_missing_columns

    add_missing_columns(spark, path, rows.schema, DeltaTable.forPath(spark, path).toDF().schema)
    keys = list(spec.primary_key)
    inserts = rows
    for k in keys:
        inserts = inserts.withColumn(f"__mk_{k}", F.lit(None).cast(rows.schema[k].dataType))
    marked = closers.select(
        *[F.col(k).alias(f"__mk_{k}") for k in keys], "__close_at", "__first_seq"
    )
    source = inserts.unionByName(marked, allowMissingColumns=True)
    pred = " AND ".join(f"t.`{k}` = s.`__mk_{k}`" for k in keys) + " AND t.__is_current"
    (
        DeltaTable.forPath(spark, path)
        .alias("t")
        .merge(source.alias("s"), pred)
        .whenMatchedUpdate(
            condition=f"s.__first_seq > t.{SEQUENCE}",
            set={"__end_at": "s.__close_at", "__is_current": "false"},
        )
        .whenNotMatchedInsert(
            condition=f"s.`__mk_{keys[0]}` IS NULL",
            values={c: f"s.`{c}`" for c in rows.columns},
        )
        .execute()
    )
