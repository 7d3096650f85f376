"""Slot health against a real PostgreSQL: lag in bytes and time, WAL status, an invalidated slot
named as lost, and an idle slot advanced without skipping a change."""

from __future__ import annotations

import time

import psycopg
import pytest

from lakehouse.registry.model import SlotPolicy
from lakehouse.replication.slot_health import (
    SlotHealth,
    advance_idle_slot,
    assess,
    slot_health,
)

pytestmark = pytest.mark.integration

PUB = "health_pub"


def _setup(dsn: str, slot: str = "health_slot") -> None:
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("create table watched (id int primary key, v text)")
        conn.execute("create table busy (id serial primary key, v text)")
        conn.execute(f"create publication {PUB} for table watched")
        conn.execute("select pg_create_logical_replication_slot(%s, 'pgoutput')", (slot,))


def test_a_missing_slot_is_lost_and_says_it_was_dropped(fresh_db):
    health = slot_health(fresh_db, "nosuch", PUB)
    assert (health.exists, health.lost) == (False, True)
    assert health.cause == "replication slot 'nosuch' does not exist (dropped)"


def test_lag_in_bytes_and_the_age_of_the_oldest_pending_commit(fresh_db):
    _setup(fresh_db)
    fresh = slot_health(fresh_db, "health_slot", PUB)
    assert (fresh.exists, fresh.active, fresh.lost, fresh.wal_status) == (
        True,
        False,
        False,
        "reserved",
    )
    with psycopg.connect(fresh_db, autocommit=True) as conn:
        conn.execute("insert into watched values (1, 'a')")
    time.sleep(1.2)
    health = slot_health(fresh_db, "health_slot", PUB)
    assert health.lag_bytes > 0 and health.retained_bytes >= health.lag_bytes
    assert 1.0 <= health.lag_seconds < 30  # the insert's commit, peeked, not consumed
    again = slot_health(fresh_db, "health_slot", PUB)
    assert again.lag_seconds >= health.lag_seconds  # the peek consumed nothing
    assert health.metadata()["lag_bytes"] == health.lag_bytes


def test_changes_to_unpublished_tables_only_are_no_time_lag(fresh_db):
    _setup(fresh_db)
    with psycopg.connect(fresh_db, autocommit=True) as conn:
        conn.execute("insert into busy (v) select 'x' from generate_series(1, 1000)")
    health = slot_health(fresh_db, "health_slot", PUB)
    assert health.lag_bytes > 0
    assert health.lag_seconds == 0.0


def test_an_idle_slot_is_advanced_and_frees_wal_but_never_past_a_pending_change(fresh_db):
    _setup(fresh_db)
    with psycopg.connect(fresh_db, autocommit=True) as conn:
        conn.execute("insert into busy (v) select 'x' from generate_series(1, 5000)")
        before = slot_health(fresh_db, "health_slot", PUB)
        moved = advance_idle_slot(fresh_db, "health_slot", PUB)
        assert moved is not None
        after = slot_health(fresh_db, "health_slot", PUB)
        assert after.lag_bytes < before.lag_bytes
        conn.execute("insert into watched values (7, 'kept')")
        conn.execute("insert into busy (v) select 'y' from generate_series(1, 5000)")
        assert advance_idle_slot(fresh_db, "health_slot", PUB) is None  # a change is pending
        rows = conn.execute(
            """select count(*) from pg_logical_slot_get_binary_changes(
                   'health_slot', NULL, NULL, 'proto_version', '1', 'publication_names', %s)
               where get_byte(data, 0) = 73""",  # 'I': an insert of a published table
            (PUB,),
        ).fetchone()[0]
    assert rows == 1  # the insert into watched is still delivered


def test_a_slot_invalidated_by_max_slot_wal_keep_size_is_lost_with_its_reason(tight_server):
    dsn = tight_server
    _setup(dsn)
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("insert into watched values (1, 'before the loss')")
        for _ in range(6):  # > one 16 MB segment past the limit, then a checkpoint removes it
            conn.execute(
                "insert into busy (v) select repeat('x', 500) from generate_series(1, 20000)"
            )
            conn.execute("select pg_switch_wal()")
        conn.execute("checkpoint")
    health = slot_health(dsn, "health_slot", PUB)
    assert health.max_slot_wal_keep_size == 1 << 20
    assert (health.exists, health.wal_status, health.lost) == (True, "lost", True)
    assert health.invalidation_reason == "wal_removed"
    assert health.cause == "replication slot 'health_slot' was invalidated (wal_removed)"


