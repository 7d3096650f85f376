"""Registry of the ``autocorp`` dataset (seed 002): an auto parts and service shop.

Seven PostgreSQL tables (``ddl.sql`` is the source schema; the two must agree column for column,
which ``lakehouse_tests/datasets/test_registry.py`` checks against a seeded database) and two CSV
drops synced by "DataSync": ``customers-YYYYMMDD.csv`` and ``sales_orders-YYYYMMDD.csv``.

Choices:
- ``table_format``: Hudi for ``sales_order`` and ``customers`` (seed 002: high update frequency,
  upserts), Delta for everything else (reference data and line items).
- ``scd_type=2`` for ``customers`` only (address/email history matters); SCD1 elsewhere.
- ``partition_by``: none. The largest table here is ~2k rows per scale unit; partitioning would
  only produce small files.
- ``sequence_by``: ``updated_at`` where the table has one (``sales_order``; the Hudi precombine
  field of seed 002).
- ``references``: the real foreign keys, plus two quality rules that are not FKs in the source:
  ``sales_order.customer_id`` → ``customers.customer_id`` and ``sales_order_parts.sku`` /
  ``service_parts.sku`` → ``auto_parts.sku`` (not on the CSV drops: their keys need not exist
  in the database).
- varchar(n) columns carry ``str_length_max: n``; unique constraints on one column carry
  ``unique: True``.
"""

from __future__ import annotations

from dataclasses import replace

from lakehouse.registry import Column, DatasetSpec, TableSpec

DATASET_NAME = "autocorp"


def _vc(name: str, n: int, nullable: bool = True, **kw) -> Column:
    checks = {"str_length_max": n, **kw.pop("checks", {})}
    return Column(name, "string", nullable, checks=checks, **kw)


def _col(name: str, type_: str, nullable: bool = True, **kw) -> Column:
    return Column(name, type_, nullable, **kw)


def _table(name: str, columns: tuple[Column, ...], pk: tuple[str, ...], **kw) -> TableSpec:
    return TableSpec(dataset=DATASET_NAME, name=name, columns=columns, primary_key=pk, **kw)


AUTO_PARTS = _table(
    "auto_parts",
    (
        _vc("sku", 50, False, checks={"unique": True}),
        _vc("name", 255, False),
        _col(
            "description", "string", description="'<Category>: <text>', e.g. 'Engine Components: …'"
        ),
        _col("inventory_date", "date"),
        _vc("vendor", 255),
        _col("price", "decimal(10,2)", checks={"ge": 0}),
    ),
    ("sku",),
    description="Parts inventory (reference data): one row per SKU with vendor and list price.",
)

CUSTOMER_COLUMNS = (
    _col("customer_id", "int", False, checks={"unique": True}),
    _vc("first_name", 100, False),
    _vc("last_name", 100, False),
    _vc("email", 200, False, pii="email", checks={"unique": True}),
    _vc("phone", 20, pii="phone"),
    _vc("address", 300),
    _vc("city", 100),
    _vc("state", 50),
    _vc("zip_code", 20),
    _col("created_at", "timestamp"),
)

CUSTOMERS = _table(
    "customers",
    CUSTOMER_COLUMNS,
    ("customer_id",),
    table_format="hudi",
    scd_type=2,
    description="Shop customers (contact details and address); SCD2 in silver.",
)

SERVICE = _table(
    "service",
    (
        _vc("serviceid", 50, False, checks={"unique": True, "regex": r"^\d{8}$"}),
        _vc("service", 200),
        _vc("category", 50),
        _col("labor_minutes", "int", checks={"ge": 0}),
        _col("labor_cost", "money", checks={"ge": 0}),
    ),
    ("serviceid",),
    description="Service catalog: 8-digit service ids, labor time and labor cost (PostgreSQL MONEY).",
)

SERVICE_PARTS = _table(
    "service_parts",
    (
        _col("service_part_id", "int", False, checks={"unique": True}),
        _vc("serviceid", 50, False, references="service.serviceid"),
        _vc("sku", 50, False, references="auto_parts.sku"),
        _col("quantity", "int", checks={"gt": 0}),
        _col("created_at", "timestamp"),
    ),
    ("service_part_id",),
    description="Parts a service uses; unique (serviceid, sku).",
)

