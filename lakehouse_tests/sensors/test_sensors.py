"""Sensors: cursor semantics, run requests for exactly the tables with files, alerts, freshness."""

from __future__ import annotations

import os
import threading
import time

import dagster as dg
import psycopg
import pytest

from lakehouse.declarations import load_dataset
from lakehouse.defs.freshness import gold_lag_seconds, silver_lag_seconds
from lakehouse.defs.resources import LakeResource, LandingResource, SourceDatabaseResource
from lakehouse.defs.sensors import landing_sensor, raw_files_sensor
from lakehouse.profiles import Settings
from lakehouse.sensors.alerts import send_alert
from lakehouse.sensors.cursor import scan
from lakehouse.storage import LocalLake


def test_cursor_lists_only_newer_keys_and_sees_rewritten_load_files(tmp_path):
    lake = LocalLake(tmp_path)
    p = "raw/database/public/t/"
    lake.write_text(p + "LOAD00000001.csv", "a")
    lake.write_text(p + "20240101-000000001.csv", "a")
    first = scan(lake, {"t": p}, None)
    assert [o.key.rsplit("/", 1)[-1] for o in first.new["t"]] == [
        "20240101-000000001.csv",
        "LOAD00000001.csv",
    ]
    assert scan(lake, {"t": p}, first.cursor).names == []
    lake.write_text(p + "20240101-000000002.csv", "b")  # same second, same mtime: keys decide
    lake.write_text(p + "LOAD00000001.csv", "reloaded")  # a reload rewrites the same key
    second = scan(lake, {"t": p}, first.cursor)
    assert sorted(o.key.rsplit("/", 1)[-1] for o in second.new["t"]) == [
        "20240101-000000002.csv",
        "LOAD00000001.csv",
    ]
    # a reload of the same size is a later write of the same key: found again too
    os.utime(lake.path / (p + "LOAD00000001.csv"), (1e9, 2e9))
    reloaded = scan(lake, {"t": p}, second.cursor)
    assert [o.key.rsplit("/", 1)[-1] for o in reloaded.new["t"]] == ["LOAD00000001.csv"]
    assert scan(lake, {"t": p}, reloaded.cursor).names == []
    second = reloaded
    lake.delete(p + "20240101-000000001.csv")  # a deleted key is just gone
    assert scan(lake, {"t": p}, second.cursor).names == []
    # the cursor lists from the last key: older objects are never listed again
    calls = []
    orig = lake.list
    lake.list = lambda prefix, start_after=None: (
        calls.append(start_after) or orig(prefix, start_after)
    )
    scan(lake, {"t": p}, second.cursor)
    assert calls == [p + "20240101-000000002.csv"]


def _ctx(res, cursor=None, instance=None):
    return dg.build_sensor_context(
        cursor=cursor, resources={"lake": res}, instance=instance or dg.DagsterInstance.ephemeral()
    )


