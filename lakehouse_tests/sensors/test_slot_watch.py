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
    assert [(r["text"], r["job"], r["error"]) for r in received] == [
        ("lakehouse replication slot in error: watched_replication", "watched_replication", lost[4])
    ]
