"""Validate a frame against a registry schema: split good rows from bad, with reasons.

``split_valid(frame, spec)`` → ``(good, bad)``: ``bad`` holds each failing row once with
``__column`` and ``__reason`` (check name and failing value; several failures of one row are
joined with ``; ``). ``failure_summary`` turns pandera failure cases into check metadata.
"""

from __future__ import annotations

import pandera.polars as pa
import polars as pl

from lakehouse.quality.schemas import table_schema
from lakehouse.registry.model import TableSpec


def failure_cases(frame: pl.DataFrame, schema: pa.DataFrameSchema) -> pl.DataFrame:
    """Pandera's failure cases (column, check, failure_case, index); empty when valid."""
    try:
        schema.validate(frame, lazy=True)
    except pa.errors.SchemaErrors as err:
        return err.failure_cases
    return pl.DataFrame(schema={"failure_case": pl.String, "column": pl.String, "check": pl.String, "index": pl.Int32})


def split_valid(frame: pl.DataFrame, spec: TableSpec) -> tuple[pl.DataFrame, pl.DataFrame]:
    cases = failure_cases(frame, table_schema(spec, row_level=True))
    row_cases = cases.filter(pl.col("index").is_not_null())
    if row_cases.height == 0:
        return frame, frame.head(0).with_columns(pl.lit(None, pl.String).alias("__column"), pl.lit(None, pl.String).alias("__reason"))
    reasons = (
        row_cases.with_columns(
            (pl.col("column") + ": " + pl.col("check") + " failed for " + pl.col("failure_case").cast(pl.String).fill_null("null")).alias("r")
        )
        .group_by("index")
        .agg(pl.col("column").first().alias("__column"), pl.col("r").str.join("; ").alias("__reason"))
    )
    indexed = frame.with_row_index("__i")
    bad = indexed.join(reasons, left_on="__i", right_on=pl.col("index").cast(pl.UInt32), how="inner").drop("__i", "index", strict=False)
    good = indexed.filter(~pl.col("__i").is_in(reasons["index"].cast(pl.UInt32).implode())).drop("__i")
    return good, bad


def failure_summary(cases: pl.DataFrame, sample: int = 10) -> dict:
    """Counts per (column, check) and a sample of failing values, for check metadata."""
    if cases.height == 0:
        return {"failures": 0}
    counts = cases.group_by("column", "check").len().sort("len", descending=True)
    return {
        "failures": cases.height,
        "by_check": {f"{r['column']}: {r['check']}": r["len"] for r in counts.iter_rows(named=True)},
        "sample": cases.head(sample).select("column", "check", pl.col("failure_case").cast(pl.String), "index").to_dicts(),
    }
