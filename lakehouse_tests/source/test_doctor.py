"""``doctor.diagnose`` against the embedded PostgreSQL, as a non-superuser role that lacks
REPLICATION and SELECT: every finding asserted; then every fix applied as the superuser, after
which the diagnosis is clean and the replicator runs as that role."""

from __future__ import annotations

import uuid

import psycopg
import pytest
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from lakehouse.dms.settings import DmsS3Settings
from lakehouse.replication.replicator import Replicator
from lakehouse.replication.task import ReplicationTask
from lakehouse.source.doctor import Finding, diagnose, format_findings
from lakehouse.storage import LocalLake

pytestmark = pytest.mark.integration

TABLES = ["public.orders", "public.keyless", ("public", "plain")]


@pytest.fixture
def app_role(fresh_db):
    role = f"app_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(fresh_db, autocommit=True) as conn:
        conn.execute(f'create role "{role}" login nosuperuser noreplication')
        conn.execute("create table orders (id int primary key, note text, amount numeric(10,2))")
        conn.execute("create table keyless (a int not null, b text, unique (a))")
        conn.execute("create table plain (id int primary key, n int)")
        conn.execute(f'alter table plain owner to "{role}"')
        conn.execute("insert into orders values (1, 'x', 2.50)")
    params = conninfo_to_dict(fresh_db)
    yield role, make_conninfo(**{**params, "user": role})
    with psycopg.connect(fresh_db, autocommit=True) as conn:
        for (slot,) in conn.execute(
            "select slot_name from pg_replication_slots where database = current_database()"
        ).fetchall():
            conn.execute("select pg_drop_replication_slot(%s)", (slot,))
        conn.execute(f'drop owned by "{role}" cascade')
        conn.execute("alter system reset max_slot_wal_keep_size")
        conn.execute("select pg_reload_conf()")
    admin = make_conninfo(**{**params, "dbname": "postgres"})
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'drop database "{params["dbname"]}" with (force)')
        conn.execute(f'drop role "{role}"')


def test_findings_and_their_fixes(fresh_db, app_role, tmp_path):
    role, app_dsn = app_role
    db = conninfo_to_dict(fresh_db)["dbname"]
    with psycopg.connect(fresh_db) as conn:
        slots, senders = conn.execute(
            "select (select count(*) from pg_replication_slots), (select count(*) from pg_stat_replication)"
        ).fetchone()
    with psycopg.connect(app_dsn, autocommit=True) as conn:
        findings = diagnose(conn, TABLES)
    r = f'"{role}"'
    assert findings == [
        Finding("wal_level", "server", "ok", "wal_level is logical"),
        Finding(
            "replication_role",
            f"role {role}",
            "error",
            f"{role} has neither the REPLICATION attribute nor superuser: it cannot create a "
            "replication slot or stream changes",
            f"ALTER ROLE {r} WITH REPLICATION;",
        ),
        Finding(
            "replication_slots", "server", "ok", f"{16 - slots} of max_replication_slots = 16 free"
        ),
        Finding("wal_senders", "server", "ok", f"{16 - senders} of max_wal_senders = 16 free"),
        Finding(
            "max_slot_wal_keep_size",
            "server",
            "warning",
            "max_slot_wal_keep_size is -1 (unbounded): a stalled or abandoned slot keeps WAL "
            "until the disk is full; bound it (a slot past the bound is invalidated: reload the "
            "task)",
            "ALTER SYSTEM SET max_slot_wal_keep_size = '50GB'; SELECT pg_reload_conf();",
        ),
        Finding(
            "create_publication",
            f"database {db}",
            "error",
            f"{role} has no CREATE privilege on database {db}: it cannot create the task's "
            "publication",
            f'GRANT CREATE ON DATABASE "{db}" TO {r};',
        ),
        Finding(
            "select",
            "public.orders",
            "error",
            f"{role} has no SELECT on public.orders: the full load cannot read it",
            f'GRANT SELECT ON "public"."orders" TO {r};',
        ),
        Finding(
            "publication_owner",
            "public.orders",
            "error",
            "public.orders is owned by postgres: only its owner (or a superuser) can add it to "
            "a publication",
            f'ALTER TABLE "public"."orders" OWNER TO {r};',
        ),
        Finding(
            "replica_identity",
            "public.orders",
            "warning",
            "public.orders has TOAST-able columns (note) under REPLICA IDENTITY DEFAULT: an "
            "update that leaves a large value unchanged does not send it; the lakehouse's "
            "replicator marks it and silver keeps the value, but AWS DMS (and CSV files without"
            " header) would store NULL",
            'ALTER TABLE "public"."orders" REPLICA IDENTITY FULL;',
        ),
        Finding(
            "select",
            "public.keyless",
            "error",
            f"{role} has no SELECT on public.keyless: the full load cannot read it",
            f'GRANT SELECT ON "public"."keyless" TO {r};',
        ),
        Finding(
            "publication_owner",
            "public.keyless",
            "error",
            "public.keyless is owned by postgres: only its owner (or a superuser) can add it "
            "to a publication",
            f'ALTER TABLE "public"."keyless" OWNER TO {r};',
        ),
        Finding(
            "replica_identity",
            "public.keyless",
            "error",
            "public.keyless has no primary key: it is captured insert-only, its updates and "
            "deletes are not replicated",
            'ALTER TABLE "public"."keyless" ADD PRIMARY KEY ("a");',
        ),
        Finding("select", "public.plain", "ok", f"{role} can read public.plain"),
        Finding("publication_owner", "public.plain", "ok", f"{role} may publish public.plain"),
        Finding(
            "replica_identity",
            "public.plain",
            "ok",
            "public.plain: REPLICA IDENTITY DEFAULT (primary key)",
        ),
    ]
    text = format_findings(findings)
    assert text.splitlines()[1:3] == [
        f"ERROR role {role}: {findings[1].message}",
        f"      fix: ALTER ROLE {r} WITH REPLICATION;",
    ]
    assert text.splitlines()[-1] == "7 error(s), 2 warning(s)"

    # every fix, applied as the superuser (ALTER SYSTEM ones one statement at a time); a key
    # added to the keyless table makes its TOAST-able column matter: a second round fixes that
    def apply(found):
        with psycopg.connect(fresh_db, autocommit=True) as conn:
            for f in found:
                for statement in filter(None, (f.fix or "").split(";")):
                    conn.execute(statement)
        with psycopg.connect(app_dsn, autocommit=True) as conn:
            return diagnose(conn, TABLES)

    after = apply(findings)
    assert [f.fix for f in after if f.severity != "ok"] == [
        'ALTER TABLE "public"."keyless" REPLICA IDENTITY FULL;'
    ]
    after = apply(after)
    assert [f for f in after if f.severity != "ok"] == []
    assert after[1].message == f"{role} may replicate (REPLICATION)"
    assert after[4].message == "max_slot_wal_keep_size is 50GB"

    # and the replicator runs as that role
    rules = tuple(
        {"rule-action": "include", "schema-name": "public", "table-name": t}
        for t in ("orders", "keyless", "plain")
    )
    task = ReplicationTask("doc", app_dsn, DmsS3Settings(), selection_rules=rules)
    lake = LocalLake(tmp_path / "lake")
    stats = Replicator(task, lake).run()
    assert dict(stats.full_load_rows) == {
        "public.keyless": 0,
        "public.orders": 1,
        "public.plain": 0,
    }


