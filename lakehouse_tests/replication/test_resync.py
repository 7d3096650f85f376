"""Resync against a real PostgreSQL: a lost slot stops the task with the cause and the command,
never recreated silently; a resync of the task or of one table (with writers on it and on the
others meanwhile) ends with silver equal to the source — rows deleted while the slot was gone
included."""

from __future__ import annotations

import time

import psycopg
import pytest

from lakehouse.commands.status import resync_lines
from lakehouse.engine.bronze import ingest
from lakehouse.engine.silver import apply_changes
from lakehouse.replication.replicator import Replicator
from lakehouse.replication.resync import request, resync
from lakehouse.replication.slot_health import SlotLostError
from lakehouse.replication.state import ReplicationState
from lakehouse.source.discovery import discover_one
from lakehouse.storage import LocalLake
from lakehouse_tests.declared import declare_items
from lakehouse_tests.replication.helpers import writing
from lakehouse_tests.replication.test_table_set import SETTINGS, _silver_equals_source, _task

pytestmark = pytest.mark.integration
TABLES = ("items", "other")


def _create(dsn: str) -> None:
    with psycopg.connect(dsn, autocommit=True) as conn:
        for t in TABLES:
            conn.execute(f"create table {t} (id int primary key, v int)")
            conn.execute(f"insert into {t} select g, g from generate_series(1, 3000) g")


def _items_and_other(n: int) -> list[tuple]:
    """One writer transaction on both tables: an insert, an update and a delete of ``items``
    rows, an update of ``other``."""
    return [
        ("insert into items values (%s, %s)", (n, n)),
        ("update items set v = -v where id = %s", (n - 2500,)),
        ("delete from items where id = %s", (n - 2900,)),
        ("update other set v = v + 1 where id = %s", (n % 3000 + 1,)),
    ]


def _writing(dsn: str):
    """Writers on both tables while the block runs, one transaction each 3 ms."""
    return writing(dsn, _items_and_other, start=3000, pause=0.003)


def _drop_slot(dsn: str, slot: str) -> None:
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("select pg_drop_replication_slot(%s)", (slot,))


def test_a_dropped_slot_stops_the_task_and_a_resync_brings_silver_back_to_the_source(
    fresh_db, tmp_path
):
    _create(fresh_db)
    lake = LocalLake(tmp_path / "lake")
    task = _task(fresh_db, TABLES)
    Replicator(task, lake).run()
    _silver_equals_source(fresh_db, lake, TABLES)
    _drop_slot(fresh_db, task.slot)
    with psycopg.connect(fresh_db, autocommit=True) as conn:  # changes no slot sees
        conn.execute("delete from items where id <= 100")
        conn.execute("update other set v = -v where id % 7 = 0")
        conn.execute("insert into items values (5000, 5000)")
    with pytest.raises(SlotLostError) as err:
        Replicator(task, lake).run()
    assert str(err.value) == (
        "replication task 't': replication slot 'lakehouse_t' does not exist (dropped); the"
        " changes since its last run are lost to it — fix: lakehouse resync --dataset t"
        " (or the t_resync job)"
    )
    with psycopg.connect(fresh_db) as conn:  # not recreated silently
        assert conn.execute(
            "select count(*) from pg_replication_slots where slot_name = %s", (task.slot,)
        ).fetchone() == (0,)
    stats = resync(task, lake)
    assert stats.full_load_rows == {"public.items": 2901, "public.other": 3000}
    with psycopg.connect(fresh_db, autocommit=True) as conn:  # CDC goes on from the new slot
        conn.execute("update items set v = 0 where id = 200")
        conn.execute("delete from other where id = 1")
    Replicator(task, lake).run()
    _silver_equals_source(fresh_db, lake, TABLES)


def test_one_table_resynced_while_writers_change_it_and_the_others(fresh_db, tmp_path):
    """A table whose raw changes were lost is copied again alone; its writers and the other
    table's go on during the copy, and both tables end equal to the source."""
    _create(fresh_db)
    lake = LocalLake(tmp_path / "lake")
    task = _task(fresh_db, TABLES)
    Replicator(task, lake).run()
    with psycopg.connect(fresh_db, autocommit=True) as conn:
        conn.execute("delete from items where id <= 50")
        conn.execute("update items set v = 0 where id between 51 and 100")
    Replicator(task, lake).run()
    lost = [o.key for o in lake.list("raw/database/public/items/") if "LOAD" not in o.key]
    assert lost
    for key in lost:  # items diverges: its changes never reach bronze
        lake.delete(key)
    other_load = {
        o.key: o.mtime for o in lake.list("raw/database/public/other/") if "LOAD" in o.key
    }
    with _writing(fresh_db) as written:
        time.sleep(0.3)
        stats = resync(task, lake, tables=["items"])
        assert set(stats.full_load_rows) == {"public.items"}  # the other table is not copied
        time.sleep(0.3)
    assert written["n"] > 0
    Replicator(task, lake).run()
    after = {o.key: o.mtime for o in lake.list("raw/database/public/other/") if "LOAD" in o.key}
    assert after == other_load
    _silver_equals_source(fresh_db, lake, TABLES)


