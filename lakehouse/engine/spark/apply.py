"""Silver CDC apply on Spark: the local engine's semantics (``engine.silver``) on DataFrames.

Data contract (identical to ``engine.silver``): ``silver/<table>`` holds one row per primary key,
the latest change, with the registry's columns (plus columns added at the source) and
``_sequence``, ``_commit_ts``, ``_source_file``; older-or-equal changes never overwrite, ``D``
deletes and leaves a tombstone (``_state/tombstones/<table>``: key, ``_sequence``,
``_deleted_at``), primary-key updates move the row, PII is standardised and rows breaking the
registry's row rules go to ``quarantine/<table>``; SCD2 tables also get
``silver/<table>_history`` (``scd2``).

The pieces, each a pure DataFrame function so the parity tests run them on local PySpark:
- ``prepare_changes``: ``_sequence`` + PII standardisation;
- ``split_rule_failures``: row rules on non-deletes (``quarantine``);
- ``resolve_changes`` → ``Resolved(exploded, batch, reload_deletes, candidates)``: key changes
  exploded and the reloads' deletes added (``reloads``: DMS full-load reloads, ``reloads``
  module) — ``candidates`` —; changes not newer than their key's tombstone dropped, unchanged
  TOASTed values filled in (``unchanged``) — the SCD2
  input ``exploded``, without the changes ordered before a reload an earlier run applied
  (``settled``) —; changes ordered before the latest reload's start (``barrier``) dropped; the
  last change per key. ``batch`` (one row per key, with ``_op`` and ``_sequence``) is THE
  resolved change set, the MERGE source;
- ``apply_to_state`` / ``apply_counts`` / ``next_tombstones``: the MERGE semantics in memory
  (delete / update when the change is newer than the row, insert when the key is absent).

``writers`` puts a resolved set into Delta (delta-spark MERGE) or Hudi; ``silver.apply_table`` is
the whole job for one table.
"""

from __future__ import annotations

from datetime import datetime
from typing import NamedTuple

from lakehouse.engine.core.lineage import BRONZE_ONLY
from lakehouse.engine.spark.sequencing import (
    SEQUENCE,
    explode_key_changes,
    filter_tombstoned,
    last_per_key,
    with_sequence,
)
from lakehouse.engine.spark.unchanged import resolve_unchanged
from lakehouse.registry.model import TableSpec


class Resolved(NamedTuple):
    exploded: object  # the SCD2 input: the changes silver does not ignore for good (docstring)
    batch: object  # one change per key, tombstone-filtered, after the reload barrier: MERGE source
    reload_deletes: object = None  # the reloads' D changes (part of ``candidates``), or None
    candidates: object = None  # every change, key changes exploded, reload deletes added


def silver_rows(frame):
    return frame.drop(*[c for c in BRONZE_ONLY if c in frame.columns])


def prepare_changes(changes, spec: TableSpec):
    from lakehouse.engine.spark.pii import standardize_pii

    return standardize_pii(with_sequence(changes), spec)


def split_rule_failures(changes, spec: TableSpec):
    """``(kept, bad)``: non-deletes breaking a row rule go to ``bad``; deletes always pass."""
    from pyspark.sql import functions as F

    from lakehouse.engine.spark.quarantine import split_valid

    good, bad = split_valid(changes.filter(F.col("_op") != "D"), spec)
    return good.unionByName(changes.filter(F.col("_op") == "D")), bad


