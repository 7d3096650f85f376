"""Registry of the ``saas`` dataset (seeds 000/001): a multi-tenant e-commerce SaaS (Django app).

Eight PostgreSQL tables named as Django names them (``core_<model>``); ``ddl.sql`` is the source
schema and must agree with this file column for column (checked against a seeded database by
``lakehouse_tests/datasets/test_registry.py``). Every primary key is a UUID ``id``; every table but
``core_tenant`` carries ``tenant_id`` (datasets.md's column list for ``core_orderitem`` omits it,
but its rule "every table but core_tenant carries tenant_id" wins: tenant isolation needs it on
every row); timestamps are ``timestamptz``.

Choices:
- ``table_format``: Delta for every table (seeds 000/001 name no Hudi table).
- ``scd_type=2`` for ``core_subscription`` (plan/status history drives MRR and churn metrics);
  SCD1 elsewhere.
- ``partition_by``: ``core_event`` only, by ``tenant_id``: it is the biggest table (50 rows per
  customer, insert-only), analytics (funnels, sessions) are per tenant, and tenant isolation is the
  seeds' access model; 8–16 tenants give a handful of well-filled partitions. ``created_at`` is
  unusable (partition columns must be registry columns, and a timestamp is far too fine).
- ``sequence_by``: ``updated_at`` where present (Django ``auto_now``); ``created_at`` for
  ``core_event`` (insert-only).
- varchar(n) columns carry ``str_length_max: n``; the ``≥`` rules of the Django validators and the
  ``choices`` become ``ge``/``isin`` checks (they are also CHECK constraints in ``ddl.sql``).
"""

from __future__ import annotations

from lakehouse.registry import Column, DatasetSpec, TableSpec

DATASET_NAME = "saas"

ORDER_STATUSES = ["pending", "processing", "completed", "cancelled"]
EVENT_TYPES = [
    "page_view",
    "product_view",
    "search",
    "add_to_cart",
    "remove_from_cart",
    "checkout",
    "purchase",
    "click",
]
SUBSCRIPTION_STATUSES = ["trial", "active", "cancelled", "expired"]
BILLING_CYCLES = ["monthly", "yearly"]
INVOICE_STATUSES = ["draft", "sent", "paid", "overdue", "cancelled"]


def _vc(name: str, n: int, nullable: bool = False, **kw) -> Column:
    checks = {"str_length_max": n, **kw.pop("checks", {})}
    return Column(name, "string", nullable, checks=checks, **kw)


def _col(name: str, type_: str, nullable: bool = False, **kw) -> Column:
    return Column(name, type_, nullable, **kw)


def _money(name: str, nullable: bool = False, **checks) -> Column:
    return Column(name, "decimal(10,2)", nullable, checks=checks)


def _id() -> Column:
    return _col("id", "uuid", checks={"unique": True})


def _tenant() -> Column:
    return _col("tenant_id", "uuid", references="core_tenant.id")


def _stamps() -> tuple[Column, ...]:
    return (_col("created_at", "timestamptz"), _col("updated_at", "timestamptz"))


def _table(name: str, columns: tuple[Column, ...], **kw) -> TableSpec:
    kw.setdefault("sequence_by", ("updated_at",))
    return TableSpec(dataset=DATASET_NAME, name=name, columns=columns, primary_key=("id",), **kw)


TENANT = _table(
    "core_tenant",
    (
        _id(),
        _vc("name", 255, checks={"unique": True}),
        _vc("slug", 100, checks={"unique": True}),
        _vc("domain", 255, True),
        _col("is_active", "bool"),
        _col("settings", "json"),
        *_stamps(),
    ),
    description="Tenants (shops) of the SaaS; silver view name `tenants`.",
)

CUSTOMER = _table(
    "core_customer",
    (
        _id(),
        _tenant(),
        _vc("email", 254, pii="email"),
        _vc("first_name", 100),
        _vc("last_name", 100),
        _vc("phone", 50, True, pii="phone"),
        _col("is_active", "bool"),
        _col("metadata", "json"),
        *_stamps(),
    ),
    description="End customers of a tenant; unique (tenant_id, email); silver view `customers`.",
)

