"""The health of a replication slot, and keeping an idle one from holding WAL.

``slot_health(dsn, slot, publications)`` reads ``pg_replication_slots`` (any PostgreSQL ≥ 13;
``invalidation_reason``/``inactive_since`` where the server has them) and gives:
- ``lag_bytes``: WAL written since the slot's confirmed position; ``retained_bytes``: WAL the
  slot keeps on disk (from its restart position);
- ``lag_seconds``: the age of the oldest commit of its publications not confirmed yet, i.e. not
  in durable raw files (peeked, nothing consumed; 0 when none is pending; None when the peek
  fails or times out). While a replicator streams the slot, the peek runs on a temporary copy
  of it (``pg_copy_logical_replication_slot``): the server's ``replay_lag`` is the time since
  the connection began when the client reports only a flush position, never the pending age;
- ``wal_status`` (``reserved``/``extended``/``unreserved``/``lost``), ``safe_wal_size`` (bytes
  left before the server invalidates the slot; None: unbounded) and ``max_slot_wal_keep_size``;
- ``lost``: the slot is gone or invalidated, with the reason (``cause``; the rule is
  ``source.slots``, shared with ``source.doctor``): its changes since then cannot be
  replicated, the task needs a resync (never recreated silently).

``assess(health, policy, fix)`` grades it by the dataset's ``SlotPolicy``: ``error`` when the
slot is lost, its WAL is ``unreserved`` (the server is about to remove it) or a lag passes its
error threshold; ``warn`` past a warn threshold or when less than ``lag_warn`` remains before
the server would invalidate it; else ``ok``. The message names the worst finding and, for a lost slot, the fix.

``advance_idle_slot`` moves an unused slot's confirmed position to the current WAL position when
no change of its publications lies before it (checked by a peek bounded by that position, so a
commit after the peek is never skipped): on a busy database whose published tables are quiet,
WAL is freed without writing anything to the source.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import psycopg

from lakehouse.registry.model import SlotPolicy
from lakehouse.source.slots import lost_cause, slot_lost

PG_EPOCH = datetime(2000, 1, 1, tzinfo=UTC)
PEEK_TIMEOUT_MS = 5000  # a peek decodes WAL: bounded, a slow one gives "unknown", not a stall


class SlotLostError(RuntimeError):
    """The task's slot was dropped or invalidated after its full load: it needs a resync."""


@dataclass(frozen=True)
class SlotHealth:
    slot: str
    exists: bool
    active: bool = False
    wal_status: str | None = None
    safe_wal_size: int | None = None
    lag_bytes: int | None = None
    retained_bytes: int | None = None
    lag_seconds: float | None = None
    invalidation_reason: str | None = None
    inactive_since: datetime | None = None
    max_slot_wal_keep_size: int | None = None  # bytes; None: unbounded (-1)

    @property
    def lost(self) -> bool:
        return slot_lost(self.exists, self.wal_status, self.invalidation_reason)

    @property
    def cause(self) -> str | None:
        """Why the slot cannot deliver its changes any more (None while it can)."""
        return lost_cause(self.slot, self.exists, self.wal_status, self.invalidation_reason)

    def metadata(self) -> dict:
        """Plain values for Dagster metadata and the status command."""
        return {
            "slot": self.slot,
            "exists": self.exists,
            "active": self.active,
            "wal_status": self.wal_status or "",
            "lag_bytes": -1 if self.lag_bytes is None else self.lag_bytes,
            "retained_bytes": -1 if self.retained_bytes is None else self.retained_bytes,
            "lag_seconds": -1.0 if self.lag_seconds is None else round(self.lag_seconds, 1),
            "safe_wal_size": -1 if self.safe_wal_size is None else self.safe_wal_size,
            "max_slot_wal_keep_size": -1
            if self.max_slot_wal_keep_size is None
            else self.max_slot_wal_keep_size,
        }


@dataclass(frozen=True)
class Assessment:
    severity: str  # "ok" | "warn" | "error"
    message: str


def _size(n: int) -> str:
    for unit, factor in (("GiB", 1 << 30), ("MiB", 1 << 20), ("kiB", 1 << 10)):
        if n >= factor:
            return f"{n / factor:.1f} {unit}"
    return f"{n} B"


def assess(health: SlotHealth, policy: SlotPolicy, fix: str = "") -> Assessment:
    """Grade ``health`` by the dataset's ``policy`` (see the module docstring); ``fix``: the
    command that resyncs the task."""
    if health.lost:
        return Assessment("error", f"{health.cause}: its changes since then are lost — fix: {fix}")
    if health.wal_status == "unreserved":
        return Assessment(
            "error",
            f"replication slot {health.slot!r} holds more WAL than max_slot_wal_keep_size: the"
            " server removes it at the next checkpoint unless the replicator catches up",
        )
    findings: list[tuple[int, str]] = []
    lag, age = health.lag_bytes or 0, health.lag_seconds
    for value, warn, error, text in (
        (lag, policy.lag_warn, policy.lag_error, f"{_size(lag)} of WAL behind"),
        (age or 0.0, policy.age_warn.total_seconds(), policy.age_error.total_seconds(),
         f"the oldest pending commit is {age or 0:.0f} s old"),
    ):  # fmt: skip
        if value >= error:
            findings.append((2, text))
        elif value >= warn:
            findings.append((1, text))
    if health.safe_wal_size is not None and health.safe_wal_size < policy.lag_warn:
        findings.append((1, f"{_size(max(0, health.safe_wal_size))} of WAL left before the"
                            " server invalidates the slot"))  # fmt: skip
    if not findings:
        return Assessment("ok", f"replication slot {health.slot!r}: {_size(lag)} of WAL behind")
    level = max(f[0] for f in findings)
    text = "; ".join(f[1] for f in findings)
    return Assessment(
        "error" if level == 2 else "warn", f"replication slot {health.slot!r}: {text}"
    )