def _health(**kw) -> SlotHealth:
    return SlotHealth(
        "s", exists=True, **{"wal_status": "reserved", "lag_bytes": 0, "lag_seconds": 0.0, **kw}
    )


@pytest.mark.parametrize(
    ("health", "expected"),
    [
        (_health(), ("ok", "replication slot 's': 0 B of WAL behind")),
        (
            _health(lag_bytes=2 << 30),
            ("warn", "replication slot 's': 2.0 GiB of WAL behind"),
        ),
        (
            SlotHealth("s", exists=True, wal_status="reserved", lag_bytes=10, lag_seconds=4000.0),
            ("error", "replication slot 's': the oldest pending commit is 4000 s old"),
        ),
        (
            _health(safe_wal_size=1 << 20),
            (
                "warn",
                "replication slot 's': 1.0 MiB of WAL left before the server invalidates the slot",
            ),
        ),
        (
            SlotHealth("s", exists=True, wal_status="lost", invalidation_reason="wal_removed"),
            (
                "error",
                "replication slot 's' was invalidated (wal_removed): its changes since then are"
                " lost — fix: lakehouse resync --dataset shop",
            ),
        ),
        (
            SlotHealth("s", exists=True, wal_status="unreserved", lag_bytes=5),
            (
                "error",
                "replication slot 's' holds more WAL than max_slot_wal_keep_size: the server"
                " removes it at the next checkpoint unless the replicator catches up",
            ),
        ),
    ],
)
def test_assess_grades_a_slot_by_the_worst_finding(health, expected):
    got = assess(health, SlotPolicy(), fix="lakehouse resync --dataset shop")
    assert (got.severity, got.message) == expected


def test_a_streaming_slot_caught_up_has_no_pending_age_and_a_held_commit_has_one(
    fresh_db, tmp_path
):
    """The age while a replicator streams: 0 once every commit is in durable files (not the
    time since it connected), the held commit's age while one is not confirmed."""
    import threading

    import psycopg2
    import psycopg2.extras

    from lakehouse.dms.settings import DmsS3Settings
    from lakehouse.replication.publications import publication_names
    from lakehouse.replication.replicator import Replicator
    from lakehouse.replication.task import ReplicationTask
    from lakehouse.storage import LocalLake
    from lakehouse_tests.replication.helpers import read_table_files

    settings = DmsS3Settings(AddColumnName=True, CdcMaxBatchInterval=0)
    rule = {"rule-action": "include", "schema-name": "public", "table-name": "watched"}
    task = ReplicationTask("age", fresh_db, settings, selection_rules=(rule,))
    with psycopg.connect(fresh_db, autocommit=True) as conn:
        conn.execute("create table watched (id int primary key, v text)")
    lake = LocalLake(tmp_path / "lake")
    rep = Replicator(task, lake)
    rep.run()
    pubs = publication_names(task, rep.specs)
    stop = threading.Event()
    th = threading.Thread(target=lambda: Replicator(task, lake).run(follow=True, stop=stop))
    th.start()
    try:
        with psycopg.connect(fresh_db, autocommit=True) as conn:
            conn.execute("insert into watched values (1, 'a')")
            deadline = time.monotonic() + 60
            while read_table_files(lake, "public", "watched", settings)[1].height < 1:
                assert time.monotonic() < deadline
                time.sleep(0.2)
        time.sleep(1.2)  # the connection is older than a second: its age is not reported
        health = slot_health(fresh_db, task.slot, pubs)
        assert health.active and health.lag_seconds == 0.0
    finally:
        stop.set()
        th.join(timeout=60)
    # a client that streams but confirms nothing: the held commit's age, not unknown
    held = psycopg2.connect(
        fresh_db, connection_factory=psycopg2.extras.LogicalReplicationConnection
    )
    try:
        cur = held.cursor()
        cur.start_replication(slot_name=task.slot, decode=False,
                              options={"proto_version": "1", "publication_names": pubs})  # fmt: skip
        with psycopg.connect(fresh_db, autocommit=True) as conn:
            conn.execute("insert into watched values (2, 'b')")
        time.sleep(1.2)
        health = slot_health(fresh_db, task.slot, pubs)
        assert health.active
        assert 1.0 <= health.lag_seconds < 30
    finally:
        held.close()
    with psycopg.connect(fresh_db, autocommit=True) as conn:  # the temporary copies are gone
        left = conn.execute(
            "select count(*) from pg_replication_slots where slot_name like 'lakehouse_age_%'"
        ).fetchone()[0]
    assert left == 0
