"""Every result of ``lakehouse query`` prints in every ``--format``: in CSV a nested value is its
JSON text, a binary one PostgreSQL's hex text (JSON too), an interval ISO 8601 text; a table is
printed as Polars shows it."""

from __future__ import annotations

import csv
import io
import json

import pytest

from lakehouse.cli import main
from lakehouse_tests.catalog import test_tenant_isolation as tenants_case

lake = tenants_case.lake  # two tenants' silver, bronze and gold tables

NESTED = (
    "SELECT 1 AS id, [1, 2] AS l, {'a': 1, 'b': [DATE '2024-01-31']} AS s, "
    "[1.50::DECIMAL(10,2)] AS d, ['a,\"b'] AS q, NULL::INT[] AS n, "
    "from_hex('00ff') AS bin, [from_hex('0a')] AS bins"
)
INTERVALS = "SELECT INTERVAL 3 DAY + INTERVAL 2 HOUR AS i, INTERVAL 1 MONTH + INTERVAL 3 DAY AS m"


@pytest.fixture
def env(lake, monkeypatch):
    monkeypatch.setenv("LAKEHOUSE_ROOT", str(lake.path))
    return lake


def _out(capsys, code: int) -> str:
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert "Traceback" not in captured.err
    return captured.out


def test_csv_writes_nested_values_as_json_text(env, capsys):
    text = _out(capsys, main(["query", "--format", "csv", NESTED]))
    (row,) = list(csv.DictReader(io.StringIO(text)))
    assert row["id"] == "1"
    assert json.loads(row["l"]) == [1, 2]
    assert json.loads(row["s"]) == {"a": 1, "b": ["2024-01-31"]}
    assert json.loads(row["d"]) == ["1.50"]  # a decimal's exact text
    assert json.loads(row["q"]) == ['a,"b']
    assert row["n"] == ""  # NULL, as any NULL in the CSV
    assert row["bin"] == "\\x00ff"
    assert json.loads(row["bins"]) == ["\\x0a"]


def test_csv_of_show_all_tables(env, capsys):
    """DuckDB's SHOW ALL TABLES has list columns (column_names, column_types)."""
    text = _out(capsys, main(["query", "--format", "csv", "SHOW ALL TABLES"]))
    rows = list(csv.DictReader(io.StringIO(text)))
    customers = next(r for r in rows if (r["schema"], r["name"]) == ("silver", "core_customer"))
    assert "tenant_id" in json.loads(customers["column_names"])
    assert len(json.loads(customers["column_types"])) == len(json.loads(customers["column_names"]))


def test_json_keeps_nested_values_and_writes_binary_as_hex_text(env, capsys):
    (row,) = json.loads(_out(capsys, main(["query", "--format", "json", NESTED])))
    assert row["l"] == [1, 2] and row["s"]["a"] == 1 and row["n"] is None
    assert row["bin"] == "\\x00ff"
    assert json.loads(row["bins"]) == ["\\x0a"]  # Polars cannot write binary inside JSON


def test_a_table_shows_nested_values_as_polars_does(env, capsys):
    text = _out(capsys, main(["query", "SELECT [1, 2] AS l"]))
    assert "[1, 2]" in text and text.rstrip().endswith("(1 row)")


def test_intervals_print_in_every_format(env, capsys):
    """Without months an interval is a duration (ISO 8601 as Polars writes it in JSON), with
    months PostgreSQL's iso_8601 text."""
    table = _out(capsys, main(["query", INTERVALS]))
    assert "3d 2h" in table and "P1M3D" in table and table.rstrip().endswith("(1 row)")
    text = _out(capsys, main(["query", "--format", "csv", INTERVALS]))
    assert list(csv.DictReader(io.StringIO(text))) == [{"i": "P3DT2H", "m": "P1M3D"}]
    (row,) = json.loads(_out(capsys, main(["query", "--format", "json", INTERVALS])))
    assert row == {"i": "PT266400S", "m": "P1M3D"}  # 3 days 2 hours in seconds


def test_intervals_from_a_lake_tables_timestamps_print_in_every_format(env, capsys):
    """Both tenants were created at 2024-01-01 00:00 UTC (test_tenant_isolation)."""
    sql = (
        "SELECT name, created_at - TIMESTAMP '2023-11-30 22:00:00 UTC' AS since, "
        "age(created_at, TIMESTAMP '2023-10-30 00:00:00 UTC') AS age "
        "FROM silver.tenants ORDER BY name"
    )
    table = _out(capsys, main(["query", sql]))
    assert "31d 2h" in table and "P2M2D" in table and table.rstrip().endswith("(2 rows)")
    text = _out(capsys, main(["query", "--format", "csv", sql]))
    assert list(csv.DictReader(io.StringIO(text))) == [
        {"name": name, "since": "P31DT2H", "age": "P2M2D"} for name in ("Acme", "Globex")
    ]
    rows = json.loads(_out(capsys, main(["query", "--format", "json", sql])))
    seconds = (31 * 24 + 2) * 3600
    assert [(r["since"], r["age"]) for r in rows] == [(f"PT{seconds}S", "P2M2D")] * 2
    tenant_sql = sql.replace("silver.tenants", "tenants")
    text = _out(capsys, main(["query", "--tenant", "acme", "--format", "csv", tenant_sql]))
    assert list(csv.DictReader(io.StringIO(text))) == [
        {"name": "Acme", "since": "P31DT2H", "age": "P2M2D"}
    ]
