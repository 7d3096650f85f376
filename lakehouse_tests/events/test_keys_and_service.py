"""API keys hashed at rest (and the CLI), the token bucket, and errors without stack traces."""

from __future__ import annotations

import json

from lakehouse.cli import main
from lakehouse.events.keys import ApiKeyStore, hash_key
from lakehouse.events.ratelimit import RateLimiter
from lakehouse.events.service import Request
from lakehouse.profiles import Settings
from lakehouse.storage import LocalLake
from lakehouse_tests.events.conftest import SEED_RECORD, make_service


def test_keys_are_stored_as_hashes_only(tmp_path):
    lake = LocalLake(tmp_path)
    store = ApiKeyStore(lake, reload_s=0)
    key_id, key = store.add(["iot_sensors"], rate=5)
    stored = lake.read_text("_state/api/keys.json")
    assert key not in stored and hash_key(key) in stored and key_id in key
    found = store.lookup(key)
    assert found.id == key_id and found.allows("iot_sensors") and not found.allows("app_events")
    assert found.rate == 5
    assert store.lookup(key + "x") is None and store.lookup(None) is None
    assert store.revoke(key_id) and store.lookup(key) is None
    assert "sha256" not in store.list()[0]


def test_cli_add_prints_the_key_once(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("LAKEHOUSE_ROOT", str(tmp_path / "lake"))
    monkeypatch.setenv("LAKEHOUSE_API_KEYS_FILE", str(tmp_path / "secrets" / "keys.json"))
    assert main(["api", "keys", "add", "--source", "iot_sensors"]) == 0
    key = capsys.readouterr().out.strip()
    assert key.startswith("lhk_")
    stored = (tmp_path / "secrets" / "keys.json").read_text()  # the path from the settings
    assert key not in stored and hash_key(key) in stored
    store = ApiKeyStore.from_settings(Settings.from_env())
    assert store.lookup(key) is not None
    assert main(["api", "keys", "list"]) == 0 and key not in capsys.readouterr().out


def test_token_bucket():
    now = [0.0]
    limiter = RateLimiter(rate=2, burst=3, clock=lambda: now[0])
    assert [limiter.take("k") for _ in range(3)] == [0, 0, 0]
    assert limiter.take("k") == 0.5  # empty: one token back in 0.5 s
    assert limiter.take("other") == 0
    now[0] = 0.5
    assert limiter.take("k") == 0
    assert RateLimiter.retry_after(0.2) == "1"


def _request(key: str) -> Request:
    return Request(
        "POST",
        "/ingest",
        {"x-api-key": key, "content-type": "application/json"},
        json.dumps(SEED_RECORD).encode(),
    )


def test_failures_have_no_stack_trace(tmp_path, caplog):
    lake = LocalLake(tmp_path)
    keys = ApiKeyStore(lake, reload_s=0)
    _, key = keys.add(["iot_sensors"])
    service = make_service(lake, keys)

    def broken_write(*a, **k):
        raise OSError("disk full at /secret/path")

    service.store.write = broken_write
    reply = service.handle(_request(key))
    assert reply.status == 503 and reply.headers["retry-after"] == "1"
    assert (
        "secret" not in reply.json_bytes().decode()
        and "Traceback" not in reply.json_bytes().decode()
    )

    def bug(*a, **k):
        raise RuntimeError("internal detail")

    service.limiter.take = bug
    reply = service.handle(_request(key))
    assert reply.status == 500 and set(reply.body) == {"error", "message", "errors", "request_id"}
    assert "internal detail" not in reply.json_bytes().decode()
    assert any(
        "internal detail" in (r.exc_text or "") for r in caplog.records
    )  # logged server-side


def test_a_deeply_nested_body_is_a_400_naming_the_rule_not_a_500(tmp_path):
    lake = LocalLake(tmp_path)
    keys = ApiKeyStore(lake, reload_s=0)
    _, key = keys.add(["iot_sensors"])
    service = make_service(lake, keys)
    request = _request(key)
    request.body = b"[" * 5_000
    reply = service.handle(request)
    assert reply.status == 400, reply.body
    assert reply.body["error"] == "too_deeply_nested"
    assert [e["rule"] for e in reply.body["errors"]] == ["max_depth"]
    assert set(reply.body) == {"error", "message", "errors", "request_id"}