def _slot_finding(findings):
    return next(f for f in findings if f.check == "replication_slots")


def test_a_dropped_slot_is_an_error_after_the_full_load_and_fine_before(fresh_db):
    fix = "lakehouse resync --dataset shop"
    with psycopg.connect(fresh_db, autocommit=True) as conn:
        before = _slot_finding(diagnose(conn, [], "lakehouse_shop", resync_fix=fix))
        after = _slot_finding(
            diagnose(conn, [], "lakehouse_shop", full_load_done=True, resync_fix=fix)
        )
    assert before.severity == "ok"
    assert after.severity == "error"
    assert after.message.startswith("replication slot 'lakehouse_shop' does not exist (dropped)")
    assert after.fix == fix
    assert "0 error(s)" not in format_findings([after])


class _SlotRow:
    """A connection whose pg_replication_slots row is given (an invalidated slot needs GBs of
    WAL to produce for real); the other checks are not asked for."""

    def __init__(self, slot: dict) -> None:
        self.slot = slot

    def execute(self, sql, params=None):
        row = (16, 16, 1, 0, self.slot)
        return type("Cur", (), {"fetchone": lambda _self: row})()


@pytest.mark.parametrize(
    ("slot", "cause"),
    [
        ({"wal_status": "lost"}, "its WAL was removed"),
        ({"wal_status": "lost", "invalidation_reason": "wal_removed"}, "wal_removed"),
    ],
)
def test_an_invalidated_slot_is_an_error_whatever_the_state(slot, cause):
    from lakehouse.source.doctor import _capacity

    found = _capacity(_SlotRow(slot), "lakehouse_shop", False, "lakehouse resync --dataset shop")
    assert found[0].severity == "error"
    assert found[0].message.startswith(
        f"replication slot 'lakehouse_shop' was invalidated ({cause})"
    )
    assert found[0].fix == "lakehouse resync --dataset shop"


def test_lakehouse_doctor_reports_the_slot_a_full_load_had_and_lost(
    fresh_db, tmp_path, monkeypatch, capsys
):
    """The command passes the task's state: after the full load, a dropped slot is an error
    naming the resync command (it said 0 errors)."""
    from lakehouse.cli import main
    from lakehouse.replication.task import dataset_task
    from lakehouse_tests.declared import declare_items

    with psycopg.connect(fresh_db, autocommit=True) as conn:
        conn.execute("create table items (id int primary key, v int)")
        conn.execute("insert into items values (1, 1)")
    declare_items(tmp_path / "defs", "shop", "SHOP_DOCTOR_DSN")
    for k, v in {"LAKEHOUSE_DEFS": str(tmp_path / "defs"), "LAKEHOUSE_DATASETS": "shop",
                 "LAKEHOUSE_ROOT": str(tmp_path / "lake"), "SHOP_DOCTOR_DSN": fresh_db}.items():  # fmt: skip
        monkeypatch.setenv(k, v)
    Replicator(dataset_task("shop", fresh_db), LocalLake(tmp_path / "lake")).run()
    assert main(["doctor", "shop"]) == 0
    with psycopg.connect(fresh_db, autocommit=True) as conn:
        conn.execute("select pg_drop_replication_slot('lakehouse_shop')")
    capsys.readouterr()
    assert main(["doctor", "shop"]) != 0
    out = capsys.readouterr().out
    assert "does not exist (dropped)" in out and "lakehouse resync --dataset shop" in out
