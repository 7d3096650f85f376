"""Cast DMS values (text from CSV files, or Parquet types) to the registry's logical types.

Contract: ``cast_to_registry(frame, columns, key=..., row_offset=...)`` returns
``(typed, rejects)``. ``typed`` holds every input row whose values all cast, with each
registry column in its Polars type (``registry.types``); columns not in the registry pass
through unchanged (lineage, Op, before-images). A value that is present but cannot be cast
(``'abc'`` for an int, ``'2024-13-45'`` for a date) rejects the whole row: ``rejects`` has the
original row (as text) plus ``__row`` (1-based position in the source file), ``__column`` and
``__reason`` naming the column, the value and the expected type. A missing registry column is
added as nulls (older files before a column was added). Nothing is silently dropped.

Decimal and money text (``_decimal_expr``): an optional sign and ``$``, digits with commas only as
thousands separators in a valid grouping (``1,234,567.89``; ``1,5`` is rejected, never 15), or
an exponent; more fraction digits than the scale are rounded half away from zero, as PostgreSQL
rounds input to ``numeric(p,s)`` (``12.345`` → 12.35).

Timestamp text: ``YYYY-MM-DD``, then a space or ``T``, ``HH:MM:SS[.f]`` and an optional offset
(``+02``, ``+0200``, ``+02:00``) or ``Z`` (ISO 8601, RFC 3339): the instant, in UTC; without an
offset the wall time is taken as UTC.

Dates and instants lie in 0001-01-01 .. 9999-12-31 (23:59:59.999999 UTC), the range of SQL's,
Python's, Spark's and Athena's types. PostgreSQL's ``infinity`` is the range's end, ``-infinity``
its start, as warehouses store them; a value outside the range (PostgreSQL's text of a BC date,
``0044-03-15 BC``, or of year 10000 on) is the nearer end: its row is kept, its day is not (Polars
and Delta could hold a BC day, but the Python paths of the quarantine and the checks cannot).
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from decimal import Decimal

import polars as pl

from lakehouse.registry.model import TEXT_TYPES, Column, parse_type
from lakehouse.registry.types import polars_dtype

_TS_FORMATS = ("%Y-%m-%d %H:%M:%S%.f", "%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%d")
#: with an offset (``+02``, ``+0200``, ``+02:00``) or ``Z``, a space or ISO 8601's ``T`` between
#: date and time: the instant, in UTC
_TZ_FORMATS = ("%Y-%m-%d %H:%M:%S%.f%#z", "%Y-%m-%dT%H:%M:%S%.f%#z")
_TRUE = ["true", "t", "1", "yes", "y"]
_FALSE = ["false", "f", "0", "no", "n"]


def _cast_expr(col: Column, dtype: pl.DataType, source: pl.DataType) -> pl.Expr:
    base, _, _ = parse_type(col.type)
    c = pl.col(col.name)
    if source != pl.String:
        if (
            isinstance(source, pl.Datetime)
            and source.time_zone is None
            and base.startswith("timestamp")
        ):
            return c.dt.cast_time_unit("us").dt.replace_time_zone("UTC")
        return c.cast(dtype, strict=False)
    s = c.str.strip_chars()
    if base in ("timestamp", "timestamptz"):
        parsed = [
            s.str.to_datetime(f, time_unit="us", time_zone="UTC", strict=False) for f in _TS_FORMATS
        ]
        with_tz = [
            s.str.to_datetime(f, time_unit="us", time_zone="UTC", strict=False) for f in _TZ_FORMATS
        ]
        return _within_range(s, pl.coalesce(*parsed, *with_tz), _MIN_TS, _MAX_TS, _BC_TS, _LATE_TS)
    if base == "date":
        parsed = s.str.to_date("%Y-%m-%d", strict=False)
        return _within_range(s, parsed, _MIN_DATE, _MAX_DATE, _BC_DATE, _LATE_DATE)
    if base == "bool":
        low = s.str.to_lowercase()
        return (
            pl.when(low.is_in(_TRUE)).then(True).when(low.is_in(_FALSE)).then(False).otherwise(None)
        )
    if base in ("decimal", "money"):
        return _decimal_expr(s, dtype)
    if base == "bytes":
        return s.str.strip_prefix("\\x").str.decode("hex", strict=False)
    if base in TEXT_TYPES:  # stored as PostgreSQL's text, unchanged (padding included)
        return c
    return s.cast(dtype, strict=False)


#: the lake's dates and instants lie in 0001-01-01 .. 9999-12-31 (as SQL's, Python's, Athena's)
_MIN_DATE, _MAX_DATE = date(1, 1, 1), date(9999, 12, 31)
_MIN_TS = datetime(1, 1, 1, tzinfo=UTC)
_MAX_TS = datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC)
#: PostgreSQL's text of a BC date or timestamp (``0044-03-15 BC``, ``0044-03-15 10:00:00+00 BC``)
#: and of one after year 9999 (``10000-01-01``)
_DAY = r"-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12]\d|3[01])"
_TIME = r"(?:[01]\d|2[0-3]):[0-5]\d:[0-5]\d(?:\.\d+)?(?:Z|[+-]\d{2}(?::?\d{2}){0,2})?"
_BC_DATE = rf"^\d{{4,}}{_DAY} BC$"
_BC_TS = rf"^\d{{4,}}{_DAY}(?: {_TIME})? BC$"
_LATE_DATE = rf"^\d{{5,}}{_DAY}$"
_LATE_TS = rf"^\d{{5,}}{_DAY}(?:[ T]{_TIME})?$"


def _within_range(s: pl.Expr, parsed: pl.Expr, low, high, bc: str, late: str) -> pl.Expr:
    """``parsed`` (the cast of the text ``s``) with PostgreSQL's infinite and out-of-range values
    at the ends of the lake's range: ``infinity`` and anything after ``high`` (year 10000 on) is
    ``high``; ``-infinity``, a BC value and anything before ``low`` is ``low``. No row is lost for
    them; a BC value's day is (it has no place in Python's, Spark's or Athena's calendar types,
    which the lake's readers use)."""
    word = s.str.to_lowercase()
    return (
        pl.when(word.is_in(["infinity", "+infinity"]) | s.str.contains(late))
        .then(pl.lit(high))
        .when((word == "-infinity") | s.str.contains(bc))
        .then(pl.lit(low))
        .when(parsed < pl.lit(low))
        .then(pl.lit(low))
        .when(parsed > pl.lit(high))
        .then(pl.lit(high))
        .otherwise(parsed)
    )