def test_raw_files_sensor_requests_bronze_and_silver_for_exactly_the_tables_with_files(tmp_path):
    ds = load_dataset("autocorp")
    lake = LocalLake(tmp_path)
    sensor, filesync = raw_files_sensor(ds, "database"), raw_files_sensor(ds, "csv")
    assert (sensor.name, filesync.name) == ("autocorp_dms_files", "autocorp_filesync_files")
    res = LakeResource(root=str(tmp_path))
    assert sensor(_ctx(res)).run_requests == [] and filesync(_ctx(res)).run_requests == []
    lake.write_text("raw/database/public/sales_order/20240101-000000001.parquet", "x")
    lake.write_text("raw/csv/autocorp/customers-20240101.csv", "x")
    lake.write_text("raw/csv/autocorp/notes.txt", "ignored")
    result = sensor(_ctx(res))
    (req,) = result.run_requests
    assert {k.to_user_string() for k in req.asset_selection} == {
        "bronze/sales_order",
        "silver/sales_order",
    }
    assert req.tags == {"lakehouse/trigger": "raw_files", "lakehouse/dataset": "autocorp"}
    (csv_req,) = filesync(_ctx(res)).run_requests  # the file-sync zone: its own sensor
    assert {k.to_user_string() for k in csv_req.asset_selection} == {
        "bronze/customers_csv",
        "silver/customers_csv",
    }
    again = sensor(_ctx(res, result.cursor))
    assert again.run_requests == []
    lake.write_text("raw/database/public/service/LOAD00000001.parquet", "x")
    third = sensor(_ctx(res, result.cursor))
    assert [k.to_user_string() for k in third.run_requests[0].asset_selection] == [
        "bronze/service",
        "silver/service",
    ]
    assert third.run_requests[0].run_key != req.run_key
    # an SCD2 table's silver multi-asset materializes both of its keys
    lake.write_text("raw/database/public/customers/20240101-000000001.parquet", "x")
    fourth = sensor(_ctx(res, third.cursor))
    assert [k.to_user_string() for k in fourth.run_requests[0].asset_selection] == [
        "bronze/customers", "silver/customers", "silver/customers_history",
    ]  # fmt: skip


def test_raw_files_sensor_skips_files_already_in_bronze_and_defers_busy_tables(tmp_path):
    """Files already in bronze (e.g. ingested by a run someone launched from the UI) need no
    run; a table whose bronze is in a run waiting to start waits for it, its files not forgotten."""
    from lakehouse.declarations.dms import settings_for
    from lakehouse.engine.bronze import ingest

    ds = load_dataset("saas")
    tables = {t.name: t for t in ds.tables}
    lake = LocalLake(tmp_path)
    lake.write_text(
        "raw/database/public/core_tenant/LOAD00000001.csv",
        "Op,_commit_ts,id,name,slug,created_at\n"
        "I,2024-01-01 00:00:00.000000,00000000-0000-0000-0000-000000000001,Acme,acme,2024-01-01 00:00:00\n",
    )
    assert ingest(lake, tables["core_tenant"], settings_for("saas")).rows == 1
    sensor, res = raw_files_sensor(ds, "database"), LakeResource(root=str(tmp_path))
    instance = dg.DagsterInstance.ephemeral()
    first = sensor(_ctx(res, instance=instance))
    assert first.run_requests == []  # seen, but already in bronze
    lake.write_text("raw/database/public/core_order/20240101-000000001.csv", "x")
    instance.add_run(dg.DagsterRun(
        job_name="__ASSET_JOB", run_id="waiting", status=dg.DagsterRunStatus.NOT_STARTED,
        asset_selection=frozenset([dg.AssetKey(["bronze", "core_order"])]),
    ))  # fmt: skip
    deferred = sensor(_ctx(res, first.cursor, instance))
    assert deferred.run_requests == []
    instance.handle_run_event(  # it started: it may be past its bronze step already
        "waiting",
        dg.DagsterEvent(event_type_value="PIPELINE_START", job_name="__ASSET_JOB"),
    )
    later = sensor(_ctx(res, deferred.cursor, instance))
    assert [k.to_user_string() for k in later.run_requests[0].asset_selection] == [
        "bronze/core_order", "silver/core_order",
    ]  # fmt: skip


def test_raw_files_sensor_targets_are_valid_selections_of_the_definitions():
    """Every run the sensor can request is a valid subset of the job (both keys of an SCD2
    table come together: the silver step writes both, whichever is selected)."""
    from lakehouse.definitions import build_definitions

    defs = build_definitions()
    graph = defs.resolve_asset_graph()
    for sensor in defs.sensors:
        if not sensor.name.endswith(("_dms_files", "_filesync_files")):
            continue
        keys = sensor.asset_selection.resolve(graph)
        # raw: the replication run it requests in the local profile
        assert keys and all(k.path[0] in ("raw", "bronze", "silver") for k in keys)
        defs.resolve_implicit_global_asset_job_def().get_subset(asset_selection=keys)


