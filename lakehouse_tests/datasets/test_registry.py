"""The dataset registries (``tables.py``) against datasets.md and against the seeded DDL."""

from __future__ import annotations

import psycopg
import pytest

from lakehouse.declarations import load_dataset
from lakehouse.registry.model import parse_type
from lakehouse.source.seed import seed
from lakehouse_tests.shipped import DATASET_NAMES

EXPECTED_TABLES = {
    "autocorp": {
        "auto_parts", "customers", "service", "service_parts", "sales_order",
        "sales_order_parts", "sales_order_services",
    },
    "saas": {
        "core_tenant", "core_customer", "core_product", "core_order", "core_orderitem",
        "core_event", "core_subscription", "core_invoice",
    },
}  # fmt: skip


def logical_type(data_type: str, precision, scale) -> str:
    """information_schema ``data_type`` → registry logical type."""
    mapping = {
        "integer": "int", "smallint": "smallint", "bigint": "bigint", "real": "real",
        "double precision": "double", "money": "money", "boolean": "bool",
        "character varying": "string", "text": "string", "uuid": "uuid", "jsonb": "json",
        "json": "json", "inet": "inet", "date": "date", "timestamp without time zone": "timestamp",
        "timestamp with time zone": "timestamptz", "bytea": "bytes",
    }  # fmt: skip
    if data_type == "numeric":
        return f"decimal({precision},{scale})"
    return mapping[data_type]


def _db_columns(conn, table: str) -> list[tuple]:
    return conn.execute(
        "select column_name, data_type, numeric_precision, numeric_scale, is_nullable,"
        " character_maximum_length from information_schema.columns"
        " where table_schema = 'public' and table_name = %s order by ordinal_position",
        (table,),
    ).fetchall()


def _db_primary_key(conn, table: str) -> tuple[str, ...]:
    rows = conn.execute(
        "select k.column_name from information_schema.table_constraints c"
        " join information_schema.key_column_usage k using (constraint_schema, constraint_name)"
        " where c.table_schema = 'public' and c.table_name = %s and c.constraint_type = 'PRIMARY KEY'"
        " order by k.ordinal_position",
        (table,),
    ).fetchall()
    return tuple(r[0] for r in rows)


def _db_foreign_keys(conn, table: str) -> set[tuple[str, str]]:
    rows = conn.execute(
        "select a.attname, f.relname || '.' || fa.attname from pg_constraint c"
        " join pg_class r on r.oid = c.conrelid join pg_class f on f.oid = c.confrelid"
        " join pg_attribute a on a.attrelid = c.conrelid and a.attnum = c.conkey[1]"
        " join pg_attribute fa on fa.attrelid = c.confrelid and fa.attnum = c.confkey[1]"
        " where c.contype = 'f' and r.relname = %s",
        (table,),
    ).fetchall()
    return set(rows)


def _db_checked_columns(conn, table: str) -> set[str]:
    rows = conn.execute(
        "select a.attname from pg_constraint c join pg_class r on r.oid = c.conrelid"
        " join pg_attribute a on a.attrelid = c.conrelid and a.attnum = any(c.conkey)"
        " where c.contype = 'c' and r.relname = %s",
        (table,),
    ).fetchall()
    return {r[0] for r in rows}


@pytest.mark.parametrize("name", DATASET_NAMES)
def test_registry_declares_the_documented_tables(name):
    spec = load_dataset(name)
    assert {t.name for t in spec.database_tables} == EXPECTED_TABLES[name]
    assert spec.selection_rules == (
        {"rule-action": "include", "schema-name": "public", "table-name": "%"},
    )
    for table in spec.tables:
        assert table.description
        assert table.primary_key
        for column in table.columns:
            parse_type(column.type)
            if column.name in ("email", "phone"):
                assert column.pii == column.name, (table.name, column.name)
            if column.references:
                ref_table, ref_col = column.references.split(".")
                assert ref_col in spec.table(ref_table).column_names


def test_autocorp_choices():
    spec = load_dataset("autocorp")
    hudi = {t.name for t in spec.tables if t.table_format == "hudi"}
    assert hudi == {"sales_order", "customers"}
    assert {t.name for t in spec.tables if t.scd_type == 2} == {"customers"}
    assert spec.table("service").column("labor_cost").type == "money"
    assert spec.table("sales_order_parts").column("sku").references == "auto_parts.sku"
    assert spec.table("sales_order_parts").column("quantity").checks["gt"] == 0
    assert spec.table("sales_order").column("order_type").checks["isin"] == [
        "Parts",
        "Service",
        "Mixed",
    ]
    csv_customers, csv_orders = spec.table("customers_csv"), spec.table("sales_orders_csv")
    assert (csv_customers.source, csv_customers.file_glob) == ("csv_drop", "customers-*.csv")
    assert (csv_orders.source, csv_orders.file_glob) == ("csv_drop", "sales_orders-*.csv")
    assert csv_customers.column_names == spec.table("customers").column_names
    assert csv_orders.column_names == spec.table("sales_order").column_names
    assert csv_customers.primary_key == ("customer_id",)
    assert csv_orders.primary_key == ("order_id",)
    for t in spec.tables:
        assert all(c.type != "timestamptz" for c in t.columns), t.name


def test_saas_choices():
    spec = load_dataset("saas")
    assert all(t.table_format == "delta" for t in spec.tables)
    assert {t.name for t in spec.tables if t.scd_type == 2} == {"core_subscription"}
    assert {t.name for t in spec.tables if t.partition_by} == {"core_event"}
    for t in spec.tables:
        assert t.primary_key == ("id",)
        assert t.column("id").type == "uuid"
        assert t.name == "core_tenant" or "tenant_id" in t.column_names
        assert all(c.type != "timestamp" for c in t.columns), t.name
    assert spec.table("core_product").column("price").checks["ge"] == 0.01
    assert spec.table("core_event").column("ip_address").type == "inet"
    assert spec.table("core_event").column("event_data").type == "json"


@pytest.mark.integration
@pytest.mark.parametrize("name", DATASET_NAMES)
def test_registry_matches_the_seeded_database(fresh_db, name):
    spec = load_dataset(name)
    seed(fresh_db, name, "small")
    with psycopg.connect(fresh_db) as conn:
        db_tables = {
            r[0]
            for r in conn.execute(
                "select table_name from information_schema.tables where table_schema = 'public'"
            )
        }
        assert db_tables == {t.name for t in spec.database_tables}
        for table in spec.database_tables:
            db_cols = _db_columns(conn, table.name)
            assert [c[0] for c in db_cols] == table.column_names, table.name
            for (col, data_type, prec, scale, nullable, max_len), spec_col in zip(
                db_cols, table.columns, strict=True
            ):
                where = f"{table.name}.{col}"
                assert logical_type(data_type, prec, scale) == spec_col.type, where
                assert (nullable == "YES") == spec_col.nullable, where
                assert spec_col.checks.get("str_length_max") == max_len, where
            assert _db_primary_key(conn, table.name) == table.primary_key
            declared = {(c.name, c.references) for c in table.columns if c.references}
            assert _db_foreign_keys(conn, table.name) <= declared, table.name
            checked = {c.name for c in table.columns if {"ge", "gt", "isin"} & set(c.checks)}
            assert _db_checked_columns(conn, table.name) <= checked, table.name