PRODUCT = _table(
    "core_product",
    (
        _id(),
        _tenant(),
        _vc("sku", 100),
        _vc("name", 255),
        _col("description", "string"),
        _vc("category", 100),
        _money("price", ge=0.01),
        _money("cost", ge=0),
        _col("stock_quantity", "int", checks={"ge": 0}),
        _col("is_active", "bool"),
        *_stamps(),
    ),
    description="Product catalog of a tenant: list price, unit cost, stock.",
)

ORDER = _table(
    "core_order",
    (
        _id(),
        _tenant(),
        _col("customer_id", "uuid", references="core_customer.id"),
        _vc("order_number", 50, checks={"unique": True}),
        _vc("status", 20, checks={"isin": ORDER_STATUSES}),
        _money("subtotal", ge=0),
        _money("tax", ge=0),
        _money("shipping", ge=0),
        _money("total", ge=0),
        _col("order_date", "timestamptz"),
        _col("completed_at", "timestamptz", True),
        _col("metadata", "json"),
        *_stamps(),
    ),
    description="Orders: subtotal = Σ item totals, total = subtotal + tax + shipping; silver `orders`.",
)

ORDER_ITEM = _table(
    "core_orderitem",
    (
        _id(),
        _tenant(),
        _col("order_id", "uuid", references="core_order.id"),
        _col("product_id", "uuid", references="core_product.id"),
        _col("quantity", "int", checks={"ge": 1}),
        _money("unit_price", ge=0),
        _money("discount", ge=0),
        _money("total", ge=0),
        *_stamps(),
    ),
    description="Order lines: total = quantity × unit_price − discount.",
)

EVENT = _table(
    "core_event",
    (
        _id(),
        _tenant(),
        _col("customer_id", "uuid", True, references="core_customer.id"),
        _vc("event_type", 50, checks={"isin": EVENT_TYPES}),
        _col("event_data", "json"),
        _vc("session_id", 100),
        _col("ip_address", "inet", True),
        _col("user_agent", "string"),
        _col("created_at", "timestamptz"),
    ),
    sequence_by=("created_at",),
    partition_by=("tenant_id",),
    description="Behavioural events (insert-only in practice); customer_id is SET NULL on delete.",
)

SUBSCRIPTION = _table(
    "core_subscription",
    (
        _id(),
        _tenant(),
        _col("customer_id", "uuid", references="core_customer.id"),
        _vc("plan_name", 100),
        _vc("status", 20, checks={"isin": SUBSCRIPTION_STATUSES}),
        _col("start_date", "date"),
        _col("end_date", "date", True),
        _money("monthly_amount", ge=0),
        _vc("billing_cycle", 20, checks={"isin": BILLING_CYCLES}),
        *_stamps(),
    ),
    scd_type=2,
    description="Customer subscriptions (plan, status, amount); SCD2 in silver.",
)

INVOICE = _table(
    "core_invoice",
    (
        _id(),
        _tenant(),
        _col("customer_id", "uuid", references="core_customer.id"),
        _col("subscription_id", "uuid", True, references="core_subscription.id"),
        _vc("invoice_number", 50, checks={"unique": True}),
        _money("amount", ge=0),
        _vc("status", 20, checks={"isin": INVOICE_STATUSES}),
        _col("issue_date", "date"),
        _col("due_date", "date"),
        _col("paid_date", "date", True),
        *_stamps(),
    ),
    description="Subscription invoices; subscription_id is SET NULL on delete.",
)

DATASET = DatasetSpec(
    name=DATASET_NAME,
    tables=(TENANT, CUSTOMER, PRODUCT, ORDER, ORDER_ITEM, EVENT, SUBSCRIPTION, INVOICE),
    description="Multi-tenant e-commerce SaaS (seeds 000/001), Django `core` app tables.",
    selection_rules=({"rule-action": "include", "schema-name": "public", "table-name": "%"},),
)
