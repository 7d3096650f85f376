"""Source DDL while CDC runs, against the declaration: an added column, a dropped one and a
widened type are each reported once, naming the table, the column, both types and the fix;
the replication goes on (the added column reaches raw, the values the declared type cannot hold
are quarantined by bronze with their reason)."""

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
    columns=(Column("id", "int", nullable=False), Column("v", "int"), Column("old", "string")),
    primary_key=("id",),
    schema="public",
)


def test_columns_added_dropped_or_widened_at_the_source_are_reported_once(
    fresh_db, tmp_path, monkeypatch
):
    from dataclasses import replace

    from lakehouse_tests.replication.test_table_set import _task

    with psycopg.connect(fresh_db, autocommit=True) as conn:
        conn.execute("create table items (id int primary key, v int, old text)")
        conn.execute("insert into items values (1, 1, 'a')")
    task = replace(_task(fresh_db, ("items",)), name="drift",
                   registry={"public.items": DECLARED})  # fmt: skip
    lake = LocalLake(tmp_path / "lake")
    assert Replicator(task, lake).run().warnings == []
    with psycopg.connect(fresh_db, autocommit=True) as conn:
        conn.execute("alter table items add column w text")
        conn.execute("alter table items drop column old")
        conn.execute("alter table items alter column v type bigint")
        conn.execute("insert into items values (2, 5000000000, 'x')")
    fix = "fix: run `lakehouse discover drift` to update the declaration"
    drifted = Replicator(task, lake).run().warnings
    assert drifted == [
        f"public.items: source column 'w' (string) is not declared: it reaches raw, bronze and"
        f" silver as text, its type unchecked — {fix}",
        f"public.items: declared column 'old' is gone from the source: silver keeps it, NULL"
        f" from now on — {fix} (or keep it)",
        f"public.items: column 'v' is bigint at the source but declared int: values the"
        f" declared type cannot hold go to quarantine — {fix}",
    ]
    cdc = [o.key for o in lake.list("raw/database/public/items/") if "LOAD" not in o.key]
    assert cdc and b"5000000000,x" in lake.read_bytes(cdc[-1])
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
        conn.execute("insert into items values (3, 3, 'y')")
    Replicator(task, lake).run()
    bronze = ingest(lake, DECLARED, task.settings)
    assert bronze.quarantined == 1  # 5000000000 is no int
    apply_changes(lake, DECLARED)
    silver = read_silver(lake, DECLARED)
    assert dict(silver.select("id", "w").iter_rows()) == {1: None, 3: "y"}
    assert silver.schema["w"] == pl.String and silver.schema["old"] == pl.String
