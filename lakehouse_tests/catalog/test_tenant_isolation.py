"""Multi-tenant isolation in the local catalog: per-tenant schemas in the catalog, and tenant
connections that can see their tenant's rows and nothing else (no other tenant, no unfiltered
table, no file of the lake)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from decimal import Decimal

import duckdb
import polars as pl
import pyarrow as pa
import pytest
from deltalake import DeltaTable, write_deltalake

from lakehouse.catalog import connect, connect_tenant, refresh_catalog, tenant_schema
from lakehouse.query import run_query
from lakehouse.query.sql import connect as sql_connect
from lakehouse.storage import LocalLake

TS = pa.timestamp("us", tz="UTC")
MONEY = pa.decimal128(10, 2)
ACME, GLOBEX = str(uuid.UUID(int=1)), str(uuid.UUID(int=2))


def _tenants() -> pa.Table:
    now = datetime(2024, 1, 1, tzinfo=UTC)
    return pa.table(
        {
            "id": [ACME, GLOBEX],
            "name": ["Acme", "Globex"],
            "slug": ["acme", "globex"],
            "created_at": pa.array([now, now], TS),
        }
    )


def _customers() -> pa.Table:
    return pa.table(
        {
            "id": [str(uuid.UUID(int=100 + i)) for i in range(5)],
            "tenant_id": [ACME, GLOBEX, ACME, GLOBEX, GLOBEX],
            "email": [f"c{i}@x.test" for i in range(5)],
        }
    )


def _orders() -> pa.Table:
    return pa.table(
        {
            "id": [str(uuid.UUID(int=500 + i)) for i in range(4)],
            "tenant_id": [ACME, GLOBEX, GLOBEX, GLOBEX],
            "status": ["completed"] * 4,
            "total": pa.array(
                [Decimal("10.00"), Decimal("1.00"), Decimal("2.00"), Decimal("3.00")], MONEY
            ),
        }
    )


def _summary() -> pa.Table:
    return pa.table(
        {
            "tenant_id": [ACME, GLOBEX],
            "tenant_name": ["Acme", "Globex"],
            "revenue": pa.array([Decimal("10.00"), Decimal("6.00")], MONEY),
        }
    )


@pytest.fixture
def lake(tmp_path) -> LocalLake:
    lake = LocalLake(tmp_path / "lake")
    write_deltalake(lake.table_uri("silver", "core_tenant"), _tenants())
    write_deltalake(lake.table_uri("silver", "core_customer"), _customers())
    write_deltalake(lake.table_uri("silver", "core_order"), _orders())
    write_deltalake(lake.table_uri("bronze", "core_order"), _orders())
    write_deltalake(lake.table_uri("gold", "saas_tenant_summary"), _summary())
    # an autocorp table: no tenant column, never in a tenant schema
    write_deltalake(lake.table_uri("silver", "auto_parts"), pa.table({"sku": ["a"], "qty": [1]}))
    return lake


def _tables(con, schema: str) -> set[str]:
    rows = con.execute(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = ?", [schema]
    ).fetchall()
    return {r[0] for r in rows}


def test_the_catalog_has_one_schema_per_tenant_with_filtered_views(lake):
    con = duckdb.connect()
    refresh_catalog(lake, con)
    acme, globex = tenant_schema(ACME), tenant_schema(GLOBEX)
    assert acme == "tenant_" + ACME.replace("-", "_")
    expected = {
        "core_tenant", "tenants",
        "core_customer", "customers",
        "core_order", "orders",
        "saas_tenant_summary", "tenant_summary",
    }  # fmt: skip
    assert _tables(con, acme) == expected and _tables(con, globex) == expected
    for schema, tenant, customers in ((acme, ACME, 2), (globex, GLOBEX, 3)):
        for view in ("core_customer", "customers", "orders", "tenant_summary"):
            ids = con.execute(f"SELECT DISTINCT tenant_id FROM {schema}.{view}").fetchall()
            assert ids == [(tenant,)], (schema, view)
        assert con.execute(f"SELECT count(*) FROM {schema}.customers").fetchone()[0] == customers
        assert con.execute(f"SELECT id FROM {schema}.tenants").fetchall() == [(tenant,)]
    # time travel through the admin catalog keeps the tenant filter
    df = run_query(f"SELECT count(*) AS n FROM {acme}.customers FOR VERSION AS OF 0", lake, con=con)
    assert df["n"].to_list() == [2]


def test_a_tenant_leaving_drops_its_schema(lake):
    con = duckdb.connect()
    refresh_catalog(lake, con)
    write_deltalake(
        lake.table_uri("silver", "core_tenant"), _tenants().slice(0, 1), mode="overwrite"
    )
    refresh_catalog(lake, con)
    schemas = {r[0] for r in con.execute("SELECT schema_name FROM duckdb_schemas()").fetchall()}
    assert tenant_schema(ACME) in schemas and tenant_schema(GLOBEX) not in schemas


@pytest.mark.parametrize("tenant", [GLOBEX, "globex"], ids=["by id", "by slug"])
def test_a_tenant_connection_sees_only_its_rows(lake, tenant):
    con = connect_tenant(lake, tenant)
    schema = tenant_schema(GLOBEX)
    visible = con.execute(
        "SELECT DISTINCT schema_name FROM duckdb_tables() WHERE NOT internal"
    ).fetchall()
    assert visible == [(schema,)]
    assert _tables(con, schema) >= {"customers", "orders", "tenant_summary", "tenants"}
    # unqualified names resolve in the tenant's schema; Athena SQL through the query layer
    df = run_query(
        "SELECT t.name, count(*) AS n, sum(o.total) AS revenue FROM orders o "
        "JOIN tenants t ON t.id = o.tenant_id GROUP BY t.name",
        lake,
        con=con,
    )
    assert df.rows() == [("Globex", 3, Decimal("6.00"))]
    assert con.execute("SELECT DISTINCT tenant_id FROM customers").fetchall() == [(GLOBEX,)]


def test_a_tenant_connection_cannot_reach_anything_else(lake):
    con = sql_connect(lake, tenant="acme")
    # other tenants and unfiltered tables do not exist there: a clear error naming the table
    for sql in (
        "SELECT * FROM lakehouse_silver.core_customer",
        "SELECT * FROM silver.customers",
        f"SELECT * FROM {tenant_schema(GLOBEX)}.customers",
        "SELECT * FROM lakehouse_bronze.core_order",
    ):
        with pytest.raises(ValueError, match="unknown table") as err:
            run_query(sql, lake, con=con)
        listed = str(err.value).split("Available tables:")[1]  # only its own tables
        assert tenant_schema(GLOBEX) not in listed and "lakehouse_silver" not in listed
        assert f"{tenant_schema(ACME)}.customers" in listed
    with pytest.raises(duckdb.CatalogException):
        con.execute(f"SELECT * FROM {tenant_schema(GLOBEX)}.customers")
    # nor can it read the lake's files, attach the full catalog or lift the restriction
    part = DeltaTable(lake.table_uri("silver", "core_customer")).file_uris()[0]
    denied = "disabled by configuration"
    with pytest.raises(duckdb.PermissionException, match=denied):
        run_query(f"SELECT * FROM read_parquet('{part}')", lake, con=con)
    catalog = connect(lake)
    catalog.close()
    with pytest.raises(duckdb.PermissionException, match=denied):
        con.execute(f"ATTACH '{lake.path / 'catalog.duckdb'}' AS full_catalog")
    with pytest.raises(duckdb.Error, match="locked"):
        con.execute("SET enable_external_access = true")
    unfiltered = pl.from_arrow(
        DeltaTable(lake.table_uri("silver", "core_customer")).to_pyarrow_table()
    )
    assert unfiltered.height == 5  # a Python frame in scope is no table for the SQL
    with pytest.raises(duckdb.CatalogException):
        con.execute("SELECT * FROM unfiltered")
    with pytest.raises(ValueError, match="tenant connection"):
        run_query("SELECT * FROM customers FOR VERSION AS OF 0", lake, con=con)


def test_run_query_for_a_tenant_and_an_unknown_tenant(lake):
    df = run_query("SELECT count(*) AS n FROM customers", lake, tenant="acme")
    assert df["n"].to_list() == [2]
    with pytest.raises(ValueError, match="no tenant 'initech'"):
        connect_tenant(lake, "initech")


def test_the_cli_queries_as_a_tenant(lake, monkeypatch, capsys):
    from lakehouse.cli import main

    monkeypatch.setenv("LAKEHOUSE_ROOT", str(lake.path))
    sql = "SELECT count(*) AS n FROM customers"
    assert main(["query", "--tenant", "globex", "--format", "csv", sql]) == 0
    assert capsys.readouterr().out.split() == ["n", "3"]
    assert main(["query", "--tenant", "acme", "--format", "csv", sql]) == 0
    assert capsys.readouterr().out.split() == ["n", "2"]
    # the admin view of the same name does not exist unqualified: only the tenant sees "customers"
    assert main(["query", "--format", "csv", sql]) == 2
    assert "unknown table 'customers'" in capsys.readouterr().err
