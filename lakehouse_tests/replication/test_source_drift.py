"""Source DDL while CDC runs, against the declaration: an added column, a dropped one and a
widened type are each reported once, naming the table, the column, both types and the fix;
the replication goes on (the added column reaches raw; a widened type is applied in place
without a declaration, ``registry.widened``; the values another changed type cannot hold are
quarantined by bronze with their reason)."""

from __future__ import annotations

import polars as pl
import psycopg
import pytest

from lakehouse.registry.model import Column, TableSpec
from lakehouse.replication.replicator import Replicator
from lakehouse.storage import LocalLake

pytestmark = pytest.mark.integration

DECLARED = TableSpec(
    dataset="drift",
    name="items",
    columns=(
        Column("id", "int", nullable=False),
        Column("v", "int"),
        Column("old", "string"),
        Column("z", "int"),
    ),
    primary_key=("id",),
    schema="public",
)


def test_columns_added_dropped_or_widened_at_the_source_are_reported_once(
    fresh_db, tmp_path, monkeypatch
):
    from dataclasses import replace

    from lakehouse_tests.replication.test_table_set import _task

    with psycopg.connect(fresh_db, autocommit=True) as conn:
        conn.execute("create table items (id int primary key, v int, old text, z int)")
        conn.execute("insert into items values (1, 1, 'a', 1)")
    task = replace(_task(fresh_db, ("items",)), name="drift",
                   registry={"public.items": DECLARED})  # fmt: skip
    lake = LocalLake(tmp_path / "lake")
    assert Replicator(task, lake).run().warnings == []
    with psycopg.connect(fresh_db, autocommit=True) as conn:
        conn.execute("alter table items add column w text")
        conn.execute("alter table items drop column old")
        conn.execute("alter table items alter column v type bigint")
        conn.execute("alter table items alter column z type text")
        conn.execute("insert into items (id, v, w, z) values (2, 5000000000, 'x', 'abc')")
    fix = "fix: run `lakehouse discover drift` to update the declaration"
    drifted = Replicator(task, lake).run().warnings
    assert drifted == [
        f"public.items: source column 'w' (string) is not declared: it reaches raw, bronze and"
        f" silver as text, its type unchecked; rows the source has not changed since keep it"
        f" NULL (a DEFAULT filling them, or a RENAME, is not streamed) — {fix}; `lakehouse"
        f" resync --dataset drift --table public.items` copies the rows' current values",
        f"public.items: declared column 'old' is gone from the source: silver keeps it, NULL"
        f" from now on — {fix} (or keep it)",
        f"public.items: column 'z' is string at the source but declared int: values the"
        f" declared type cannot hold go to quarantine — {fix}",
        "public.items: column 'v' is bigint at the source but declared int: a widening,"
        " applied in place (bronze, silver, its history and tombstones) — to pin it: run"
        " `lakehouse discover drift`",
    ]
    cdc = [o.key for o in lake.list("raw/database/public/items/") if "LOAD" not in o.key]
    assert cdc and b"5000000000,abc,x" in lake.read_bytes(cdc[-1])
    assert Replicator(task, lake).run().warnings == []  # said once
    from lakehouse.replication import schema_history

    history = schema_history.read(lake, "drift")
    assert [e["change"] for e in history["public.items"]] == [
        w.removeprefix("public.items: ") for w in drifted
    ]
    assert all(e["at"].endswith("+00:00") for e in history["public.items"])
    # the raw asset's materialization shows it (newest last)
    from types import SimpleNamespace

    from lakehouse.defs.raw import _raw_results
    from lakehouse.registry.model import DatasetSpec

    quiet = SimpleNamespace(log=SimpleNamespace(info=lambda *_: None))
    stats = Replicator(task, lake).stats
    (result,) = _raw_results(quiet, DatasetSpec("drift", (DECLARED,)), stats, history)
    assert result.metadata["schema_history"].value == history["public.items"]
    from lakehouse.engine.bronze import ingest
    from lakehouse.engine.silver import apply_changes, read_silver

    with psycopg.connect(fresh_db, autocommit=True) as conn:
        conn.execute("insert into items (id, v, w, z) values (3, 3, 'y', '3')")
    Replicator(task, lake).run()
    bronze = ingest(lake, DECLARED, task.settings)
    assert bronze.quarantined == 1  # 'abc' is no int; 5000000000 is a bigint, as recorded
    apply_changes(lake, DECLARED)
    silver = read_silver(lake, DECLARED)
    assert dict(silver.select("id", "w").iter_rows()) == {1: None, 3: "y"}
    assert silver.schema["w"] == pl.String and silver.schema["old"] == pl.String
    assert silver.schema["v"] == pl.Int64


