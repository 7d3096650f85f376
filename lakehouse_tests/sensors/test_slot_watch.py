"""The dms_files sensor reads its dataset's slot between replication runs: the replication_slot
check is evaluated from the tick (not only by a run), and a slot that turns to error is alerted
once to the webhook."""

from __future__ import annotations

import dagster as dg
import psycopg
import pytest

from lakehouse.declarations import load_dataset
from lakehouse.defs import sensors as defs_sensors
from lakehouse.defs.resources import LakeResource, SourceDatabaseResource
from lakehouse.profiles import Settings
from lakehouse.replication.replicator import Replicator
from lakehouse.replication.task import dataset_task
from lakehouse.storage import LocalLake
from lakehouse_tests.declared import declare_items

pytestmark = pytest.mark.integration


def test_the_sensor_evaluates_the_slot_check_and_alerts_once_when_it_turns_to_error(
    fresh_db, tmp_path, monkeypatch, webhook
):
    with psycopg.connect(fresh_db, autocommit=True) as conn:
        conn.execute("create table items (id int primary key, v int)")
        conn.execute("insert into items values (1, 1)")
    declare_items(tmp_path / "defs", "watched", "WATCHED_TEST_DSN")
    monkeypatch.setenv("WATCHED_TEST_DSN", fresh_db)
    monkeypatch.setenv("LAKEHOUSE_DEFS", str(tmp_path / "defs"))
    monkeypatch.setattr(defs_sensors, "SLOT_WATCH_SECONDS", 0.0)
    monkeypatch.setattr(defs_sensors, "_SLOT_WATCH", {})
    url, received = webhook
    ds = load_dataset("watched")
    lake_root = tmp_path / "lake"
    Replicator(dataset_task("watched", fresh_db), LocalLake(lake_root)).run()
    settings = Settings.from_env({"LAKEHOUSE_ALERT_WEBHOOK": url})
    sensor = defs_sensors.raw_files_sensor(ds, "database", replicate=True, settings=settings)
    res = {
        "source_db": SourceDatabaseResource(dsn=fresh_db),
        "lake": LakeResource(root=str(lake_root)),
    }
    instance = dg.DagsterInstance.ephemeral()

    def checks() -> list[tuple]:
        result = sensor(dg.build_sensor_context(resources=res, instance=instance))
        return [
            (e.asset_key.to_user_string(), e.check_name, e.passed, e.severity.value, e.description)
            for e in result.asset_events
            if isinstance(e, dg.AssetCheckEvaluation)
        ]

    ((key, name, passed, _severity, text),) = checks()
    assert (key, name, passed) == ("raw/items", "replication_slot", True), text
    with psycopg.connect(fresh_db, autocommit=True) as conn:
        conn.execute("select pg_drop_replication_slot('lakehouse_watched')")
    lost = (
        "raw/items",
        "replication_slot",
        False,
        "ERROR",
        "replication slot 'lakehouse_watched' does not exist (dropped): its changes since"
        " then are lost — fix: lakehouse resync --dataset watched",
    )
    assert checks() == [lost]
    assert checks() == [lost]  # evaluated again, alerted once
    defs_sensors._SLOT_WATCH.clear()  # a code server restarted: the grade is in the lake
    assert checks() == [lost]
    assert [(r["text"], r["job"], r["error"]) for r in received] == [
        ("lakehouse replication slot in error: watched_replication", "watched_replication", lost[4])
    ]


def test_a_new_source_table_makes_the_sensor_request_the_run_that_captures_it(
    fresh_db, tmp_path, monkeypatch
):
    """A new table's writes are not in the publication yet, so no pending change shows it: the
    tick looks at the catalog (every ``SLOT_WATCH_SECONDS``) and requests a replication run;
    once captured, the table is in the dataset's registry and no run is requested for it."""
    with psycopg.connect(fresh_db, autocommit=True) as conn:
        conn.execute("create table items (id int primary key, v int)")
    declare_items(tmp_path / "defs", "growing", "GROWING_TEST_DSN")
    for k, v in {"GROWING_TEST_DSN": fresh_db, "LAKEHOUSE_DEFS": str(tmp_path / "defs"),
                 "LAKEHOUSE_ROOT": str(tmp_path / "lake")}.items():  # fmt: skip
        monkeypatch.setenv(k, v)
    monkeypatch.setattr(defs_sensors, "SLOT_WATCH_SECONDS", 0.0)
    lake = LocalLake(tmp_path / "lake")
    Replicator(dataset_task("growing", fresh_db), lake).run()
    res = {"source_db": SourceDatabaseResource(dsn=fresh_db),
           "lake": LakeResource(root=str(tmp_path / "lake"))}  # fmt: skip
    instance = dg.DagsterInstance.ephemeral()

    def requests() -> list[str]:  # the runs requested to capture tables (bronze runs aside)
        sensor = defs_sensors.raw_files_sensor(
            load_dataset("growing"), "database", replicate=True, settings=Settings.from_env()
        )
        result = sensor(dg.build_sensor_context(resources=res, instance=instance))
        return [r.run_key for r in result.run_requests or [] if r.run_key.startswith("capture")]

    assert requests() == []
    with psycopg.connect(fresh_db, autocommit=True) as conn:
        conn.execute("create table arrivals (id int primary key); insert into arrivals values (1)")
    assert requests() == ["capture:public.arrivals"]
    Replicator(dataset_task("growing", fresh_db), lake).run()  # what that run does
    assert "arrivals" in [t.name for t in load_dataset("growing").tables]
    assert requests() == []  # nothing left to capture


def test_a_replication_run_while_another_replicator_streams_names_it_and_the_fix(
    fresh_db, tmp_path, monkeypatch
):
    import psycopg2
    import psycopg2.extras

    from lakehouse.defs.raw import replication_asset

    with psycopg.connect(fresh_db, autocommit=True) as conn:
        conn.execute("create table items (id int primary key, v int)")
    declare_items(tmp_path / "defs", "busy", "BUSY_TEST_DSN")
    monkeypatch.setenv("BUSY_TEST_DSN", fresh_db)
    monkeypatch.setenv("LAKEHOUSE_DEFS", str(tmp_path / "defs"))
    ds = load_dataset("busy")
    task = dataset_task("busy", fresh_db)
    Replicator(task, LocalLake(tmp_path / "lake")).run()
    held = psycopg2.connect(
        fresh_db,
        connection_factory=psycopg2.extras.LogicalReplicationConnection,
        application_name="follower",
    )
    try:
        held.cursor().start_replication(slot_name=task.slot, decode=False,
                                        options={"proto_version": "1",
                                                 "publication_names": task.publication})  # fmt: skip
        pid = held.get_backend_pid()
        result = dg.materialize(
            [replication_asset(ds, catch_up_max_seconds=-29.5)],  # waits 0.5 s
            resources={
                "source_db": SourceDatabaseResource(dsn=fresh_db),
                "lake": LakeResource(root=str(tmp_path / "lake")),
            },
            raise_on_error=False,
        )
    finally:
        held.close()
    assert not result.success
    (failure,) = [e for e in result.all_events if e.is_step_failure]
    message = failure.step_failure_data.error.cause.message.strip()
    assert "\n" not in message
    assert message.startswith(
        f"RuntimeError: replication slot 'lakehouse_busy' of dataset 'busy' stayed in use by"
        f" another replicator (pid {pid}, application 'follower'"
    )
    assert message.endswith(
        " — fix: stop that replicator (Ctrl-C) before materializing the replication asset, or"
        " materialize without it: lakehouse materialize --select"
        " 'group:busy_bronze or group:busy_silver'"
    )
