"""Unchanged TOASTed values resolved on Spark: ``engine.unchanged``'s contract on DataFrames.

Bronze's ``_unchanged`` (a JSON array of column names; null on almost every row) marks the
columns of an update whose value the source did not send (unchanged TOAST under REPLICA IDENTITY
DEFAULT). ``resolve_unchanged(changes, spec, current)`` gives each marked column the key's value
before the change: that of the key's latest earlier change in ``changes`` (by ``_sequence``) not
marked for it, else ``current``'s (the silver table before this run; None on a rebuild or for a
new table), else NULL. Unmarked rows and columns are untouched; ``_unchanged`` stays. The result
is computed eagerly (checkpointed) when a row is marked, so it never reads silver after this
run's MERGE has rewritten it.
"""

from __future__ import annotations

from lakehouse.engine.core.order import SEQUENCE
from lakehouse.registry.model import TableSpec

UNCHANGED = "_unchanged"


def resolve_unchanged(changes, spec: TableSpec, current=None):
    """See the module docstring."""
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    if UNCHANGED not in changes.columns or not spec.primary_key:
        return changes
    marks = F.coalesce(F.from_json(UNCHANGED, "array<string>"), F.array().cast("array<string>"))
    named = changes.select(F.explode(marks).alias("c")).distinct().collect()
    key = list(spec.primary_key)
    columns = sorted(
        r.c for r in named if r.c in changes.columns and r.c not in key and r.c != UNCHANGED
    )
    if not columns:
        return changes
    earlier = (
        Window.partitionBy(*key)
        .orderBy(SEQUENCE)
        .rowsBetween(Window.unboundedPreceding, Window.currentRow)
    )
    df = changes.withColumn("__marks", marks)
    present = [c for c in columns if current is not None and c in current.columns]
    if present:  # silver's current values of the marked columns, for the keys marked
        marked_keys = df.filter(F.size("__marks") > 0).select(*key).distinct()
        now = current.select(*key, *(F.col(c).alias(f"__silver_{c}") for c in present))
        df = df.join(now.join(marked_keys, on=key, how="left_semi"), on=key, how="left")
    for c in columns:
        marked = F.array_contains("__marks", c)
        # the latest unmarked row's value as a struct: non-null even where the value is NULL
        prior = F.last(F.when(~marked, F.struct(F.col(c).alias("v"))), ignorenulls=True)
        prior = prior.over(earlier)
        fallback = F.col(f"__silver_{c}") if c in present else F.lit(None)
        value = F.when(prior.isNotNull(), prior.getField("v")).otherwise(fallback)
        df = df.withColumn(
            c, F.when(marked, value.cast(changes.schema[c].dataType)).otherwise(F.col(c))
        )
    df = df.drop("__marks", *(f"__silver_{c}" for c in present))
    return df.select(*changes.columns).localCheckpoint()
