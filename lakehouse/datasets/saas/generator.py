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

import json
import random
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta

from faker import Faker

SCALES = {"small": (2, 50), "medium": (8, 800), "large": (16, 2_000)}
ORDERS_PER_CUSTOMER = 8
EVENTS_PER_CUSTOMER = 50
ITEMS_PER_ORDER = ((1, 15), (2, 20), (3, 25), (4, 20), (5, 20))  # (items, weight): mean 3.1
REFERENCE_TIME = datetime(2024, 12, 1, tzinfo=UTC)  # the "now" of the generated data

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
PLANS = (("Starter", 900, 30), ("Basic", 1_900, 30), ("Pro", 4_900, 25), ("Business", 9_900, 10),
         ("Enterprise", 24_900, 5))  # (plan, monthly cents, weight)  # fmt: skip
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
SOURCES = ("organic", "google_ads", "facebook", "referral", "email", "affiliate")


def dec(cents: int) -> str:
    """Integer cents → a numeric literal ('-12.05')."""
    sign = "-" if cents < 0 else ""
    return f"{sign}{abs(cents) // 100}.{abs(cents) % 100:02d}"


_VERSION_MASK = ~((0xF000 << 64) | (0xC000 << 48))
_VERSION_BITS = (0x4000 << 64) | (0x8000 << 48)


def new_uuid(rng: random.Random) -> str:
    """A random (version 4) UUID string drawn from ``rng`` (deterministic, unlike uuid4)."""
    h = f"{(rng.getrandbits(128) & _VERSION_MASK) | _VERSION_BITS:032x}"
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def expand(pairs) -> tuple:
    """``((value, weight), …)`` → a tuple with each value repeated ``weight`` times, so a weighted
    draw is one ``rng.choice`` (much cheaper than ``rng.choices`` in the row loops)."""
    return tuple(p[0] if len(p) == 2 else p for p in pairs for _ in range(p[-1]))


_ITEMS = expand(ITEMS_PER_ORDER)
_QUANTITIES = expand(((1, 70), (2, 20), (3, 6), (4, 4)))
_RECENT_STATUS = expand(RECENT_ORDER_STATUSES)
_OLD_STATUS = expand(OLD_ORDER_STATUSES)
_CHANNELS = expand(CHANNELS)
_EVENT_TYPES = expand(EVENT_WEIGHTS)
_PLANS = expand(PLANS)


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


def _ts(rng: random.Random, lo: datetime, hi: datetime) -> datetime:
    span = max(1, int((hi - lo).total_seconds()))
    return lo + timedelta(seconds=rng.randrange(span))


def faker(seed: int) -> Faker:
    fake = Faker("en_US")
    fake.seed_instance(seed)
    return fake


class _Pools:
    """Faker-made pools the row loops pick from (a Faker call per row is too slow)."""

    def __init__(self, seed: int) -> None:
        fake = faker(seed)
        self.first = [fake.first_name() for _ in range(600)]
        self.last = [fake.last_name() for _ in range(800)]
        self.user_agents = [fake.user_agent() for _ in range(80)]
        self.sentences = [fake.sentence(nb_words=10) for _ in range(200)]
        self.companies = []
        while len(self.companies) < 64:
            name = fake.company()
            if name not in self.companies:
                self.companies.append(name)
        self.cities = [fake.city() for _ in range(100)]


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


def event_data(rng: random.Random, event_type: str, product: tuple | None, pools: _Pools) -> str:
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


def generate(scale: str, seed: int = 42) -> Iterator[tuple[str, tuple[str, ...], Iterator[tuple]]]:
    """Yield ``(table, columns, rows)`` for the eight tables, parents first (see module doc)."""
    n_tenants, per_tenant = _scale(scale)
    pools = _Pools(seed)
    tenants, rows = _tenants(seed, n_tenants, pools)
    yield "core_tenant", COLUMNS["core_tenant"], rows
    customers, rows = _customers(seed, tenants, per_tenant, pools)
    yield "core_customer", COLUMNS["core_customer"], rows
    products, rows = _products(seed, tenants, per_tenant, pools)
    yield "core_product", COLUMNS["core_product"], rows

    orders: list[tuple] = []  # (id, tenant id, created_at, lines), consumed by _items
    yield "core_order", COLUMNS["core_order"], _orders(seed, tenants, customers, products, orders)
    yield "core_orderitem", COLUMNS["core_orderitem"], _items(seed, orders)
    yield "core_event", COLUMNS["core_event"], _events(seed, tenants, customers, products, pools)
    subscriptions: list[tuple] = []
    yield (
        "core_subscription",
        COLUMNS["core_subscription"],
        _subscriptions(seed, tenants, customers, subscriptions),
    )
    yield "core_invoice", COLUMNS["core_invoice"], _invoices(seed, subscriptions)


def _tenants(seed: int, n_tenants: int, pools: _Pools) -> tuple[list[tuple], list[tuple]]:
    """(tenants as ``(id, slug, tax_rate_bp, created_at)``, ``core_tenant`` rows)."""
    rng = random.Random(f"{seed}:tenants")
    tenants = []  # (id, slug, tax_rate_bp, created_at)
    rows = []
    for i in range(n_tenants):
        name = pools.companies[i]
        slug = "".join(ch if ch.isalnum() else "-" for ch in name.lower()).strip("-")
        slug = "-".join(p for p in slug.split("-") if p)[:90]
        tid = new_uuid(rng)
        created = _ts(rng, datetime(2021, 1, 1, tzinfo=UTC), datetime(2022, 6, 1, tzinfo=UTC))
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
                _ts(rng, created, REFERENCE_TIME),
            )
        )
    return tenants, rows


