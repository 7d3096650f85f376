"""Row rules (quarantine) and PII standardisation: the Spark engine says exactly what the local
engine (pandera, Polars) says, value for value, on rows made to break every kind of rule."""

from __future__ import annotations

from decimal import Decimal

import polars as pl
import pytest

from lakehouse.engine.pii import standardize_pii
from lakehouse.engine.spark import pii as spark_pii
from lakehouse.engine.spark import quarantine as spark_q
from lakehouse.quality.validate import split_valid
from lakehouse.registry import Column, TableSpec
from lakehouse_tests.spark.helpers import assert_same, to_spark

pytestmark = pytest.mark.xdist_group("spark")

SPEC = TableSpec(
    dataset="t",
    name="rules",
    columns=(
        Column("id", "int", nullable=False),
        Column("qty", "int", checks={"ge": 0, "le": 10}),
        Column("code", "string", nullable=False, checks={"str_length_max": 3, "regex": r"\d{2}$"}),
        Column("status", "string", checks={"isin": ["new", "done"]}),
        Column("price", "decimal(10,2)", checks={"gt": 0, "lt": 5}),
        Column("email", "string", pii="email"),
        Column("phone", "string", pii="phone"),
    ),
    primary_key=("id",),
)
ROWS = [
    (1, -1, "12", "new", Decimal("1"), "  Jane.Doe@Example.COM \t", "(555) 123-4567 x89"),
    (2, 5, "1234", "gone", None, "\u00a0a@b.c\u2003", "+1 (555) 000+1111"),
    (None, None, None, None, Decimal("0"), None, None),
    (4, 11, "ab", "done", Decimal("7"), "X@Y.Z", "++44 20 7946 0958"),
    (5, 3, "99", None, Decimal("2"), "", "555.123.4567"),
    (6, 0, "007", "new", Decimal("4.99"), "ok@x.io", "1+2+3"),
]


def _frame() -> pl.DataFrame:
    schema = {
        "id": pl.Int32,
        "qty": pl.Int32,
        "code": pl.String,
        "status": pl.String,
        "price": pl.Decimal(10, 2),
        "email": pl.String,
        "phone": pl.String,
    }
    frame = pl.DataFrame(ROWS, schema=schema, orient="row")
    return frame.with_columns(
        pl.lit("raw/f.csv").alias("_source_file"),
        pl.int_range(1, frame.height + 1, dtype=pl.Int64).alias("_source_row"),
    )


def test_row_rules_quarantine_the_same_rows_with_the_same_reasons(spark):
    frame = _frame()
    good, bad = split_valid(frame, SPEC)
    sgood, sbad = spark_q.split_valid(to_spark(spark, frame), SPEC)
    assert bad.height == 5 and good.height == 1  # "007" breaks ^\d{2}$
    assert_same(sbad, bad, ["_source_row"], "quarantined rows")
    assert_same(sgood, good, ["_source_row"], "valid rows")
    rows = spark_q.quarantine_rows(sbad, "silver", __import__("datetime").datetime(2024, 1, 1))
    assert rows.columns == [
        "_stage",
        "_source_file",
        "_source_row",
        "_column",
        "_reason",
        "_raw",
        "_quarantined_at",
    ]


def test_pii_standardisation_matches_polars(spark):
    frame = _frame()
    assert_same(
        spark_pii.standardize_pii(to_spark(spark, frame), SPEC),
        standardize_pii(frame, SPEC),
        ["_source_row"],
        "standardised PII",
    )


def test_quarantine_entries_already_recorded_are_not_written_again(spark):
    """A re-run of a batch (died before its checkpoint) finds its entries in quarantine: only
    entries not recorded yet are appended, nulls equal (a whole-file entry has no row)."""
    from datetime import datetime

    from lakehouse.engine.core.quarantine import IDENTITY

    assert spark_q.IDENTITY == IDENTITY  # one identity for both engines (engine.core)
    _, sbad = spark_q.split_valid(to_spark(spark, _frame()), SPEC)
    rows = spark_q.quarantine_rows(sbad, "silver", datetime(2024, 1, 2))
    assert spark_q.not_yet_recorded(rows, None).count() == 5  # no table yet: all of them
    first_two = rows.orderBy("_source_row").limit(2)
    whole_file = spark.createDataFrame(
        [("silver", None, None, None, "unreadable", "{}", datetime(2024, 1, 1))], rows.schema
    )
    recorded = first_two.unionByName(whole_file)
    left = spark_q.not_yet_recorded(rows.unionByName(whole_file), recorded)
    assert left.columns == rows.columns
    assert sorted(r["_source_row"] for r in left.collect()) == sorted(
        r["_source_row"] for r in rows.orderBy("_source_row").collect()[2:]
    )  # the two recorded rows and the recorded whole-file entry (null row, null file) are gone
    from pyspark.sql import functions as F

    other_stage = recorded.withColumn("_stage", F.lit("bronze"))
    assert spark_q.not_yet_recorded(rows, other_stage).count() == 5  # another stage's entries
