"""The Lambda adapter with real API Gateway proxy events (REST v1 and HTTP API v2 payloads)."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

from lakehouse.events import lambda_handler
from lakehouse.events.keys import ApiKeyStore
from lakehouse.storage import LocalLake
from lakehouse_tests.events.conftest import SEED_RECORD

HERE = Path(__file__).parent


@pytest.fixture
def deployed(tmp_path, monkeypatch):
    """The function's environment: LAKEHOUSE_ROOT (s3://… on AWS, a folder here) and a key."""
    root = tmp_path / "lake"
    monkeypatch.setenv("LAKEHOUSE_ROOT", str(root))
    monkeypatch.setattr(lambda_handler, "_service", None)  # a cold start
    lake = LocalLake(root)
    _, key = ApiKeyStore(lake).add(["iot_sensors"])
    return lake, key


def event(name: str, key: str, body: bytes | None = None) -> dict:
    text = (HERE / name).read_text().replace("__API_KEY__", key)
    if body is not None:
        text = text.replace("__BODY_BASE64__", base64.b64encode(body).decode())
    return json.loads(text)


def test_rest_api_proxy_event(deployed):
    lake, key = deployed
    resp = lambda_handler.handler(event("apigw_rest_event.json", key), None)
    assert resp["statusCode"] == 200 and resp["isBase64Encoded"] is False
    body = json.loads(resp["body"])
    assert body["request_id"] == "c6af9ac6-7b61-11e6-9a41-93e8deadbeef"  # API Gateway's
    assert resp["headers"]["content-type"] == "application/json"
    objs = lake.list("raw/events/iot_sensors/")
    assert len(objs) == 1
    line = json.loads(lake.read_text(objs[0].key))
    assert line["id"] == body["ids"][0] and line["data"] == SEED_RECORD["data"]


def test_http_api_v2_event_with_stage_and_base64_body(deployed):
    lake, key = deployed
    batch = json.dumps([SEED_RECORD, SEED_RECORD]).encode()
    resp = lambda_handler.handler(event("apigw_http_event.json", key, batch), None)
    assert resp["statusCode"] == 200, resp
    assert json.loads(resp["body"])["count"] == 2  # /prod/ingest routed to /ingest


def test_same_contract_as_the_server(deployed):
    lake, key = deployed
    ev = event("apigw_rest_event.json", key)
    ev["body"] = json.dumps({**SEED_RECORD, "data": {**SEED_RECORD["data"], "temperature": 900}})
    resp = lambda_handler.handler(ev, None)
    assert resp["statusCode"] == 422
    assert json.loads(resp["body"])["errors"][0]["field"] == "data.temperature"
    ev = event("apigw_rest_event.json", "lhk_wrong")
    assert lambda_handler.handler(ev, None)["statusCode"] == 401
    ev = event("apigw_rest_event.json", key)
    ev["httpMethod"], ev["path"], ev["body"] = "GET", "/health", None
    assert lambda_handler.handler(ev, None)["statusCode"] == 200
    ev = event("apigw_http_event.json", key)  # "__BODY_BASE64__" is not base64 of JSON
    ev["body"] = "%%%"
    assert lambda_handler.handler(ev, None)["statusCode"] == 400
    assert lake.list("raw/events/") == []


@pytest.fixture
def s3_lake(monkeypatch, moto_s3):
    """The shared moto server (``moto_s3``) and the function's aws-profile environment
    (LAKEHOUSE_ROOT=s3://…)."""
    import boto3

    boto3.client("s3", endpoint_url=moto_s3, region_name="us-east-1").create_bucket(Bucket="lake")
    monkeypatch.setenv("LAKEHOUSE_PROFILE", "aws")
    monkeypatch.setenv("LAKEHOUSE_ROOT", "s3://lake/prod")
    monkeypatch.setenv("LAKEHOUSE_S3_ENDPOINT", moto_s3)
    monkeypatch.setattr(lambda_handler, "_service", None)
    from lakehouse.profiles import Settings

    return Settings.from_env().lake()


def test_on_s3_keys_raw_zone_and_bronze(s3_lake):
    """The aws profile: keys read from and records written to S3; bronze reads them back."""
    from lakehouse.events.bronze import ingest_bronze
    from lakehouse.events.silver import apply_silver
    from lakehouse.events.tables import read_table
    from lakehouse_tests.events.sources import IOT_SENSORS

    _, key = ApiKeyStore(s3_lake).add(["iot_sensors"])
    resp = lambda_handler.handler(event("apigw_rest_event.json", key), None)
    assert resp["statusCode"] == 200, resp
    (obj,) = s3_lake.list("raw/events/iot_sensors/")
    assert obj.key.endswith(f"-{json.loads(resp['body'])['batch_id']}.json")
    assert ingest_bronze(s3_lake, IOT_SENSORS).rows == 1
    assert apply_silver(s3_lake, IOT_SENSORS).inserted == 1
    assert read_table(s3_lake, "silver/events_iot_sensors")["device_id"].to_list() == ["sensor_001"]
