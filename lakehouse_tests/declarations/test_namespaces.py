"""Two datasets with a table of the same name, from two databases, served together: one
declares a ``table_prefix``, so its lake tables (asset keys, storage, catalog) and raw files
carry it; each silver equals its own source."""

from __future__ import annotations

import uuid

import psycopg
import pytest
import yaml

from lakehouse.profiles import Settings

pytestmark = pytest.mark.integration


def _database(pg_dsn: str, rows: int, tag: str) -> str:
    from lakehouse.source import embedded

    name = f"t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(embedded.with_database(pg_dsn, "postgres"), autocommit=True) as conn:
        conn.execute(f'create database "{name}"')
    dsn = embedded.with_database(pg_dsn, name)
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("create table customers (id int primary key, name text)")
        conn.execute(
            "insert into customers select g, %s || g from generate_series(1, %s) g", (tag, rows)
        )
    return dsn


def _declare(folder, name: str, env: str, prefix: str | None) -> None:
    attributes = {
        "name": name,
        "sources": [{"kind": "postgres", "dsn_env": env}],
        "tables": [{"name": "customers", "primary_key": ["id"], "columns": [
            {"name": "id", "type": "int", "nullable": False}, {"name": "name", "type": "string"}]}],
    }  # fmt: skip
    if prefix:
        attributes["table_prefix"] = prefix
    (folder / name).mkdir(parents=True)
    (folder / name / "defs.yaml").write_text(
        yaml.safe_dump({"type": "lakehouse.components.Dataset", "attributes": attributes})
    )


def test_two_customers_tables_served_together(pg_dsn, tmp_path, monkeypatch):
    import dagster as dg

    from lakehouse.declarations import load_dataset
    from lakehouse.definitions import build_definitions
    from lakehouse.engine.silver import read_silver
    from lakehouse.query.sql import run_query
    from lakehouse.runs.materialize import materialize

    shop_dsn, crm_dsn = _database(pg_dsn, 30, "shop-"), _database(pg_dsn, 20, "crm-")
    defs = tmp_path / "defs"
    _declare(defs, "shop", "SHOP_NS_DSN", None)
    _declare(defs, "crm", "CRM_NS_DSN", "crm_")
    for k, v in {"LAKEHOUSE_DEFS": str(defs), "LAKEHOUSE_DATASETS": "shop,crm",
                 "LAKEHOUSE_ROOT": str(tmp_path / "lake"), "SHOP_NS_DSN": shop_dsn,
                 "CRM_NS_DSN": crm_dsn, "DAGSTER_HOME": str(tmp_path / "dagster")}.items():  # fmt: skip
        monkeypatch.setenv(k, v)
    settings = Settings.from_env()
    keys = {
        k.to_user_string()
        for k in build_definitions(settings).resolve_asset_graph().get_all_asset_keys()
    }
    assert {"silver/customers", "silver/crm_customers", "raw/crm_customers"} <= keys
    crm = load_dataset("crm", settings).table("crm_customers")
    assert (crm.qualified_name, crm.raw_prefix) == (
        "public.customers",
        "raw/database/crm/public/customers/",
    )
    assert materialize(settings=settings).success
    with psycopg.connect(crm_dsn, autocommit=True) as conn:
        conn.execute("update customers set name = 'changed' where id = 1")
    assert materialize(settings=settings).success
    lake = settings.lake()
    for dataset, dsn in (("shop", shop_dsn), ("crm", crm_dsn)):
        spec = load_dataset(dataset, settings).database_tables[0]
        with psycopg.connect(dsn) as conn:
            source = sorted(conn.execute("select id, name from customers").fetchall())
        assert sorted(read_silver(lake, spec).select("id", "name").iter_rows()) == source
    assert lake.list("raw/database/crm/public/customers/")
    frame = run_query("SELECT count(*) AS n FROM silver.crm_customers", lake)
    assert frame.to_dicts() == [{"n": 20}]
    assert dg.AssetKey(["silver", "crm_customers"]).to_user_string() in keys


def test_a_table_whose_name_dagster_refuses_is_named_for_the_lake(pg_dsn, tmp_path, monkeypatch):
    """``public."Order Lines"``: the lake, its assets and SQL say ``Order_Lines``; the source
    and the raw folder keep the source's name (DMS writes it so)."""
    from lakehouse.declarations import load_dataset
    from lakehouse.definitions import build_definitions
    from lakehouse.query.sql import run_query
    from lakehouse.runs.materialize import materialize

    dsn = _database(pg_dsn, 3, "x-")
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute('create table "Order Lines" (id int primary key, "unit price" int)')
        conn.execute('insert into "Order Lines" values (1, 10), (2, 20)')
    attributes = {
        "name": "shop",
        "sources": [{"kind": "postgres", "dsn_env": "SHOP_OL_DSN"}],
        "tables": [{"name": "Order Lines", "primary_key": ["id"], "columns": [
            {"name": "id", "type": "int", "nullable": False},
            {"name": "unit price", "type": "int"}]}],
    }  # fmt: skip
    (tmp_path / "defs" / "shop").mkdir(parents=True)
    (tmp_path / "defs" / "shop" / "defs.yaml").write_text(
        yaml.safe_dump({"type": "lakehouse.components.Dataset", "attributes": attributes})
    )
    for k, v in {"LAKEHOUSE_DEFS": str(tmp_path / "defs"), "LAKEHOUSE_DATASETS": "shop",
                 "LAKEHOUSE_ROOT": str(tmp_path / "lake"), "SHOP_OL_DSN": dsn,
                 "DAGSTER_HOME": str(tmp_path / "dagster")}.items():  # fmt: skip
        monkeypatch.setenv(k, v)
    settings = Settings.from_env()
    keys = {
        k.to_user_string()
        for k in build_definitions(settings).resolve_asset_graph().get_all_asset_keys()
    }
    assert {"raw/Order_Lines", "bronze/Order_Lines", "silver/Order_Lines"} <= keys
    spec = load_dataset("shop", settings).table("Order_Lines")
    assert (spec.qualified_name, spec.raw_prefix) == (
        "public.Order Lines",
        "raw/database/public/Order Lines/",
    )
    assert materialize(settings=settings).success
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute('update "Order Lines" set "unit price" = 11 where id = 1')
    assert materialize(settings=settings).success
    got = run_query('select id, "unit price" from silver.Order_Lines order by id', settings.lake())
    assert got.rows() == [(1, 11), (2, 20)]
