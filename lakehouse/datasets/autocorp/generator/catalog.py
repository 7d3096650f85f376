"""The ``autocorp`` demo's catalog: parts (``auto_parts``), services (``service``) and the
parts each service uses (``service_parts``), drawn from one shared ``random.Random``.

``make_parts`` → 400 parts ``(sku, name, description, inventory_date, vendor, price,
price_cents, category)`` with unique SKUs; ``make_services`` → 110 services ``(serviceid,
service, category, labor_minutes, labor_cost_cents)`` (``SERVICE_BASE`` × ``VEHICLE_CLASSES``);
``make_service_parts`` → ``total`` (service, part) rows, unique per service, spread evenly, at
least half of each service's parts from its related categories when there are enough.
"""

from __future__ import annotations

import random
from datetime import timedelta

from lakehouse.datasets.autocorp.generator.values import BASE_COUNTS, REFERENCE_TIME, dec

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
