"""Events gold: every source's silver table → ``gold/events_daily``, rewritten whole each run.

``gold/events_daily`` (Delta): ``source``, ``day`` (UTC date of ``event_ts``, of
``received_at`` for a source without event time), ``records``, ``avg_quality_score``,
``late_records`` (arrived more than ``LATE_AFTER`` after ``event_ts``), ``first_event_ts``,
``last_event_ts``, then every source's ``metrics`` (null on other sources' rows; ``n_unique``
as Int64, the others Float64).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import timedelta

import polars as pl

from lakehouse.engine.core.keys import silver_key
from lakehouse.engine.delta import open_table
from lakehouse.events.schemas import EventSource
from lakehouse.events.tables import UTC_TS, read_table
from lakehouse.storage import Lake

GOLD_DAILY = "gold/events_daily"
LATE_AFTER = timedelta(hours=1)
_AGGS = {"mean": pl.Expr.mean, "min": pl.Expr.min, "max": pl.Expr.max, "sum": pl.Expr.sum}


def gold_schema(sources: Iterable[EventSource]) -> dict[str, pl.DataType]:
    cols = {
        "source": pl.String,
        "day": pl.Date,
        "records": pl.Int64,
        "avg_quality_score": pl.Float64,
        "late_records": pl.Int64,
        "first_event_ts": UTC_TS,
        "last_event_ts": UTC_TS,
    }
    for s in sources:
        cols |= {m.name: pl.Int64 if m.agg == "n_unique" else pl.Float64 for m in s.metrics}
    return cols


def daily_frame(silver: pl.DataFrame, source: EventSource) -> pl.DataFrame:
    """One row per day of one source's silver table (see ``gold/events_daily``)."""
    day = pl.coalesce("event_ts", "received_at").dt.date().alias("day")
    aggs = [
        pl.len().cast(pl.Int64).alias("records"),
        pl.col("quality_score").mean().alias("avg_quality_score"),
        ((pl.col("received_at") - pl.col("event_ts")) > LATE_AFTER)
        .sum()
        .cast(pl.Int64)
        .alias("late_records"),
        pl.col("event_ts").min().alias("first_event_ts"),
        pl.col("event_ts").max().alias("last_event_ts"),
    ]
    for m in source.metrics:
        col = pl.col("event_ts" if m.field == source.event_time else m.field)
        aggs.append(
            col.n_unique().cast(pl.Int64).alias(m.name)
            if m.agg == "n_unique"
            else _AGGS[m.agg](col).cast(pl.Float64).alias(m.name)
        )
    return silver.group_by(pl.col("source"), day).agg(aggs)


def build_gold_daily(lake: Lake, sources: list[EventSource]) -> tuple[pl.DataFrame, int]:
    """Recompute ``gold/events_daily`` from every source's silver table; (frame, version)."""
    from deltalake import write_deltalake

    schema = gold_schema(sources)
    frames = [
        daily_frame(t, s) for s in sources if (t := read_table(lake, silver_key(s.table))).height
    ]
    frame = pl.concat(frames, how="diagonal_relaxed") if frames else pl.DataFrame(schema=schema)
    frame = frame.select(
        [
            pl.col(c).cast(t) if c in frame.columns else pl.lit(None, t).alias(c)
            for c, t in schema.items()
        ]
    ).sort("source", "day")
    write_deltalake(
        lake.uri(GOLD_DAILY),
        frame.to_arrow(),
        mode="overwrite",
        schema_mode="overwrite",
        storage_options=lake.storage_options,
    )
    return frame, open_table(lake, GOLD_DAILY).version()
