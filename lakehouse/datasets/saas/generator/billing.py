"""The ``saas`` demo's subscriptions and invoices: ``core_subscription`` and ``core_invoice``
rows, streamed.

``subscription_rows`` yields one subscription per customer (plan drawn from ``PLANS``, status
from ``subscription_status``) and appends it to ``out`` for ``invoice_rows``, which yields one
invoice per billing period since its start (``billing_periods``: monthly, at most the last 12;
yearly, one a year): ``amount`` is the subscription's price for the period, ``paid_date`` set iff
``status = 'paid'``.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta

from lakehouse.datasets.saas.generator.values import REFERENCE_TIME, dec, expand, new_uuid, ts

PLANS = (("Starter", 900, 30), ("Basic", 1_900, 30), ("Pro", 4_900, 25), ("Business", 9_900, 10),
         ("Enterprise", 24_900, 5))  # (plan, monthly cents, weight)  # fmt: skip
_PLANS = expand(PLANS)


def subscription_status(rng: random.Random, start: date) -> tuple[str, date | None]:
    ref = REFERENCE_TIME.date()
    if (ref - start).days < 14:
        return "trial", None
    roll = rng.random()
    if roll < 0.75:
        return "active", None
    end = start + timedelta(days=rng.randrange(14, max(15, (ref - start).days)))
    return ("cancelled" if roll < 0.9 else "expired"), end


def subscription_rows(seed, tenants, customers, out: list) -> Iterator[tuple]:
    rng = random.Random(f"{seed}:subscriptions")
    for cid, t, c_created in customers:
        plan, cents, _ = rng.choice(_PLANS)
        cycle = "yearly" if rng.random() < 0.2 else "monthly"
        start = ts(rng, c_created, REFERENCE_TIME - timedelta(days=1)).date()
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


def invoice_rows(seed, subscriptions) -> Iterator[tuple]:
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
