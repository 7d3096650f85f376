"""The full load streams: a table larger than one batch becomes several LOAD files cut at record
ends (values holding newlines and quotes included), every row exactly once; the cut finds the
end of the last complete CSV record."""

from __future__ import annotations

import psycopg
import pytest

from lakehouse.replication import full_load
from lakehouse.replication.full_load import record_end
from lakehouse.replication.replicator import Replicator
from lakehouse.storage import LocalLake
from lakehouse_tests.replication.test_table_set import SETTINGS, _silver_equals_source, _task


@pytest.mark.parametrize(
    ("buf", "end"),
    [
        (b"", 0),
        (b"1,a", 0),
        (b"1,a\n2,b", 4),
        (b'1,"x\ny"\n2,"', 8),  # the newline inside quotes is not an end
        (b'1,"say ""hi""\n"\n2', 16),
        (b'1,"open\n', 0),
    ],
)
def test_record_end_is_after_the_last_newline_outside_quotes(buf, end):
    assert record_end(buf) == end


@pytest.mark.integration
def test_a_table_bigger_than_a_batch_is_several_files_and_every_row_once(
    fresh_db, tmp_path, monkeypatch
):
    with psycopg.connect(fresh_db, autocommit=True) as conn:
        conn.execute("create table items (id int primary key, v text)")
        conn.execute(
            """insert into items select g, case when g % 10 = 0 then 'a' || chr(10) || '"q"'
               else repeat('x', 50) end from generate_series(1, 5000) g"""
        )
    monkeypatch.setattr(full_load, "LOAD_BATCH_BYTES", 20_000)
    lake = LocalLake(tmp_path / "lake")
    stats = Replicator(_task(fresh_db, ("items",)), lake).run()
    files = [o.key for o in lake.list("raw/database/public/items/") if "LOAD" in o.key]
    assert len(files) >= 10  # ~280 kB of CSV in batches of 20 kB
    assert stats.full_load_rows == {"public.items": 5000}
    _silver_equals_source(fresh_db, lake, ("items",))


@pytest.mark.integration
def test_an_empty_table_is_one_empty_load_file(fresh_db, tmp_path):
    with psycopg.connect(fresh_db, autocommit=True) as conn:
        conn.execute("create table items (id int primary key, v text)")
    lake = LocalLake(tmp_path / "lake")
    Replicator(_task(fresh_db, ("items",)), lake).run()
    assert [o.key.rsplit("/", 1)[-1] for o in lake.list("raw/database/public/items/")] == [
        "LOAD00000001.csv"
    ]


class _Crash(BaseException):
    """The process dies (not an Exception: nothing may catch it)."""


def _run_killed_at_load(monkeypatch, task, lake, loads: int, *, after_write: bool = False):
    """Run ``task`` and kill it when it writes LOAD file number ``loads + 1``: before writing
    it, or with ``after_write`` just after (before the state records it); then writes work
    again for the next run."""
    real_write = LocalLake.write_bytes
    written = []

    def crashing(self, key, data):
        if "LOAD" in key and len(written) == loads:
            if after_write:
                real_write(self, key, data)
            raise _Crash
        real_write(self, key, data)
        if "LOAD" in key:
            written.append(key)

    monkeypatch.setattr(LocalLake, "write_bytes", crashing)
    with pytest.raises(_Crash):
        Replicator(task, lake).run()
    monkeypatch.setattr(LocalLake, "write_bytes", real_write)


