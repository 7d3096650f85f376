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
- ``write_customers_csv`` / ``write_sales_orders_csv`` write the DataSync drops (see each).
"""

from __future__ import annotations

import csv
import random
from collections import Counter
from collections.abc import Iterator
from datetime import date, datetime, time, timedelta
from pathlib import Path

import numpy as np
import polars as pl
from faker import Faker

SCALES = {"small": 1, "medium": 10, "large": 100}
BASE_COUNTS = {
    "auto_parts": 400,
    "customers": 1_149,
    "service": 110,
    "service_parts": 1_074,
    "sales_order": 1_000,
    "sales_order_parts": 2_135,
    "sales_order_services": 644,
}
SCALED = ("customers", "sales_order", "sales_order_parts", "sales_order_services")
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

# --- value pools ---------------------------------------------------------------------------------

CUSTOMER_COLUMNS = (
    "customer_id", "first_name", "last_name", "email", "phone", "address", "city", "state",
    "zip_code", "created_at",
)  # fmt: skip
# category: (sku prefix, part kinds, min price $, max price $)
PART_CATEGORIES = {
    "Engine Components": ("ENG", ("Oil Filter", "Air Filter", "Spark Plug", "Timing Belt Kit",
        "Water Pump", "Fuel Pump", "Ignition Coil", "Serpentine Belt", "Valve Cover Gasket",
        "Thermostat", "PCV Valve", "Engine Mount"), 6, 420),
    "Brake System": ("BRK", ("Ceramic Brake Pad Set", "Brake Rotor", "Brake Caliper",
        "Brake Fluid DOT 4", "Brake Hose", "Master Cylinder", "Brake Drum", "Wheel Cylinder"), 9, 260),
    "Suspension & Steering": ("SUS", ("Strut Assembly", "Shock Absorber", "Control Arm",
        "Ball Joint", "Tie Rod End", "Sway Bar Link", "Wheel Bearing", "Power Steering Pump"), 18, 380),
    "Electrical": ("ELE", ("Battery", "Alternator", "Starter Motor", "Headlight Bulb",
        "Oxygen Sensor", "Mass Air Flow Sensor", "Wiper Motor", "Fuse Assortment"), 8, 450),
    "Transmission & Drivetrain": ("TRN", ("ATF Fluid", "Clutch Kit", "CV Axle", "Drive Shaft",
        "Transmission Filter Kit", "U-Joint"), 12, 690),
    "Exhaust": ("EXH", ("Catalytic Converter", "Muffler", "Exhaust Manifold Gasket",
        "Resonator", "Tail Pipe"), 15, 900),
    "Cooling System": ("COL", ("Radiator", "Coolant 50/50", "Cooling Fan Assembly",
        "Radiator Cap", "Radiator Hose"), 8, 420),
    "HVAC": ("HVC", ("Cabin Air Filter", "AC Compressor", "Blower Motor", "Heater Core",
        "AC Condenser"), 12, 560),
    "Tires & Wheels": ("TIR", ("All-Season Tire 205/55R16", "All-Terrain Tire 265/70R17",
        "Lug Nut Set", "TPMS Sensor", "Wheel Hub Assembly"), 20, 320),
    "Fluids & Chemicals": ("FLD", ("Synthetic Motor Oil 5W-30 5qt", "Fuel Injector Cleaner",
        "Power Steering Fluid", "Windshield Washer Fluid", "Brake Parts Cleaner"), 4, 45),
}  # fmt: skip
PART_BRANDS = (
    "Bosch", "ACDelco", "Motorcraft", "Denso", "NGK", "Moog", "Monroe", "Wagner", "Raybestos",
    "Gates", "Dorman", "Mobil 1", "Castrol", "Valvoline", "Fram", "K&N", "Champion", "Delphi",
    "Walker", "Spectra Premium", "Duralast", "Mopar",
)  # fmt: skip
VENDORS = (
    "AutoZone", "RockAuto", "O'Reilly Auto Parts", "NAPA Auto Parts", "Advance Auto Parts",
    "CarParts.com", "PartsGeek", "Summit Racing",
)  # fmt: skip
# (service, category, base labor minutes) × VEHICLE_CLASSES (name, time factor, $/hour) = 110
SERVICE_BASE = (
    ("Oil Change", "Maintenance", 30), ("Tire Rotation", "Maintenance", 30),
    ("Brake Pad Replacement - Front", "Brakes", 90), ("Brake Pad Replacement - Rear", "Brakes", 90),
    ("Brake Rotor Resurfacing", "Brakes", 60), ("Brake Fluid Flush", "Brakes", 45),
    ("Engine Tune-Up", "Engine", 120), ("Timing Belt Replacement", "Engine", 240),
    ("Water Pump Replacement", "Engine", 180), ("Spark Plug Replacement", "Engine", 60),
    ("Transmission Fluid Service", "Transmission", 60), ("Clutch Replacement", "Transmission", 360),
    ("Battery Replacement", "Electrical", 30), ("Alternator Replacement", "Electrical", 120),
    ("Starter Replacement", "Electrical", 120), ("Wheel Alignment", "Suspension", 60),
    ("Strut Replacement", "Suspension", 180), ("AC Recharge", "HVAC", 60),
    ("Coolant Flush", "Cooling", 60), ("Radiator Replacement", "Cooling", 150),
    ("Catalytic Converter Replacement", "Exhaust", 120), ("Diagnostic Inspection", "Diagnostics", 60),
)  # fmt: skip
VEHICLE_CLASSES = (
    ("Compact", 0.9, 95), ("Sedan", 1.0, 105), ("SUV/Truck", 1.25, 115), ("European", 1.4, 145),
    ("Hybrid", 1.2, 125),
)  # fmt: skip
SERVICE_PART_CATEGORIES = {
    "Maintenance": ("Fluids & Chemicals", "Engine Components", "Tires & Wheels"),
    "Brakes": ("Brake System",),
    "Engine": ("Engine Components",),
    "Transmission": ("Transmission & Drivetrain",),
    "Electrical": ("Electrical",),
    "Suspension": ("Suspension & Steering",),
    "HVAC": ("HVAC",),
    "Cooling": ("Cooling System",),
    "Exhaust": ("Exhaust",),
    "Diagnostics": ("Electrical", "Engine Components"),
}
EMAIL_DOMAINS = ("gmail.com", "yahoo.com", "outlook.com", "hotmail.com", "icloud.com", "aol.com",
                 "comcast.net", "proton.me")  # fmt: skip


def faker(seed: int) -> Faker:
    fake = Faker("en_US")
    fake.seed_instance(seed)
    return fake


def _slug(s: str) -> str:
    return "".join(ch for ch in s.lower() if ch.isalnum())


def customers_frame(n: int, seed: int = 42, start_id: int = 1) -> pl.DataFrame:
    """``n`` customers (``CUSTOMER_COLUMNS``; ``customer_id`` from ``start_id``), vectorised.

    Faker makes pools (800 first names, 1,000 last names, 1,500 street addresses, 600
    city/state/zip triples); numpy picks from them. ``email = first.last<id>@domain`` is unique;
    5 % of emails keep the name's capitals and phones come in four US formats (silver
    standardises both). ``created_at`` is within six years before ``REFERENCE_TIME``.
    """
    fake = faker(seed + 7_919)
    gen = np.random.default_rng(seed)
    firsts = [fake.first_name() for _ in range(800)]
    lasts = [fake.last_name() for _ in range(1_000)]
    streets = [fake.street_address() for _ in range(1_500)]
    places = [(fake.city(), fake.state_abbr(), fake.zipcode()) for _ in range(600)]
    fi, li = gen.integers(0, len(firsts), n), gen.integers(0, len(lasts), n)
    pi = gen.integers(0, len(places), n)
    ids = pl.Series("customer_id", np.arange(start_id, start_id + n, dtype=np.int32))
    first = pl.Series(firsts).gather(fi)
    last = pl.Series(lasts).gather(li)
    local = pl.Series([_slug(a) + "." for a in firsts]).gather(fi)
    local_last = pl.Series([_slug(b) for b in lasts]).gather(li)
    caps = pl.Series(gen.random(n) < 0.05)
    domain = pl.Series(EMAIL_DOMAINS).gather(gen.integers(0, len(EMAIL_DOMAINS), n))
    area = pl.Series(gen.integers(201, 990, n)).cast(pl.String)
    exch = pl.Series(gen.integers(200, 1_000, n)).cast(pl.String)
    line = pl.Series(gen.integers(0, 10_000, n)).cast(pl.String).str.zfill(4)
    fmt = pl.Series(gen.integers(0, 4, n))
    secs = gen.integers(0, 6 * 365 * 86_400, n)
    created = pl.Series(
        (np.datetime64(REFERENCE_TIME, "us") - secs.astype("timedelta64[s]")).astype(
            "datetime64[us]"
        )
    )
    df = pl.DataFrame(
        {
            "customer_id": ids, "first_name": first, "last_name": last, "_local": local,
            "_last": local_last, "_caps": caps, "_domain": domain, "_area": area, "_exch": exch,
            "_line": line, "_fmt": fmt,
            "address": pl.Series(streets).gather(gen.integers(0, len(streets), n)),
            "city": pl.Series([p[0] for p in places]).gather(pi),
            "state": pl.Series([p[1] for p in places]).gather(pi),
            "zip_code": pl.Series([p[2] for p in places]).gather(pi),
            "created_at": created,
        }
    )  # fmt: skip
    c = pl.col
    email = (
        pl.when(c("_caps"))
        .then(
            pl.concat_str(c("first_name"), pl.lit("."), c("last_name")).str.replace_all(
                r"[^A-Za-z.]", ""
            )
        )
        .otherwise(pl.concat_str(c("_local"), c("_last")))
    )
    phone = (
        pl.when(c("_fmt") == 0).then(pl.format("({}) {}-{}", c("_area"), c("_exch"), c("_line")))
        .when(c("_fmt") == 1).then(pl.format("{}-{}-{}", c("_area"), c("_exch"), c("_line")))
        .when(c("_fmt") == 2).then(pl.format("{}.{}.{}", c("_area"), c("_exch"), c("_line")))
        .otherwise(pl.format("+1 {} {} {}", c("_area"), c("_exch"), c("_line")))
    )  # fmt: skip
    return df.select(
        "customer_id", "first_name", "last_name",
        pl.concat_str(email, c("customer_id").cast(pl.String), pl.lit("@"), c("_domain")).alias("email"),
        phone.alias("phone"), "address", "city", "state", "zip_code", "created_at",
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


def dec(cents: int) -> str:
    """Integer cents → a numeric literal ('-12.05')."""
    sign = "-" if cents < 0 else ""
    cents = abs(cents)
    return f"{sign}{cents // 100}.{cents % 100:02d}"


def tax_cents(subtotal_cents: int) -> int:
    return (subtotal_cents * TAX_RATE_BP + 5_000) // 10_000


def row_counts(scale: str) -> dict[str, int]:
    """Exact rows per database table at ``scale``."""
    factor = _factor(scale)
    return {t: n * factor if t in SCALED else n for t, n in BASE_COUNTS.items()}


def _factor(scale: str) -> int:
    if scale not in SCALES:
        raise ValueError(f"unknown scale {scale!r}; expected one of {tuple(SCALES)}")
    return SCALES[scale]


def _weighted(rng: random.Random, pairs) -> str:
    return rng.choices([p[0] for p in pairs], weights=[p[1] for p in pairs])[0]


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


def make_parts(rng: random.Random, fake) -> list[tuple]:
    """400 parts: (sku, name, description, inventory_date, vendor, price, price_cents, category)."""
    cats = list(PART_CATEGORIES.items())
    skus: set[str] = set()
    out = []
    for i in range(BASE_COUNTS["auto_parts"]):
        category, (prefix, kinds, lo, hi) = cats[i % len(cats)]
        sku = f"{prefix}-{rng.randrange(10_000, 100_000)}"
        while sku in skus:
            sku = f"{prefix}-{rng.randrange(10_000, 100_000)}"
        skus.add(sku)
        kind = rng.choice(kinds)
        brand = rng.choice(PART_BRANDS)
        name = f"{brand} {kind} {rng.choice('ABCDEFGHJKLMNPRSTX')}{rng.randrange(100, 9999)}"
        description = f"{category}: {kind} by {brand}. {fake.sentence(nb_words=8)}"
        inventory = (REFERENCE_TIME - timedelta(days=rng.randrange(0, 540))).date()
        cents = rng.randrange(lo * 100, hi * 100) // 5 * 5 + 4  # prices end in 4 or 9
        out.append(
            (sku, name, description, inventory, rng.choice(VENDORS), dec(cents), cents, category)
        )
    return out


def make_services(rng: random.Random) -> list[tuple]:
    """110 services: (serviceid, service, category, labor_minutes, labor_cost_cents)."""
    ids = rng.sample(range(10_000_000, 100_000_000), len(SERVICE_BASE) * len(VEHICLE_CLASSES))
    out = []
    for i, (base, category, minutes) in enumerate(SERVICE_BASE):
        for j, (vehicle, factor, hourly) in enumerate(VEHICLE_CLASSES):
            mins = max(15, round(minutes * factor / 5) * 5)
            cost = round(mins * hourly * 100 / 60)
            out.append(
                (
                    str(ids[i * len(VEHICLE_CLASSES) + j]),
                    f"{base} ({vehicle})",
                    category,
                    mins,
                    cost,
                )
            )
    return out


def make_service_parts(rng, services, parts, total: int) -> list[tuple]:
    """``total`` (service, part) pairs, unique per service, spread evenly over the services."""
    per = [total // len(services)] * len(services)
    for i in rng.sample(range(len(services)), total % len(services)):
        per[i] += 1
    by_cat: dict[str, list] = {}
    for p in parts:
        by_cat.setdefault(p[7], []).append(p)
    rows, pid = [], 1
    for (serviceid, _, category, _, _), n in zip(services, per, strict=True):
        related = [p for c in SERVICE_PART_CATEGORIES.get(category, ()) for p in by_cat.get(c, [])]
        chosen = rng.sample(related, min(len(related), (n + 1) // 2))
        others = [p for p in parts if p not in chosen]
        chosen += rng.sample(others, n - len(chosen))
        for p in chosen:
            created = REFERENCE_TIME - timedelta(
                days=rng.randrange(400, 900), seconds=rng.randrange(86_400)
            )
            rows.append((pid, serviceid, p[0], rng.choices((1, 2, 4), (80, 15, 5))[0], created))
            pid += 1
    return rows


def _spread(rng: random.Random, n_orders: int, n_lines: int) -> list[int]:
    """Line counts (each ≥ 1) for ``n_orders`` orders summing to ``n_lines``."""
    counts = [1] * n_orders
    for i, extra in Counter(rng.choices(range(n_orders), k=n_lines - n_orders)).items():
        counts[i] += extra
    return counts


def order_types(rng: random.Random, n: int) -> list[str]:
    n_parts, n_mixed = (round(n * share) for _, share in ORDER_TYPE_SHARES)
    types = ["Parts"] * n_parts + ["Mixed"] * n_mixed + ["Service"] * (n - n_parts - n_mixed)
    rng.shuffle(types)
    return types


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
            _weighted(rng, PAYMENT_METHODS), dec(subtotal), dec(tax), dec(subtotal + tax),
            types[i], _weighted(rng, ORDER_STATUSES), notes, when, updated,
        ))  # fmt: skip
    return orders, plines, slines


def write_customers_csv(path: str | Path, rows: int, seed: int = 42) -> Path:
    """Write ``customers-YYYYMMDD.csv``: a header (the ``customers`` columns) and ``rows`` rows.

    customer_id is 1..rows, emails are unique, timestamps ``YYYY-MM-DD HH:MM:SS``. Vectorised
    (Faker builds small name/address pools; numpy picks from them): 1.2M rows take a few seconds.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    customers_frame(rows, seed).write_csv(path, datetime_format="%Y-%m-%d %H:%M:%S")
    return path


