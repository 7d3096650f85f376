"""The set of tables of a running task changes: an added table is full-loaded alone while the
others keep streaming (concurrent writers on both, and a transaction open across the change that
must reach silver too; it does here whether or not the copy waits for older transactions, so the
wait itself is not what this proves); a removed table stops being captured and is loaded again
if it comes back."""

from __future__ import annotations

import threading
import time

import psycopg
import pytest

from lakehouse.engine.bronze import ingest
from lakehouse.engine.silver import apply_changes, read_silver
from lakehouse.replication.replicator import Replicator
from lakehouse.source.discovery import discover_one
from lakehouse.storage import LocalLake
from lakehouse_tests.replication.helpers import writing
from lakehouse_tests.replication.test_replicator import DEMO
from lakehouse_tests.replication.test_replicator import _task as _demo_task

pytestmark = pytest.mark.integration
#: one CDC batch per run (not one file per transaction): the writers commit hundreds of them
SETTINGS = DEMO.with_(CdcMaxBatchInterval=3600)


def _task(dsn, tables):
    return _demo_task(dsn, SETTINGS, tables=tables)


def _silver_equals_source(dsn: str, lake, tables) -> None:
    with psycopg.connect(dsn) as conn:
        for name in tables:
            spec = discover_one(conn, "public", name, "t").spec
            ingest(lake, spec, SETTINGS)
            apply_changes(lake, spec)
            source = sorted(conn.execute(f"select id, v from {name}").fetchall())
            silver = sorted(read_silver(lake, spec).select("id", "v").iter_rows())
            assert silver == source, name


def _items_and_late(n: int) -> list[tuple]:
    """One writer transaction: an update of ``items``, an insert, update and delete of ``late``."""
    return [
        ("update items set v = v + 1 where id = %s", (n % 2000 + 1,)),
        ("insert into late values (%s, %s)", (n, n)),
        ("update late set v = -v where id = %s", (n - 15000,)),
        ("delete from late where id = %s", (n - 19000,)),
    ]


def test_a_table_added_to_a_running_task_is_loaded_alone_while_the_others_stream(
    fresh_db, tmp_path
):
    with psycopg.connect(fresh_db, autocommit=True) as conn:
        conn.execute("create table items (id int primary key, v int)")
        conn.execute("insert into items select g, g from generate_series(1, 2000) g")
        conn.execute("create table late (id int primary key, v int)")
        conn.execute("insert into late select g, g from generate_series(1, 20000) g")
    lake = LocalLake(tmp_path / "lake")
    Replicator(_task(fresh_db, tables=("items",)), lake).run()
    items_load = {
        o.key: o.mtime for o in lake.list("raw/database/public/items/") if "LOAD" in o.key
    }

    def spanning():  # begins before the table joins the task, commits after
        with psycopg.connect(fresh_db) as conn:
            conn.execute("insert into late values (-1, -1)")
            conn.execute("update late set v = 0 where id = 5")
            time.sleep(1.5)
            conn.commit()

    span = threading.Thread(target=spanning)
    with writing(fresh_db, _items_and_late, start=20000, pause=0.005) as written:
        span.start()
        try:
            time.sleep(0.5)
            stats = Replicator(_task(fresh_db, tables=("items", "late")), lake).run()
            assert stats.full_load_rows.get("public.items", 0) == 0  # not loaded again
            assert stats.full_load_rows["public.late"] > 20000 - 1000
            time.sleep(0.5)
        finally:
            span.join()
    assert written["n"] > 0
    Replicator(_task(fresh_db, tables=("items", "late")), lake).run()
    after = {o.key: o.mtime for o in lake.list("raw/database/public/items/") if "LOAD" in o.key}
    assert after == items_load
    _silver_equals_source(fresh_db, lake, ("items", "late"))

    # removed: no longer captured; back again: loaded again (changes made while away included)
    Replicator(_task(fresh_db, tables=("items",)), lake).run()
    with psycopg.connect(fresh_db, autocommit=True) as conn:
        conn.execute("update late set v = 424242 where id = 7")
        conn.execute("delete from late where id = 8")
    stats = Replicator(_task(fresh_db, tables=("items",)), lake).run()
    assert "public.late" not in stats.full_load_rows
    stats = Replicator(_task(fresh_db, tables=("items", "late")), lake).run()
    assert stats.full_load_rows["public.late"] > 0
    _silver_equals_source(fresh_db, lake, ("items", "late"))