@pytest.mark.integration
@pytest.mark.parametrize("when", ["before", "after"])
def test_a_full_load_killed_halfway_resumes_after_its_last_durable_file(
    fresh_db, tmp_path, monkeypatch, when
):
    """Killed while writing its 6th file (before the write, or after it but before the state
    was saved): the next run keeps the slot and the first files (not copied again), copies the
    rest after the last key, with writers changing the table meanwhile; silver = source."""
    from lakehouse.replication.state import ReplicationState

    with psycopg.connect(fresh_db, autocommit=True) as conn:
        conn.execute("create table items (id int primary key, v text)")
        conn.execute("insert into items select g, repeat('x', 50) from generate_series(1, 5000) g")
    monkeypatch.setattr(full_load, "LOAD_BATCH_BYTES", 20_000)
    lake = LocalLake(tmp_path / "lake")
    task = _task(fresh_db, ("items",))
    _run_killed_at_load(monkeypatch, task, lake, 5, after_write=when == "after")
    state = ReplicationState.load(lake, task.name, task.slot)
    assert not state.full_load_done and state.load_ts
    kept = {o.key: o.mtime for o in lake.list("raw/database/public/items/") if "LOAD" in o.key}
    assert len(kept) == (6 if when == "after" else 5)
    with psycopg.connect(fresh_db, autocommit=True) as conn:  # changes while the load is down
        conn.execute("update items set v = 'early' where id <= 10")  # in the copied files
        conn.execute("update items set v = 'late' where id > 4990")  # not copied yet
        conn.execute("delete from items where id between 4000 and 4010")
        conn.execute("insert into items values (9000, 'new')")
    stats = Replicator(task, lake).run()
    after = {o.key: o.mtime for o in lake.list("raw/database/public/items/") if "LOAD" in o.key}
    assert {k: after[k] for k in kept} == kept  # the durable files were not written again
    assert len(after) > len(kept)
    copied = sum(lake.read_text(k).count("\n") - 1 for k in kept)  # rows (header aside)
    # only the rest was copied: the 5,000 rows but the kept files', 11 deleted, 1 inserted
    assert stats.full_load_rows["public.items"] == 5000 - copied - 11 + 1
    names = sorted(k.rsplit("/", 1)[-1] for k in after)
    assert names == [f"LOAD{n:08X}.csv" for n in range(1, len(after) + 1)]  # no name twice
    _silver_equals_source(fresh_db, lake, ("items",))


@pytest.mark.integration
def test_a_composite_text_and_timestamp_key_resumes_in_key_order(fresh_db, tmp_path, monkeypatch):
    """A key nobody on the team chose (text with spaces and quotes, then a timestamptz): the
    resumed copy continues after the last key, no row twice or missing."""
    with psycopg.connect(fresh_db, autocommit=True) as conn:
        conn.execute("create table items (k text, at timestamptz, v text, primary key (k, at))")
        conn.execute(
            """insert into items select 'key "' || (g % 37) || '" ,x', timestamptz '2024-01-01'
               + g * interval '1 minute', repeat('y', 40) from generate_series(1, 4000) g"""
        )
    monkeypatch.setattr(full_load, "LOAD_BATCH_BYTES", 20_000)
    lake = LocalLake(tmp_path / "lake")
    task = _task(fresh_db, ("items",))
    _run_killed_at_load(monkeypatch, task, lake, 4)
    stats = Replicator(task, lake).run()
    assert 0 < stats.full_load_rows["public.items"] < 4000
    with psycopg.connect(fresh_db) as conn:
        from lakehouse.engine.bronze import ingest
        from lakehouse.engine.silver import apply_changes, read_silver
        from lakehouse.source.discovery import discover_one

        spec = discover_one(conn, "public", "items", "t").spec
        ingest(lake, spec, SETTINGS)
        apply_changes(lake, spec)
        source = sorted(conn.execute("select k, at, v from items").fetchall())
    assert sorted(read_silver(lake, spec).select("k", "at", "v").iter_rows()) == source


@pytest.mark.integration
@pytest.mark.parametrize("bronze_between", [False, True], ids=["rerun", "bronze-between"])
def test_a_keyless_table_copied_again_after_a_kill_has_every_row_once(
    fresh_db, tmp_path, monkeypatch, bronze_between
):
    """Killed while copying a keyless table: the rerun copies it again from its start in a new
    snapshot, while the slot streams from its old consistent point. An insert committed in
    between is in the copy and in the stream: silver holds it once (the copy's rows carry the
    new snapshot's start, the streamed insert before it is superseded), whether bronze read the
    first copy's files before the rerun (a reload) or not (the first baseline)."""
    from lakehouse.engine.bronze import ingest
    from lakehouse.source.discovery import discover_one

    with psycopg.connect(fresh_db, autocommit=True) as conn:
        conn.execute("create table nk (id int, v text)")
        conn.execute("insert into nk select g, repeat('x', 50) from generate_series(1, 3000) g")
    monkeypatch.setattr(full_load, "LOAD_BATCH_BYTES", 20_000)
    lake = LocalLake(tmp_path / "lake")
    task = _task(fresh_db, ("nk",))
    _run_killed_at_load(monkeypatch, task, lake, 3)
    with psycopg.connect(fresh_db, autocommit=True) as conn:  # streamed and in the next copy
        conn.execute("insert into nk select g, 'between' from generate_series(5001, 5010) g")
        if bronze_between:  # bronze reads the first copy's files: the second one is a reload
            ingest(lake, discover_one(conn, "public", "nk", "t").spec, SETTINGS)
    Replicator(task, lake).run()
    with psycopg.connect(fresh_db, autocommit=True) as conn:
        conn.execute("insert into nk values (6000, 'after')")
    Replicator(task, lake).run()
    _silver_equals_source(fresh_db, lake, ("nk",))
