"""A user's own database, declared only in YAML (no Python), through the whole platform:
replication, bronze, silver and its checks in Dagster, silver compared with the source."""

from __future__ import annotations

import re

import psycopg
import pytest
import yaml

from lakehouse.profiles import Settings

pytestmark = pytest.mark.integration

DDL = """
create schema shop;
create table shop.customers (id bigint primary key, email text not null, balance numeric(12,2),
    active boolean, created timestamptz, born date, tags text, secret text default 'hunter2');
create table shop.order_lines (order_id int, line smallint, sku varchar(20), qty int check (qty > 0),
    primary key (order_id, line));
create table shop.audit_log (at timestamptz not null, msg text);
create table public.not_mine (id int primary key);
insert into shop.customers
    select g, 'c' || g || '@example.com', g * 1.25, g % 2 = 0, '2024-01-01 00:00+00'::timestamptz
        + g * interval '1 hour', date '1969-12-31' + g, 'a,"b"' || chr(10) || 'c'
    from generate_series(1, 200) g;
insert into shop.order_lines select g / 3, g % 3, 'sku-' || g, g from generate_series(1, 300) g;
insert into shop.audit_log select now(), 'boot ' || g from generate_series(1, 5) g;
"""

CHURN = """
update shop.customers set balance = balance + 1, active = not active where id % 7 = 0;
delete from shop.customers where id % 11 = 0;
insert into shop.customers (id, email) values (1000, 'new@example.com');
update shop.order_lines set line = line + 10 where order_id = 5;
delete from shop.order_lines where order_id = 6;
insert into shop.audit_log values (now(), 'after');
"""


def _declaration(dsn_env: str) -> dict:
    return {
        "type": "lakehouse.components.Dataset",
        "attributes": {
            "name": "shop",
            "sources": [
                {
                    "kind": "postgres",
                    "dsn_env": dsn_env,
                    "selection": [
                        {"rule-action": "include", "schema-name": "shop", "table-name": "%"}
                    ],
                }
            ],
            "tables": [
                {
                    "name": "customers",
                    "schema": "shop",
                    "primary_key": ["id"],
                    "scd_type": 2,
                    "columns": [
                        {"name": "id", "type": "bigint", "nullable": False},
                        {"name": "email", "type": "string", "nullable": False, "pii": "email"},
                        {"name": "balance", "type": "decimal(12,2)"},
                        {"name": "active", "type": "bool"},
                        {"name": "created", "type": "timestamptz"},
                        {"name": "born", "type": "date"},
                        {"name": "tags", "type": "string"},
                        {"name": "secret", "type": "string"},
                    ],
                    "exclude_columns": ["secret"],
                },
                {
                    "name": "order_lines",
                    "schema": "shop",
                    "primary_key": ["order_id", "line"],
                    "columns": [
                        {"name": "order_id", "type": "int", "nullable": False},
                        {"name": "line", "type": "smallint", "nullable": False},
                        {"name": "sku", "type": "string", "checks": {"str_length_max": 20}},
                        {"name": "qty", "type": "int", "checks": {"gt": 0}},
                    ],
                },
                {
                    "name": "audit_log",
                    "schema": "shop",
                    "columns": [
                        {"name": "at", "type": "timestamptz", "nullable": False},
                        {"name": "msg", "type": "string"},
                    ],
                },
            ],
        },
    }


def _source(dsn: str, sql: str) -> list[tuple]:
    with psycopg.connect(dsn) as conn:
        return conn.execute(sql).fetchall()


@pytest.fixture
def shop(fresh_db, tmp_path, monkeypatch) -> Settings:
    """The ``shop`` schema in a fresh database, declared in YAML only (a ``LAKEHOUSE_DEFS``
    folder, the DSN by variable): the settings of a process serving it."""
    with psycopg.connect(fresh_db, autocommit=True) as conn:
        conn.execute(DDL)
    defs_dir = tmp_path / "defs"
    (defs_dir / "shop").mkdir(parents=True)
    (defs_dir / "shop" / "defs.yaml").write_text(yaml.safe_dump(_declaration("SHOP_TEST_DSN")))
    monkeypatch.setenv("SHOP_TEST_DSN", fresh_db)
    monkeypatch.setenv("LAKEHOUSE_DEFS", str(defs_dir))
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "dagster"))
    return Settings.from_env(
        {"LAKEHOUSE_ROOT": str(tmp_path / "lake"), "LAKEHOUSE_DEFS": str(defs_dir),
         "LAKEHOUSE_DATASETS": "shop"}
    )  # fmt: skip


