"""The instance's storage (``runs.storage.SqliteStorage``): Dagster's SQLite files in Dagster's
layout, readable by Dagster's own storage and back, connections kept with
``synchronous=NORMAL``, and a run's events still reach a watcher of the run (the UI's live run
log) while they are written."""

from __future__ import annotations

import threading

import dagster as dg
import pytest
import yaml

from lakehouse.runs import dagster_yaml
from lakehouse.runs.storage import Engines, SqliteStorage, _EventLogStorage


def _instance(home, ours: bool):
    cfg = dagster_yaml.ours(home) if ours else {"telemetry": {"enabled": False}}
    (home / "dagster.yaml").write_text(yaml.safe_dump(cfg))
    return dg.DagsterInstance.from_config(str(home))


@dg.asset
def upstream() -> int:
    return 1


@dg.asset
def downstream(upstream: int) -> int:
    return upstream + 1


@pytest.fixture
def home(tmp_path):
    return tmp_path


def test_runs_in_ours_are_dagsters_files_and_read_back_by_dagsters_own(home):
    instance = _instance(home, ours=True)
    try:
        assert isinstance(instance.event_log_storage, _EventLogStorage)  # not Dagster's own
        assert isinstance(instance.get_ref().storage, SqliteStorage)
        first = dg.materialize([upstream, downstream], instance=instance)
        second = dg.materialize([upstream, downstream], instance=instance)
        assert first.success and second.success
    finally:
        instance.dispose()
    for path in ("history/runs.db", "history/runs/index.db", "schedules/schedules.db"):
        assert (home / path).exists(), path
    assert (home / "history" / "runs" / f"{second.run_id}.db").exists()

    theirs = _instance(home, ours=False)  # Dagster's own storage on the same home
    try:
        assert type(theirs.event_log_storage).__name__ == "SqliteEventLogStorage"
        assert {r.dagster_run.run_id for r in theirs.get_run_records()} == {
            first.run_id,
            second.run_id,
        }
        event = theirs.get_latest_materialization_event(dg.AssetKey("downstream"))
        assert event.run_id == second.run_id
        steps = [e for e in theirs.all_logs(second.run_id) if e.is_dagster_event]
        assert sum(e.dagster_event_type == dg.DagsterEventType.STEP_SUCCESS for e in steps) == 2
        third = dg.materialize([upstream], instance=theirs)  # and back: ours reads theirs
    finally:
        theirs.dispose()
    instance = _instance(home, ours=True)
    try:
        event = instance.get_latest_materialization_event(dg.AssetKey("upstream"))
        assert event.run_id == third.run_id
    finally:
        instance.dispose()


def test_connections_are_kept_and_commit_without_a_sync_each(home):
    instance = _instance(home, ours=True)
    try:
        result = dg.materialize([upstream], instance=instance)
        storage = instance.get_ref().storage  # another process's view: a new storage object
        for connecting in (
            instance.run_storage.connect,
            instance.schedule_storage.connect,
            instance.event_log_storage.index_connection,
            lambda: instance.event_log_storage.run_connection(result.run_id),
        ):
            with connecting() as conn:
                assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 1  # NORMAL
                assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
                first = conn.connection.dbapi_connection
            with connecting() as conn:
                assert conn.connection.dbapi_connection is first  # kept, not reopened
        assert storage.run_storage.get_run_records(dg.RunsFilter(run_ids=[result.run_id]))
        storage.dispose()
    finally:
        instance.dispose()


def test_a_watcher_of_a_run_gets_its_events_as_they_are_written(home):
    """Dagster's SQLite watcher (the webserver's live run log) reacts to changes of the run's
    ``.db`` file; with kept connections commits go to the WAL, so each write touches the file."""
    instance = _instance(home, ours=True)
    try:
        run = instance.create_run_for_job(
            dg.Definitions(assets=[upstream]).resolve_implicit_global_asset_job_def(),
        )
        instance.report_engine_event("before the watch", run)
        seen, got = [], threading.Event()

        def callback(entry, cursor):
            seen.append(entry.message)
            if entry.message == "while watched 3":
                got.set()

        storage = instance.event_log_storage
        records = storage.get_records_for_run(run.run_id)
        storage.watch(run.run_id, records.cursor, callback)
        for n in range(4):
            instance.report_engine_event(f"while watched {n}", run)
            if n == 1:
                threading.Event().wait(0.5)  # a watcher's callbacks come in more than one batch
        assert got.wait(20), f"the watcher saw only {seen}"
        assert seen[:4] == [f"while watched {n}" for n in range(4)]
        storage.end_watch(run.run_id, callback)
    finally:
        instance.dispose()


def test_engines_keeps_the_files_used_last(tmp_path):
    engines = Engines(size=2)
    urls = [f"sqlite:///{tmp_path}/{n}.db" for n in range(3)]
    first = engines.get(urls[0])
    second = engines.get(urls[1])
    assert engines.get(urls[0]) is first  # used again: kept, and now the latest
    engines.get(urls[2])  # urls[1] goes
    assert engines.get(urls[0]) is first
    assert engines.get(urls[1]) is not second and len(engines._engines) == 2  # a new one
    with engines.transaction(urls[2]) as conn:
        conn.exec_driver_sql("CREATE TABLE t (x INTEGER)")
        conn.exec_driver_sql("INSERT INTO t VALUES (1)")
    with engines.transaction(urls[2]) as conn:
        assert conn.exec_driver_sql("SELECT x FROM t").scalar() == 1
    engines.dispose()
    assert engines._engines == {}


def test_wipe_then_new_runs(home):
    instance = _instance(home, ours=True)
    try:
        dg.materialize([upstream], instance=instance)
        instance.wipe()
        assert instance.get_run_records() == []
        again = dg.materialize([upstream], instance=instance)
        assert [r.dagster_run.run_id for r in instance.get_run_records()] == [again.run_id]
        assert len(instance.all_logs(again.run_id)) > 5
    finally:
        instance.dispose()


@pytest.mark.parametrize("ours", [True, False], ids=["ours", "dagsters"])
def test_a_slot_freed_while_a_step_was_queued_still_serves_it(home, ours):
    """The pending-step race, step by step: run B finds the pool's one slot taken, run A frees
    it, then B's step is queued unassigned. Dagster's storage leaves B blocked for good (no
    other slot is ever freed); ours assigns it at B's next claim."""
    instance = _instance(home, ours=ours)
    try:
        storage = instance.event_log_storage
        storage.set_concurrency_slots("table_x", 1)
        assert storage.claim_concurrency_slot("table_x", "run-a", "step").is_claimed
        assert not storage.has_unassigned_slots("table_x")  # B looks: no free slot
        storage.free_concurrency_slot_for_step("run-a", "step")  # A ends
        storage.add_pending_step("table_x", "run-b", "step", should_assign=False)  # B queues
        claims = [storage.claim_concurrency_slot("table_x", "run-b", "step") for _ in range(3)]
        assert claims[-1].is_claimed is ours
        if ours:  # and the pool holds: a third run waits for B's slot
            assert not storage.claim_concurrency_slot("table_x", "run-c", "step").is_claimed
            storage.free_concurrency_slot_for_step("run-b", "step")
            assert storage.claim_concurrency_slot("table_x", "run-c", "step").is_claimed
    finally:
        instance.dispose()
