"""A TRUNCATE at the source (which DMS does not capture) is a reload of the table: the stream
records the table's resync with the checkpoint of the batch that holds it, the replicator copies
the table again in the same run, and silver drops the rows the TRUNCATE removed while keeping
the changes around it; the other tables' changes flow as usual."""

from __future__ import annotations

import psycopg
import pytest

from lakehouse.replication.pgoutput import PgOutputDecoder, Truncate
from lakehouse.replication.replicator import Replicator
from lakehouse.replication.state import ReplicationState
from lakehouse.storage import LocalLake
from lakehouse_tests.replication.test_table_set import _silver_equals_source, _task


def test_the_truncate_message_names_its_relations():
    payload = b"T" + (2).to_bytes(4, "big") + b"\x00" + (16384).to_bytes(4, "big")
    payload += (4294967295).to_bytes(4, "big")
    assert PgOutputDecoder().feed(payload) == Truncate((16384, 4294967295))


@pytest.mark.integration
@pytest.mark.parametrize("follow", [False, True], ids=["once", "follow"])
def test_a_truncated_table_is_copied_again_and_silver_equals_the_source(fresh_db, tmp_path, follow):
    import threading

    with psycopg.connect(fresh_db, autocommit=True) as conn:
        for name in ("items", "other", "gone"):
            conn.execute(f"create table {name} (id int primary key, v text)")
            conn.execute(f"insert into {name} select g, 'v' || g from generate_series(1, 100) g")
    lake = LocalLake(tmp_path / "lake")
    task = _task(fresh_db, ("items", "other", "gone"))
    Replicator(task, lake).run()
    _silver_equals_source(fresh_db, lake, ("items", "other", "gone"))
    with psycopg.connect(fresh_db) as conn:
        conn.execute("update items set v = 'before' where id = 1")
        conn.execute("update other set v = 'same transaction' where id = 2")
        conn.execute("truncate items")
        conn.execute("insert into items values (7, 'after, same transaction')")
        conn.commit()
        conn.execute("truncate gone")  # alone in its transaction
        conn.commit()
        conn.execute("insert into items values (8, 'later')")
        conn.execute("update other set v = 'later' where id = 3")
        conn.commit()
    rep = Replicator(task, lake)
    if follow:  # the stream stops for the copy, then goes on
        stop = threading.Event()
        runner = threading.Thread(target=rep.run, kwargs={"follow": True, "stop": stop})
        runner.start()
        _wait_for(lambda: rep.stats.changes["public.other"] >= 2 and not _resync_left(lake, task))
        stop.set()
        runner.join(30)
    else:
        rep.run()
    for name in ("items", "gone"):
        assert any(f"public.{name} truncated at the source" in w for w in rep.stats.warnings)
    assert rep.stats.full_load_rows["public.items"] == 2  # the copy: 7 and 8
    assert rep.stats.full_load_rows["public.gone"] == 0
    assert "public.other" not in rep.stats.full_load_rows  # streamed, not copied
    assert not _resync_left(lake, task)
    _silver_equals_source(fresh_db, lake, ("items", "other", "gone"))


def _resync_left(lake, task) -> list:
    state = ReplicationState.load(lake, task.name, task.slot)
    return [*state.resync, *state.resync_progress]


def _wait_for(condition, timeout: float = 60.0) -> None:
    import time

    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.1)


@pytest.mark.integration
def test_a_truncated_keyless_table_is_copied_again_and_silver_equals_the_source(fresh_db, tmp_path):
    """A keyless table's publication publishes TRUNCATE too (one made before, inserts only, is
    altered on the next run): its TRUNCATE is a resync, whose copy replaces silver's rows."""
    with psycopg.connect(fresh_db, autocommit=True) as conn:
        for name in ("nk", "items"):
            conn.execute(f"create table {name} (id int, v text)")
            conn.execute(f"insert into {name} select g, 'v' || g from generate_series(1, 50) g")
        conn.execute("alter table items add primary key (id)")
    lake = LocalLake(tmp_path / "lake")
    task = _task(fresh_db, ("nk", "items"))
    Replicator(task, lake).run()
    _silver_equals_source(fresh_db, lake, ("nk", "items"))
    with psycopg.connect(fresh_db, autocommit=True) as conn:  # as an older version made it
        conn.execute(f'alter publication "{task.insert_only_publication}" set (publish = insert)')
    Replicator(task, lake).run()
    with psycopg.connect(fresh_db, autocommit=True) as conn:
        pub = conn.execute(
            "select pubinsert, pubupdate, pubdelete, pubtruncate from pg_publication"
            " where pubname = %s",
            (task.insert_only_publication,),
        ).fetchone()
        assert pub == (True, False, False, True)
    with psycopg.connect(fresh_db) as conn:
        conn.execute("insert into nk values (51, 'before')")
        conn.execute("truncate nk")
        conn.execute("insert into nk values (7, 'after, same transaction')")
        conn.commit()
        conn.execute("insert into nk values (8, 'later')")
        conn.commit()
    rep = Replicator(task, lake)
    rep.run()
    assert any("public.nk truncated at the source" in w for w in rep.stats.warnings)
    assert rep.stats.full_load_rows["public.nk"] == 2  # the copy: 7 and 8
    assert not _resync_left(lake, task)
    _silver_equals_source(fresh_db, lake, ("nk", "items"))
