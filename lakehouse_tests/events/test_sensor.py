"""``events_raw_sensor``: runs for exactly the sources that got objects, with a robust cursor."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import dagster as dg
import pytest

from lakehouse.defs.events import raw_events_sensor
from lakehouse.defs.resources import LakeResource
from lakehouse.events.store import object_key
from lakehouse.storage import LocalLake
from lakehouse_tests.events.sources import APP_EVENTS, IOT_SENSORS

T0 = datetime(2025, 11, 25, 23, 59, 59, 999_000, tzinfo=UTC)
IOT = dg.AssetKey(["bronze", "events_iot_sensors"])
APP = dg.AssetKey(["bronze", "events_app_events"])


@pytest.fixture
def env(tmp_path):
    root = tmp_path / "lake"
    lake = LocalLake(root)
    sensor = raw_events_sensor([IOT_SENSORS, APP_EVENTS])

    def tick(cursor):
        ctx = dg.build_sensor_context(
            cursor=cursor, resources={"lake": LakeResource(root=str(root))}
        )
        result = sensor(ctx)
        return result.run_requests, result.cursor

    def put(source, at, batch):
        lake.write_text(object_key(source, at, batch), '{"id": "x"}\n')

    return lake, tick, put


def test_nothing_then_exactly_the_sources_with_objects(env):
    lake, tick, put = env
    runs, cursor = tick(None)
    assert runs == []
    put("iot_sensors", T0, "a1")
    runs, cursor = tick(cursor)
    assert len(runs) == 1 and runs[0].asset_selection == [IOT] and runs[0].run_key
    runs, cursor = tick(cursor)
    assert runs == []  # nothing new
    put("app_events", T0 + timedelta(seconds=1), "b1")  # crosses midnight: day=26
    runs, cursor2 = tick(cursor)
    assert len(runs) == 1 and runs[0].asset_selection == [APP]
    put("iot_sensors", T0 + timedelta(seconds=2), "a2")
    put("app_events", T0 + timedelta(seconds=2), "b2")
    runs, _ = tick(cursor2)
    assert len(runs) == 1 and set(runs[0].asset_selection) == {IOT, APP}
    keys = {r.run_key for r in runs}
    assert tick(cursor2)[0][0].run_key in keys  # deterministic run key for the same news


def test_equal_timestamps_and_late_writes_are_not_lost(env):
    lake, tick, put = env
    put("iot_sensors", T0, "b")
    runs, cursor = tick(None)
    assert len(runs) == 1
    put("iot_sensors", T0, "a")  # same timestamp, a batch id that sorts BEFORE the one seen
    runs, cursor = tick(cursor)
    assert runs and runs[0].asset_selection == [IOT]
    put("iot_sensors", T0 - timedelta(seconds=30), "c")  # a slow write landing after newer ones
    runs, cursor = tick(cursor)
    assert runs and runs[0].asset_selection == [IOT]
    assert tick(cursor)[0] == []
    state = json.loads(cursor)["iot_sensors"]
    assert state["n"] == 3 and state["last"].endswith("-b.json")


def test_the_cursor_does_not_relist_old_days(env, monkeypatch):
    lake, tick, put = env
    put("iot_sensors", T0 - timedelta(days=3), "old")
    put("iot_sensors", T0, "new")
    _, cursor = tick(None)
    seen = []
    real = LocalLake.list

    def spy(self, prefix, start_after=None):
        seen.append(start_after)
        return real(self, prefix, start_after)

    monkeypatch.setattr(LocalLake, "list", spy)
    tick(cursor)
    floor = [s for s in seen if s and "iot_sensors" in s][0]
    assert floor > object_key("iot_sensors", T0 - timedelta(days=3), "old")


def test_the_grace_setting_bounds_how_late_an_object_is_signalled(tmp_path):
    from lakehouse.profiles import Settings

    def ticks(settings, root):
        lake, ctx = LocalLake(root), {"resources": {"lake": LakeResource(root=str(root))}}
        sensor = raw_events_sensor([IOT_SENSORS], settings)
        lake.write_text(object_key("iot_sensors", T0, "new"), "{}\n")
        cursor = sensor(dg.build_sensor_context(cursor=None, **ctx)).cursor
        # an object keyed 90 s before the newest lands after the tick
        lake.write_text(object_key("iot_sensors", T0 - timedelta(seconds=90), "late"), "{}\n")
        return sensor(dg.build_sensor_context(cursor=cursor, **ctx)).run_requests

    assert len(ticks(Settings(), tmp_path / "a")) == 1  # within the default two minutes
    short = Settings.from_env({"LAKEHOUSE_EVENTS_GRACE_SECONDS": "60"})
    assert ticks(short, tmp_path / "b") == []  # past a one-minute grace: the next bronze run's
