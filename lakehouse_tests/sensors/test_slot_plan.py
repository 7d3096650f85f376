"""The dms_files sensor's plan on a real PostgreSQL: a busy database whose replicated tables are
quiet gets its slot advanced (WAL freed, no change skipped); a lost slot is one replication run
(which fails naming the cause), not a tick that errors forever."""

from __future__ import annotations

import psycopg
import pytest

from lakehouse.replication.replicator import Replicator
from lakehouse.replication.slot_health import slot_health
from lakehouse.sensors import catch_up
from lakehouse.storage import LocalLake
from lakehouse_tests.replication.test_table_set import _silver_equals_source, _task

pytestmark = pytest.mark.integration


def _setup(dsn: str, lake):
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("create table items (id int primary key, v int)")
        conn.execute("insert into items select g, g from generate_series(1, 100) g")
        conn.execute("create table busy (v text)")
    task = _task(dsn, ("items",))
    Replicator(task, lake).run()
    return task


def test_a_quiet_slot_on_a_busy_database_is_advanced_and_no_change_is_skipped(
    fresh_db, tmp_path, monkeypatch
):
    lake = LocalLake(tmp_path / "lake")
    task = _setup(fresh_db, lake)
    monkeypatch.setattr(catch_up, "IDLE_ADVANCE_BYTES", 1)
    with psycopg.connect(fresh_db, autocommit=True) as conn:
        conn.execute("insert into busy select repeat('x', 200) from generate_series(1, 20000)")
    behind = slot_health(fresh_db, task.slot).lag_bytes
    plan = catch_up.plan(task, lake, replication_in_progress=False)
    assert plan.action == "none" and plan.reason.startswith(
        "no change of a replicated table: slot advanced to "
    )
    assert slot_health(fresh_db, task.slot).lag_bytes < behind
    with psycopg.connect(fresh_db, autocommit=True) as conn:
        conn.execute("update items set v = -v where id <= 10")
        conn.execute("insert into busy select 'y' from generate_series(1, 1000)")
    plan = catch_up.plan(task, lake, replication_in_progress=False)
    assert plan.action == "inline"  # the pending change is replicated, not skipped
    Replicator(task, lake).run()
    _silver_equals_source(fresh_db, lake, ("items",))


def test_an_invalidated_slot_is_one_replication_run(tight_server, tmp_path):
    lake = LocalLake(tmp_path / "lake")
    task = _setup(tight_server, lake)
    with psycopg.connect(tight_server, autocommit=True) as conn:
        conn.execute("update items set v = 0 where id = 1")
        for _ in range(6):
            conn.execute("insert into busy select repeat('x', 500) from generate_series(1, 20000)")
            conn.execute("select pg_switch_wal()")
        conn.execute("checkpoint")
    plan = catch_up.plan(task, lake, replication_in_progress=False)
    assert (plan.action, plan.reason) == ("run", "the slot is lost")
    assert plan.run_key.startswith("t:lost:")
    assert catch_up.plan(task, lake, replication_in_progress=False).run_key == plan.run_key
