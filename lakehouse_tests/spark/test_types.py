"""Every registry logical type on Spark: ``spark_type`` holds what ``registry.types`` stores
(the same Arrow data round-trips through a Spark DataFrame of ``spark_schema``), and
``cast_text`` parses DMS text to the values ``registry.casting`` gives."""

from __future__ import annotations

import polars as pl
import pytest

from lakehouse.registry.casting import cast_to_registry
from lakehouse.registry.model import LOGICAL_TYPES, Column
from lakehouse.registry.types import polars_dtype
from lakehouse_tests.spark.helpers import to_polars

pytestmark = pytest.mark.xdist_group("spark")

#: DMS text of each logical type (what the replicator writes), None for NULL
TEXT = {
    "smallint": ["-32768", "7", None],
    "int": ["2147483647", "-1", None],
    "bigint": ["-9223372036854775808", "0", None],
    "real": ["3.4028235e+38", "-1.5", None],
    "double": ["1e308", "-0.25", None],
    "decimal": ["123456789012345678901234567890.12345678", "-0.5", None],
    "money": ["-92233720368547758.08", "1234.50", None],
    "bool": ["true", "false", None],
    "string": ["ab   ", 'q "x", \n y', None],
    "uuid": ["a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11", "00000000-0000-0000-0000-000000000000", None],
    "json": ['{"a": [1, 2]}', "null", None],
    "inet": ["192.168.0.1/24", "::1", None],
    "date": ["1969-07-20", "0001-01-01", None],
    "timestamp": ["1900-01-01 00:00:00.000001", "2024-02-29 23:59:59.5", None],
    "timestamptz": ["1950-06-15 19:30:00.000000", "2038-01-19 03:14:08", None],
    "bytes": ["\\x00ff10", "\\x", None],
    "time": ["23:59:59.999999", "00:00:00", None],
    "timetz": ["12:00:00+05:30", "00:00:00-14:59", None],
    "interval": ["1 year 2 mons 3 days 04:05:06.789", "-1 days +02:03:00", None],
    "numeric": ["-0.000000000000000000000000000001", "NaN", None],
}


def _columns() -> list[Column]:
    return [
        Column(f"c_{t}", "decimal(38,8)" if t == "decimal" else t, nullable=True)
        for t in LOGICAL_TYPES
    ]


def test_every_logical_type_has_text_samples():
    assert sorted(TEXT) == sorted(LOGICAL_TYPES)


def test_spark_types_hold_the_lake_values_and_cast_text_agrees(spark):
    from pyspark.sql import functions as F

    from lakehouse.engine.spark.types import cast_text, spark_schema

    columns = _columns()
    text = pl.DataFrame({c.name: pl.Series(TEXT[c.name[2:]], dtype=pl.String) for c in columns})
    typed, rejects = cast_to_registry(text, columns)
    assert rejects.height == 0, rejects["__reason"].to_list()
    typed = typed.drop("__row")
    assert typed.schema == {c.name: polars_dtype(c.type) for c in columns}

    # the lake's values in a DataFrame of spark_schema, back to Polars unchanged
    frame = spark.createDataFrame(typed.rows(), spark_schema(columns))
    assert to_polars(frame).rows() == typed.rows()

    # DMS text cast by Spark gives the values the local engine gives
    sdf = spark.createDataFrame(text.rows(), ", ".join(f"{c.name} string" for c in columns))
    cast = sdf.select(*(cast_text(F.col(c.name), c.type).alias(c.name) for c in columns))
    assert cast.schema == spark_schema(columns)
    assert to_polars(cast).rows() == typed.rows()


#: texts on which ``registry.casting`` decides something: thousands groupings valid and not,
#: ``$`` and signs, rounding half away from zero, exponents, overflow; PostgreSQL's infinities,
#: BC and after-9999 dates and instants; formats the local cast does not read
EDGE_TEXT = {
    "decimal(10,2)": [
        "1,234.50", "12,000", "1,234,567.891", "-$1,234.505", "$-0.005", "+$5", "1,5", "1.234,56",
        "12,34", ",123", "1,,234", "0,123", "12.345", "-12.345", "-0.001", "0.005", "1.", ".5",
        "-.5", "1.5e3", "1E-3", "5e-3", "-1e-50", "1e40", "99999999.995", "99999999.994",
        " 7.5 ", "$", "-", "", "abc", "1 000", "1_000", "12.3.4", "\u0661\u0662", "+-5", "$$5",
    ],
    "money": ["-$92,233,720,368,547,758.08", "$1,234.567", "1,234.565", "(5.00)", "USD 5"],
    "decimal(38,38)": ["0.1", "0." + "1" * 38, "0." + "1" * 39, "1", "-0.5e-1"],
    "date": [
        "2024-02-29", "0001-01-01", "9999-12-31", "infinity", "+infinity", "-infinity",
        "Infinity", "0044-03-15 BC", "10000-01-01", "2024-02-30", "2024-1-5", "2024",
        "2024-01-01 12:00:00", "20240101", " 2024-01-01 ", "\t2024-01-01\n", "24-01-01",
        "+0999-1-1", "-0001-01-01", "0000-01-01", "0000-02-29", "2024-01-01Z",
    ],
    "timestamptz": [
        "2024-01-01 12:00:00", "2024-01-01T12:00:00.5", "2024-01-01 12:00:00+02",
        "2024-01-01 12:00:00+0230", "2024-01-01T12:00:00-05:00", "2024-01-01 12:00:00Z",
        "2024-01-01", "infinity", "-infinity", "0044-03-15 10:00:00+00 BC", "0044-03-15 BC",
        "10000-01-01 00:00:00", "2024-01-01 25:00:00", "2024-01-01 12:00", "2024",
        "2024-01-01 12:00:00.1234567", "2024-1-1 1:2:3", "2024-01-01 12:00:00  +02",
        "2024-01-01T12:00:00 Z", "2024-01-01 12:00:00.1234567891", "2024-01-01 12:00:00-1400",
        "2024-01-01 12:00:00z", "9999-12-31 23:00:00-05:00", "0001-01-01 00:00:00+05:00",
        "2024-01-01 12:00:00+24", "2024-01-01t12:00:00", "-0001-06-01 12:00:00",
    ],
}  # fmt: skip


@pytest.mark.parametrize("logical", sorted(EDGE_TEXT))
def test_cast_text_gives_the_local_cast_on_its_edge_texts(spark, logical):
    """Value for value: Spark's ``cast_text`` and ``registry.casting`` on the same texts (a
    value the local cast rejects is null in Spark)."""
    from pyspark.sql import functions as F

    from lakehouse.engine.spark.types import cast_text

    texts = EDGE_TEXT[logical]
    column = Column("v", logical, nullable=True)
    frame = pl.DataFrame(
        {"i": range(len(texts)), "v": texts}, schema={"i": pl.Int64, "v": pl.String}
    )
    typed, _ = cast_to_registry(frame, [column])
    local = dict(zip(frame["i"], [None] * len(texts), strict=True))
    local.update(dict(zip(typed["i"], typed["v"], strict=True)))
    sdf = spark.createDataFrame(frame.rows(), "i long, v string")
    got = to_polars(sdf.select("i", cast_text(F.col("v"), logical).alias("v"))).sort("i")
    assert dict(zip(texts, got["v"], strict=True)) == {t: local[i] for i, t in enumerate(texts)}
