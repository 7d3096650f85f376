"""Unchanged TOASTed values (logical decoding's ``u``) resolved when silver applies a batch.

Contract: bronze's ``_unchanged`` (a JSON array of column names; null on almost every row) marks
the columns of an update whose value the source did not send because it did not change (a
TOASTed value under REPLICA IDENTITY DEFAULT); their value in that row is a NULL that is not
data. ``resolve_unchanged(lake, spec, changes)`` gives each marked column the key's value before
the change: that of the key's latest earlier change in ``changes`` (by ``_sequence``) not marked
for it, else silver's current row, else NULL (the lake never held one). Unmarked rows and
columns are untouched; row order is kept; ``_unchanged`` stays (silver drops it with bronze's
other lineage).
"""

from __future__ import annotations

import polars as pl
import pyarrow.dataset as pads

from lakehouse.engine.core.keys import silver_key
from lakehouse.engine.core.order import SEQUENCE
from lakehouse.engine.delta import open_table
from lakehouse.registry.model import TableSpec
from lakehouse.storage import Lake

UNCHANGED = "_unchanged"


def resolve_unchanged(lake: Lake | None, spec: TableSpec, changes: pl.DataFrame) -> pl.DataFrame:
    """See the module docstring; ``lake`` None: silver is not looked at (a rebuild)."""
    if UNCHANGED not in changes.columns or not spec.primary_key or not changes.height:
        return changes
    lists = pl.col(UNCHANGED).str.json_decode(pl.List(pl.String))
    named = changes.select(lists.explode().drop_nulls().unique())[UNCHANGED].to_list()
    columns = [c for c in named if c in changes.columns and c not in spec.primary_key]
    if not columns:
        return changes
    key = list(spec.primary_key)
    df = changes.with_row_index("__i").sort([*key, SEQUENCE]).with_row_index("__pos")
    df = df.with_columns(lists.fill_null([]).alias("__marks"))
    for c in columns:
        marked = pl.col("__marks").list.contains(c)
        src = pl.when(~marked).then(pl.col("__pos")).forward_fill().over(key)
        prior = df.select(pl.col("__pos").alias("__src"), pl.col(c).alias("__prior"))
        df = (
            df.with_columns(marked.alias("__marked"), src.alias("__src"))
            .join(prior, on="__src", how="left")
            .with_columns(
                pl.when(pl.col("__marked")).then(pl.col("__prior")).otherwise(pl.col(c)).alias(c),
                (pl.col("__marked") & pl.col("__src").is_null()).alias(f"__from_silver_{c}"),
            )
            .drop("__marked", "__src", "__prior")
        )
    df = _from_silver(lake, spec, df, columns)
    return df.sort("__i").drop("__i", "__pos", "__marks")


def _from_silver(lake: Lake | None, spec: TableSpec, df: pl.DataFrame, columns: list[str]):
    """Marked values with no earlier change in the batch: silver's current row of the key."""
    flags = [f"__from_silver_{c}" for c in columns]
    wanted = df.filter(pl.any_horizontal(flags))
    target = open_table(lake, silver_key(spec.name)) if wanted.height and lake else None
    if target is None:
        return df.drop(flags)
    key = list(spec.primary_key)
    present = [c for c in columns if c in target.schema().to_arrow().names]
    first = pads.field(key[0]).isin(wanted[key[0]].unique().to_list())
    table = target.to_pyarrow_dataset().to_table(columns=[*key, *present], filter=first)
    current = pl.from_arrow(table).rename({c: f"__silver_{c}" for c in present})
    current = current.with_columns(pl.col(k).cast(df.schema[k]) for k in key)
    df = df.join(current, on=key, how="left", nulls_equal=True)
    return df.with_columns(
        pl.when(pl.col(f"__from_silver_{c}"))
        .then(pl.col(f"__silver_{c}").cast(df.schema[c]))
        .otherwise(pl.col(c))
        .alias(c)
        for c in present
    ).drop(flags, *(f"__silver_{c}" for c in present))
