"""The ``autocorp`` demo's customers: ``customers_frame(n, seed, start_id)``, vectorised.

The frame has the ``customers`` columns, ``customer_id`` from ``start_id``; emails
``first.last<id>@domain`` are unique (5 % keep the name's capitals), phones come in four US
formats, ``created_at`` is within six years before ``REFERENCE_TIME``. Same ``(n, seed,
start_id)`` → same frame. Used by the ``customers`` table and the ``customers-YYYYMMDD.csv`` drop.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from lakehouse.datasets.autocorp.generator.values import REFERENCE_TIME, faker

EMAIL_DOMAINS = ("gmail.com", "yahoo.com", "outlook.com", "hotmail.com", "icloud.com", "aol.com",
                 "comcast.net", "proton.me")  # fmt: skip


def _slug(s: str) -> str:
    return "".join(ch for ch in s.lower() if ch.isalnum())


def customers_frame(n: int, seed: int = 42, start_id: int = 1) -> pl.DataFrame:
    """``n`` customers (``CUSTOMER_COLUMNS``; ``customer_id`` from ``start_id``), vectorised.

    Faker makes pools (800 first names, 1,000 last names, 1,500 street addresses, 600
    city/state/zip triples); numpy picks from them. ``email = first.last<id>@domain`` is unique;
    5 % of emails keep the name's capitals and phones come in four US formats (silver
    standardises both). ``created_at`` is within six years before ``REFERENCE_TIME``.
    """
    df = _drawn(n, seed, start_id)
    c = pl.col
    return df.select(
        "customer_id", "first_name", "last_name",
        pl.concat_str(_email(), c("customer_id").cast(pl.String), pl.lit("@"), c("_domain")).alias("email"),
        _phone().alias("phone"), "address", "city", "state", "zip_code", "created_at",
    )  # fmt: skip


def _drawn(n: int, seed: int, start_id: int) -> pl.DataFrame:
    """The drawn columns: names and places from Faker pools, the email and phone parts
    (``_local``, ``_last``, ``_caps``, ``_domain``; ``_area``, ``_exch``, ``_line``, ``_fmt``)."""
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
    return df


def _email() -> pl.Expr:
    """The email's local part before the customer id (``first.last``; 5 % with capitals)."""
    c = pl.col
    return (
        pl.when(c("_caps"))
        .then(
            pl.concat_str(c("first_name"), pl.lit("."), c("last_name")).str.replace_all(
                r"[^A-Za-z.]", ""
            )
        )
        .otherwise(pl.concat_str(c("_local"), c("_last")))
    )


def _phone() -> pl.Expr:
    """The phone number in one of four US formats (``_fmt``)."""
    c = pl.col
    return (
        pl.when(c("_fmt") == 0).then(pl.format("({}) {}-{}", c("_area"), c("_exch"), c("_line")))
        .when(c("_fmt") == 1).then(pl.format("{}-{}-{}", c("_area"), c("_exch"), c("_line")))
        .when(c("_fmt") == 2).then(pl.format("{}.{}.{}", c("_area"), c("_exch"), c("_line")))
        .otherwise(pl.format("+1 {} {} {}", c("_area"), c("_exch"), c("_line")))
    )  # fmt: skip
