"""Deterministic Faker data for ``autocorp`` (seed 002): database tables and CSV drops.

Data contract:
- ``generate(scale, seed)`` yields ``(table, columns, rows)`` in foreign-key order; ``rows`` is an
  iterable of tuples in ``columns`` order (decimals as strings, timestamps naive). Same
  ``(scale, seed)`` → same rows (Faker and ``random`` are both seeded; no wall clock is read).
- Row counts (``row_counts(scale)``) are exact: scale ``small`` is seed 002's database (auto_parts
  400, customers 1,149, service 110, service_parts 1,074, sales_order 1,000, sales_order_parts
  2,135, sales_order_services 644); ``medium``/``large`` multiply customers, orders and order lines
  by 10/100 (the catalog tables keep their size).
- Consistency: ``line_total = quantity × unit_price`` (parts), ``line_total = labor_cost ×
  quantity + parts_cost`` (services), ``subtotal = Σ line totals``, ``tax = 8.25 %``,
  ``total_amount = subtotal + tax``; ``order_type`` matches the lines an order has.
- ``write_landing(folder, scale, day)`` writes the day's DataSync drops with
  ``write_customers_csv`` / ``write_sales_orders_csv`` (module ``drops``: see each).
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import date
from pathlib import Path

from lakehouse.datasets.autocorp.generator.catalog import (
    make_parts,
    make_service_parts,
    make_services,
)
from lakehouse.datasets.autocorp.generator.customers import customers_frame
from lakehouse.datasets.autocorp.generator.drops import write_customers_csv, write_sales_orders_csv
from lakehouse.datasets.autocorp.generator.orders import make_orders
from lakehouse.datasets.autocorp.generator.values import BASE_COUNTS, COLUMNS, dec, faker

SCALES = {"small": 1, "medium": 10, "large": 100}
SCALED = ("customers", "sales_order", "sales_order_parts", "sales_order_services")


def row_counts(scale: str) -> dict[str, int]:
    """Exact rows per database table at ``scale``."""
    factor = _factor(scale)
    return {t: n * factor if t in SCALED else n for t, n in BASE_COUNTS.items()}


def _factor(scale: str) -> int:
    if scale not in SCALES:
        raise ValueError(f"unknown scale {scale!r}; expected one of {tuple(SCALES)}")
    return SCALES[scale]


def generate(scale: str, seed: int = 42) -> Iterator[tuple[str, tuple[str, ...], list[tuple]]]:
    """Yield ``(table, columns, rows)`` for the seven tables, parents first."""
    counts = row_counts(scale)
    rng = random.Random(seed)
    fake = faker(seed)
    parts = make_parts(rng, fake)
    yield "auto_parts", COLUMNS["auto_parts"], [p[:6] for p in parts]
    customers = customers_frame(counts["customers"], seed)
    yield "customers", COLUMNS["customers"], customers.iter_rows()
    services = make_services(rng)
    yield "service", COLUMNS["service"], [s[:4] + (dec(s[4]),) for s in services]
    service_parts = make_service_parts(rng, services, parts, counts["service_parts"])
    yield "service_parts", COLUMNS["service_parts"], service_parts
    orders, part_lines, service_lines = make_orders(
        rng, fake, counts, parts, services, service_parts
    )
    yield "sales_order", COLUMNS["sales_order"], orders
    yield "sales_order_parts", COLUMNS["sales_order_parts"], part_lines
    yield "sales_order_services", COLUMNS["sales_order_services"], service_lines


def write_landing(folder: Path, scale: str, day: date) -> list[str]:
    """The demo's CSV drops for ``day`` in ``folder``: ``customers-<day>.csv`` (10k/100k/1.2M
    rows by scale) and ``sales_orders-<day>.csv`` (2,000 rows); returns a line per file."""
    folder.mkdir(parents=True, exist_ok=True)
    stamp = day.strftime("%Y%m%d")
    n_customers = {"small": 10_000, "medium": 100_000, "large": 1_200_000}[scale]
    write_customers_csv(folder / f"customers-{stamp}.csv", n_customers, seed=42)
    write_sales_orders_csv(folder / f"sales_orders-{stamp}.csv", day, 2_000, seed=42)
    return [f"customers-{stamp}.csv {n_customers:,} rows", f"sales_orders-{stamp}.csv"]
