"""The ``saas`` demo's orders, order items and events: ``core_order``, ``core_orderitem`` and
``core_event`` rows, streamed.

``order_rows`` yields ``ORDERS_PER_CUSTOMER`` orders per customer (1–5 distinct products each,
``order_lines``; ``subtotal = Σ item totals``, ``tax = subtotal × tenant tax rate``, ``total =
subtotal + tax + shipping``, ``completed_at`` set iff completed) and appends ``(id, tenant id,
created_at, lines)`` to ``out`` for ``item_rows``; ``event_rows`` yields ``EVENTS_PER_CUSTOMER``
events per customer in sessions, each with an ``event_data`` JSON payload.
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from datetime import timedelta

from lakehouse.datasets.saas.generator.values import (
    REFERENCE_TIME,
    Pools,
    dec,
    expand,
    new_uuid,
    ts,
)

ORDERS_PER_CUSTOMER = 8
EVENTS_PER_CUSTOMER = 50
ITEMS_PER_ORDER = ((1, 15), (2, 20), (3, 25), (4, 20), (5, 20))  # (items, weight): mean 3.1
EVENT_WEIGHTS = (("page_view", 40), ("product_view", 25), ("search", 10), ("add_to_cart", 8),
                 ("remove_from_cart", 3), ("checkout", 5), ("purchase", 4), ("click", 5))  # fmt: skip
SEARCH_TERMS = ("gift", "sale", "wireless", "organic", "summer", "kids", "black friday", "bundle",
                "eco friendly", "best seller", "new arrivals", "under 50")  # fmt: skip
PAGES = ("/", "/sale", "/new", "/cart", "/account", "/blog")
REFERRERS = ("google", "direct", "email", "facebook")
ELEMENTS = ("banner", "nav", "recommendation", "footer_link")
CHANNELS = (("web", 60), ("mobile_app", 30), ("marketplace", 7), ("pos", 3))
RECENT_ORDER_STATUSES = (("processing", 30), ("completed", 65), ("cancelled", 5))
OLD_ORDER_STATUSES = (("completed", 93), ("cancelled", 7))
_ITEMS = expand(ITEMS_PER_ORDER)
_QUANTITIES = expand(((1, 70), (2, 20), (3, 6), (4, 4)))
_RECENT_STATUS = expand(RECENT_ORDER_STATUSES)
_OLD_STATUS = expand(OLD_ORDER_STATUSES)
_CHANNELS = expand(CHANNELS)
_EVENT_TYPES = expand(EVENT_WEIGHTS)


def event_data(rng: random.Random, event_type: str, product: tuple | None, pools: Pools) -> str:
    """A small realistic JSON payload for ``event_type`` (``product`` = (id, price_cents, sku)).

    Built with f-strings (every interpolated value is a plain token: no quotes or escapes),
    which is several times faster than ``json.dumps`` for the 50 events per customer."""
    ch = rng.choice
    match event_type:
        case "page_view":
            return f'{{"url": "{ch(PAGES)}", "referrer": "{ch(REFERRERS)}"}}'
        case "product_view" | "add_to_cart" | "remove_from_cart" if product:
            base = (
                f'"product_id": "{product[0]}", "sku": "{product[2]}", "price": {dec(product[1])}'
            )
            if event_type == "product_view":
                return f"{{{base}}}"
            return f'{{{base}, "quantity": {ch((1, 1, 1, 2, 3))}}}'
        case "search":
            return f'{{"query": "{ch(SEARCH_TERMS)}", "results": {rng.randrange(0, 120)}}}'
        case "checkout":
            return f'{{"cart_value": {dec(rng.randrange(1_000, 60_000))}, "items": {rng.randrange(1, 6)}}}'
        case "purchase":
            return (
                f'{{"cart_value": {dec(rng.randrange(1_000, 60_000))}, "items": {rng.randrange(1, 6)},'
                f' "payment_method": "{ch(("card", "paypal", "apple_pay"))}"}}'
            )
        case _:
            return f'{{"element": "{ch(ELEMENTS)}", "page": "{ch(PAGES[:3])}"}}'


def ip_address(rng: random.Random) -> str | None:
    if rng.random() < 0.03:
        return None
    return f"{rng.randrange(11, 223)}.{rng.randrange(256)}.{rng.randrange(256)}.{rng.randrange(1, 255)}"


def order_lines(rng: random.Random, products: list[tuple]) -> list[tuple[tuple, int, int]]:
    """The lines of one order as (product, quantity, discount_cents), 1–5 distinct products."""
    n = rng.choice(_ITEMS)
    lines = []
    for product in rng.sample(products, min(n, len(products))):
        qty = rng.choice(_QUANTITIES)
        discount = (
            0 if rng.random() < 0.8 else qty * product[1] * rng.choice((5, 10, 15, 20)) // 100
        )
        lines.append((product, qty, discount))
    return lines


def order_rows(seed, tenants, customers, products, out: list) -> Iterator[tuple]:
    rng = random.Random(f"{seed}:orders")
    index = 0
    for cid, t, c_created in customers:
        tid, _, tax_bp, _ = tenants[t]
        dates = sorted(ts(rng, c_created, REFERENCE_TIME) for _ in range(ORDERS_PER_CUSTOMER))
        for when in dates:
            index += 1
            lines = order_lines(rng, products[t])
            subtotal = sum(qty * p[1] - disc for p, qty, disc in lines)
            tax = (subtotal * tax_bp + 5_000) // 10_000
            shipping = 0 if subtotal >= 5_000 else rng.choice((499, 599, 799))
            age = REFERENCE_TIME - when
            if age < timedelta(days=2):
                status = rng.choice(("pending", "processing"))
            elif age < timedelta(days=10):
                status = rng.choice(_RECENT_STATUS)
            else:
                status = rng.choice(_OLD_STATUS)
            completed = (
                when + timedelta(hours=rng.randrange(2, 96)) if status == "completed" else None
            )
            oid = new_uuid(rng)
            meta = {
                "channel": rng.choice(_CHANNELS),
                "coupon": rng.choice((None, None, None, "WELCOME10", "FREESHIP")),
                "gift": rng.random() < 0.05,
            }
            out.append((oid, tid, when, lines))
            yield (
                oid,
                tid,
                cid,
                f"ORD-{when:%Y}-{index:08d}",
                status,
                dec(subtotal),
                dec(tax),
                dec(shipping),
                dec(subtotal + tax + shipping),
                when,
                completed,
                json.dumps(meta),
                when,
                completed or when,
            )


def item_rows(seed, orders) -> Iterator[tuple]:
    rng = random.Random(f"{seed}:items")
    for oid, tid, when, lines in orders:
        for p, qty, disc in lines:
            yield (
                new_uuid(rng),
                tid,
                oid,
                p[0],
                qty,
                dec(p[1]),
                dec(disc),
                dec(qty * p[1] - disc),
                when,
                when,
            )


def event_rows(seed, tenants, customers, products, pools) -> Iterator[tuple]:
    rng = random.Random(f"{seed}:events")
    for cid, t, c_created in customers:
        tid = tenants[t][0]
        left = EVENTS_PER_CUSTOMER
        while left:
            n = min(left, rng.randrange(3, 11))
            left -= n
            session, ua, ip = (
                rng.getrandbits(128).to_bytes(16).hex(),
                rng.choice(pools.user_agents),
                ip_address(rng),
            )
            anonymous = rng.random() < 0.05
            when = ts(rng, c_created, REFERENCE_TIME - timedelta(minutes=30))
            for _ in range(n):
                kind = rng.choice(_EVENT_TYPES)
                data = event_data(rng, kind, rng.choice(products[t]), pools)
                yield (
                    new_uuid(rng),
                    tid,
                    None if anonymous else cid,
                    kind,
                    data,
                    session,
                    ip,
                    ua,
                    when,
                )
                when += timedelta(seconds=rng.randrange(5, 240))