#: a decimal's text: a sign, a ``$`` (either order), digits (grouped by commas in threes or not at
#: all) with an optional fraction; or digits with an exponent (``1.5e3``)
_FIXED = r"(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d*)?|\.\d+"
_DECIMAL_TEXT = rf"^(?:[+-]\$?|\$[+-]?)?(?:{_FIXED})$"
_EXPONENT_TEXT = r"^[+-]?(?:\d+\.?\d*|\.\d+)[eE][+-]?\d+$"


def _decimal_expr(s: pl.Expr, dtype: pl.Decimal) -> pl.Expr:
    """Text → ``dtype`` (Decimal(p, s)), exact or null (null: quarantined, naming the value).

    A comma is a thousands separator only where every group after the first has three digits
    (``1,234,567.89``); ``1,5`` or ``1.234,56`` are not decimals. ``$`` and a sign may lead
    (PostgreSQL's money: ``-$1,234.50``). More fraction digits than the scale are rounded half
    away from zero, as PostgreSQL rounds input to ``numeric(p,s)`` (``12.345`` → 12.35,
    ``-0.005`` → -0.01, ``-0.001`` → 0.00): the value the source column would hold. More integer
    digits than p - s allow are null."""
    scale = dtype.scale or 0
    text = s.map_batches(_without_exponent, return_dtype=pl.String)
    plain = pl.when(text.str.contains(_DECIMAL_TEXT)).then(text.str.replace_all(r"[$,]", ""))
    digits = plain.str.extract(r"\.(\d*)$").str.len_chars().fill_null(0)
    if scale >= 38:  # no room for a rounding digit: more fraction digits than 38 are not valid
        return pl.when(digits <= scale).then(plain.cast(dtype, strict=False))
    # half away from zero needs the first dropped digit only: cut there, cast exactly, round
    cut = plain.str.extract(rf"^([^.]*\.\d{{{scale + 1}}})")
    rounded = cut.cast(pl.Decimal(38, scale + 1), strict=False).round(
        scale, mode="half_away_from_zero"
    )
    # Polars' cast of text with more fraction digits than the type rounds half to even: never
    return (
        pl.when(digits <= scale)
        .then(plain.cast(dtype, strict=False))
        .otherwise(rounded.cast(dtype, strict=False))
    )