def resolve_changes(
    changes,
    spec: TableSpec,
    tombstones=None,
    *,
    state=None,
    reloads=(),
    barrier=None,
    settled=None,
    current=None,
) -> Resolved:
    """The resolved change set of prepared, validated ``changes`` (see the module docstring).

    ``reloads``, ``barrier`` and ``settled`` come from ``engine.core.reloads.plan_reloads``; ``state`` is the
    silver table the reloads' deletes are computed against (None: no table yet, or a full
    refresh, which passes no ``tombstones`` either); ``current`` the silver table unchanged
    TOASTed values are read from when no earlier change has them (``unchanged``; None alike)."""
    from pyspark.sql import functions as F

    from lakehouse.engine.spark.reloads import reload_deletes

    candidates = explode_key_changes(changes, spec)
    gone = reload_deletes(changes, spec, list(reloads), state) if reloads else None
    if gone is not None:
        candidates = candidates.unionByName(gone, allowMissingColumns=True)
    # not newer than the key's tombstone: ignored by silver and its history alike
    kept = filter_tombstoned(candidates, tombstones, spec)
    # unsent unchanged (TOASTed) values: the key's earlier value (on a rebuild, bronze has it)
    kept = resolve_unchanged(kept, spec, current)
    history = kept if settled is None else kept.filter(F.col(SEQUENCE) >= F.lit(settled))
    if barrier is not None:  # changes ordered before the latest reload began: superseded by it
        kept = kept.filter(F.col(SEQUENCE) >= F.lit(barrier))
    return Resolved(history, last_per_key(kept, spec), gone, candidates)


def _with_target_seq(state, batch, spec: TableSpec):
    from pyspark.sql import functions as F

    keys = list(spec.primary_key)
    tseq = state.select(*keys, F.col(SEQUENCE).alias("__tseq"))
    joined = batch.join(tseq, on=keys, how="left")
    applies = F.col("__tseq").isNull() | (F.col(SEQUENCE) > F.col("__tseq"))
    return joined.withColumn("__applies", F.coalesce(applies, F.lit(False)))


def apply_to_state(state, batch, spec: TableSpec):
    """The table after MERGE-ing ``batch`` into ``state`` (None: no table yet), in memory."""
    from pyspark.sql import functions as F

    if state is None:
        return silver_rows(batch.filter(F.col("_op") != "D"))
    keys = list(spec.primary_key)
    joined = _with_target_seq(state, batch, spec)
    applied = joined.filter("__applies")
    replaced = applied.filter(F.col("__tseq").isNotNull()).select(*keys)
    kept = state.join(replaced, on=keys, how="left_anti").select(*state.columns)
    added = silver_rows(applied.filter(F.col("_op") != "D").select(*batch.columns))
    return kept.unionByName(added, allowMissingColumns=True)


def apply_counts(state, batch, spec: TableSpec) -> dict[str, int]:
    """``inserted``, ``updated``, ``deleted`` that MERGE-ing ``batch`` into ``state`` makes."""
    from pyspark.sql import functions as F

    if state is None:
        n = batch.filter(F.col("_op") != "D").count()
        return {"inserted": n, "updated": 0, "deleted": 0}
    j = _with_target_seq(state, batch, spec)
    hit, is_d = F.col("__applies") & F.col("__tseq").isNotNull(), F.col("_op") == "D"
    row = j.agg(
        F.sum(F.when(F.col("__tseq").isNull() & ~is_d, 1).otherwise(0)).alias("inserted"),
        F.sum(F.when(hit & ~is_d, 1).otherwise(0)).alias("updated"),
        F.sum(F.when(hit & is_d, 1).otherwise(0)).alias("deleted"),
    ).first()
    return {k: int(row[k] or 0) for k in ("inserted", "updated", "deleted")}


def tombstone_rows(batch, spec: TableSpec, now: datetime):
    from pyspark.sql import functions as F

    return batch.filter(F.col("_op") == "D").select(
        *spec.primary_key, SEQUENCE, F.lit(now).cast("timestamp").alias("_deleted_at")
    )


def next_tombstones(tombstones, batch, spec: TableSpec, now: datetime):
    """Tombstones after recording ``batch``'s deletes (a newer delete replaces an older one)."""
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    deletes = tombstone_rows(batch, spec, now)
    if tombstones is None:
        return deletes
    both = tombstones.withColumn("__new", F.lit(0)).unionByName(
        deletes.withColumn("__new", F.lit(1))
    )
    w = Window.partitionBy(*spec.primary_key).orderBy(F.col(SEQUENCE).desc(), F.col("__new"))
    return both.withColumn("__rn", F.row_number().over(w)).filter("__rn = 1").drop("__rn", "__new")