def test_a_resync_of_an_unknown_table_names_the_tables(fresh_db, tmp_path):
    _create(fresh_db)
    lake = LocalLake(tmp_path / "lake")
    task = _task(fresh_db, TABLES)
    Replicator(task, lake).run()
    with pytest.raises(ValueError) as err:
        request(task, lake, ["nosuch"])
    assert str(err.value) == (
        "replication task 't' has no table 'nosuch'; its tables: items, other — fix: name one"
        " of them"
    )


def test_a_slot_invalidated_by_the_server_stops_the_task_until_a_resync(tight_server, tmp_path):
    _create(tight_server)
    lake = LocalLake(tmp_path / "lake")
    task = _task(tight_server, TABLES)
    Replicator(task, lake).run()
    with psycopg.connect(tight_server, autocommit=True) as conn:
        conn.execute("delete from items where id <= 10")
        conn.execute("create table filler (v text)")
        for _ in range(6):  # past max_slot_wal_keep_size, then a checkpoint removes the WAL
            conn.execute(
                "insert into filler select repeat('x', 500) from generate_series(1, 20000)"
            )
            conn.execute("select pg_switch_wal()")
        conn.execute("checkpoint")
    with pytest.raises(SlotLostError) as err:
        Replicator(task, lake).run()
    assert "replication slot 'lakehouse_t' was invalidated (wal_removed)" in str(err.value)
    assert str(err.value).endswith("fix: lakehouse resync --dataset t (or the t_resync job)")
    resync(task, lake)
    _silver_equals_source(tight_server, lake, TABLES)


