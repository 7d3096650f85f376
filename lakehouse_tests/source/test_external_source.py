"""Any PostgreSQL by DSN: a server without logical decoding gets an error that says what to do."""

from __future__ import annotations

import psycopg
import pytest

from lakehouse.dms.settings import DmsS3Settings
from lakehouse.replication.replicator import Replicator
from lakehouse.replication.task import ReplicationTask
from lakehouse.source import embedded
from lakehouse.storage import LocalLake

pytestmark = pytest.mark.integration


def test_wal_level_replica_is_refused_with_the_fix(tmp_path):
    pgdata = tmp_path / "pgdata"
    dsn = embedded.start(pgdata)
    try:
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute("alter system set wal_level = replica")
        embedded.stop(pgdata)
        dsn = embedded.start(pgdata)
        with psycopg.connect(dsn, autocommit=True) as conn:
            assert conn.execute("show wal_level").fetchone()[0] == "replica"
            conn.execute("create table t (id int primary key)")
        task = ReplicationTask("x", dsn, DmsS3Settings())
        with pytest.raises(
            RuntimeError,
            match=r"wal_level is 'replica'.*ALTER SYSTEM SET wal_level = logical.*restart",
        ):
            Replicator(task, LocalLake(tmp_path / "lake")).run()
    finally:
        embedded.stop(pgdata)
