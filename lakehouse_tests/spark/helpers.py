"""Comparing Spark DataFrames with the local engine's Polars frames."""

from __future__ import annotations

import polars as pl
from polars.testing import assert_frame_equal

from lakehouse.engine.spark.tables import from_polars, to_arrow


def to_spark(spark, frame: pl.DataFrame):
    return from_polars(spark, frame)


def to_polars(frame) -> pl.DataFrame:
    return pl.from_arrow(to_arrow(frame))


def assert_same(got, expected: pl.DataFrame, by: list[str], what: str) -> pl.DataFrame:
    """``got`` (a Spark DataFrame or None) equals ``expected``: columns in order, dtypes, rows."""
    got = pl.DataFrame() if got is None else to_polars(got)
    if expected.width == 0 or expected.height == 0:
        assert got.height == 0, f"{what}: expected no rows, got {got.height}"
        return got
    assert got.columns == expected.columns, f"{what}: columns {got.columns} != {expected.columns}"
    assert_frame_equal(
        got.sort(by, nulls_last=True), expected.sort(by, nulls_last=True), check_dtypes=True
    )
    return got
