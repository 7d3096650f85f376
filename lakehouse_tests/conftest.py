"""Shared fixtures: an empty local lake per test, a real embedded PostgreSQL and a moto server
(each one per test session and xdist worker)."""

from __future__ import annotations

import uuid

import psycopg
import pytest


def pytest_addoption(parser):
    parser.addoption(
        "--snapshot-update",
        action="store_true",
        default=False,
        help="rewrite lakehouse_tests/asset_graph.*.txt from the shipped definitions",
    )


MOTO_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
}


@pytest.fixture
def lake(tmp_path):
    """An empty ``LocalLake`` at ``<tmp_path>/lake`` (a module with a lake of its own, e.g. one
    with tables written in, defines its own ``lake`` fixture)."""
    from lakehouse.storage import LocalLake

    return LocalLake(tmp_path / "lake")


@pytest.fixture(scope="session")
def pg_dsn(tmp_path_factory):
    """DSN of a running embedded PostgreSQL 18 with wal_level=logical (stopped at the end)."""
    from lakehouse.source import embedded

    pgdata = tmp_path_factory.mktemp("pg") / "pgdata"
    dsn = embedded.start(pgdata)
    yield dsn
    embedded.stop(pgdata)


@pytest.fixture
def fresh_db(pg_dsn):
    """A new, empty database on the session server; dropped afterwards with its slots."""
    from lakehouse.source import embedded

    name = f"t_{uuid.uuid4().hex[:12]}"
    admin = embedded.with_database(pg_dsn, "postgres")
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'create database "{name}"')
    yield embedded.with_database(pg_dsn, name)
    with psycopg.connect(admin, autocommit=True) as conn:
        for slot, pid in conn.execute(
            "select slot_name, active_pid from pg_replication_slots where database = %s", (name,)
        ).fetchall():
            if pid:
                conn.execute("select pg_terminate_backend(%s)", (pid,))
            conn.execute("select pg_drop_replication_slot(%s)", (slot,))
        conn.execute(f'drop database if exists "{name}" with (force)')


@pytest.fixture(scope="session")
def moto_server_url():
    """URL of a running moto server (every AWS API) on 127.0.0.1 and a free port (stopped at the
    end); use ``moto_s3``, which also resets its state and sets dummy credentials."""
    moto_server = pytest.importorskip("moto.server")

    server = moto_server.ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def moto_s3(monkeypatch, moto_server_url):
    """The session's moto server with its state reset and dummy AWS credentials in the
    environment (no ``AWS_PROFILE``); returns the endpoint URL."""
    import urllib.request

    urllib.request.urlopen(
        urllib.request.Request(f"{moto_server_url}/moto-api/reset", method="POST")
    ).close()
    for name, value in MOTO_CREDENTIALS.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    return moto_server_url


@pytest.fixture
def tight_server(tmp_path):
    """A private server whose slots may keep at most 1 MB of WAL (not the session server:
    invalidating slots there would break other tests)."""
    from lakehouse.source import embedded

    pgdata = tmp_path / "pgdata"
    dsn = embedded.start(pgdata)
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("alter system set max_slot_wal_keep_size = '1MB'")
        conn.execute("alter system set wal_keep_size = 0")
        conn.execute("alter system set min_wal_size = '32MB'")
        conn.execute("alter system set max_wal_size = '64MB'")
        conn.execute("select pg_reload_conf()")
    yield dsn
    embedded.stop(pgdata)