def _without_exponent(values: pl.Series) -> pl.Series:
    """``values`` with each exponent notation (``1.5e3``, rare) written out (``1500``); the
    other values unchanged."""
    idx = values.str.contains(_EXPONENT_TEXT).arg_true()
    if idx.is_empty():
        return values
    return values.scatter(idx, [_fixed_point(v) for v in values.gather(idx)])


def _fixed_point(value: str) -> str | None:
    """``1.5e3`` → ``1500``; None beyond any decimal (more than 38 integer digits). A value too
    small for any scale (below 1e-40) is 0."""
    d = Decimal(value)
    if d.adjusted() > 38:
        return None
    return "0" if d.adjusted() < -40 else format(d, "f")


#: fixed-width formats Polars parses fast; a value one of them parses is parsed the same by the
#: first matching format of ``_cast_expr`` (``%.f`` accepts no fraction)
_FAST_TS = {
    "%Y-%m-%d %H:%M:%S": re.compile(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}"),
    "%Y-%m-%dT%H:%M:%S": re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}"),
    "%Y-%m-%d %H:%M:%S%#z": re.compile(
        r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}(?:Z|[+-]\d{2}:?\d{2}|[+-]\d{2})"
    ),
    "%Y-%m-%dT%H:%M:%S%#z": re.compile(
        r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:Z|[+-]\d{2}:?\d{2}|[+-]\d{2})"
    ),
}


def _first_pass_expr(col: Column, dtype: pl.DataType, values: pl.Series) -> pl.Expr | None:
    """A cheaper cast of a String column that, wherever it gives a value within ``_bounds``,
    gives the value of ``_cast_expr``; the rows it leaves null or out of bounds (but non-null in
    the input) are cast again with ``_cast_expr``. None when ``_cast_expr`` is as cheap."""
    base, _, _ = parse_type(col.type)
    c = pl.col(col.name)
    if base in ("timestamp", "timestamptz"):
        sample = values.head(1000).drop_nulls()
        fmt = _TS_FORMATS[0]  # the first format _cast_expr tries
        if len(sample):
            first = sample[0]
            fmt = next((f for f, pat in _FAST_TS.items() if pat.fullmatch(first)), fmt)
        # cache=False: mostly distinct values, a cache of them only costs
        return c.str.to_datetime(fmt, time_unit="us", time_zone="UTC", strict=False, cache=False)
    if base == "date":
        return c.str.to_date("%Y-%m-%d", strict=False)
    if base in ("smallint", "int", "bigint", "real", "double"):
        return c.cast(dtype, strict=False)
    if base in ("decimal", "money"):  # Polars' cast, where it has no digit to round
        point = c.str.find(".", literal=True)
        digits = (c.str.len_bytes() - point - 1).fill_null(0)
        exact = (digits <= (dtype.scale or 0)) & ~c.str.contains("[eE]")
        return pl.when(exact).then(c.cast(dtype, strict=False))
    return None


def _bounds(col: Column) -> tuple[object, object] | None:
    """The range a first pass's values must lie in (else cast again), for dates and instants."""
    base = parse_type(col.type)[0]
    if base in ("timestamp", "timestamptz"):
        return _MIN_TS, _MAX_TS
    return (_MIN_DATE, _MAX_DATE) if base == "date" else None


