"""The ``saas`` demo's tenants, customers and products: ``core_tenant``, ``core_customer`` and
``core_product`` rows, plus the parent records the other tables draw from.

``tenant_rows`` → (tenants as ``(id, slug, tax_rate_bp, created_at)``, rows); ``customer_rows``
→ (customers as ``(id, tenant index, created_at)``, rows), ``per_tenant`` per tenant with emails
unique per tenant; ``product_rows`` → (products per tenant as ``(id, price_cents, sku)``, rows),
``per_tenant // 4`` per tenant cycling through ``PRODUCT_CATALOG``. Each draws from its own
``random.Random(f"{seed}:<table>")``.
"""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime, timedelta

from lakehouse.datasets.saas.generator.values import REFERENCE_TIME, Pools, dec, new_uuid, ts

PRODUCT_CATALOG = {
    "Electronics": ("ELE", ("Wireless Earbuds", "USB-C Hub", "Bluetooth Speaker", "Smart Watch",
                            "Portable Charger", "Mechanical Keyboard", "Webcam 1080p"), 15, 400),
    "Clothing": ("CLO", ("Organic Cotton T-Shirt", "Denim Jacket", "Running Shorts", "Wool Sweater",
                         "Rain Jacket", "Chino Pants"), 12, 180),
    "Home & Garden": ("HOM", ("Ceramic Planter", "Linen Throw", "Scented Candle", "Cast Iron Skillet",
                              "Garden Hose", "LED Desk Lamp"), 8, 220),
    "Sports & Outdoors": ("SPO", ("Yoga Mat", "Insulated Water Bottle", "Camping Lantern",
                                  "Resistance Bands", "Trail Backpack"), 10, 260),
    "Beauty": ("BEA", ("Vitamin C Serum", "Hydrating Face Mask", "Beard Oil", "Hair Dryer",
                       "Mineral Sunscreen"), 6, 120),
    "Books": ("BOO", ("Cookbook", "Travel Guide", "Sci-Fi Novel", "Business Handbook",
                      "Children's Picture Book"), 5, 60),
    "Toys & Games": ("TOY", ("Building Blocks Set", "Board Game", "Puzzle 1000 pcs", "Plush Bear",
                             "RC Car"), 8, 150),
}  # fmt: skip
ADJECTIVES = ("Classic", "Premium", "Eco", "Ultra", "Compact", "Deluxe", "Everyday", "Pro", "Mini")
SOURCES = ("organic", "google_ads", "facebook", "referral", "email", "affiliate")


def phone(rng: random.Random) -> str | None:
    """A US phone in one of several formats, or None (20 %)."""
    if rng.random() < 0.2:
        return None
    a, b, c = rng.randrange(201, 990), rng.randrange(200, 1000), rng.randrange(10_000)
    return rng.choice(
        (
            f"({a}) {b}-{c:04d}",
            f"{a}-{b}-{c:04d}",
            f"+1-{a}-{b}-{c:04d}",
            f"{a}.{b}.{c:04d}x{rng.randrange(100, 999)}",
        )
    )


def customer_metadata(rng: random.Random) -> str:
    return json.dumps({
        "source": rng.choice(SOURCES),
        "marketing_opt_in": rng.random() < 0.6,
        "loyalty_tier": rng.choice(("bronze", "silver", "gold")),
        "preferred_language": rng.choice(("en", "en", "en", "es", "fr", "de")),
    })  # fmt: skip


def tenant_rows(seed: int, n_tenants: int, pools: Pools) -> tuple[list[tuple], list[tuple]]:
    """(tenants as ``(id, slug, tax_rate_bp, created_at)``, ``core_tenant`` rows)."""
    rng = random.Random(f"{seed}:tenants")
    tenants = []  # (id, slug, tax_rate_bp, created_at)
    rows = []
    for i in range(n_tenants):
        name = pools.companies[i]
        slug = "".join(ch if ch.isalnum() else "-" for ch in name.lower()).strip("-")
        slug = "-".join(p for p in slug.split("-") if p)[:90]
        tid = new_uuid(rng)
        created = ts(rng, datetime(2021, 1, 1, tzinfo=UTC), datetime(2022, 6, 1, tzinfo=UTC))
        tax_bp = rng.choice((0, 500, 725, 825, 1_000))
        settings = {
            "currency": rng.choice(("USD", "USD", "EUR", "GBP")),
            "timezone": rng.choice(
                ("America/New_York", "America/Los_Angeles", "Europe/London", "Europe/Berlin")
            ),
            "tax_rate": tax_bp / 10_000,
            "features": {
                "analytics": True,
                "subscriptions": True,
                "multi_currency": rng.random() < 0.3,
            },
        }
        domain = f"{slug}.example.com" if rng.random() < 0.75 else None
        tenants.append((tid, slug, tax_bp, created))
        rows.append(
            (
                tid,
                name,
                slug,
                domain,
                True,
                json.dumps(settings),
                created,
                ts(rng, created, REFERENCE_TIME),
            )
        )
    return tenants, rows


def customer_rows(seed: int, tenants: list, per_tenant: int, pools: Pools):
    """(customers as ``(id, tenant index, created_at)``, ``core_customer`` rows)."""
    rng = random.Random(f"{seed}:customers")
    customers = []  # (id, tenant index, created_at)
    rows = []
    for t, (tid, _, _, t_created) in enumerate(tenants):
        for k in range(per_tenant):
            first, last = rng.choice(pools.first), rng.choice(pools.last)
            email = f"{first}.{last}{k + 1}@{rng.choice(('gmail.com', 'yahoo.com', 'outlook.com', 'icloud.com', 'hotmail.com'))}".lower()
            cid = new_uuid(rng)
            created = ts(rng, t_created, REFERENCE_TIME - timedelta(days=30))
            customers.append((cid, t, created))
            rows.append(
                (
                    cid,
                    tid,
                    email,
                    first,
                    last,
                    phone(rng),
                    rng.random() < 0.95,
                    customer_metadata(rng),
                    created,
                    ts(rng, created, REFERENCE_TIME),
                )
            )
    return customers, rows


def product_rows(seed: int, tenants: list, per_tenant: int, pools: Pools):
    """(products per tenant as ``(id, price_cents, sku)``, ``core_product`` rows)."""
    rng = random.Random(f"{seed}:products")
    products: list[list[tuple]] = []  # per tenant: (id, price_cents, sku)
    rows = []
    categories = list(PRODUCT_CATALOG.items())
    for t, (tid, _, _, t_created) in enumerate(tenants):
        products.append([])
        for k in range(per_tenant // 4):
            category, (prefix, kinds, lo, hi) = categories[k % len(categories)]
            pid = new_uuid(rng)
            sku = f"{prefix}-{t + 1:02d}{k + 1:05d}"
            price = rng.randrange(lo * 100, hi * 100) // 100 * 100 + rng.choice((99, 95, 49, 0))
            cost = price * rng.randrange(35, 70) // 100
            created = ts(rng, t_created, REFERENCE_TIME - timedelta(days=60))
            products[t].append((pid, price, sku))
            rows.append(
                (
                    pid,
                    tid,
                    sku,
                    f"{rng.choice(ADJECTIVES)} {rng.choice(kinds)}",
                    rng.choice(pools.sentences),
                    category,
                    dec(price),
                    dec(cost),
                    rng.randrange(0, 500),
                    rng.random() < 0.93,
                    created,
                    ts(rng, created, REFERENCE_TIME),
                )
            )
    return products, rows
