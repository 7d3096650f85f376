"""Fixtures of the event-API tests: a lake with keys, and the REAL server on a free loopback port."""

from __future__ import annotations

import socket
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from lakehouse.events.keys import ApiKeyStore
from lakehouse.events.ratelimit import RateLimiter
from lakehouse.events.service import IngestService
from lakehouse.storage import LocalLake

#: the record of seed 003's README
SEED_RECORD = {
    "source": "iot_sensors",
    "data": {
        "device_id": "sensor_001",
        "temperature": 22.5,
        "humidity": 65,
        "timestamp": "2025-11-25T10:00:00Z",
    },
    "metadata": {"location": "warehouse_a", "firmware_version": "2.1.0"},
}
MAX_BODY = 64 * 1024
MAX_BATCH = 50


@dataclass
class Api:
    url: str
    root: Path
    lake: LocalLake
    keys: ApiKeyStore
    iot_key: str
    app_key: str
    all_key: str
    limited_key: str

    def raw_objects(self, source: str | None = None) -> list[str]:
        return [o.key for o in self.lake.list(f"raw/events/{source}/" if source else "raw/events/")]


def make_service(lake: LocalLake, keys: ApiKeyStore) -> IngestService:
    return IngestService(
        lake,
        keys,
        max_body_bytes=MAX_BODY,
        max_batch=MAX_BATCH,
        limiter=RateLimiter(rate=10_000, burst=10_000),
    )


@pytest.fixture(scope="module")
def api(tmp_path_factory):
    """uvicorn serving ``events.app`` in a thread, on a socket bound to 127.0.0.1:0."""
    import uvicorn

    from lakehouse.events.app import create_app

    root = tmp_path_factory.mktemp("events_api") / "lake"
    lake = LocalLake(root)
    keys = ApiKeyStore(lake, reload_s=0.0)
    iot_key = keys.add(["iot_sensors"])[1]
    app_key = keys.add(["app_events"])[1]
    all_key = keys.add(["*"])[1]
    limited_key = keys.add(["iot_sensors"], rate=0.01, burst=2)[1]
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(
        uvicorn.Config(
            create_app(make_service(lake, keys)),
            log_level="warning",
            access_log=False,
            lifespan="on",
        )
    )
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the API server did not start")
        time.sleep(0.02)
    yield Api(f"http://127.0.0.1:{port}", root, lake, keys, iot_key, app_key, all_key, limited_key)
    server.should_exit = True
    thread.join(timeout=15)
    sock.close()
