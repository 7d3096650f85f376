"""The ``autocorp`` demo's CSV drops (as DataSync lands them): ``customers-YYYYMMDD.csv`` and
``sales_orders-YYYYMMDD.csv``, the latter with a known share of deliberately bad rows.

``write_customers_csv`` and ``write_sales_orders_csv`` document their files; both are
deterministic for a given seed (and day), so a re-run writes the same bytes.
"""

from __future__ import annotations

import csv
import random
from datetime import date, datetime, time, timedelta
from pathlib import Path

from lakehouse.datasets.autocorp.generator.customers import customers_frame
from lakehouse.datasets.autocorp.generator.values import (
    BASE_COUNTS,
    COLUMNS,
    ORDER_STATUSES,
    PAYMENT_METHODS,
    dec,
    order_types,
    tax_cents,
    weighted,
)


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
            when = start + timedelta(seconds=times[i])
            row, subtotal, tax = _order_row(rng, base + i + 1, i + 1, when, types[i], n_customers)
            kind = bad_at.get(i)
            if kind:
                _spoil(row, kind, subtotal, tax)
                bad_ids[kind].append(row[0])
            out.writerow(row)
    return {
        "path": path,
        "rows": rows,
        "bad_rows": n_bad,
        "bad_by_kind": {k: len(v) for k, v in bad_ids.items()},
        "bad_order_ids": bad_ids,
    }


def _order_row(
    rng: random.Random, order_id: int, n: int, when: datetime, order_type: str, n_customers: int
) -> tuple[list, int, int]:
    """One good ``sales_order`` CSV row (the ``n``-th of its day), its subtotal and tax in cents."""
    subtotal = rng.randrange(1_500, 250_000)
    tax = tax_cents(subtotal)
    notes = rng.choice(("", "", "", "Customer waiting", "Warranty claim", "Fleet account"))
    row = [
        order_id, rng.randrange(1, n_customers + 1), f"{when:%Y-%m-%d %H:%M:%S}",
        f"INV-{when:%Y%m%d}-{n:06d}", weighted(rng, PAYMENT_METHODS), dec(subtotal),
        dec(tax), dec(subtotal + tax), order_type, weighted(rng, ORDER_STATUSES), notes,
        f"{when:%Y-%m-%d %H:%M:%S}",
        f"{when + timedelta(minutes=rng.randrange(0, 90)):%Y-%m-%d %H:%M:%S}",
    ]  # fmt: skip
    return row, subtotal, tax


def _spoil(row: list, kind: str, subtotal: int, tax: int) -> None:
    """Make ``row`` bad in the way ``kind`` (one of ``BAD_KINDS``) says, in place."""
    if kind == "negative_amount":
        row[5], row[7] = dec(-subtotal), dec(-(subtotal + tax))
    elif kind == "unparseable_date":
        row[2] = "not-a-date"
    elif kind == "missing_required":
        row[1] = ""
    elif kind == "wrong_field_count":
        row.append("EXTRA")
