"""INTERVAL results through ``run_query`` (``lakehouse query``'s formats: test_cli_output): an interval without months is a
Polars ``Duration`` (exact), one with months is text in PostgreSQL's ``iso_8601`` style. The
lake is ``test_sql``'s saas lake; expected values are computed in plain Python from its rows."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import polars as pl
import pytest

from lakehouse.query import run_query
from lakehouse.query.intervals import iso8601
from lakehouse_tests.query import test_sql as sql_case

data = sql_case.data
lake = sql_case.lake
con = sql_case.con

LITERALS = "SELECT INTERVAL 3 DAY + INTERVAL 2 HOUR AS i, INTERVAL 1 MONTH + INTERVAL 3 DAY AS m"
T0 = datetime(2024, 1, 1, tzinfo=UTC)


def test_an_interval_without_months_is_an_exact_duration(lake, con):
    frame = run_query("SELECT INTERVAL 3 DAY + INTERVAL 2 HOUR AS i", lake, con=con)
    assert frame.schema == pl.Schema({"i": pl.Duration("us")})
    assert frame["i"].item() == timedelta(days=3, hours=2)


def test_an_interval_with_months_is_postgres_iso_8601_text(lake, con):
    frame = run_query(LITERALS, lake, con=con, dialect="duckdb")
    assert frame.schema == pl.Schema({"i": pl.Duration("us"), "m": pl.String})
    assert frame.row(0) == (timedelta(days=3, hours=2), "P1M3D")


def test_intervals_from_a_lake_tables_timestamps(lake, con, data):
    sql = (
        "SELECT id, order_date - TIMESTAMP '2024-01-01 00:00:00 UTC' AS since, "
        "completed_at - order_date AS wait FROM silver.orders ORDER BY id"
    )
    frame = run_query(sql, lake, con=con)
    assert frame.schema["since"] == pl.Duration("us") == frame.schema["wait"]
    orders = sorted(data["orders"], key=lambda o: o["id"])
    assert frame["since"].to_list() == [o["order_date"] - T0 for o in orders]
    expected_wait = [None if o["completed_at"] is None else timedelta(0) for o in orders]
    assert frame["wait"].to_list() == expected_wait


def test_ages_with_months_from_a_lake_table_are_text(lake, con, data):
    sql = (
        "SELECT id, age(created_at, TIMESTAMP '2024-01-01 00:00:00 UTC') AS age "
        "FROM silver.customers FOR VERSION AS OF 2 ORDER BY id"
    )  # the latest version, read through the time-travel path
    frame = run_query(sql, lake, con=con)
    assert frame.schema["age"] == pl.String
    customers = sorted(sql_case._current_customers(data), key=lambda c: c["id"])
    expected = []
    for c in customers:  # created in 2024 after T0: months, days and hours past January 1st
        when = c["created_at"]
        expected.append(iso8601(when.month - 1, when.day - 1, when.hour * 3_600_000_000))
    assert frame["age"].to_list() == expected
    assert any("M" in text.split("T")[0] for text in expected)  # some have months


def test_nested_and_null_intervals(lake, con):
    sql = (
        "SELECT [INTERVAL 1 DAY, NULL] AS l, {'a': INTERVAL 14 MONTH, 'n': 1} AS s, "
        "NULL::INTERVAL AS n, MAP {'k': INTERVAL 90 MINUTE} AS mp"
    )
    frame = run_query(sql, lake, con=con, dialect="duckdb")
    assert frame.schema["l"] == pl.List(pl.Duration("us"))
    assert frame.schema["n"] == pl.Duration("us")
    assert frame.row(0)[:3] == ([timedelta(days=1), None], {"a": "P1Y2M", "n": 1}, None)
    assert frame["mp"].to_list()[0] == {"k": timedelta(minutes=90)}


@pytest.mark.parametrize(
    ("parts", "text"),
    [
        ((0, 0, 0), "PT0S"),
        ((14, 3, 0), "P1Y2M3D"),
        ((-14, 3, -(4 * 3600 + 5 * 60 + 6) * 1_000_000 - 250_000), "P-1Y-2M3DT-4H-5M-6.25S"),
        ((1, 0, 1), "P1MT0.000001S"),
        ((0, 0, 3_600_000_000), "PT1H"),
    ],
)
def test_iso8601_matches_postgres_interval_style(parts, text):
    assert iso8601(*parts) == text


def test_repeated_column_names_are_made_unique_as_without_intervals(lake, con):
    plain = run_query("SELECT 1 AS a, 2 AS a, 3 AS a_1, 4 AS A", lake, con=con)
    frame = run_query("SELECT INTERVAL 1 DAY AS a, 2 AS a, 3 AS a_1, 4 AS A", lake, con=con)
    assert frame.columns == plain.columns == ["a", "a_1", "a_1_1", "A_2"]
    assert frame.row(0) == (timedelta(days=1), 2, 3, 4)
