"""``lakehouse init`` + ``lakehouse discover``: a declaration written from a real PostgreSQL
catalog and a landing folder, then drift seen with ``--check``."""

from __future__ import annotations

import psycopg
import pytest
import yaml

from lakehouse.cli import main
from lakehouse.commands.declare import proposed_table

pytestmark = pytest.mark.integration


def test_init_then_discover_pins_tables_and_csv_drops_and_check_sees_drift(
    fresh_db, tmp_path, monkeypatch, capsys
):
    with psycopg.connect(fresh_db, autocommit=True) as conn:
        conn.execute(
            "create table items (id int primary key, name varchar(40) not null, price numeric(8,2));"
            "create table events (at timestamptz, kind text);"  # no key
            "create table skipped_tmp (id int primary key);"
        )
    defs = tmp_path / "defs"
    monkeypatch.setenv("LAKEHOUSE_DEFS", str(defs))
    monkeypatch.setenv("LAKEHOUSE_ROOT", str(tmp_path / "lake"))
    monkeypatch.setenv("MINE_SOURCE_DSN", fresh_db)
    assert main(["init", "mine"]) == 0
    path = defs / "mine" / "defs.yaml"
    doc = yaml.safe_load(path.read_text())
    doc["attributes"]["sources"][0]["selection"].append(
        {"rule-action": "exclude", "schema-name": "public", "table-name": "skipped_%"}
    )
    landing = tmp_path / "landing"
    landing.mkdir()
    (landing / "prices-20240101.csv").write_text(
        "sku,amount,day\nA,1.50,2024-01-01\nB,2.25,2024-01-02\n"
    )
    doc["attributes"]["sources"].append({"kind": "csv_drop", "landing": str(landing)})
    doc["attributes"]["tables"] = [
        {"name": "events", "description": "declared by hand", "scd_type": 1,
         "columns": [{"name": "at", "type": "timestamptz"}]},
    ]  # fmt: skip
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    capsys.readouterr()

    assert main(["discover", "mine"]) == 0
    out = capsys.readouterr().out
    assert "postgres: items: new table (3 columns)" in out
    assert "postgres: events: new column 'kind' (string)" in out
    assert "csv_drop: prices: new table (3 columns)" in out
    tables = {t["name"]: t for t in yaml.safe_load(path.read_text())["attributes"]["tables"]}
    assert sorted(tables) == ["events", "items", "prices"]
    assert tables["items"]["primary_key"] == ["id"]
    assert tables["items"]["columns"] == [
        {"name": "id", "type": "int", "nullable": False},
        {"name": "name", "type": "string", "nullable": False, "checks": {"str_length_max": 40}},
        {"name": "price", "type": "decimal(8,2)"},
    ]
    assert tables["events"]["description"] == "declared by hand"  # a person's override is kept
    assert tables["prices"]["file_glob"] == "prices-*.csv"
    assert [c["type"] for c in tables["prices"]["columns"]] == ["string", "decimal(18,2)", "date"]

    assert "note: postgres: events: no primary key (unique candidates: none)" in out
    assert main(["discover", "mine", "--check"]) == 0  # pinned: no drift
    capsys.readouterr()
    assert main(["doctor", "mine"]) == 1  # events has no key: updates and deletes cannot replicate
    doctor = capsys.readouterr().out
    lines = doctor.splitlines()
    assert lines[0] == "ok    server: wal_level is logical"
    i = lines.index(
        "ERROR public.events: public.events has no primary key: it is captured insert-only, its"
        " updates and deletes are not replicated"
    )
    assert lines[i + 1] == (
        '      fix: ALTER TABLE "public"."events" ADD COLUMN lakehouse_id bigint GENERATED ALWAYS'
        " AS IDENTITY PRIMARY KEY;"
    )
    assert lines[-1] == "1 error(s), 2 warning(s)"
    with psycopg.connect(fresh_db, autocommit=True) as conn:
        conn.execute(
            "alter table items add column stock int; alter table items alter column name type text"
        )
    capsys.readouterr()
    assert main(["discover", "mine", "--check"]) == 1
    out = capsys.readouterr().out
    assert "items: new column 'stock' (int)" in out
    assert "no drift" not in out


