"""Is there anything for a replication slot to replicate? (cheap: catalog query + a 1-change peek)

WAL moves on even when no published table changes (other databases, checkpoints, the
running-transactions records PostgreSQL writes every 15 s), so a byte lag alone would wake the
replicator forever. ``slot_lag`` peeks the slot for one change of its publications
(``slot_health.oldest_pending_commit``: nothing consumed, bounded in time); pgoutput skips
transactions that touch no published table.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class SlotLag:
    slot_exists: bool
    current: str  # the WAL insert position
    confirmed: str | None  # the slot's confirmed flush position
    bytes: int
    active: bool = False  # a replicator is streaming from it right now
    has_changes: bool | None = None  # None: not peeked (slot missing, active or lost)
    lost: bool = False  # the server invalidated the slot: a resync is needed


def slot_lag(dsn: str, slot: str, publications: str | None = None) -> SlotLag:
    import psycopg

    from lakehouse.replication.slot_health import oldest_pending_commit

    with psycopg.connect(dsn, autocommit=True) as conn:
        current = conn.execute("select pg_current_wal_insert_lsn()::text").fetchone()[0]
        row = conn.execute(
            """select confirmed_flush_lsn::text,
                      pg_wal_lsn_diff(pg_current_wal_insert_lsn(), confirmed_flush_lsn)::bigint, active
               from pg_replication_slots where slot_name = %s""",
            (slot,),
        ).fetchone()
        if row is None:
            return SlotLag(False, current, None, -1)
        confirmed, lag, active = row[0], int(row[1] or 0), bool(row[2])
        has_changes = None
        if publications and not active and lag > 0:
            try:
                with conn.transaction():
                    has_changes = oldest_pending_commit(conn, slot, publications) is not None
            except psycopg.errors.ObjectInUse:  # a replicator attached meanwhile
                active = True
            except psycopg.errors.QueryCanceled:  # too much WAL to peek quickly: replicate
                has_changes = True
            except psycopg.errors.ObjectNotInPrerequisiteState:  # invalidated: cannot decode
                return SlotLag(True, current, confirmed, lag, active, None, lost=True)
    return SlotLag(True, current, confirmed, lag, active, has_changes)


def wait_until_free(dsn: str, slot: str, timeout: float) -> bool:
    """Wait (up to ``timeout`` s) until no replicator streams from ``slot`` (e.g. a sensor's
    catch-up finishing); whether it is free. A missing slot is free."""
    import time

    deadline = time.monotonic() + timeout
    while True:
        lag = slot_lag(dsn, slot)
        if not lag.active:
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.5)
