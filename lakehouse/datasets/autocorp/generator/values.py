"""What the ``autocorp`` demo tables and CSV drops share: the tables' columns and base sizes,
the "now" of the generated data, and the value helpers.

``COLUMNS`` gives each database table's columns in order (``CUSTOMER_COLUMNS`` for
``customers``); ``BASE_COUNTS`` its rows at scale ``small``. ``REFERENCE_TIME`` stands for the
wall clock (never read). ``dec`` writes integer cents as a numeric literal, ``tax_cents`` applies
the 8.25 % tax, ``weighted`` draws from ``(value, weight)`` pairs, ``order_types`` gives ``n``
shuffled order types in the ``ORDER_TYPE_SHARES`` proportions; ``faker(seed)`` is a seeded Faker.
"""

from __future__ import annotations

import random
from datetime import datetime

from faker import Faker

BASE_COUNTS = {
    "auto_parts": 400,
    "customers": 1_149,
    "service": 110,
    "service_parts": 1_074,
    "sales_order": 1_000,
    "sales_order_parts": 2_135,
    "sales_order_services": 644,
}
REFERENCE_TIME = datetime(2025, 11, 21, 12, 0, 0)  # seed 002's date; "now" of the generated data
TAX_RATE_BP = 825  # 8.25 % in basis points
ORDER_TYPE_SHARES = (("Parts", 0.55), ("Mixed", 0.20))  # the rest is "Service"
PAYMENT_METHODS = (
    ("Credit Card", 50),
    ("Debit Card", 25),
    ("Cash", 15),
    ("Check", 5),
    ("Financing", 5),
)
ORDER_STATUSES = (("Completed", 92), ("Pending", 4), ("Cancelled", 2), ("Refunded", 2))
CUSTOMER_COLUMNS = (
    "customer_id", "first_name", "last_name", "email", "phone", "address", "city", "state",
    "zip_code", "created_at",
)  # fmt: skip
COLUMNS = {
    "auto_parts": ("sku", "name", "description", "inventory_date", "vendor", "price"),
    "customers": CUSTOMER_COLUMNS,
    "service": ("serviceid", "service", "category", "labor_minutes", "labor_cost"),
    "service_parts": ("service_part_id", "serviceid", "sku", "quantity", "created_at"),
    "sales_order": (
        "order_id", "customer_id", "order_date", "invoice_number", "payment_method", "subtotal",
        "tax", "total_amount", "order_type", "status", "notes", "created_at", "updated_at",
    ),
    "sales_order_parts": (
        "line_item_id", "order_id", "part_id", "sku", "part_description", "quantity",
        "unit_price", "line_total", "created_at",
    ),
    "sales_order_services": (
        "line_item_id", "order_id", "serviceid", "service_description", "quantity",
        "labor_minutes", "labor_cost", "parts_cost", "line_total", "vehicle_id",
        "technician_id", "service_status", "created_at",
    ),
}  # fmt: skip


def faker(seed: int) -> Faker:
    fake = Faker("en_US")
    fake.seed_instance(seed)
    return fake


def dec(cents: int) -> str:
    """Integer cents → a numeric literal ('-12.05')."""
    sign = "-" if cents < 0 else ""
    cents = abs(cents)
    return f"{sign}{cents // 100}.{cents % 100:02d}"


def tax_cents(subtotal_cents: int) -> int:
    return (subtotal_cents * TAX_RATE_BP + 5_000) // 10_000


def weighted(rng: random.Random, pairs) -> str:
    return rng.choices([p[0] for p in pairs], weights=[p[1] for p in pairs])[0]


def order_types(rng: random.Random, n: int) -> list[str]:
    n_parts, n_mixed = (round(n * share) for _, share in ORDER_TYPE_SHARES)
    types = ["Parts"] * n_parts + ["Mixed"] * n_mixed + ["Service"] * (n - n_parts - n_mixed)
    rng.shuffle(types)
    return types