def _create_narrow(dsn: str) -> None:
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("create table items (id int primary key, v int, s varchar(5),"
                     " n numeric(6,2), t timestamp)")  # fmt: skip
        conn.execute("insert into items values (1, 1, 'a', 1.50, '2024-01-01 10:00'),"
                     " (2, 2, 'b', 2.50, '2024-01-02 10:00')")  # fmt: skip


def _widen_every_kind(dsn: str) -> None:
    """A delete, then int→bigint (key and column), varchar(5)→varchar(50), numeric(6,2)→
    numeric(12,2), timestamp→timestamptz, and rows only the wider types hold."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("delete from items where id = 2")
        conn.execute("alter table items alter column id type bigint, alter column v type bigint,"
                     " alter column s type varchar(50), alter column n type numeric(12,2),"
                     " alter column t type timestamptz")  # fmt: skip
        conn.execute("insert into items values (5000000000, 5000000000, 'a longer text',"
                     " 1234567.25, '2024-02-01 10:00+00')")  # fmt: skip
        conn.execute("update items set n = 99999.99 where id = 1")


def test_types_widened_at_the_source_widen_bronze_silver_and_history_in_place(fresh_db, tmp_path):
    """int→bigint on the key and a column, numeric(6,2)→numeric(12,2), varchar(5)→varchar(50),
    timestamp→timestamptz while CDC runs; once the declaration says so (``discover``), bronze,
    silver, its SCD2 history and tombstones are widened in place: the rows already there are
    kept, the wide values land, nothing in quarantine; a later delete of a wide key applies."""
    from dataclasses import replace

    from lakehouse.engine.bronze import ingest
    from lakehouse.engine.core.keys import history_key, quarantine_key
    from lakehouse.engine.delta import open_table
    from lakehouse.engine.silver import apply_changes, read_silver
    from lakehouse.source.discovery import discover_one
    from lakehouse_tests.replication.test_table_set import _task

    _create_narrow(fresh_db)
    lake = LocalLake(tmp_path / "lake")
    task = _task(fresh_db, ("items",))

    def step() -> TableSpec:
        Replicator(task, lake).run()
        with psycopg.connect(fresh_db) as conn:
            spec = replace(discover_one(conn, "public", "items", "t").spec, scd_type=2)
        ingest(lake, spec, task.settings)
        apply_changes(lake, spec)
        return spec

    step()
    _widen_every_kind(fresh_db)
    spec = step()
    assert [spec.column(c).type for c in ("id", "v", "n", "t")] == [
        "bigint", "bigint", "decimal(12,2)", "timestamptz"]  # fmt: skip
    assert open_table(lake, quarantine_key("items")) is None
    with psycopg.connect(fresh_db, autocommit=True) as conn:
        conn.execute("delete from items where id = 5000000000")
        conn.execute("insert into items values (7, 7, 'x', 0, now())")
    spec = step()
    with psycopg.connect(fresh_db) as conn:
        source = sorted(conn.execute("select id, v, s, n from items").fetchall())
    silver = read_silver(lake, spec)
    assert sorted(silver.select("id", "v", "s", "n").iter_rows()) == source
    assert silver.schema["n"] == pl.Decimal(12, 2) and silver.schema["id"] == pl.Int64
    history = pl.from_arrow(open_table(lake, history_key("items")).to_pyarrow_table())
    assert history.schema["n"] == pl.Decimal(12, 2)
    assert sorted(history.filter(pl.col("id") == 1)["n"].cast(pl.String).to_list()) == [
        "1.50", "99999.99"]  # fmt: skip


def test_types_widened_at_the_source_flow_without_a_declaration(fresh_db, tmp_path):
    """The same widenings with the declaration left as it was (no ``discover``): the replicator
    records them (``registry.widened``) before it writes the rows, so bronze casts to the wider
    types, silver, its SCD2 history and tombstones widen in place, nothing goes to quarantine,
    silver equals the source, and the schema check passes on the widened table."""
    from lakehouse.defs.checks import silver_schema_result
    from lakehouse.engine.bronze import ingest
    from lakehouse.engine.core.keys import history_key, quarantine_key
    from lakehouse.engine.delta import open_table
    from lakehouse.engine.silver import apply_changes, read_silver
    from lakehouse.registry import widened
    from lakehouse.source.discovery import discover_one
    from lakehouse_tests.replication.test_table_set import _task

    _create_narrow(fresh_db)
    with psycopg.connect(fresh_db) as conn:
        spec = discover_one(conn, "public", "items", "t").spec
    from dataclasses import replace

    declared = replace(spec, scd_type=2)
    assert declared.column("s").checks["str_length_max"] == 5
    lake = LocalLake(tmp_path / "lake")
    task = replace(_task(fresh_db, ("items",)), registry={"public.items": declared})

    def step() -> None:
        Replicator(task, lake).run()
        ingest(lake, declared, task.settings)
        apply_changes(lake, declared)

    step()
    _widen_every_kind(fresh_db)
    step()
    effective = widened.apply(lake, declared)
    assert [effective.column(c).type for c in ("id", "v", "n", "t")] == [
        "bigint", "bigint", "decimal(12,2)", "timestamptz"]  # fmt: skip
    assert effective.column("s").checks["str_length_max"] == 50
    assert open_table(lake, quarantine_key("items")) is None
    with psycopg.connect(fresh_db, autocommit=True) as conn:
        conn.execute("delete from items where id = 5000000000")
        conn.execute("insert into items values (7, 7, 'x', 0, now()), (8, 8, 'y', 1, now())")
    step()
    with psycopg.connect(fresh_db) as conn:
        source = sorted(conn.execute("select id, v, s, n from items").fetchall())
    silver = read_silver(lake, declared)
    assert sorted(silver.select("id", "v", "s", "n").iter_rows()) == source
    assert silver.schema["n"] == pl.Decimal(12, 2) and silver.schema["id"] == pl.Int64
    history = pl.from_arrow(open_table(lake, history_key("items")).to_pyarrow_table())
    assert history.schema["n"] == pl.Decimal(12, 2)
    assert silver_schema_result(lake, effective, None).passed
    # the declaration alone: int32 expected
    assert not silver_schema_result(lake, declared, None).passed
    # once declared (``discover``), the record changes nothing
    with psycopg.connect(fresh_db) as conn:
        now_declared = discover_one(conn, "public", "items", "t").spec
    assert widened.apply(lake, now_declared).columns == now_declared.columns


def test_a_column_added_as_text_takes_its_type_once_declared(fresh_db, tmp_path):
    """A column added at the source reaches the lake as text while undeclared; once declared
    (``discover``), bronze, silver and its SCD2 history are rewritten with its type, the values
    already there cast, and the rows that follow land typed (the schema check then passes)."""
    from dataclasses import replace

    from lakehouse.engine.bronze import ingest
    from lakehouse.engine.core.keys import bronze_key, history_key
    from lakehouse.engine.delta import open_table
    from lakehouse.engine.silver import apply_changes, read_silver
    from lakehouse.source.discovery import discover_one
    from lakehouse_tests.replication.test_table_set import _task

    with psycopg.connect(fresh_db, autocommit=True) as conn:
        conn.execute("create table items (id int primary key, v int)")
        conn.execute("insert into items values (1, 1), (2, 2)")
    lake = LocalLake(tmp_path / "lake")
    task = _task(fresh_db, ("items",))

    def declared() -> TableSpec:
        with psycopg.connect(fresh_db) as conn:
            return replace(discover_one(conn, "public", "items", "t").spec, scd_type=2)

    def step(spec: TableSpec) -> None:
        Replicator(task, lake).run()
        ingest(lake, spec, task.settings)
        apply_changes(lake, spec)

    before = declared()
    step(before)
    with psycopg.connect(fresh_db, autocommit=True) as conn:
        conn.execute("alter table items add column tax numeric(6,2), add column at timestamptz")
        conn.execute("update items set tax = 1.50, at = '2024-01-02 03:04:05+02' where id = 1")
    step(before)  # undeclared: text
    assert read_silver(lake, before).schema["tax"] == pl.String
    after = declared()
    with psycopg.connect(fresh_db, autocommit=True) as conn:
        conn.execute("update items set tax = 2.50 where id = 2")
    step(after)
    silver = read_silver(lake, after).sort("id")
    assert silver.schema["tax"] == pl.Decimal(6, 2)
    assert silver.schema["at"] == pl.Datetime("us", "UTC")
    assert silver["tax"].cast(pl.String).to_list() == ["1.50", "2.50"]
    assert str(silver["at"][0]) == "2024-01-02 01:04:05+00:00"
    for key in (bronze_key("items"), history_key("items")):
        table = pl.from_arrow(open_table(lake, key).to_pyarrow_table())
        assert table.schema["tax"] == pl.Decimal(6, 2), key


def test_text_that_is_not_the_declared_type_stops_the_rewrite_naming_it(tmp_path):
    from deltalake import write_deltalake

    from lakehouse.engine.core.results import SchemaChangeError
    from lakehouse.engine.delta import open_table
    from lakehouse.engine.widening import widen

    lake = LocalLake(tmp_path / "lake")
    write_deltalake(lake.uri("silver/t"), pl.DataFrame({"id": [1, 2], "tax": ["1.5", "abc"]}))
    incoming = pl.DataFrame(schema={"id": pl.Int64, "tax": pl.Decimal(6, 2)}).to_arrow().schema
    with pytest.raises(SchemaChangeError, match=r"silver/t: column 'tax' .*'abc'.* — fix: "):
        widen(lake, "silver/t", incoming)
    assert open_table(lake, "silver/t").version() == 0  # nothing written
