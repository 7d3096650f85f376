"""The real server (uvicorn on a free loopback port) driven with httpx, then the assets.

Requests: the seed-003 record, batches, an invalid record (422 naming field and rule), an
oversized body (413, declared and streamed), a wrong key (401), a key for another source (403),
a duplicate id (accepted idempotently, one row in silver), rate limiting (429); then
``dagster.materialize`` of bronze, silver (with its pandera check) and gold.
"""

from __future__ import annotations

import copy
import json
import logging

import dagster as dg
import httpx
import pytest

from lakehouse_tests.events.conftest import MAX_BATCH, MAX_BODY, SEED_RECORD

pytestmark = pytest.mark.xdist_group("events_api")


def post(api, body, key, **kw) -> httpx.Response:
    headers = {"x-api-key": key, **kw.pop("headers", {})}
    if "content" in kw:
        headers.setdefault("content-type", "application/json")
        return httpx.post(f"{api.url}/ingest", headers=headers, timeout=10, **kw)
    return httpx.post(f"{api.url}/ingest", json=body, headers=headers, timeout=10, **kw)


def reading(device: str, temp: float, ts: str = "2025-11-25T10:00:00Z", **extra) -> dict:
    return {
        "source": "iot_sensors",
        "data": {"device_id": device, "temperature": temp, "timestamp": ts, **extra},
    }


def test_health(api):
    r = httpx.get(f"{api.url}/health", timeout=10)
    assert r.status_code == 200
    assert r.json()["status"] == "ok" and "iot_sensors" in r.json()["sources"]
    assert r.headers["x-request-id"] == r.json()["request_id"]


