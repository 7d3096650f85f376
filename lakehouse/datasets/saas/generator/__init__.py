"""Deterministic Faker data for ``saas`` (seeds 000/001): the Django ``core`` tables.

Data contract:
- ``generate(scale, seed)`` yields ``(table, columns, rows)`` in foreign-key order; ``rows`` is an
  iterable of tuples in ``columns`` order (UUIDs and JSON as strings, decimals as strings,
  timestamps UTC-aware). Consume each table's rows before asking for the next table (the big
  tables are streamed). Same ``(scale, seed)`` → same rows; no wall clock is read.
- Sizes (``SCALES``): tenants × customers per tenant — small 2 × 50, medium 8 × 800 (seed 001),
  large 16 × 2,000. Per customer: 8 orders, 50 events, 1 subscription; per tenant
  ``customers // 4`` products; per order 1–5 items (mean 3.1); per subscription one invoice per
  billing period since its start (monthly: at most the last 12; yearly: one a year). Medium is
  ≈ 581k rows (``expected_rows`` gives the exact counts and the estimates for the random ones).
- Consistency: item ``total = quantity × unit_price − discount``; order ``subtotal = Σ item
  totals``, ``tax = subtotal × tenant tax rate``, ``total = subtotal + tax + shipping``;
  ``completed_at`` is set iff ``status = 'completed'``; invoices' ``amount`` is the subscription's
  price for the period, ``paid_date`` set iff ``status = 'paid'``; emails unique per tenant.
"""

from __future__ import annotations

from collections.abc import Iterator

from lakehouse.datasets.saas.generator.accounts import customer_rows, product_rows, tenant_rows
from lakehouse.datasets.saas.generator.billing import invoice_rows, subscription_rows
from lakehouse.datasets.saas.generator.commerce import (
    EVENTS_PER_CUSTOMER,
    ORDERS_PER_CUSTOMER,
    event_rows,
    item_rows,
    order_rows,
)
from lakehouse.datasets.saas.generator.values import Pools

SCALES = {"small": (2, 50), "medium": (8, 800), "large": (16, 2_000)}

COLUMNS = {
    "core_tenant": ("id", "name", "slug", "domain", "is_active", "settings", "created_at", "updated_at"),
    "core_customer": (
        "id", "tenant_id", "email", "first_name", "last_name", "phone", "is_active", "metadata",
        "created_at", "updated_at",
    ),
    "core_product": (
        "id", "tenant_id", "sku", "name", "description", "category", "price", "cost",
        "stock_quantity", "is_active", "created_at", "updated_at",
    ),
    "core_order": (
        "id", "tenant_id", "customer_id", "order_number", "status", "subtotal", "tax", "shipping",
        "total", "order_date", "completed_at", "metadata", "created_at", "updated_at",
    ),
    "core_orderitem": (
        "id", "tenant_id", "order_id", "product_id", "quantity", "unit_price", "discount", "total",
        "created_at", "updated_at",
    ),
    "core_event": (
        "id", "tenant_id", "customer_id", "event_type", "event_data", "session_id", "ip_address",
        "user_agent", "created_at",
    ),
    "core_subscription": (
        "id", "tenant_id", "customer_id", "plan_name", "status", "start_date", "end_date",
        "monthly_amount", "billing_cycle", "created_at", "updated_at",
    ),
    "core_invoice": (
        "id", "tenant_id", "customer_id", "subscription_id", "invoice_number", "amount", "status",
        "issue_date", "due_date", "paid_date", "created_at", "updated_at",
    ),
}  # fmt: skip


def _scale(scale: str) -> tuple[int, int]:
    if scale not in SCALES:
        raise ValueError(f"unknown scale {scale!r}; expected one of {tuple(SCALES)}")
    return SCALES[scale]


def expected_rows(scale: str) -> dict[str, int]:
    """Rows per table: exact except ``core_orderitem`` and ``core_invoice`` (estimates)."""
    tenants, per_tenant = _scale(scale)
    customers = tenants * per_tenant
    orders = customers * ORDERS_PER_CUSTOMER
    return {
        "core_tenant": tenants,
        "core_customer": customers,
        "core_product": tenants * (per_tenant // 4),
        "core_order": orders,
        "core_orderitem": round(orders * 3.1),
        "core_event": customers * EVENTS_PER_CUSTOMER,
        "core_subscription": customers,
        "core_invoice": round(customers * 5.8),
    }


def generate(scale: str, seed: int = 42) -> Iterator[tuple[str, tuple[str, ...], Iterator[tuple]]]:
    """Yield ``(table, columns, rows)`` for the eight tables, parents first (see module doc)."""
    n_tenants, per_tenant = _scale(scale)
    pools = Pools(seed)
    tenants, rows = tenant_rows(seed, n_tenants, pools)
    yield "core_tenant", COLUMNS["core_tenant"], rows
    customers, rows = customer_rows(seed, tenants, per_tenant, pools)
    yield "core_customer", COLUMNS["core_customer"], rows
    products, rows = product_rows(seed, tenants, per_tenant, pools)
    yield "core_product", COLUMNS["core_product"], rows

    orders: list[tuple] = []  # (id, tenant id, created_at, lines), consumed by item_rows
    yield (
        "core_order",
        COLUMNS["core_order"],
        order_rows(seed, tenants, customers, products, orders),
    )
    yield "core_orderitem", COLUMNS["core_orderitem"], item_rows(seed, orders)
    yield "core_event", COLUMNS["core_event"], event_rows(seed, tenants, customers, products, pools)
    subscriptions: list[tuple] = []
    yield (
        "core_subscription",
        COLUMNS["core_subscription"],
        subscription_rows(seed, tenants, customers, subscriptions),
    )
    yield "core_invoice", COLUMNS["core_invoice"], invoice_rows(seed, subscriptions)