BAD_KINDS = ("negative_amount", "unparseable_date", "missing_required", "wrong_field_count")
ORDER_ID_EPOCH = date(2020, 1, 1)
ORDER_IDS_PER_DAY = 500_000


def write_sales_orders_csv(
    path: str | Path,
    day: date,
    rows: int,
    seed: int = 42,
    bad_fraction: float = 0.01,
    *,
    n_customers: int = BASE_COUNTS["customers"],
) -> dict:
    """Write ``sales_orders-YYYYMMDD.csv``: a header (the ``sales_order`` columns) + ``rows`` rows.

    Good rows are orders placed on ``day`` (``order_id = (day − 2020-01-01).days × 500,000 + n``,
    so files of different days never collide; ``invoice_number = INV-YYYYMMDD-nnnnnn``;
    ``customer_id`` in 1..``n_customers``; totals consistent as in the database).

    ``round(rows × bad_fraction)`` rows (at distinct random positions) are deliberately bad, the
    kinds cycling in ``BAD_KINDS`` order, so kind *k* gets ``n_bad // 4`` rows plus one if
    ``k < n_bad % 4``:

    - ``negative_amount``: ``total_amount`` (and ``subtotal``) negated (< 0, violates ``ge 0``);
    - ``unparseable_date``: ``order_date`` is ``"not-a-date"``;
    - ``missing_required``: ``customer_id`` (NOT NULL) is empty;
    - ``wrong_field_count``: the row has one extra trailing field (14 fields instead of 13).

    Returns ``{"path", "rows", "bad_rows", "bad_by_kind": {kind: n}, "bad_order_ids": {kind: [ids]}}``.
    """
    if rows > ORDER_IDS_PER_DAY:
        raise ValueError(f"at most {ORDER_IDS_PER_DAY} orders per day")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    rng = random.Random(f"{seed}:{day.isoformat()}")
    n_bad = round(rows * bad_fraction)
    bad_at = {
        pos: BAD_KINDS[k % len(BAD_KINDS)] for k, pos in enumerate(rng.sample(range(rows), n_bad))
    }
    base = (day - ORDER_ID_EPOCH).days * ORDER_IDS_PER_DAY
    start = datetime.combine(day, time())
    times = sorted(rng.randrange(7 * 3600, 19 * 3600) for _ in range(rows))
    types = order_types(rng, rows)
    bad_ids: dict[str, list[int]] = {k: [] for k in BAD_KINDS}
    with open(path, "w", newline="") as fh:
        out = csv.writer(fh)
        out.writerow(COLUMNS["sales_order"])
        for i in range(rows):
            order_id = base + i + 1
            when = start + timedelta(seconds=times[i])
            subtotal = rng.randrange(1_500, 250_000)
            tax = tax_cents(subtotal)
            notes = rng.choice(("", "", "", "Customer waiting", "Warranty claim", "Fleet account"))
            row = [
                order_id, rng.randrange(1, n_customers + 1), f"{when:%Y-%m-%d %H:%M:%S}",
                f"INV-{day:%Y%m%d}-{i + 1:06d}", _weighted(rng, PAYMENT_METHODS), dec(subtotal),
                dec(tax), dec(subtotal + tax), types[i], _weighted(rng, ORDER_STATUSES), notes,
                f"{when:%Y-%m-%d %H:%M:%S}",
                f"{when + timedelta(minutes=rng.randrange(0, 90)):%Y-%m-%d %H:%M:%S}",
            ]  # fmt: skip
            kind = bad_at.get(i)
            if kind == "negative_amount":
                row[5], row[7] = dec(-subtotal), dec(-(subtotal + tax))
            elif kind == "unparseable_date":
                row[2] = "not-a-date"
            elif kind == "missing_required":
                row[1] = ""
            elif kind == "wrong_field_count":
                row.append("EXTRA")
            if kind:
                bad_ids[kind].append(order_id)
            out.writerow(row)
    return {
        "path": path,
        "rows": rows,
        "bad_rows": n_bad,
        "bad_by_kind": {k: len(v) for k, v in bad_ids.items()},
        "bad_order_ids": bad_ids,
    }


def write_landing(folder: Path, scale: str, day: date) -> list[str]:
    """The demo's CSV drops for ``day`` in ``folder``: ``customers-<day>.csv`` (10k/100k/1.2M
    rows by scale) and ``sales_orders-<day>.csv`` (2,000 rows); returns a line per file."""
    folder.mkdir(parents=True, exist_ok=True)
    stamp = day.strftime("%Y%m%d")
    n_customers = {"small": 10_000, "medium": 100_000, "large": 1_200_000}[scale]
    write_customers_csv(folder / f"customers-{stamp}.csv", n_customers, seed=42)
    write_sales_orders_csv(folder / f"sales_orders-{stamp}.csv", day, 2_000, seed=42)
    return [f"customers-{stamp}.csv {n_customers:,} rows", f"sales_orders-{stamp}.csv"]
