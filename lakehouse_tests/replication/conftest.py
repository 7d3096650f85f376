"""Fixtures of the replication tests."""

from __future__ import annotations

import psycopg
import pytest


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