def test_a_dataset_declared_in_yaml_reaches_silver_equal_to_the_source(fresh_db, shop):
    from lakehouse.declarations import load_dataset
    from lakehouse.engine.silver import read_silver
    from lakehouse.runs.materialize import materialize

    settings = shop
    spec = load_dataset("shop", settings)
    lake = settings.lake()
    for round_ in range(2):
        result = materialize(settings=settings)
        assert result.success, round_
        checks = {
            (e.asset_key.path[-1], e.check_name): e.passed
            for e in result.get_asset_check_evaluations()
        }
        assert checks[("customers", "reconciliation")] and checks[("order_lines", "schema")], checks
        customers = read_silver(lake, spec.table("customers")).sort("id")
        assert [tuple(r) for r in customers.select(
            "id", "email", "balance", "active", "created", "born", "tags").iter_rows()] == _source(
            fresh_db, "select id, email, balance, active, created, born, tags from shop.customers"
            " order by id",
        ), round_  # fmt: skip
        lines = read_silver(lake, spec.table("order_lines"))
        assert sorted(lines.select("order_id", "line", "sku", "qty").iter_rows()) == _source(
            fresh_db, "select order_id, line, sku, qty from shop.order_lines order by 1, 2"
        )
        log = read_silver(lake, spec.table("audit_log"))
        assert sorted(log.select("msg").to_series().to_list()) == sorted(
            r[0] for r in _source(fresh_db, "select msg from shop.audit_log")
        )
        if round_ == 0:
            with psycopg.connect(fresh_db, autocommit=True) as conn:
                conn.execute(CHURN)
    # the table outside the selection rules is not captured
    assert not lake.list("raw/database/public/")
    # an excluded column is in no raw file and not in silver
    raw = [lake.read_bytes(o.key) for o in lake.list("raw/database/shop/customers/")]
    assert raw and not any(b"hunter2" in data or b"secret" in data for data in raw)
    assert "secret" not in customers.columns


def test_a_lost_slot_fails_the_replication_with_its_check_and_the_resync_job_recovers(
    fresh_db, shop
):
    """In Dagster: the slot check passes while the slot is healthy; a dropped slot fails the
    replication run with an ERROR on every replicated table's check naming the cause and the
    command; the ``shop_resync`` job (the UI's way) copies the tables again and silver equals
    the source, rows deleted while the slot was gone included."""
    import dagster as dg

    from lakehouse.declarations import load_dataset
    from lakehouse.definitions import build_definitions
    from lakehouse.engine.silver import read_silver
    from lakehouse.runs.materialize import materialize

    settings = shop

    def slot_checks(result) -> dict[str, tuple[bool, str]]:
        return {
            e.asset_key.path[-1]: (e.passed, e.description)
            for e in result.get_asset_check_evaluations()
            if e.check_name == "replication_slot"
        }

    first = materialize(settings=settings)
    assert first.success
    healthy = slot_checks(first)
    assert sorted(healthy) == ["audit_log", "customers", "order_lines"]
    for passed, text in healthy.values():  # other databases on the server write WAL too
        assert passed and re.fullmatch(
            r"replication slot 'lakehouse_shop': [\d.]+ (B|kiB|MiB|GiB) of WAL behind", text
        ), text
    with psycopg.connect(fresh_db, autocommit=True) as conn:
        conn.execute("select pg_drop_replication_slot('lakehouse_shop')")
        conn.execute(CHURN)
    lost = materialize(settings=settings)
    assert not lost.success
    cause = (
        "replication slot 'lakehouse_shop' does not exist (dropped): its changes since then are"
        " lost — fix: lakehouse resync --dataset shop"
    )
    assert slot_checks(lost) == {
        t: (False, cause) for t in ("customers", "order_lines", "audit_log")
    }

    defs = build_definitions(settings)
    with dg.DagsterInstance.ephemeral() as instance:
        result = defs.resolve_job_def("shop_resync").execute_in_process(instance=instance)
    assert result.success
    assert all(passed for passed, _ in slot_checks(result).values())
    assert materialize(settings=settings).success  # bronze and silver take the reload
    spec = load_dataset("shop", settings)
    customers = read_silver(settings.lake(), spec.table("customers")).sort("id")
    assert customers.select("id").to_series().to_list() == [
        r[0] for r in _source(fresh_db, "select id from shop.customers order by id")
    ]


def test_a_costly_reconciliation_keeps_to_its_budget(shop):
    """A table whose last reconciliation took a second or more is not reconciled again before
    ten times that long (the run says why); a cheap one is reconciled every run."""
    import json
    import time

    from lakehouse.runs.materialize import materialize

    settings = shop
    lake = settings.lake()
    first = materialize(settings=settings)
    assert first.success
    state = json.loads(lake.read_text("_state/reconciliation/customers.json"))
    assert state["seconds"] < 1.0  # measured, and cheap here
    lake.write_text(  # as if it had taken 5 s, a second ago: not due for 49 s more
        "_state/reconciliation/customers.json", json.dumps({"at": time.time() - 1, "seconds": 5.0})
    )
    second = materialize(settings=settings)
    assert second.success
    reconciled = {
        e.asset_key.path[-1] for e in second.get_asset_check_evaluations()
        if e.check_name == "reconciliation"
    }  # fmt: skip
    assert reconciled == {"order_lines", "audit_log"}
    import dagster as dg

    with dg.DagsterInstance.get() as instance:
        said = [
            e.user_message for e in instance.all_logs(second.run_id)
            if "reconciliation not this run" in e.user_message
        ]  # fmt: skip
    assert len(said) == 1 and "customers" in said[0] and "in 5.0 s; next after 50 s" in said[0]
