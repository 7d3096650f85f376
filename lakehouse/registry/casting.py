"""Cast DMS values (text from CSV files, or Parquet types) to the registry's logical types.

Contract: ``cast_to_registry(frame, columns, key=..., row_offset=...)`` returns
``(typed, rejects)``. ``typed`` holds every input row whose values all cast, with each
registry column in its Polars type (``registry.types``); columns not in the registry pass
through unchanged (lineage, Op, before-images). A value that is present but cannot be cast
(``'abc'`` for an int, ``'2024-13-45'`` for a date) rejects the whole row: ``rejects`` has the
original row (as text) plus ``__row`` (1-based position in the source file), ``__column`` and
``__reason`` naming the column, the value and the expected type. A missing registry column is
added as nulls (older files before a column was added). Nothing is silently dropped.
"""

from __future__ import annotations

import re

import polars as pl

from lakehouse.registry.model import TEXT_TYPES, Column, parse_type
from lakehouse.registry.types import polars_dtype

_TS_FORMATS = ("%Y-%m-%d %H:%M:%S%.f", "%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%d")
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
        with_tz = s.str.to_datetime(
            "%Y-%m-%d %H:%M:%S%.f%#z", time_unit="us", time_zone="UTC", strict=False
        )
        return pl.coalesce(*parsed, with_tz)
    if base == "date":
        return s.str.to_date("%Y-%m-%d", strict=False)
    if base == "bool":
        low = s.str.to_lowercase()
        return (
            pl.when(low.is_in(_TRUE)).then(True).when(low.is_in(_FALSE)).then(False).otherwise(None)
        )
    if base in ("decimal", "money"):
        return s.str.replace_all(r"[$,]", "").cast(dtype, strict=False)
    if base == "bytes":
        return s.str.strip_prefix("\\x").str.decode("hex", strict=False)
    if base in TEXT_TYPES:  # stored as PostgreSQL's text, unchanged (padding included)
        return c
    return s.cast(dtype, strict=False)


#: fixed-width formats Polars parses fast; a value one of them parses is parsed the same by the
#: first matching format of ``_cast_expr`` (``%.f`` accepts no fraction)
_FAST_TS = {
    "%Y-%m-%d %H:%M:%S": re.compile(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}"),
    "%Y-%m-%dT%H:%M:%S": re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}"),
}


def _first_pass_expr(col: Column, dtype: pl.DataType, values: pl.Series) -> pl.Expr | None:
    """A cheaper cast of a String column that, wherever it gives a value, gives the value of
    ``_cast_expr``; the rows it leaves null (but non-null in the input) are cast again with
    ``_cast_expr``. None when ``_cast_expr`` is as cheap."""
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
    return None


def cast_to_registry(
    frame: pl.DataFrame,
    columns: list[Column] | tuple[Column, ...],
    *,
    row_numbers: pl.Series | None = None,
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Cast ``frame`` to the registry types; see the module docstring for the contract."""
    n = frame.height
    rows = row_numbers if row_numbers is not None else pl.Series("__row", range(1, n + 1))
    frame = frame.with_columns(rows.alias("__row"))
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
    # the full cast, only on the rows the first pass left null
    for name, expr in first.items():
        if expr is None:
            continue
        redo = frame[name].is_not_null() & typed[name].is_null()
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


def _type_of(columns, name: str) -> str:
    for c in columns:
        if c.name == name:
            return c.type
    return "?"


def _empty_rejects() -> pl.DataFrame:
    return pl.DataFrame(schema={"__row": pl.Int64, "__column": pl.String, "__reason": pl.String})