def cast_to_registry(
    frame: pl.DataFrame,
    columns: list[Column] | tuple[Column, ...],
    *,
    row_numbers: pl.Series | None = None,
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Cast ``frame`` to the registry types; see the module docstring for the contract."""
    n = frame.height
    rows = row_numbers if row_numbers is not None else pl.Series("__row", range(1, n + 1))
    frame = frame.with_columns(chunked_like(rows, frame).alias("__row"))
    missing = [c for c in columns if c.name not in frame.columns]
    if missing:
        frame = frame.with_columns(
            pl.lit(None, dtype=polars_dtype(c.type)).alias(c.name) for c in missing
        )
    present = [c for c in columns if c.name not in {m.name for m in missing}]
    casts = {c.name: _cast_expr(c, polars_dtype(c.type), frame.schema[c.name]) for c in present}
    first = {
        c.name: _first_pass_expr(c, polars_dtype(c.type), frame[c.name])
        if frame.schema[c.name] == pl.String
        else None
        for c in present
    }
    typed = frame.with_columns(
        (first[name] if first[name] is not None else e).alias(name) for name, e in casts.items()
    )
    # the full cast, only on the rows the first pass left null or out of range
    bounds = {c.name: _bounds(c) for c in present}
    for name, expr in first.items():
        if expr is None:
            continue
        missed = typed[name].is_null()
        if (ends := bounds[name]) is not None:
            missed = missed | ~typed[name].is_between(*ends)
        redo = frame[name].is_not_null() & missed
        if redo.any():
            idx = redo.arg_true()
            values = frame.select(pl.col(name).gather(idx)).select(casts[name]).to_series()
            typed = typed.with_columns(typed[name].scatter(idx, values))
    # a value present before and null after the cast failed to cast
    bad_masks = {name: (frame[name].is_not_null() & typed[name].is_null()) for name in casts}
    any_bad = pl.repeat(False, n, dtype=pl.Boolean, eager=True).alias("bad")
    for mask in bad_masks.values():
        any_bad = any_bad | mask
    if not any_bad.any():
        return typed, _empty_rejects()
    first_bad_col = pl.repeat(None, n, dtype=pl.String, eager=True).alias("__column")
    for name, mask in reversed(list(bad_masks.items())):
        first_bad_col = pl.select(
            pl.when(mask).then(pl.lit(name)).otherwise(first_bad_col)
        ).to_series()
    bad_frame = frame.filter(any_bad).with_columns(first_bad_col.filter(any_bad).alias("__column"))
    reasons = []
    for row in bad_frame.select("__column", *casts.keys()).iter_rows(named=True):
        colname = row["__column"]
        reasons.append(
            f"column {colname!r}: value {row[colname]!r} is not a valid "
            f"{_type_of(columns, colname)}"
        )
    rejects = bad_frame.with_columns(pl.Series("__reason", reasons, dtype=pl.String)).with_columns(
        pl.exclude("__row", "__column", "__reason").cast(pl.String)
    )
    return typed.filter(~any_bad), rejects


def chunked_like(values: pl.Series, frame: pl.DataFrame) -> pl.Series:
    """``values`` in the chunks of ``frame``'s columns (zero-copy slices). A frame whose columns
    are chunked alike (a parallel CSV read's) is cast chunk by chunk in parallel; one column
    chunked otherwise makes every expression on it copy the whole frame into one chunk first."""
    lengths = frame.to_series(0).chunk_lengths() if frame.width else []
    if len(lengths) < 2 or values.chunk_lengths() == lengths:
        return values
    at, parts = 0, []
    for length in lengths:
        parts.append(values.slice(at, length))
        at += length
    return pl.concat(parts, rechunk=False)


def _type_of(columns, name: str) -> str:
    for c in columns:
        if c.name == name:
            return c.type
    return "?"


def _empty_rejects() -> pl.DataFrame:
    return pl.DataFrame(schema={"__row": pl.Int64, "__column": pl.String, "__reason": pl.String})