SALES_ORDER_COLUMNS = (
    _col("order_id", "int", False, checks={"unique": True}),
    _col("customer_id", "int", False, references="customers.customer_id"),
    _col("order_date", "timestamp", False),
    _vc("invoice_number", 50, False, checks={"unique": True}),
    _vc("payment_method", 50),
    _col("subtotal", "decimal(12,2)", checks={"ge": 0}),
    _col("tax", "decimal(12,2)", checks={"ge": 0}),
    _col("total_amount", "decimal(12,2)", False, checks={"ge": 0}),
    _vc("order_type", 20, checks={"isin": ["Parts", "Service", "Mixed"]}),
    _vc("status", 50),
    _col("notes", "string"),
    _col("created_at", "timestamp"),
    _col("updated_at", "timestamp"),
)

SALES_ORDER = _table(
    "sales_order",
    SALES_ORDER_COLUMNS,
    ("order_id",),
    sequence_by=("updated_at",),
    table_format="hudi",
    description="Order headers: total_amount = subtotal + tax; lines in sales_order_parts/services.",
)

SALES_ORDER_PARTS = _table(
    "sales_order_parts",
    (
        _col("line_item_id", "int", False, checks={"unique": True}),
        _col("order_id", "int", references="sales_order.order_id"),
        _col("part_id", "int"),
        _vc("sku", 50, references="auto_parts.sku"),
        _vc("part_description", 200),
        _col("quantity", "int", checks={"gt": 0}),
        _col("unit_price", "decimal(10,2)", checks={"ge": 0}),
        _col("line_total", "decimal(12,2)", checks={"ge": 0}),
        _col("created_at", "timestamp"),
    ),
    ("line_item_id",),
    description="Parts line items of an order: line_total = quantity × unit_price.",
)

SALES_ORDER_SERVICES = _table(
    "sales_order_services",
    (
        _col("line_item_id", "int", False, checks={"unique": True}),
        _col("order_id", "int", references="sales_order.order_id"),
        _vc("serviceid", 50, references="service.serviceid"),
        _vc("service_description", 200),
        _col("quantity", "int", checks={"gt": 0}),
        _col("labor_minutes", "int", checks={"ge": 0}),
        _col("labor_cost", "decimal(10,2)", checks={"ge": 0}),
        _col("parts_cost", "decimal(10,2)", checks={"ge": 0}),
        _col("line_total", "decimal(12,2)", checks={"ge": 0}),
        _col("vehicle_id", "int"),
        _col("technician_id", "int"),
        _vc("service_status", 50),
        _col("created_at", "timestamp"),
    ),
    ("line_item_id",),
    description="Service line items: line_total = labor_cost × quantity + parts_cost.",
)

CUSTOMERS_CSV = _table(
    "customers_csv",
    CUSTOMER_COLUMNS,
    ("customer_id",),
    source="csv_drop",
    file_glob="customers-*.csv",
    description="Full customer extract dropped as customers-YYYYMMDD.csv (1.2M rows at scale).",
)

SALES_ORDERS_CSV = _table(
    "sales_orders_csv",
    tuple(replace(c, references=None) for c in SALES_ORDER_COLUMNS),
    ("order_id",),
    source="csv_drop",
    file_glob="sales_orders-*.csv",
    sequence_by=("updated_at",),
    description="Generated order headers dropped daily as sales_orders-YYYYMMDD.csv; about 1% of "
    "rows are deliberately bad (see generator.write_sales_orders_csv) and must be quarantined.",
)

DATASET = DatasetSpec(
    name=DATASET_NAME,
    tables=(
        AUTO_PARTS,
        CUSTOMERS,
        SERVICE,
        SERVICE_PARTS,
        SALES_ORDER,
        SALES_ORDER_PARTS,
        SALES_ORDER_SERVICES,
        CUSTOMERS_CSV,
        SALES_ORDERS_CSV,
    ),
    description="AutoCorp auto parts and service shop (seed 002): PostgreSQL + CSV drops.",
    selection_rules=({"rule-action": "include", "schema-name": "public", "table-name": "%"},),
)
