"""``run(follow=True)`` survives a lost connection: it reconnects from the checkpoint, and gives
up with ``ConnectionLostError`` only when the retries run out."""

from __future__ import annotations

import threading

import psycopg
import psycopg2
import pytest

from lakehouse.dms.settings import DmsS3Settings
from lakehouse.replication import replicator as replicator_module
from lakehouse.replication.replicator import ConnectionLostError, Replicator
from lakehouse.replication.task import ReplicationTask
from lakehouse.storage import LocalLake
from lakehouse_tests.replication.helpers import following, read_table_files, wait_until

SETTINGS = DmsS3Settings(AddColumnName=True, IncludeOpForFullLoad=True, CdcMaxBatchInterval=0)


def _task(dsn: str) -> ReplicationTask:
    rule = {"rule-action": "include", "schema-name": "public", "table-name": "t"}
    return ReplicationTask("rc", dsn, SETTINGS, selection_rules=(rule,))


@pytest.mark.integration
def test_a_terminated_walsender_is_reconnected_and_no_change_is_lost_or_doubled(
    fresh_db, tmp_path, monkeypatch
):
    monkeypatch.setattr(replicator_module, "RECONNECT_DELAYS", (0.2, 0.2, 0.2))
    with psycopg.connect(fresh_db, autocommit=True) as conn:
        conn.execute("create table t (id int primary key, v int)")
    lake = LocalLake(tmp_path / "lake")
    task = _task(fresh_db)
    Replicator(task, lake).run()
    with following(task, lake) as follower:
        with psycopg.connect(fresh_db, autocommit=True) as conn:

            def active_pid():
                row = conn.execute(
                    "select active_pid from pg_replication_slots where slot_name = %s",
                    (task.slot,),
                ).fetchone()
                return row[0] if row else None

            assert wait_until(lambda: active_pid() is not None)
            conn.execute("insert into t values (1, 1)")
            assert wait_until(
                lambda: read_table_files(lake, "public", "t", SETTINGS)[1].height == 1
            )
            first = active_pid()
            conn.execute("select pg_terminate_backend(%s)", (first,))
            conn.execute("insert into t values (2, 2)")
            assert wait_until(lambda: active_pid() not in (None, first))  # a new session
            assert wait_until(
                lambda: read_table_files(lake, "public", "t", SETTINGS)[1].height >= 2
            )
        assert follower.thread.is_alive() and not follower.failed
    cdc = read_table_files(lake, "public", "t", SETTINGS)[1]
    assert sorted(cdc["id"].to_list()) == ["1", "2"]  # each change once


def test_retries_run_out_with_a_one_line_error_naming_the_fix(monkeypatch, tmp_path):
    monkeypatch.setattr(replicator_module, "RECONNECT_DELAYS", (0, 0))
    calls = []

    def lost(self, **_):
        calls.append(1)
        raise psycopg2.errors.AdminShutdown("terminating connection due to administrator command")

    monkeypatch.setattr(Replicator, "_run", lost)
    rep = Replicator(_task("postgresql://nowhere/x"), LocalLake(tmp_path))
    with pytest.raises(ConnectionLostError, match="lost 3 times in a row .* — fix: check"):
        rep.run(follow=True, stop=threading.Event())
    assert len(calls) == 3
    with pytest.raises(psycopg2.OperationalError):  # without follow: no retry
        rep.run()
    assert len(calls) == 4
