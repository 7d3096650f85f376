"""SCD type 2 on Spark: the ``silver/<table>_history`` versions, as ``engine.silver`` builds them.

Contract (same as the local engine's ``history.apply_history``): every change (after key-change
explosion and quarantine, before last-per-key) newer than the key's *current* history version
becomes a version; ``__start_at`` = the change's commit timestamp (ingestion time when the
settings carry none), ``__end_at`` = the next change's ``__start_at`` for the key (null while
current), ``__is_current`` = ``__end_at`` is null; a delete closes the previous version and adds
none. The current version of a touched key is closed at the batch's first ``__start_at`` for
that key when the batch's first change is newer than it. A full-load row whose data equals the
version before it opens none: that version takes its lineage (``_same_as_before``).

``history_changes`` → ``(rows, closers)``; ``apply_history_in_memory`` applies them to a history
DataFrame (the reference used by the parity tests); ``merge_history_delta`` does the same in one
delta-spark MERGE.
"""

from __future__ import annotations

from lakehouse.engine.core.history import CLOSE_CONDITION, CLOSE_SET
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
    silver_cols = [c for c in changes.columns if c not in BRONZE_ONLY]
    data = [c for c in silver_cols if c not in keys and c not in LINEAGE and not c.startswith("__")]
    current = None
    if history is not None:
        current = history.filter(F.col("__is_current")).select(
            *keys,
            F.col(SEQUENCE).alias("__cur"),
            *[F.col(c).alias(f"__curv_{c}") for c in data if c in history.columns],
        )
        ordered = ordered.join(current.select(*keys, "__cur"), on=keys, how="left")
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
    ordered = ordered.withColumn("__head_seq", F.col(SEQUENCE)).withColumn("__head_start", start)
    ordered, relineage = _same_as_before(ordered, keys, data, current, w)
    versions = ordered.withColumn("__start_at", F.col("__head_start")).withColumn(
        "__end_at", F.lead("__start_at").over(w)
    )
    closers = versions.groupBy(*keys).agg(
        F.min("__start_at").alias("__close_at"), F.min("__head_seq").alias("__first_seq")
    )
    closers = closers.join(relineage, on=keys, how="full")
    rows = versions.filter(F.col("_op") != "D").withColumn(
        "__is_current", F.col("__end_at").isNull()
    )
    rows = rows.drop("__head_seq", "__head_start")
    rows = rows.drop(*[c for c in BRONZE_ONLY if c in rows.columns])
    return rows, closers


#: the lineage a full-load row identical to the version before it hands on to that version
LINEAGE = (SEQUENCE, "_commit_ts", "_source_file")


def _same_as_before(ordered, keys: list[str], data: list[str], current, w):
    """As the local engine's ``history._same_as_before``: a full-load row whose data equals the
    version before it (the key's previous change, else its current version) opens no version;
    that version takes its lineage. (``ordered`` folded, per key whose current version takes a
    lineage: ``__lseq``, ``__lcts``, ``__lsf``.)"""
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    frame = ordered.withColumn("__first", F.row_number().over(w) == 1)
    prev = {c: F.lag(c).over(w) for c in [*data, "_op"]}
    for c, e in prev.items():
        frame = frame.withColumn(f"__prev_{c}", e)
    if current is not None:
        frame = frame.join(current.drop("__cur").withColumn("__curv__op", F.lit("I")), keys, "left")
        use = F.col("__first") & F.col("__curv__op").isNotNull()
        for c in [*data, "_op"]:
            cur = F.col(f"__curv_{c}") if f"__curv_{c}" in frame.columns else F.lit(None)
            frame = frame.withColumn(
                f"__prev_{c}", F.when(use, cur).otherwise(F.col(f"__prev_{c}"))
            )
    same = F.lit(True)
    for c in data:
        same = same & F.col(c).eqNullSafe(F.col(f"__prev_{c}"))
    frame = frame.withColumn(
        "__same",
        F.coalesce(
            (F.col("_file_kind") == "load")
            & (F.col("_op") != "D")
            & F.col("__prev__op").isNotNull()
            & (F.col("__prev__op") != "D")
            & same,
            F.lit(False),
        )
        if "_file_kind" in frame.columns
        else F.lit(False),
    )
    run = w.rowsBetween(Window.unboundedPreceding, Window.currentRow)
    frame = frame.withColumn("__v", F.sum(F.when(F.col("__same"), 0).otherwise(1)).over(run))
    whole = (
        Window.partitionBy(*keys, "__v")
        .orderBy(F.col(SEQUENCE))
        .rowsBetween(Window.unboundedPreceding, Window.unboundedFollowing)
    )
    for c in LINEAGE:
        frame = frame.withColumn(f"__last{c}", F.last(c).over(whole))
    relineage = (
        frame.filter(F.col("__v") == 0)
        .select(
            *keys,
            F.col(f"__last{SEQUENCE}").alias("__lseq"),
            F.col("__last_commit_ts").alias("__lcts"),
            F.col("__last_source_file").alias("__lsf"),
        )
        .dropDuplicates(keys)
    )
    heads = frame.filter(~F.col("__same") & (F.col("__v") > 0))
    for c in LINEAGE:
        heads = heads.withColumn(c, F.col(f"__last{c}"))
    return heads.select(*ordered.columns), relineage


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
    lineage = {SEQUENCE: "__lseq", "_commit_ts": "__lcts", "_source_file": "__lsf"}
    handed = F.col("__is_current") & F.col("__lseq").isNotNull()  # ``_same_as_before``
    closed = joined.select(
        *[
            F.when(close, F.col("__close_at")).otherwise(F.col(c)).alias(c)
            if c == "__end_at"
            else F.when(close, F.lit(False)).otherwise(F.col(c)).alias(c)
            if c == "__is_current"
            else F.when(handed, F.col(lineage[c])).otherwise(F.col(c)).alias(c)
            if c in lineage
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
        *[F.col(k).alias(f"__mk_{k}") for k in keys],
        "__close_at",
        "__first_seq",
        "__lseq",
        "__lcts",
        "__lsf",
    )
    source = inserts.unionByName(marked, allowMissingColumns=True)
    pred = " AND ".join(f"t.`{k}` = s.`__mk_{k}`" for k in keys) + " AND t.__is_current"
    (
        DeltaTable.forPath(spark, path)
        .alias("t")
        .merge(source.alias("s"), pred)
        .whenMatchedUpdate(condition=CLOSE_CONDITION, set=CLOSE_SET)
        .whenNotMatchedInsert(
            condition=f"s.`__mk_{keys[0]}` IS NULL",
            values={c: f"s.`{c}`" for c in rows.columns},
        )
        .execute()
    )