def test_seed_record_is_durable_before_200(api, caplog):
    caplog.set_level(logging.INFO, logger="lakehouse.events.access")
    before = set(api.raw_objects("iot_sensors"))
    r = post(api, SEED_RECORD, api.iot_key, headers={"x-request-id": "req-seed-1"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["status"] == "accepted" and body["count"] == 1 and len(body["ids"]) == 1
    assert body["request_id"] == "req-seed-1"
    new = sorted(set(api.raw_objects("iot_sensors")) - before)
    assert len(new) == 1  # written before the response was sent
    key = new[0]
    assert key.startswith("raw/events/iot_sensors/year=") and "/month=" in key and "/day=" in key
    assert key.endswith(f"-{body['batch_id']}.json")
    line = json.loads(api.lake.read_text(key))
    assert line["id"] == body["ids"][0] and line["data"] == SEED_RECORD["data"]
    assert line["metadata"] == SEED_RECORD["metadata"] and line["request_id"] == "req-seed-1"
    access = [
        json.loads(r.getMessage()) for r in caplog.records if r.name == "lakehouse.events.access"
    ]
    mine = [a for a in access if a["request_id"] == "req-seed-1"]
    assert (
        mine
        and mine[0]["status"] == 200
        and mine[0]["records"] == 1
        and mine[0]["source"] == "iot_sensors"
    )
    assert api.iot_key not in json.dumps(access)  # the key id is logged, never the key


def test_batch_lands_in_one_object(api):
    before = set(api.raw_objects("iot_sensors"))
    batch = [reading(f"batch_dev_{i}", 20 + i) for i in range(5)]
    r = post(api, batch, api.iot_key)
    assert r.status_code == 200 and r.json()["count"] == 5
    r2 = post(api, {"records": batch[:2]}, api.iot_key)
    assert r2.status_code == 200 and r2.json()["count"] == 2
    new = sorted(set(api.raw_objects("iot_sensors")) - before)
    assert len(new) == 2  # one object per request
    lines = [json.loads(x) for k in new for x in api.lake.read_text(k).splitlines()]
    assert sorted(x["id"] for x in lines) == sorted(r.json()["ids"] + r2.json()["ids"])


def test_invalid_record_names_field_and_rule(api):
    before = api.raw_objects()
    bad = reading("sensor_001", 500.0, humidity=-3)
    r = post(api, bad, api.iot_key)
    assert r.status_code == 422
    errors = {(e["field"], e["rule"]) for e in r.json()["errors"]}
    assert errors == {("data.temperature", "le"), ("data.humidity", "ge")}
    r = post(
        api,
        [reading("ok", 20), {"source": "iot_sensors", "data": {"temperature": "hot", "colour": 1}}],
        api.iot_key,
    )
    assert r.status_code == 422
    errors = {(e["field"], e["rule"]) for e in r.json()["errors"]}
    assert {
        ("[1].data.device_id", "required"),
        ("[1].data.temperature", "type"),
        ("[1].data.timestamp", "required"),
        ("[1].data.colour", "unknown_field"),
    } == errors
    r = post(api, reading("x", 20, ts="2025-11-25T10:00:00"), api.iot_key)  # no offset
    assert r.status_code == 422 and r.json()["errors"][0]["rule"] == "format"
    r = post(api, {"source": "nope", "data": {}}, api.iot_key)
    assert r.status_code == 422 and r.json()["errors"][0] == {
        "field": "source",
        "rule": "known_source",
        "message": "must be one of app_events, iot_sensors",
    }
    r = post(api, [reading("a", 1), {"source": "app_events", "data": {}}], api.all_key)
    assert r.status_code == 422 and ("[1].source", "same_source") in {
        (e["field"], e["rule"]) for e in r.json()["errors"]
    }
    r = post(api, [reading(f"d{i}", 1) for i in range(MAX_BATCH + 1)], api.iot_key)
    assert r.status_code == 422 and r.json()["errors"][0]["rule"] == "max_items"
    assert api.raw_objects() == before  # all or nothing: nothing stored


def test_malformed_requests(api):
    r = post(api, None, api.iot_key, content=b'{"source": "iot_sensors", ')
    assert r.status_code == 400 and r.json()["errors"][0]["rule"] == "json"
    r = post(
        api, None, api.iot_key, content=b'{"source": "iot_sensors", "data": {"temperature": NaN}}'
    )
    assert r.status_code == 400
    r = post(api, None, api.iot_key, content=b"[" * 5_000)  # was a 500 (RecursionError)
    assert r.status_code == 400 and r.json()["errors"][0]["rule"] == "max_depth"
    r = post(
        api,
        None,
        api.iot_key,
        content=json.dumps(SEED_RECORD).encode(),
        headers={"content-type": "text/plain"},
    )
    assert r.status_code == 415
    assert httpx.get(f"{api.url}/ingest", timeout=10).status_code == 405
    r = httpx.get(f"{api.url}/nope", timeout=10)
    assert r.status_code == 404 and r.json()["error"] == "not_found"


def test_oversized_body_is_413(api):
    before = api.raw_objects()
    big = [reading(f"d{i}", 20, humidity=50) for i in range(MAX_BATCH)]
    for rec in big:
        rec["metadata"] = {"pad": "x" * 1000, "pad2": "y" * 1000}
    content = json.dumps(big).encode()
    assert len(content) > MAX_BODY
    r = post(api, None, api.iot_key, content=content)
    assert r.status_code == 413
    assert r.json()["errors"][0] == {
        "field": "body",
        "rule": "max_bytes",
        "message": f"must be at most {MAX_BODY} bytes",
    }

    def chunks():  # no Content-Length: the server stops reading at the limit
        for i in range(0, len(content), 8192):
            yield content[i : i + 8192]

    r = post(api, None, api.iot_key, content=chunks())
    assert r.status_code == 413
    assert api.raw_objects() == before


def test_wrong_key_is_401_and_other_source_403(api):
    for headers in ({}, {"x-api-key": "lhk_nope_nope"}):
        r = httpx.post(f"{api.url}/ingest", json=SEED_RECORD, headers=headers, timeout=10)
        assert r.status_code == 401
        assert r.json()["errors"][0]["field"] == "x-api-key"
    r = post(api, SEED_RECORD, api.app_key)
    assert r.status_code == 403
    assert (
        r.json()["errors"][0]["field"] == "source"
        and r.json()["errors"][0]["rule"] == "api_key_scope"
    )


def test_revoked_key_is_refused(api):
    key_id, key = api.keys.add(["iot_sensors"])
    assert post(api, SEED_RECORD, key).status_code == 200
    api.keys.revoke(key_id)
    assert post(api, SEED_RECORD, key).status_code == 401


def test_duplicate_ids(api):
    rec = {**copy.deepcopy(SEED_RECORD), "id": "seed-dup-1"}
    first, second = post(api, rec, api.iot_key), post(api, rec, api.iot_key)
    assert first.status_code == second.status_code == 200  # a retry is accepted idempotently
    assert first.json()["ids"] == second.json()["ids"] == ["seed-dup-1"]
    r = post(api, [rec, rec], api.iot_key)
    assert r.status_code == 422 and r.json()["errors"][0]["rule"] == "unique_in_request"
    r = post(api, {**rec, "id": "bad id with spaces"}, api.iot_key)
    assert r.status_code == 422 and r.json()["errors"][0]["rule"] == "id_format"


def test_rate_limit_per_key(api):
    codes = [post(api, SEED_RECORD, api.limited_key).status_code for _ in range(3)]
    assert codes == [200, 200, 429]
    r = post(api, SEED_RECORD, api.limited_key)
    assert r.status_code == 429 and int(r.headers["retry-after"]) >= 1
    assert r.json()["errors"][0]["rule"] == "rate_limit"
    assert post(api, SEED_RECORD, api.iot_key).status_code == 200  # other keys unaffected


def test_records_reach_silver_and_gold(api):
    """Post, then materialize raw → bronze → silver (+ check) → gold in process."""
    from lakehouse.defs.events import events_defs
    from lakehouse.defs.resources import LakeResource
    from lakehouse.events.tables import read_table

    day = "2025-12-01"
    recs = [
        {
            "id": "e2e-1",
            **reading("e2e_a", 20.0, f"{day}T08:00:00Z", humidity=40, pressure=1000, battery=90),
        },
        {"id": "e2e-2", **reading("e2e_a", 24.0, f"{day}T09:00:00+02:00", humidity=50)},
        {"id": "e2e-3", **reading("e2e_b", 30.0, f"{day}T10:00:00Z")},
    ]
    assert post(api, recs, api.iot_key).status_code == 200
    retry = {
        **recs[0],
        "data": {**recs[0]["data"], "temperature": 99.0},
    }  # same id: first arrival wins
    assert post(api, retry, api.iot_key).status_code == 200
    app = [
        {
            "source": "app_events",
            "id": f"app-{i}",
            "data": {
                "user_id": f"u{i % 2}",
                "event_type": "purchase",
                "timestamp": f"{day}T12:00:00Z",
                "amount": 10.0,
            },
        }
        for i in range(3)
    ]
    assert post(api, app, api.app_key).status_code == 200
    seed = {**copy.deepcopy(SEED_RECORD), "id": "seed-e2e"}
    assert [post(api, seed, api.iot_key).status_code for _ in range(2)] == [200, 200]

    assets, checks, _ = events_defs()
    result = dg.materialize(
        [*assets, *checks], resources={"lake": LakeResource(root=str(api.root))}
    )
    assert result.success
    evals = result.get_asset_check_evaluations()
    assert evals and all(e.passed for e in evals)

    silver = read_table(api.lake, "silver/events_iot_sensors")
    assert silver["record_id"].n_unique() == silver.height  # deduplicated by id
    mine = {
        r["record_id"]: r
        for r in silver.filter(silver["record_id"].str.starts_with("e2e-")).to_dicts()
    }
    assert set(mine) == {"e2e-1", "e2e-2", "e2e-3"}
    assert mine["e2e-1"]["temperature"] == 20.0  # the retry with another body did not win
    assert mine["e2e-1"]["quality_score"] == 1.0  # humidity, pressure, battery: 3 of 3
    assert mine["e2e-2"]["quality_score"] == pytest.approx(1 / 3)
    assert mine["e2e-3"]["quality_score"] == 0.0
    assert str(mine["e2e-2"]["event_ts"]).startswith("2025-12-01 07:00:00")  # UTC
    seed = silver.filter(silver["record_id"] == "seed-e2e")  # posted twice, kept once
    assert seed.height == 1 and seed["device_id"][0] == "sensor_001"

    gold = read_table(api.lake, "gold/events_daily")
    row = gold.filter((gold["source"] == "iot_sensors") & (gold["day"].cast(str) == day)).to_dicts()
    assert len(row) == 1 and row[0]["records"] == 3 and row[0]["devices"] == 2
    assert row[0]["avg_temperature"] == pytest.approx(24.667, abs=1e-3)
    assert row[0]["max_temperature"] == 30.0
    assert row[0]["avg_quality_score"] == pytest.approx((1 + 1 / 3 + 0) / 3)
    assert row[0]["late_records"] == 3  # event time 2025, arrival now
    app_row = gold.filter(gold["source"] == "app_events").to_dicts()
    assert app_row[0]["records"] == 3 and app_row[0]["users"] == 2 and app_row[0]["revenue"] == 30.0
    assert app_row[0]["avg_temperature"] is None

    again = dg.materialize([*assets, *checks], resources={"lake": LakeResource(root=str(api.root))})
    assert again.success  # nothing new: bronze and silver are no-ops
    assert read_table(api.lake, "silver/events_iot_sensors").height == silver.height