def test_the_cli_resyncs_one_table_and_names_a_lost_slot_in_one_line(
    fresh_db, tmp_path, monkeypatch, capsys
):
    """``lakehouse replicate`` on a lost slot: one line naming the cause and ``lakehouse resync``
    (exit 2); ``lakehouse resync --dataset … --table …`` copies that table again; an unknown
    table is one line naming the task's tables."""
    from lakehouse.cli import main

    with psycopg.connect(fresh_db, autocommit=True) as conn:
        conn.execute("create table items (id int primary key, v int)")
        conn.execute("insert into items select g, g from generate_series(1, 50) g")
    declare_items(tmp_path / "defs", "mine", "MINE_TEST_DSN")
    monkeypatch.setenv("MINE_TEST_DSN", fresh_db)
    monkeypatch.setenv("LAKEHOUSE_DEFS", str(tmp_path / "defs"))
    monkeypatch.setenv("LAKEHOUSE_ROOT", str(tmp_path / "lake"))
    assert main(["-q", "replicate", "--dataset", "mine"]) == 0
    _drop_slot(fresh_db, "lakehouse_mine")
    capsys.readouterr()
    assert main(["-q", "replicate", "--dataset", "mine"]) == 2
    assert capsys.readouterr().err == (
        "lakehouse: error: replication task 'mine': replication slot 'lakehouse_mine' does not"
        " exist (dropped); the changes since its last run are lost to it — fix: lakehouse resync"
        " --dataset mine (or the mine_resync job)\n"
    )
    assert main(["-q", "resync", "--dataset", "mine", "--table", "nosuch"]) == 2
    assert capsys.readouterr().err == (
        "lakehouse: error: replication task 'mine' has no table 'nosuch'; its tables: items —"
        " fix: name one of them\n"
    )
    assert main(["-q", "resync", "--dataset", "mine"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("mine: copied 50 rows of public.items again, then 0 changes, ")
    assert main(["-q", "resync", "--dataset", "mine", "--table", "items"]) == 0
    assert capsys.readouterr().out.startswith("mine: copied 50 rows of public.items again")


def _lose_raw_changes(dsn: str, lake, task) -> None:
    """items' raw changes since its load are lost: silver diverges until a resync."""
    Replicator(task, lake).run()
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("delete from items where id <= 50")
        conn.execute("update items set v = 0 where id between 51 and 100")
    Replicator(task, lake).run()
    for o in lake.list("raw/database/public/items/"):
        if "LOAD" not in o.key:
            lake.delete(o.key)


def test_a_table_resync_goes_in_chunks_with_the_stream_and_silver_applied_between_them(
    fresh_db, tmp_path, monkeypatch
):
    """items (3,000 rows) is copied 400 rows at a time while writers insert, update and delete
    in it and in the other table. Between two chunks the stream catches up (the other table's
    changes reach raw) and bronze + silver run on both tables, as the sensors would: silver meets
    items' changes before the reload they come after. Only the whole new generation of LOAD
    files ever reaches the table's raw folder; both tables end equal to the source."""
    from lakehouse.replication import table_resync

    _create(fresh_db)
    lake = LocalLake(tmp_path / "lake")
    task = _task(fresh_db, TABLES)
    _lose_raw_changes(fresh_db, lake, task)
    monkeypatch.setattr(table_resync, "CHUNK_ROWS", 400)
    copy_next_chunk = table_resync.copy_next_chunk
    seen = []  # per chunk: the items LOAD files in raw, and the other table's CDC file count

    def chunk_then_silver(rep, state):
        copy_next_chunk(rep, state)
        raw = [o.key for o in lake.list("raw/database/public/")]
        seen.append((sorted(k for k in raw if "/items/LOAD" in k),
                     len([k for k in raw if "/other/" in k and "LOAD" not in k])))  # fmt: skip
        _bronze_and_silver(rep.task.dsn, lake)

    monkeypatch.setattr(table_resync, "copy_next_chunk", chunk_then_silver)
    old_load = sorted(o.key for o in lake.list("raw/database/public/items/") if "LOAD" in o.key)
    with _writing(fresh_db) as written:
        time.sleep(0.2)
        resync(task, lake, tables=["items"])
    assert written["n"] > 0
    assert len(seen) >= 8  # 3,000 rows and more, 400 per chunk
    assert all(load == old_load for load, _n in seen[:-1])  # staged until the last chunk
    assert len(seen[-1][0]) >= 8 and seen[-1][0] != old_load  # then the new generation, whole
    assert seen[0][1] < seen[-2][1]  # the other table's changes reached raw between chunks
    assert not lake.list("_state/replication/resync/")
    Replicator(task, lake).run()
    _silver_equals_source(fresh_db, lake, TABLES)


def _bronze_and_silver(dsn: str, lake) -> None:
    """Bronze and silver of both tables applied, as the sensors do between replication runs."""
    with psycopg.connect(dsn) as conn:
        for name in TABLES:
            spec = discover_one(conn, "public", name, "t").spec
            ingest(lake, spec, SETTINGS)
            apply_changes(lake, spec)


def test_a_table_resync_interrupted_after_three_chunks_resumes_without_copying_them_again(
    fresh_db, tmp_path, monkeypatch
):
    """A crash during a chunked resync: the next run copies only the chunks not staged yet (the
    staged ones keep their files), with changes made in between; silver ends equal to the
    source."""
    from lakehouse.replication import table_resync

    _create(fresh_db)
    lake = LocalLake(tmp_path / "lake")
    task = _task(fresh_db, TABLES)
    _lose_raw_changes(fresh_db, lake, task)
    monkeypatch.setattr(table_resync, "CHUNK_ROWS", 500)
    copy_table, calls = table_resync.copy_table, []

    def crash_at_fourth(*args, **kwargs):
        calls.append(1)
        if len(calls) == 4:
            raise KeyboardInterrupt("crash")
        return copy_table(*args, **kwargs)

    monkeypatch.setattr(table_resync, "copy_table", crash_at_fourth)
    with pytest.raises(KeyboardInterrupt):
        resync(task, lake, tables=["items"])
    staged = {o.key: o.mtime for o in lake.list("_state/replication/resync/")}
    assert len(staged) == 3
    state = ReplicationState.load(lake, task.name, task.slot)
    assert resync_lines(state) == [
        "  resync of public.items under way: 1,500 rows in 3 chunk file(s) staged; the next"
        " replication run goes on"
    ]
    with psycopg.connect(fresh_db, autocommit=True) as conn:  # across copied and uncopied keys
        conn.execute("update items set v = v * 10 where id % 300 = 0")
        conn.execute("delete from items where id in (700, 2700)")
        conn.execute("insert into items values (9000, 9000)")
    stats = Replicator(task, lake).run()
    assert stats.full_load_rows == {"public.items": 1450}  # chunks 4-6 only (ids 1551-3000, 9000)
    new_load = {o.key.rsplit("/", 1)[-1]: o.mtime for o in lake.list("raw/database/public/items/")
                if "LOAD" in o.key}  # fmt: skip
    assert {k.rsplit("/", 1)[-1]: t for k, t in staged.items()}.items() <= new_load.items()
    assert len(new_load) == 6  # 2,949 rows: five chunks of 500, the sixth shorter (the last)
    _silver_equals_source(fresh_db, lake, TABLES)
