"""The ``autocorp`` demo's sales orders and their lines: ``sales_order``,
``sales_order_parts`` and ``sales_order_services`` rows.

``make_orders(rng, fake, counts, parts, services, service_parts)`` → (orders, part lines,
service lines) with exactly ``counts`` rows each, orders spread over the two years before
``REFERENCE_TIME`` in time order; an order's ``order_type`` matches the lines it has, part
``line_total = quantity × unit_price``, service ``line_total = labor_cost × quantity +
parts_cost``, ``subtotal = Σ line totals``, ``total_amount = subtotal + tax``.
"""

from __future__ import annotations

import random
from collections import Counter
from datetime import datetime, time, timedelta

from lakehouse.datasets.autocorp.generator.values import (
    ORDER_STATUSES,
    PAYMENT_METHODS,
    REFERENCE_TIME,
    dec,
    order_types,
    tax_cents,
    weighted,
)


def _spread(rng: random.Random, n_orders: int, n_lines: int) -> list[int]:
    """Line counts (each ≥ 1) for ``n_orders`` orders summing to ``n_lines``."""
    counts = [1] * n_orders
    for i, extra in Counter(rng.choices(range(n_orders), k=n_lines - n_orders)).items():
        counts[i] += extra
    return counts


def make_orders(rng, fake, counts, parts, services, service_parts):
    """Orders with exactly ``counts`` parts and service lines; returns (orders, parts, services)."""
    n = counts["sales_order"]
    types = order_types(rng, n)
    with_parts = [i for i, t in enumerate(types) if t != "Service"]
    with_services = [i for i, t in enumerate(types) if t != "Parts"]
    n_part_lines = dict(
        zip(with_parts, _spread(rng, len(with_parts), counts["sales_order_parts"]), strict=True)
    )
    n_svc_lines = dict(
        zip(
            with_services,
            _spread(rng, len(with_services), counts["sales_order_services"]),
            strict=True,
        )
    )
    part_by_sku = {p[0]: (i + 1, p) for i, p in enumerate(parts)}
    svc_parts: dict[str, list] = {}
    for sp in service_parts:
        svc_parts.setdefault(sp[1], []).append(part_by_sku[sp[2]][1])
    start = datetime.combine(REFERENCE_TIME.date() - timedelta(days=730), time())
    offsets = sorted(
        rng.randrange(730) * 86_400 + rng.randrange(7 * 3600, 19 * 3600) for _ in range(n)
    )
    notes_pool = [fake.sentence(nb_words=6) for _ in range(64)]
    orders, plines, slines = [], [], []
    for i in range(n):
        order_id = i + 1
        when = start + timedelta(seconds=offsets[i])
        subtotal = 0
        for _ in range(n_part_lines.get(i, 0)):
            part_id, p = part_by_sku[rng.choice(parts)[0]]
            qty = rng.choices((1, 2, 3, 4, 6), (60, 20, 8, 8, 4))[0]
            line = qty * p[6]
            subtotal += line
            plines.append(
                (len(plines) + 1, order_id, part_id, p[0], p[1][:200], qty, p[5], dec(line), when)
            )
        for _ in range(n_svc_lines.get(i, 0)):
            sid, name, _, mins, labor = rng.choice(services)
            qty = rng.choices((1, 2), (95, 5))[0]
            used = rng.sample(svc_parts[sid], rng.choice((0, 1, 1, 2)))
            parts_cost = sum(p[6] for p in used)
            line = labor * qty + parts_cost
            subtotal += line
            slines.append((
                len(slines) + 1, order_id, sid, name, qty, mins * qty, dec(labor), dec(parts_cost),
                dec(line), rng.randrange(1, 5_000), rng.randrange(1, 26),
                rng.choices(("Completed", "In Progress", "Scheduled"), (94, 4, 2))[0], when,
            ))  # fmt: skip
        tax = tax_cents(subtotal)
        customer_id = rng.randrange(1, counts["customers"] + 1)
        notes = rng.choice(notes_pool) if rng.random() < 0.15 else None
        updated = when + timedelta(minutes=rng.randrange(0, 240))
        orders.append((
            order_id, customer_id, when, f"INV-{when:%Y%m}-{order_id:06d}",
            weighted(rng, PAYMENT_METHODS), dec(subtotal), dec(tax), dec(subtotal + tax),
            types[i], weighted(rng, ORDER_STATUSES), notes, when, updated,
        ))  # fmt: skip
    return orders, plines, slines
