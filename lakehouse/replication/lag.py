"""How far the source's WAL is ahead of a replication slot (cheap: one catalog query)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class SlotLag:
    slot_exists: bool
    current: str  # the WAL insert position
    confirmed: str | None  # the slot's confirmed flush position
    bytes: int


def slot_lag(dsn: str, slot: str) -> SlotLag:
    import psycopg

    with psycopg.connect(dsn, autocommit=True) as conn:
        current = conn.execute("select pg_current_wal_insert_lsn()::text").fetchone()[0]
        row = conn.execute(
            """select confirmed_flush_lsn::text,
                      pg_wal_lsn_diff(pg_current_wal_insert_lsn(), confirmed_flush_lsn)::bigint
               from pg_replication_slots where slot_name = %s""",
            (slot,),
        ).fetchone()
    if row is None:
        return SlotLag(False, current, None, -1)
    return SlotLag(True, current, row[0], int(row[1] or 0))