def _customers(seed: int, tenants: list, per_tenant: int, pools: _Pools):
    """(customers as ``(id, tenant index, created_at)``, ``core_customer`` rows)."""
    rng = random.Random(f"{seed}:customers")
    customers = []  # (id, tenant index, created_at)
    rows = []
    for t, (tid, _, _, t_created) in enumerate(tenants):
        for k in range(per_tenant):
            first, last = rng.choice(pools.first), rng.choice(pools.last)
            email = f"{first}.{last}{k + 1}@{rng.choice(('gmail.com', 'yahoo.com', 'outlook.com', 'icloud.com', 'hotmail.com'))}".lower()
            cid = new_uuid(rng)
            created = _ts(rng, t_created, REFERENCE_TIME - timedelta(days=30))
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
                    _ts(rng, created, REFERENCE_TIME),
                )
            )
    return customers, rows


def _products(seed: int, tenants: list, per_tenant: int, pools: _Pools):
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
            created = _ts(rng, t_created, REFERENCE_TIME - timedelta(days=60))
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
                    _ts(rng, created, REFERENCE_TIME),
                )
            )
    return products, rows


def _orders(seed, tenants, customers, products, out: list) -> Iterator[tuple]:
    rng = random.Random(f"{seed}:orders")
    index = 0
    for cid, t, c_created in customers:
        tid, _, tax_bp, _ = tenants[t]
        dates = sorted(_ts(rng, c_created, REFERENCE_TIME) for _ in range(ORDERS_PER_CUSTOMER))
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


def _items(seed, orders) -> Iterator[tuple]:
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


def _events(seed, tenants, customers, products, pools) -> Iterator[tuple]:
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
            when = _ts(rng, c_created, REFERENCE_TIME - timedelta(minutes=30))
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


def subscription_status(rng: random.Random, start: date) -> tuple[str, date | None]:
    ref = REFERENCE_TIME.date()
    if (ref - start).days < 14:
        return "trial", None
    roll = rng.random()
    if roll < 0.75:
        return "active", None
    end = start + timedelta(days=rng.randrange(14, max(15, (ref - start).days)))
    return ("cancelled" if roll < 0.9 else "expired"), end


def _subscriptions(seed, tenants, customers, out: list) -> Iterator[tuple]:
    rng = random.Random(f"{seed}:subscriptions")
    for cid, t, c_created in customers:
        plan, cents, _ = rng.choice(_PLANS)
        cycle = "yearly" if rng.random() < 0.2 else "monthly"
        start = _ts(rng, c_created, REFERENCE_TIME - timedelta(days=1)).date()
        status, end = subscription_status(rng, start)
        created = datetime(start.year, start.month, start.day, tzinfo=UTC) + timedelta(
            seconds=rng.randrange(86_400)
        )
        updated = (
            max(created, datetime(end.year, end.month, end.day, tzinfo=UTC)) if end else created
        )
        sid = new_uuid(rng)
        out.append((sid, tenants[t][0], cid, status, start, end, cents, cycle))
        yield (
            sid,
            tenants[t][0],
            cid,
            plan,
            status,
            start,
            end,
            dec(cents),
            cycle,
            created,
            updated,
        )


def _add_months(d: date, months: int) -> date:
    y, m = divmod(d.month - 1 + months, 12)
    return date(d.year + y, m + 1, min(d.day, 28))


def billing_periods(start: date, end: date | None, cycle: str) -> list[date]:
    """Issue dates: one per period from ``start`` to ``end``/reference (monthly: the last 12)."""
    stop = min(end or REFERENCE_TIME.date(), REFERENCE_TIME.date())
    step = 12 if cycle == "yearly" else 1
    issues, k = [], 0
    while (d := _add_months(start, k * step)) <= stop or k == 0:
        issues.append(d)
        k += 1
    return issues[-12:]


def _invoices(seed, subscriptions) -> Iterator[tuple]:
    rng = random.Random(f"{seed}:invoices")
    number = 0
    ref = REFERENCE_TIME.date()
    for sid, tid, cid, status, start, end, cents, cycle in subscriptions:
        amount = cents if cycle == "monthly" else cents * 12 * 85 // 100
        for issue in billing_periods(start, end, cycle):
            number += 1
            due = issue + timedelta(days=14)
            paid = None
            if status == "trial":
                inv_status, amount_c = "draft", 0
            elif due < ref and rng.random() < 0.94:
                inv_status, amount_c, paid = (
                    "paid",
                    amount,
                    issue + timedelta(days=rng.randrange(0, 14)),
                )
            elif due < ref:
                inv_status, amount_c = rng.choice(("overdue", "cancelled")), amount
            else:
                inv_status, amount_c = "sent", amount
            created = datetime(issue.year, issue.month, issue.day, 6, tzinfo=UTC) + timedelta(
                seconds=rng.randrange(3_600)
            )
            updated = datetime(paid.year, paid.month, paid.day, 12, tzinfo=UTC) if paid else created
            yield (
                new_uuid(rng),
                tid,
                cid,
                sid,
                f"INV-{issue:%Y%m}-{number:07d}",
                dec(amount_c),
                inv_status,
                issue,
                due,
                paid,
                created,
                updated,
            )
