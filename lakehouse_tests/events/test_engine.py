"""bronze (exactly once, lineage, quarantine), silver (dedup, quality_score), gold (late records)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from lakehouse.events.bronze import ingest_bronze
from lakehouse.events.gold import build_gold_daily
from lakehouse.events.silver import apply_silver
from lakehouse.events.store import EventStore, object_key
from lakehouse.events.tables import read_table
from lakehouse.events.validation import Record
from lakehouse_tests.events.sources import APP_EVENTS, IOT_SENSORS

T0 = datetime(2025, 11, 25, 10, 0, tzinfo=UTC)


def rec(rid: str, temp=20.0, ts="2025-11-25T09:00:00Z", **opt) -> Record:
    return Record(
        rid,
        "iot_sensors",
        {"device_id": "d1", "temperature": temp, "timestamp": ts, **opt},
        {"k": "v"},
    )


def write(lake, records, at=T0):
    return EventStore(lake).write(
        "iot_sensors", records, api_key_id="k1", request_id="r1", received_at=at
    )[0]


def test_bronze_is_append_only_exactly_once_with_lineage(lake):
    key = write(lake, [rec("a"), rec("b")])
    first = ingest_bronze(lake, IOT_SENSORS)
    assert first.rows == 2 and first.files == [key]
    assert ingest_bronze(lake, IOT_SENSORS).rows == 0  # replay: no-op
    write(lake, [rec("a")], at=T0 + timedelta(seconds=1))  # a retried request
    assert ingest_bronze(lake, IOT_SENSORS).rows == 1
    bronze = read_table(lake, "bronze/events_iot_sensors").sort("_source_file", "_source_row")
    assert bronze["record_id"].to_list() == ["a", "b", "a"]  # append-only: duplicates kept
    row = bronze.row(0, named=True)
    assert row["_source_file"] == key and row["_source_row"] == 1 and row["api_key_id"] == "k1"
    assert row["received_at"] == T0 and row["event_ts"] == datetime(2025, 11, 25, 9, tzinfo=UTC)
    assert json.loads(row["data"])["device_id"] == "d1"


def test_bronze_cache_is_rebuilt_from_the_delta_history(lake):
    write(lake, [rec("a")])
    ingest_bronze(lake, IOT_SENSORS)
    lake.delete("_state/bronze/events_iot_sensors.json")  # e.g. a crash after the commit
    assert ingest_bronze(lake, IOT_SENSORS).rows == 0


def test_unreadable_lines_are_quarantined_and_the_rest_flows(lake):
    key = object_key("iot_sensors", T0, "cafe")
    good = json.dumps({"id": "g", "received_at": "2025-11-25T10:00:00Z", "data": rec("g").data})
    lake.write_text(key, good + '\n{"no": "id"}\nnot json\n')
    res = ingest_bronze(lake, IOT_SENSORS)
    assert res.rows == 1 and res.quarantined == 2
    q = read_table(lake, "quarantine/events_iot_sensors")
    assert sorted(q["_source_row"].to_list()) == [2, 3] and set(q["_stage"]) == {"bronze"}


def test_silver_dedupes_first_arrival_and_scores_quality(lake):
    write(
        lake, [rec("a", 20.0, humidity=50, pressure=1000, battery=80), rec("b", 21.0, humidity=50)]
    )
    write(lake, [rec("a", 99.0)], at=T0 + timedelta(minutes=1))  # duplicate id, later
    ingest_bronze(lake, IOT_SENSORS)
    res = apply_silver(lake, IOT_SENSORS)
    assert res.inserted == 2 and res.duplicates == 1
    silver = {r["record_id"]: r for r in read_table(lake, "silver/events_iot_sensors").to_dicts()}
    assert silver["a"]["temperature"] == 20.0 and silver["a"]["quality_score"] == 1.0
    assert silver["b"]["quality_score"] == pytest.approx(1 / 3)
    assert "timestamp" not in silver["a"] and silver["a"]["event_ts"] == datetime(
        2025, 11, 25, 9, tzinfo=UTC
    )
    # a later duplicate in another run changes nothing; nothing new is a no-op
    write(lake, [rec("b", 55.0)], at=T0 + timedelta(minutes=2))
    ingest_bronze(lake, IOT_SENSORS)
    again = apply_silver(lake, IOT_SENSORS)
    assert again.inserted == 0 and again.duplicates == 1 and again.rows == 1
    assert apply_silver(lake, IOT_SENSORS).rows == 0
    silver = read_table(lake, "silver/events_iot_sensors")
    assert silver.filter(silver["record_id"] == "b")["temperature"].to_list() == [21.0]
    # a full refresh rebuilds the same table
    before = read_table(lake, "silver/events_iot_sensors").sort("record_id")
    apply_silver(lake, IOT_SENSORS, full_refresh=True)
    assert read_table(lake, "silver/events_iot_sensors").sort("record_id").equals(before)


def test_silver_rechecks_raw_written_by_others(lake):
    """Raw objects not written by the API: bad optional → null + lower score; bad required → quarantine."""
    key = object_key("iot_sensors", T0, "beef")
    lines = [
        {
            "id": "x1",
            "received_at": "2025-11-25T10:00:00Z",
            "data": {**rec("x1").data, "humidity": 300},
        },
        {
            "id": "x2",
            "received_at": "2025-11-25T10:00:00Z",
            "data": {"device_id": "d", "temperature": "hot", "timestamp": "2025-11-25T09:00:00Z"},
        },
    ]
    lake.write_text(key, "\n".join(json.dumps(x) for x in lines))
    ingest_bronze(lake, IOT_SENSORS)
    res = apply_silver(lake, IOT_SENSORS)
    assert res.inserted == 1 and res.quarantined == 1
    row = read_table(lake, "silver/events_iot_sensors").to_dicts()[0]
    assert row["record_id"] == "x1" and row["humidity"] is None and row["quality_score"] == 0.0
    q = read_table(lake, "quarantine/events_iot_sensors").to_dicts()[0]
    assert q["_stage"] == "silver" and q["_column"] == "temperature"


def test_gold_daily_with_late_records(lake):
    write(
        lake,
        [
            rec("a", 20.0, ts="2025-11-25T09:30:00Z", humidity=40),
            rec("b", 30.0, ts="2025-11-25T10:15:00+01:00"),
        ],
    )  # 09:15 UTC
    ingest_bronze(lake, IOT_SENSORS)
    apply_silver(lake, IOT_SENSORS)
    gold, version = build_gold_daily(lake, [IOT_SENSORS, APP_EVENTS])
    assert version == 0 and gold["day"].cast(str).to_list() == ["2025-11-25"]
    assert gold["records"][0] == 2 and gold["avg_temperature"][0] == 25.0
    assert gold["late_records"][0] == 0  # arrived within the hour
    # a record about the previous day arrives late: gold puts it in its own day
    write(lake, [rec("late", 10.0, ts="2025-11-23T12:00:00Z")], at=T0 + timedelta(hours=2))
    ingest_bronze(lake, IOT_SENSORS)
    apply_silver(lake, IOT_SENSORS)
    gold, _ = build_gold_daily(lake, [IOT_SENSORS, APP_EVENTS])
    by_day = {str(r["day"]): r for r in gold.to_dicts()}
    assert by_day["2025-11-23"]["records"] == 1 and by_day["2025-11-23"]["late_records"] == 1
    assert by_day["2025-11-25"]["records"] == 2
    assert {"users", "revenue", "devices"} <= set(gold.columns)


def test_gold_is_empty_with_its_columns_before_any_event(lake):
    gold, _ = build_gold_daily(lake, [IOT_SENSORS, APP_EVENTS])
    assert gold.height == 0 and {
        "source",
        "day",
        "records",
        "avg_quality_score",
        "avg_temperature",
    } <= set(gold.columns)


def _dies_at(monkeypatch, table_prefix: str):
    """``write_deltalake`` raising for the tables under ``table_prefix`` (a crash at that commit),
    writing the others (the quarantine) as usual; returns the real function."""
    import deltalake

    real = deltalake.write_deltalake

    def dies(uri, *a, **kw):
        if table_prefix in str(uri):
            raise RuntimeError("crash")
        return real(uri, *a, **kw)

    monkeypatch.setattr(deltalake, "write_deltalake", dies)
    return real


def test_a_crash_between_the_quarantine_write_and_the_bronze_commit_records_nothing_twice(
    lake, monkeypatch
):
    import deltalake

    key = object_key("iot_sensors", T0, "dead")
    good = json.dumps({"id": "g", "received_at": "2025-11-25T10:00:00Z", "data": rec("g").data})
    lake.write_text(key, good + '\n{"no": "id"}\nnot json\n')
    real = _dies_at(monkeypatch, "bronze/")
    for _ in range(2):
        with pytest.raises(RuntimeError):
            ingest_bronze(lake, IOT_SENSORS)
    monkeypatch.setattr(deltalake, "write_deltalake", real)
    res = ingest_bronze(lake, IOT_SENSORS)
    assert res.rows == 1 and res.quarantined == 2
    q = read_table(lake, "quarantine/events_iot_sensors")
    assert sorted(q["_source_row"].to_list()) == [2, 3] and set(q["_stage"]) == {"bronze"}
    assert ingest_bronze(lake, IOT_SENSORS).files == []


def test_a_crash_between_the_quarantine_write_and_the_silver_commit_records_nothing_twice(
    lake, monkeypatch
):
    import deltalake

    key = object_key("iot_sensors", T0, "f00d")
    bad = {"device_id": "d", "temperature": "hot", "timestamp": "2025-11-25T09:00:00Z"}
    lines = [
        {"id": "ok", "received_at": "2025-11-25T10:00:00Z", "data": rec("ok").data},
        {"id": "hot", "received_at": "2025-11-25T10:00:00Z", "data": bad},
    ]
    lake.write_text(key, "\n".join(json.dumps(x) for x in lines))
    ingest_bronze(lake, IOT_SENSORS)
    real = _dies_at(monkeypatch, "silver/")
    for _ in range(2):
        with pytest.raises(RuntimeError):
            apply_silver(lake, IOT_SENSORS)
    monkeypatch.setattr(deltalake, "write_deltalake", real)
    res = apply_silver(lake, IOT_SENSORS)
    assert res.inserted == 1 and res.quarantined == 1
    q = read_table(lake, "quarantine/events_iot_sensors")
    assert q.height == 1 and q.row(0, named=True)["_source_row"] == 2
    assert apply_silver(lake, IOT_SENSORS).rows == 0