def _keep_size(conn) -> int | None:
    row = conn.execute(
        "select setting::bigint, unit from pg_settings where name = 'max_slot_wal_keep_size'"
    ).fetchone()
    if row is None or int(row[0]) < 0:
        return None
    factor = {"MB": 1 << 20, "kB": 1 << 10, "B": 1, "GB": 1 << 30}.get(row[1] or "B", 1)
    return int(row[0]) * factor


def oldest_pending_commit(conn, slot: str, publications: str, upto_lsn: str | None = None):
    """Inside a transaction of ``conn``: the commit time of the first pending transaction of ``publications`` (None: none before
    ``upto_lsn`` / the end of WAL). pgoutput's first message of a transaction is BEGIN: ``B``,
    final LSN (8 bytes), commit time (8 bytes, µs since 2000-01-01), xid."""
    conn.execute(f"set local statement_timeout = {PEEK_TIMEOUT_MS}")
    row = conn.execute(
        """select data from pg_logical_slot_peek_binary_changes(
               %s, %s::pg_lsn, 1, 'proto_version', '1', 'publication_names', %s)
           where get_byte(data, 0) = 66 limit 1""",
        (slot, upto_lsn, publications),
    ).fetchone()
    if row is None:
        return None
    micros = int.from_bytes(bytes(row[0])[9:17], "big", signed=True)
    return PG_EPOCH + timedelta(microseconds=micros)


def _pending_age(conn, slot: str, publications: str, *, active: bool) -> float | None:
    """Seconds since the oldest pending commit of ``publications`` on ``slot`` (0: none); an
    active slot is peeked through a temporary copy, dropped at once. None: not measurable now
    (a replicator attached meanwhile, the peek timed out, no slot free for the copy)."""
    peeked = slot
    try:
        if active:
            peeked = f"lakehouse_age_{conn.info.backend_pid}"
            conn.execute("select pg_copy_logical_replication_slot(%s, %s, true)", (slot, peeked))
        with conn.transaction():
            oldest = oldest_pending_commit(conn, peeked, publications)
        now = conn.execute("select now()").fetchone()[0]
        return 0.0 if oldest is None else max(0.0, (now - oldest).total_seconds())
    except psycopg.Error:
        return None
    finally:
        if peeked != slot:
            try:
                conn.execute(
                    "select pg_drop_replication_slot(slot_name) from pg_replication_slots"
                    " where slot_name = %s",
                    (peeked,),
                )
            except psycopg.Error:
                pass  # temporary: gone with the session anyway


def slot_health(dsn: str, slot: str, publications: str | None = None) -> SlotHealth:
    with psycopg.connect(dsn, autocommit=True) as conn:
        keep = _keep_size(conn)
        row = conn.execute(
            """select to_jsonb(s) || jsonb_build_object(
                   'lag', pg_wal_lsn_diff(pg_current_wal_lsn(), s.confirmed_flush_lsn)::bigint,
                   'retained', pg_wal_lsn_diff(pg_current_wal_lsn(), s.restart_lsn)::bigint)
               from pg_replication_slots s where s.slot_name = %s""",
            (slot,),
        ).fetchone()
        if row is None:
            return SlotHealth(slot, exists=False, max_slot_wal_keep_size=keep)
        s = row[0]
        lag_seconds = None
        lost = slot_lost(True, s.get("wal_status"), s.get("invalidation_reason"))
        if publications and not lost:
            lag_seconds = 0.0 if not s.get("lag") else _pending_age(conn, slot, publications,
                                                                    active=bool(s["active"]))  # fmt: skip
        inactive = s.get("inactive_since")
        return SlotHealth(
            slot,
            exists=True,
            active=bool(s["active"]),
            wal_status=s.get("wal_status"),
            safe_wal_size=s.get("safe_wal_size"),
            lag_bytes=s.get("lag"),
            retained_bytes=s.get("retained"),
            lag_seconds=lag_seconds,
            invalidation_reason=s.get("invalidation_reason"),
            inactive_since=datetime.fromisoformat(inactive) if inactive else None,
            max_slot_wal_keep_size=keep,
        )


def advance_idle_slot(dsn: str, slot: str, publications: str) -> str | None:
    """Advance an unused slot to the current WAL position when none of its publications'
    changes lie before it; the new confirmed position, or None (in use, changes pending, or
    nothing to free)."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        target = conn.execute("select pg_current_wal_lsn()::text").fetchone()[0]
        try:
            with conn.transaction():
                if oldest_pending_commit(conn, slot, publications, upto_lsn=target) is not None:
                    return None
                row = conn.execute(
                    """select pg_replication_slot_advance(%s, %s::pg_lsn)
                       from pg_replication_slots where slot_name = %s and not active
                         and confirmed_flush_lsn < %s::pg_lsn""",
                    (slot, target, slot, target),
                ).fetchone()
        except (psycopg.errors.ObjectInUse, psycopg.errors.QueryCanceled):
            return None
        return target if row else None


def grade_key(task: str) -> str:
    """The lake key holding the slot's last grade (ok | warn | error) as its sensor read it: an
    alert is sent when it turns to error, once, restarts included."""
    return f"_state/replication/{task}.slot_graded"
