"""Validate a frame against a registry schema: split good rows from bad, with reasons.

``split_valid(frame, spec)`` → ``(good, bad)``: the row-level rules of the pandera schema
``quality.schemas.table_schema(spec, row_level=True)``, in the order and with the labels of
``quality.rules``, evaluated as Polars expressions — no pandera import on the silver path:
importing pandera costs seconds in every fresh run process, and silver is on the freshness
path (the asset checks, off that path, run pandera itself). ``bad`` holds each failing row once
with ``__column`` (its first failing column) and ``__reason`` (``"<column>: <check> failed for
<value>"``, several failures joined with ``"; "``); ``good`` the others, both in input order.
``split_valid_pandera`` is the same split computed by pandera: the reference the tests hold
``split_valid`` to. ``failure_cases`` / ``failure_summary``: pandera failure cases and their
check metadata.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import polars as pl

from lakehouse.quality.rules import RowRule, row_rules
from lakehouse.registry.model import TableSpec

if TYPE_CHECKING:
    import pandera.polars as pa


def failure_cases(frame: pl.DataFrame, schema: pa.DataFrameSchema) -> pl.DataFrame:
    """Pandera's failure cases (column, check, failure_case, index); empty when valid."""
    import pandera.polars as pa

    try:
        schema.validate(frame, lazy=True)
    except pa.errors.SchemaErrors as err:
        return err.failure_cases
    return pl.DataFrame(
        schema={
            "failure_case": pl.String,
            "column": pl.String,
            "check": pl.String,
            "index": pl.Int32,
        }
    )


def _failed(rule: RowRule) -> pl.Expr:
    """True where a row breaks ``rule`` (see ``quality.rules``)."""
    c = pl.col(rule.column)
    if rule.kind == "not_null":
        return c.is_null()
    broken = {
        "ge": lambda: ~(c >= rule.arg),  # negated, not flipped: NaN fails as in pandera
        "le": lambda: ~(c <= rule.arg),
        "gt": lambda: ~(c > rule.arg),
        "lt": lambda: ~(c < rule.arg),
        "isin": lambda: ~c.is_in(rule.arg),
        "regex": lambda: ~c.str.contains(rule.arg),
        "str_length_max": lambda: c.str.len_chars() > rule.arg,
    }[rule.kind]()
    return c.is_not_null() & broken


def _empty_bad(frame: pl.DataFrame) -> pl.DataFrame:
    return frame.head(0).with_columns(
        pl.lit(None, pl.String).alias("__column"), pl.lit(None, pl.String).alias("__reason")
    )


def split_valid(frame: pl.DataFrame, spec: TableSpec) -> tuple[pl.DataFrame, pl.DataFrame]:
    """``(good, bad)``; see the module docstring."""
    rules = row_rules(spec, frame.columns)
    if not rules or frame.height == 0:
        return frame, _empty_bad(frame)
    fails = [_failed(r).fill_null(False) for r in rules]
    broken = frame.select(pl.any_horizontal(fails))[:, 0]
    if not broken.any():  # the usual case: no reason text built for every row
        return frame, _empty_bad(frame)
    good, failing = frame.filter(~broken), frame.filter(broken)
    reasons = [
        pl.when(f).then(
            pl.lit(f"{r.column}: {r.label} failed for ")
            + pl.col(r.column).cast(pl.String).fill_null("null")
        )
        for r, f in zip(rules, fails, strict=True)
    ]
    first = pl.coalesce(
        [pl.when(f).then(pl.lit(r.column)) for r, f in zip(rules, fails, strict=True)]
    )
    bad = failing.with_columns(
        first.alias("__column"),
        pl.concat_str(reasons, separator="; ", ignore_nulls=True).alias("__reason"),
    )
    return good, bad


def split_valid_pandera(frame: pl.DataFrame, spec: TableSpec) -> tuple[pl.DataFrame, pl.DataFrame]:
    """``split_valid`` computed by pandera's row-level schema (the reference implementation)."""
    from lakehouse.quality.schemas import table_schema

    cases = failure_cases(frame, table_schema(spec, row_level=True))
    row_cases = cases.filter(pl.col("index").is_not_null())
    if row_cases.height == 0:
        return frame, _empty_bad(frame)
    reasons = (
        row_cases.with_columns(
            (
                pl.col("column")
                + ": "
                + pl.col("check")
                + " failed for "
                + pl.col("failure_case").cast(pl.String).fill_null("null")
            ).alias("r")
        )
        .group_by("index", maintain_order=True)
        .agg(
            pl.col("column").first().alias("__column"), pl.col("r").str.join("; ").alias("__reason")
        )
    )
    indexed = frame.with_row_index("__i")
    bad = indexed.join(
        reasons,
        left_on="__i",
        right_on=pl.col("index").cast(pl.UInt32),
        how="inner",
        maintain_order="left",
    ).drop("__i", "index", strict=False)
    good = indexed.filter(~pl.col("__i").is_in(reasons["index"].cast(pl.UInt32).implode())).drop(
        "__i"
    )
    return good, bad


def failure_summary(cases: pl.DataFrame, sample: int = 10) -> dict:
    """Counts per (column, check) and a sample of failing values, for check metadata."""
    if cases.height == 0:
        return {"failures": 0}
    counts = cases.group_by("column", "check").len().sort("len", descending=True)
    return {
        "failures": cases.height,
        "by_check": {
            f"{r['column']}: {r['check']}": r["len"] for r in counts.iter_rows(named=True)
        },
        "sample": cases.head(sample)
        .select("column", "check", pl.col("failure_case").cast(pl.String), "index")
        .to_dicts(),
    }