def test_a_source_table_the_rules_match_but_no_one_declared_is_reported_once(fresh_db, tmp_path):
    from dataclasses import replace

    with psycopg.connect(fresh_db, autocommit=True) as conn:
        conn.execute("create table items (id int primary key, v int)")
    lake = LocalLake(tmp_path / "lake")
    watch = ({"rule-action": "include", "schema-name": "public", "table-name": "%"},)
    task = replace(_task(fresh_db, ("items",)), name="w", watch_rules=watch)
    assert Replicator(task, lake).run().warnings == []
    with psycopg.connect(fresh_db, autocommit=True) as conn:
        conn.execute("create table newcomer (id int primary key)")
    warnings = Replicator(task, lake).run().warnings
    assert warnings == [
        "task 'w': source tables match the include rules but are not declared (not captured):"
        " ['public.newcomer'] — run `lakehouse discover w` to declare them; each is then loaded"
        " alone"
    ]
    assert Replicator(task, lake).run().warnings == []  # said once, not on every tick
    assert not lake.list("raw/database/public/newcomer/")


def test_a_new_source_table_the_rules_match_is_captured_alone_while_writers_run(fresh_db, tmp_path):
    from dataclasses import replace

    from lakehouse.registry import captured

    with psycopg.connect(fresh_db, autocommit=True) as conn:
        conn.execute("create table items (id int primary key, v int)")
        conn.execute("insert into items select g, g from generate_series(1, 500) g")
        conn.execute("create schema other; create table other.items (id int primary key, v int)")
        conn.execute("create table theirs (id int primary key)")  # another dataset declares it
    lake = LocalLake(tmp_path / "lake")
    watch = ({"rule-action": "include", "schema-name": "%", "table-name": "%"},)
    task = replace(_task(fresh_db, ("items",)), watch_rules=watch, capture_new=True,
                   reserved=frozenset({"theirs"}))  # fmt: skip
    task = replace(task, selection_rules=({"rule-action": "include", "schema-name": "public",
                                           "table-name": "items"},))  # fmt: skip
    first = Replicator(task, lake).run()
    assert first.warnings == [  # same lake name as a table of the task: reported, not captured
        "task 't': source tables match the include rules but are named like a table another"
        " dataset or this one has (not captured): ['other.items', 'public.theirs'] — run"
        " `lakehouse discover t`"
        " to declare"
        " them; each is then loaded alone"
    ]
    stop = threading.Event()

    def writer():
        with psycopg.connect(fresh_db, autocommit=True) as conn:
            conn.execute("create table fresh (id int primary key, v int)")
            n = 0
            while not stop.is_set():
                n += 1
                with conn.transaction():
                    conn.execute("update items set v = v + 1 where id = %s", (n % 500 + 1,))
                    conn.execute("insert into fresh values (%s, %s)", (n, n))
                    conn.execute("update fresh set v = -v where id = %s", (n // 2,))
                    conn.execute("delete from fresh where id = %s", (n - 40,))
                time.sleep(0.005)

    th = threading.Thread(target=writer)
    th.start()
    try:
        time.sleep(0.7)
        stats = Replicator(task, lake).run()
        assert stats.full_load_rows.get("public.items", 0) == 0  # not loaded again
        assert stats.full_load_rows["public.fresh"] > 0  # loaded alone
        time.sleep(0.5)
    finally:
        stop.set()
        th.join()
    Replicator(task, lake).run()
    record = captured.read(lake, "t")["public.fresh"]
    assert record == {
        "schema": "public", "name": "fresh", "primary_key": ["id"],
        "columns": [{"name": "id", "type": "int", "nullable": False},
                    {"name": "v", "type": "int", "nullable": True}],
    }  # fmt: skip
    _silver_equals_source(fresh_db, lake, ("items", "fresh"))


def test_two_tasks_whose_rules_match_one_new_table_capture_it_once(fresh_db, tmp_path):
    """Two datasets over one database, both including ``%``: the first replication to claim the
    new table's lake name captures it, the other reports it (never two owners of one raw
    folder and lake table)."""
    from dataclasses import replace

    from lakehouse.registry import captured

    with psycopg.connect(fresh_db, autocommit=True) as conn:
        conn.execute(
            "create table a_items (id int primary key); create table b_items (id int primary key)"
        )
    lake = LocalLake(tmp_path / "lake")
    watch = ({"rule-action": "include", "schema-name": "public", "table-name": "%"},)
    a = replace(_demo_task(fresh_db, SETTINGS, tables=("a_items",), name="a"),
                watch_rules=watch, capture_new=True)  # fmt: skip
    b = replace(_demo_task(fresh_db, SETTINGS, tables=("b_items",), name="b"),
                watch_rules=watch, capture_new=True)  # fmt: skip
    a = replace(a, reserved=frozenset({"b_items"}))
    b = replace(b, reserved=frozenset({"a_items"}))
    Replicator(a, lake).run()
    Replicator(b, lake).run()
    with psycopg.connect(fresh_db, autocommit=True) as conn:
        conn.execute("create table shared (id int primary key); insert into shared values (1)")
    Replicator(a, lake).run()
    warnings = Replicator(b, lake).run().warnings
    assert list(captured.read(lake, "a")) == ["public.shared"]
    assert captured.read(lake, "b") == {}
    assert "'public.shared'" in warnings[0] and "(not captured)" in warnings[0]
    assert captured.claim(lake, "a", "shared") and not captured.claim(lake, "b", "shared")


def test_a_prefixed_dataset_captures_by_its_lake_names(fresh_db, tmp_path):
    """With ``table_prefix`` the lake name of source table ``t`` is ``<prefix>t``: that is what
    must be free (another dataset's ``theirs`` does not stop ``crm_theirs``; its ``crm_taken``
    stops ``taken``)."""
    from dataclasses import replace

    from lakehouse.registry import captured

    with psycopg.connect(fresh_db, autocommit=True) as conn:
        conn.execute("create table items (id int primary key)")
    lake = LocalLake(tmp_path / "lake")
    watch = ({"rule-action": "include", "schema-name": "public", "table-name": "%"},)
    task = replace(_demo_task(fresh_db, SETTINGS, tables=("items",), name="crm"), watch_rules=watch,
                   capture_new=True, table_prefix="crm_",
                   reserved=frozenset({"theirs", "crm_taken"}))  # fmt: skip
    Replicator(task, lake).run()
    with psycopg.connect(fresh_db, autocommit=True) as conn:
        conn.execute(
            "create table theirs (id int primary key); create table taken (id int primary key)"
        )
    warnings = Replicator(task, lake).run().warnings
    assert list(captured.read(lake, "crm")) == ["public.theirs"]
    assert "['public.taken']" in warnings[0]
    assert not captured.claim(lake, "other", "crm_theirs")


def test_a_table_created_while_following_joins_without_a_restart(fresh_db, tmp_path, monkeypatch):
    from dataclasses import replace

    from lakehouse.replication import replicator as replicator_module
    from lakehouse_tests.replication.helpers import following, read_table_files, wait_until

    monkeypatch.setattr(replicator_module, "TABLE_CHECK_SECONDS", 0.5)
    with psycopg.connect(fresh_db, autocommit=True) as conn:
        conn.execute("create table items (id int primary key, v int)")
    lake = LocalLake(tmp_path / "lake")
    watch = ({"rule-action": "include", "schema-name": "public", "table-name": "%"},)
    task = replace(_task(fresh_db, ("items",)), watch_rules=watch, capture_new=True)
    task = replace(task, settings=DEMO)  # a file per batch: the change shows at once
    Replicator(task, lake).run()

    def files(table: str) -> tuple[int, int]:
        load, cdc = read_table_files(lake, "public", table, DEMO)
        return load.height, cdc.height

    with following(task, lake) as follower:
        with psycopg.connect(fresh_db, autocommit=True) as conn:
            conn.execute("insert into items values (1, 1)")
            assert wait_until(lambda: files("items") == (0, 1))  # streaming
            conn.execute("create table late (id int primary key, v int)")
            conn.execute("insert into late select g, g from generate_series(1, 100) g")
            assert wait_until(lambda: files("late")[0] == 100)  # loaded alone
            conn.execute("insert into late values (101, 101)")
            conn.execute("insert into items values (2, 2)")
            assert wait_until(lambda: files("late")[1] == 1 and files("items")[1] == 2)
        assert follower.thread.is_alive() and not follower.failed
    assert files("items") == (0, 2)  # nothing replayed twice
