"""The event API's Lambda function as terraform/modules/api deploys it, against the moto server:
its environment (``LAKEHOUSE_ROOT = s3://<raw bucket>``), an API Gateway REST proxy event, and
every S3 call it makes checked against the function role's statements parsed from the HCL. moto
does not enforce IAM, so the calls are recorded and matched here: a call no statement allows
would be AccessDenied on AWS."""

from __future__ import annotations

import fnmatch
import json
from pathlib import Path

import boto3
import pytest

from lakehouse.aws import naming
from lakehouse.events import lambda_handler
from lakehouse.events.keys import ApiKeyStore
from lakehouse.storage import open_lake
from lakehouse_tests.terraform.test_terraform import generated, policy_statements, render

pytestmark = pytest.mark.integration

RAW_BUCKET = "lakehouse-dev-raw-123456789012"
REST_EVENT = Path(__file__).resolve().parents[1] / "events" / "apigw_rest_event.json"
#: S3 operation -> the IAM action that authorizes it (and whether it names an object)
S3_ACTIONS = {
    "PutObject": ("s3:PutObject", True),
    "GetObject": ("s3:GetObject", True),
    "HeadObject": ("s3:GetObject", True),
}


def allowed(statements: dict, action: str, arn: str, prefix: str | None) -> bool:
    for st in statements.values():
        if action not in st["actions"]:
            continue
        for cond in st.get("condition", []):
            if cond["variable"] == "s3:prefix" and prefix not in cond["values"]:
                break
        else:
            if any(fnmatch.fnmatchcase(arn, pattern) for pattern in st["resources"]):
                return True
    return False


@pytest.fixture
def function(aws, client, monkeypatch):
    """A cold Lambda with the module's environment; S3 calls of clients made from now recorded."""
    s3 = client("s3")
    s3.create_bucket(Bucket=RAW_BUCKET)
    api = generated("lakehouse.json")["api"]
    # the variables the function gets (modules/api: LAKEHOUSE_ROOT = local.raw_root)
    monkeypatch.setenv("LAKEHOUSE_ROOT", f"s3://{RAW_BUCKET}")
    for name in ("LAKEHOUSE_S3_ENDPOINT", "LAKEHOUSE_API_KEYS_FILE", "LAKEHOUSE_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(lambda_handler, "_service", None)
    calls: list[tuple[str, dict]] = []
    session = boto3.Session(region_name="us-east-1")
    session.events.register(
        "provide-client-params.s3.*",
        lambda params, model, **_: calls.append((model.name, dict(params))),
    )
    monkeypatch.setattr(boto3, "DEFAULT_SESSION", session)
    return api, calls


def _statements(api: dict) -> dict:
    refs = {
        "var.raw_bucket_arn": f"arn:aws:s3:::{RAW_BUCKET}",
        "var.api.events_prefix": api["events_prefix"],
        "var.api.keys_object": api["keys_object"],
        "var.kms_key_arn": "arn:aws:kms:us-east-1:123456789012:key/k",
        "aws_cloudwatch_log_group.function.arn": "arn:aws:logs:us-east-1:123456789012:log-group:f",
    }
    out = {}
    for sid, st in policy_statements("modules/api/main.tf", "function").items():
        out[sid] = {**st, "resources": [render(r, refs) for r in st["resources"]]}
    return out


def _check_calls(calls, statements):
    assert calls, "the function made no S3 call"
    for op, params in calls:
        action, on_object = S3_ACTIONS[op]
        arn = f"arn:aws:s3:::{params['Bucket']}" + (f"/{params['Key']}" if on_object else "")
        assert allowed(statements, action, arn, params.get("Prefix")), (op, params)


def test_an_accepted_request_lands_under_raw_events_with_only_allowed_calls(function):
    api, calls = function
    # the key as `lakehouse api keys add` makes it with LAKEHOUSE_ROOT=s3://<raw bucket>
    _, key = ApiKeyStore(open_lake(f"s3://{RAW_BUCKET}")).add(["iot_sensors"])
    calls.clear()
    event = json.loads(REST_EVENT.read_text().replace("__API_KEY__", key))
    event["requestContext"]["stage"] = "v1"  # the module's stage
    resp = lambda_handler.handler(event, None)
    assert resp["statusCode"] == 200, resp
    body = json.loads(resp["body"])
    puts = [p["Key"] for op, p in calls if op == "PutObject"]
    assert len(puts) == 1 and puts[0].startswith(f"{api['events_prefix']}iot_sensors/year=")
    assert {op for op, _ in calls} <= {"HeadObject", "GetObject", "PutObject"}
    _check_calls(calls, _statements(api))
    line = json.loads(
        boto3.client("s3").get_object(Bucket=RAW_BUCKET, Key=puts[0])["Body"].read().splitlines()[0]
    )
    assert line["id"] == body["ids"][0] and line["api_key_id"] == key.split("_")[1]


def test_the_key_lookup_reads_only_the_key_file(function):
    """HeadObject + GetObject of the key file only. (Without s3:ListBucket a missing file is a 403
    on AWS, a 404 here; a request reaches the function only with a usage-plan key, and those keys
    come from the key file, so it exists.)"""
    api, calls = function
    _, key = ApiKeyStore(open_lake(f"s3://{RAW_BUCKET}")).add(["iot_sensors"])
    calls.clear()
    event = json.loads(REST_EVENT.read_text().replace("__API_KEY__", key[:-3] + "xyz"))
    resp = lambda_handler.handler(event, None)
    assert resp["statusCode"] == 401, resp
    assert [(op, p["Key"]) for op, p in calls] == [
        ("HeadObject", api["keys_object"]),
        ("GetObject", api["keys_object"]),
    ]
    _check_calls(calls, _statements(api))
    statements = _statements(api)
    assert not allowed(statements, "s3:GetObject", f"arn:aws:s3:::{RAW_BUCKET}/raw/events/x", None)
    assert not allowed(
        statements, "s3:PutObject", f"arn:aws:s3:::{RAW_BUCKET}/_state/api/keys.json", None
    )


def test_the_routes_the_module_deploys_are_the_service_routes(function):
    api, _ = function
    assert api["routes"] == {"ingest": "POST", "health": "GET"}
    assert naming.API_LAMBDA_HANDLER == "lakehouse.events.lambda_handler.handler"
    event = json.loads(REST_EVENT.read_text().replace("__API_KEY__", "x"))
    event.update(httpMethod="GET", path="/v1/health", body=None)
    event["requestContext"]["stage"] = "v1"
    resp = lambda_handler.handler(event, None)
    assert resp["statusCode"] == 200 and json.loads(resp["body"])["status"] == "ok"
