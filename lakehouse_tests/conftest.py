"""Shared fixtures: a real embedded PostgreSQL (one server per test session and xdist worker)."""

from __future__ import annotations

import uuid

import psycopg
import pytest


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
        for (slot, pid) in conn.execute(
            "select slot_name, active_pid from pg_replication_slots where database = %s", (name,)
        ).fetchall():
            if pid:
                conn.execute("select pg_terminate_backend(%s)", (pid,))
            conn.execute("select pg_drop_replication_slot(%s)", (slot,))
        conn.execute(f'drop database if exists "{name}" with (force)')