def test_landing_sensor(tmp_path):
    ds = load_dataset("autocorp")
    sensor = landing_sensor(ds)
    res = {"landing": LandingResource(path=str(tmp_path))}
    (tmp_path / "autocorp").mkdir()
    (tmp_path / "autocorp" / "customers-20240101.csv").write_text("a")
    first = sensor(dg.build_sensor_context(cursor=None, resources=res))
    assert len(first.run_requests) == 1
    assert isinstance(
        sensor(dg.build_sensor_context(cursor=first.cursor, resources=res)), dg.SkipReason
    )


@pytest.mark.integration
def _materialized(result) -> list:
    """A tick's raw materializations (its slot check evaluations left out: test_slot_watch)."""
    return [e for e in result.asset_events if isinstance(e, dg.AssetMaterialization)]


def test_raw_files_sensor_replicates_in_the_tick_and_requests_what_it_wrote(
    fresh_db, tmp_path, monkeypatch
):
    """Local profile: the full load is a replication run; later CDC catch-ups happen inside the
    tick, reported as raw materializations, and the files they wrote are requested at once."""
    from lakehouse.replication.replicator import Replicator
    from lakehouse.replication.task import dataset_task
    from lakehouse.sensors import catch_up
    from lakehouse.source.seed import seed

    seed(fresh_db, "saas", "small")
    ds = load_dataset("saas")
    raw = {f"raw/{t.name}" for t in ds.database_tables}
    sensor = raw_files_sensor(ds, "database", replicate=True)
    res = {
        "source_db": SourceDatabaseResource(dsn=fresh_db),
        "lake": LakeResource(root=str(tmp_path)),
    }
    instance = dg.DagsterInstance.ephemeral()

    def tick(cursor, sensor=sensor):
        return sensor(dg.build_sensor_context(resources=res, instance=instance, cursor=cursor))

    first = tick(None)
    (full_load,) = first.run_requests  # no slot yet: the full load is a run, not a tick's work
    assert {k.to_user_string() for k in full_load.asset_selection} == raw
    assert full_load.tags["lakehouse/trigger"] == "replication"
    instance.add_run(dg.DagsterRun(
        job_name="__ASSET_JOB", run_id="load", status=dg.DagsterRunStatus.NOT_STARTED,
        asset_selection=frozenset(full_load.asset_selection), tags=full_load.tags,
    ))  # fmt: skip
    waiting = tick(first.cursor)  # the replication run is in progress: the tick leaves the slot
    assert waiting.run_requests == [] and _materialized(waiting) == []
    Replicator(dataset_task("saas", fresh_db), LocalLake(tmp_path)).run()  # the run's work
    instance.handle_run_event(
        "load", dg.DagsterEvent(event_type_value="PIPELINE_SUCCESS", job_name="__ASSET_JOB")
    )
    loaded = tick(waiting.cursor)
    (apply,) = loaded.run_requests  # the load files of every table: bronze + silver
    assert apply.tags["lakehouse/trigger"] == "raw_files"
    assert {k.path[1] for k in apply.asset_selection if k.path[0] == "bronze"} == {
        t.name for t in ds.tables
    }
    assert _materialized(loaded) == []  # caught up already: nothing replicated in the tick

    with psycopg.connect(fresh_db, autocommit=True) as conn:
        conn.execute("update core_tenant set name = name || '!'")
    changed = tick(loaded.cursor)  # replicated in the tick, requested in the same tick
    assert [e.asset_key.to_user_string() for e in _materialized(changed)] == ["raw/core_tenant"]
    assert _materialized(changed)[0].metadata["cdc_changes"].value > 0
    (req,) = changed.run_requests
    assert [k.to_user_string() for k in req.asset_selection] == [
        "bronze/core_tenant",
        "silver/core_tenant",
    ]
    idle = tick(changed.cursor)
    assert idle.run_requests == [] and _materialized(idle) == []

    # a large backlog is a replication run (one per WAL position), not a tick's work: more WAL
    # behind than LAKEHOUSE_CATCH_UP_MAX_BYTES (here 1 byte)
    small = Settings.from_env({"LAKEHOUSE_CATCH_UP_MAX_BYTES": "1"})
    backlog_sensor = raw_files_sensor(ds, "database", replicate=True, settings=small)
    with psycopg.connect(fresh_db, autocommit=True) as conn:
        conn.execute("update core_tenant set name = name || '?'")
    (backlog,) = tick(idle.cursor, backlog_sensor).run_requests
    assert backlog.tags["lakehouse/trigger"] == "replication" and backlog.run_key.startswith(
        "saas:"
    )
    # a catch-up that fails in the tick becomes a run, which fails visibly (and alerts)
    seen = []

    def broken(*args, **kwargs):
        seen.append(kwargs)
        raise RuntimeError("disk full")

    monkeypatch.setattr(catch_up, "replicate_inline", broken)
    (retry,) = tick(idle.cursor).run_requests
    assert seen == [{"max_seconds": 30.0}]  # LAKEHOUSE_CATCH_UP_MAX_SECONDS' default
    assert retry.run_key.endswith(":retry") and retry.tags["lakehouse/trigger"] == "replication"