def test_a_mistake_in_a_declaration_is_one_line_and_exit_2(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("LAKEHOUSE_DEFS", str(tmp_path))
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "defs.yaml").write_text(
        "type: lakehouse.components.Dataset\nattributes:\n  name: bad\n  sources: []\n"
    )
    assert main(["discover", "bad"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "sources: List should have at least 1 item" in err[0], err
    monkeypatch.delenv("LAKEHOUSE_DEFS")
    assert main(["discover", "nosuch"]) == 2
    assert "unknown dataset 'nosuch'" in capsys.readouterr().err


@pytest.mark.parametrize(
    "file_name, expected",
    [
        ("prices-20240101.csv", ("prices", "prices-*.csv")),
        ("Orders 2024.CSV", ("orders", "Orders *.CSV")),
        ("customers.csv", ("customers", "customers*.csv")),
        ("sales_orders_2024-01-02.csv", ("sales_orders", "sales_orders_*.csv")),
        ("sales[1].csv", ("sales_1", "sales[[]1]*.csv")),
        ("what?.csv", ("what", "what[?]*.csv")),
        ("a*b].csv", ("a_b", "a[*]b]*.csv")),
    ],
)
def test_an_unclaimed_file_is_proposed_as_a_table(file_name, expected):
    import fnmatch

    from lakehouse.declarations.tables import _glob_problem

    assert proposed_table(file_name) == expected
    glob = expected[1]
    # the glob matches the file itself, as bronze claims it, and the declaration accepts it
    assert fnmatch.fnmatch(file_name, glob) and _glob_problem(glob) is None


def test_a_table_name_in_two_schemas_is_declared_once_and_the_other_noted(
    fresh_db, tmp_path, monkeypatch, capsys
):
    with psycopg.connect(fresh_db, autocommit=True) as conn:
        conn.execute(
            "create schema sales;"
            "create table public.customers (id int primary key, name text);"
            "create table sales.customers (id int primary key, region text);"
        )
    monkeypatch.setenv("LAKEHOUSE_DEFS", str(tmp_path / "defs"))
    monkeypatch.setenv("LAKEHOUSE_ROOT", str(tmp_path / "lake"))
    monkeypatch.setenv("MINE_SOURCE_DSN", fresh_db)
    assert main(["init", "mine"]) == 0
    path = tmp_path / "defs" / "mine" / "defs.yaml"
    doc = yaml.safe_load(path.read_text())
    doc["attributes"]["sources"][0]["selection"].append(
        {"rule-action": "include", "schema-name": "sales", "table-name": "%"}
    )
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    capsys.readouterr()
    for _ in range(2):  # what discover writes loads: a second run works as well
        assert main(["discover", "mine"]) == 0
        out = capsys.readouterr().out
        (table,) = yaml.safe_load(path.read_text())["attributes"]["tables"]
        assert (table["name"], table.get("schema", "public")) == ("customers", "public")
        assert (
            "note: postgres: customers: sales.customers not declared: table 'customers' is"
            " public.customers (a table name is unique in a dataset) — fix: exclude it (selection:"
            " {rule-action: exclude, schema-name: sales, table-name: customers})"
        ) in out
    # a table declared from the other schema keeps that schema
    path.write_text(path.read_text().replace("primary_key: [id]", "schema: sales"))
    assert main(["discover", "mine"]) == 0
    (table,) = yaml.safe_load(path.read_text())["attributes"]["tables"]
    assert table["schema"] == "sales" and [c["name"] for c in table["columns"]] == ["id", "region"]
    out = capsys.readouterr().out
    assert "public.customers not declared: table 'customers' is sales.customers" in out


def test_a_varchar_length_changed_at_the_source_is_drift_and_pinned(
    fresh_db, tmp_path, monkeypatch, capsys
):
    with psycopg.connect(fresh_db, autocommit=True) as conn:
        conn.execute("create table d (id int primary key, name varchar(10), note varchar(5))")
    defs = tmp_path / "defs"
    monkeypatch.setenv("LAKEHOUSE_DEFS", str(defs))
    monkeypatch.setenv("LAKEHOUSE_ROOT", str(tmp_path / "lake"))
    monkeypatch.setenv("VW_SOURCE_DSN", fresh_db)
    assert main(["init", "vw"]) == 0
    assert main(["discover", "vw"]) == 0
    path = defs / "vw" / "defs.yaml"

    def checks() -> dict:
        (table,) = yaml.safe_load(path.read_text())["attributes"]["tables"]
        return {c["name"]: c.get("checks") for c in table["columns"]}

    assert checks() == {"id": None, "name": {"str_length_max": 10}, "note": {"str_length_max": 5}}
    with psycopg.connect(fresh_db, autocommit=True) as conn:
        conn.execute("alter table d alter column name type varchar(50)")
        conn.execute("alter table d alter column note type text")
    capsys.readouterr()
    assert main(["discover", "vw", "--check"]) == 1
    out = capsys.readouterr().out
    assert "d: column 'name' widened length 10 -> 50" in out
    assert "d: column 'note' widened length 5 -> unlimited" in out
    assert main(["discover", "vw"]) == 0
    assert checks() == {"id": None, "name": {"str_length_max": 50}, "note": None}
    capsys.readouterr()
    assert main(["discover", "vw", "--check"]) == 0  # pinned: no drift