def test_alert_posts_to_a_webhook(webhook):
    url, received = webhook
    where = send_alert({"job": "__ASSET_JOB", "run_id": "r1", "error": "boom"}, webhook=url)
    assert (
        where.startswith("webhook")
        and received[0]["run_id"] == "r1"
        and received[0]["error"] == "boom"
    )


def test_freshness_lag_follows_unapplied_changes(tmp_path):
    from lakehouse.engine import bronze, silver
    from lakehouse_tests.engine.test_silver import HEADER, SETTINGS, SPEC, _line

    lake = LocalLake(tmp_path)
    lake.write_text(SPEC.raw_prefix + "LOAD00000001.csv", HEADER + _line("I", 1, 1))
    bronze.ingest(lake, SPEC, SETTINGS)
    assert silver_lag_seconds(lake, "things", now=time.time() + 100) >= 99  # bronze waits
    silver.apply_changes(lake, SPEC)
    assert silver_lag_seconds(lake, "things", now=time.time() + 100) == 0.0  # caught up
    assert (
        gold_lag_seconds(lake, "t_metric", ["things"], now=time.time() + 50) >= 49
    )  # gold never ran


@pytest.mark.integration
def test_a_replication_run_waits_for_the_ticks_replicator_to_free_the_slot(fresh_db, tmp_path):
    """The replication asset and the dms_files tick share one slot: the run waits for it."""
    from lakehouse.replication.lag import slot_lag, wait_until_free
    from lakehouse.replication.replicator import Replicator
    from lakehouse.replication.task import dataset_task
    from lakehouse.source.seed import seed

    seed(fresh_db, "saas", "small")
    task = dataset_task("saas", fresh_db)
    assert wait_until_free(fresh_db, task.slot, timeout=1)  # no slot yet: free
    Replicator(task, LocalLake(tmp_path)).run()
    stop = threading.Event()
    streaming = threading.Thread(
        target=lambda: Replicator(task, LocalLake(tmp_path)).run(follow=True, stop=stop)
    )
    streaming.start()
    try:
        deadline = time.time() + 30
        while time.time() < deadline and not slot_lag(fresh_db, task.slot).active:
            time.sleep(0.2)
        assert slot_lag(fresh_db, task.slot).active
        assert not wait_until_free(fresh_db, task.slot, timeout=1)  # held: not free in time
    finally:
        stop.set()
        streaming.join(timeout=60)
    assert wait_until_free(fresh_db, task.slot, timeout=30)
