"""The logical type of a column of text values, for discovery (CSV samples, DMS files).

``infer_type(values)``: the first type that reads every non-null value through
``registry.casting``, in this order: ``bool`` (true/false/t/f/yes/no/y/n), ``bigint``,
``decimal(p,s)`` (fixed-point, no exponent: ``s`` the most fraction digits seen, ``p`` the most
digits seen, at least 18, at most 38; values may group thousands with commas, ``1,234.50`` or
``12,000``, when every comma is in a valid grouping after a first group of 1-3 digits not
starting with 0 — ``1,5`` or ``0,123`` keep the column text — and then whole numbers are
``decimal(p,0)``: ``registry.casting`` reads groupings for decimals only), ``double`` (exponents, inf/nan, or beyond decimal(38)),
``date`` (``YYYY-MM-DD``), ``timestamptz`` (date and time with an offset or ``Z``), ``timestamp``,
``uuid``, else ``string`` (also for a column without values).

A column holding a value written like an identifier rather than a number -- a leading zero
before another digit (``02134``, ``007``, ``-01``, ``00.5``) or a leading ``+`` (``+4930…``) --
is never numeric (no bool, bigint, decimal or double): reading it as a number would lose the
zeros or the sign, so it is text (or a date, timestamp or uuid when it is one).

``pinned_type(declared, values)``: the type of a column already declared ``declared`` (by a
person or an earlier discovery) given new values: ``declared`` whenever every value reads as it
(a type is never narrowed); else the narrowest type holding both ``declared``'s values and the
new ones (``common_type``: a larger integer, a decimal with as many digits on both sides of the
point, an integer or decimal -> double, date -> timestamp -> timestamptz), else ``string``.
"""

from __future__ import annotations

import polars as pl

from lakehouse.registry.casting import cast_to_registry
from lakehouse.registry.model import Column, parse_type

_BOOL = r"(?i)^(true|false|t|f|yes|no|y|n)$"
_INT = r"^\s*[+-]?\d+\s*$"
_FIXED = r"^\s*[+-]?(\d+\.?\d*|\.\d+)\s*$"
#: a fixed-point number with thousands grouped by commas, in a valid grouping (``1,234.50``)
_GROUPED = r"^\s*-?[1-9]\d{0,2}(,\d{3})+(\.\d*)?\s*$"
_FLOAT = r"(?i)^\s*[+-]?((\d+\.?\d*|\.\d+)(e[+-]?\d+)?|inf|infinity|nan)\s*$"
_DATE = r"^\s*\d{4}-\d{2}-\d{2}\s*$"
_TS = r"^\s*\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}:\d{2}(\.\d+)?"
_TZ = r"(Z|[+-]\d{2}(:?\d{2})?)\s*$"
#: written as an identifier, not a number: a leading zero before a digit, or a leading +
_NOT_NUMBER = r"^\s*(\+|-?0\d)"
_UUID = r"(?i)^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"


def _casts(values: pl.Series, type_: str) -> bool:
    frame = values.to_frame("v")
    return cast_to_registry(frame, [Column("v", type_)])[1].height == 0


def fits(values: pl.Series, type_: str) -> bool:
    """Whether every non-null value of a String column reads as ``type_``."""
    v = values.drop_nulls()
    return v.is_empty() or _casts(v, type_)


_INT_DIGITS = {"smallint": 5, "int": 10, "bigint": 19}
_TIMES = ("date", "timestamp", "timestamptz")


def common_type(a: str, b: str) -> str:
    """The narrowest logical type holding the values of both ``a`` and ``b`` (see the module
    docstring); ``string`` when none but text does."""
    if a == b:
        return a
    try:
        (ta, pa_, sa), (tb, pb, sb) = parse_type(a), parse_type(b)
    except ValueError:
        return "string"
    if {ta, tb} <= set(_INT_DIGITS):
        return max(ta, tb, key=list(_INT_DIGITS).index)
    if {ta, tb} <= {*_INT_DIGITS, "decimal"}:
        ints = max(
            _INT_DIGITS.get(ta, (pa_ or 0) - (sa or 0)), _INT_DIGITS.get(tb, (pb or 0) - (sb or 0))
        )
        scale = max(sa or 0, sb or 0)
        return f"decimal({ints + scale},{scale})" if ints + scale <= 38 else "double"
    if {ta, tb} <= {*_INT_DIGITS, "decimal", "real", "double"}:
        return "double"
    if {ta, tb} <= set(_TIMES):
        return max(ta, tb, key=_TIMES.index)
    return "string"


def pinned_type(declared: str, values: pl.Series) -> str:
    """The type of a column declared ``declared`` that now holds ``values`` (never narrower)."""
    try:
        parse_type(declared)
    except ValueError:  # not a logical type (the declaration's check says so): infer it
        return infer_type(values)
    if fits(values, declared):
        return declared
    wider = common_type(declared, infer_type(values))
    return wider if fits(values, wider) else "string"


def infer_type(values: pl.Series) -> str:
    """The logical type of a String column's non-null values (see the module docstring)."""
    v = values.drop_nulls()
    if v.is_empty():
        return "string"

    def all_match(pattern: str) -> bool:
        return bool(v.str.contains(pattern).all())

    numeric = not v.str.contains(_NOT_NUMBER).any()
    if numeric and all_match(_BOOL) and _casts(v, "bool"):
        return "bool"
    if numeric and all_match(_INT) and _casts(v, "bigint"):
        return "bigint"
    grouped = v.str.contains(_GROUPED)
    if numeric and (v.str.contains(_FIXED) | grouped).all():
        digits = v.str.replace_all(",", "", literal=True)
        parts = (
            digits.str.strip_chars()
            .str.strip_chars_start("+-")
            .str.split_exact(".", 1)
            .struct.unnest()
        )
        ints = parts["field_0"].str.strip_chars_start("0").str.len_chars().max() or 0
        scale = parts["field_1"].fill_null("").str.len_chars().max() or 0
        precision = max(ints + scale, 18)
        if precision <= 38:
            type_ = f"decimal({precision},{scale})"
            if _casts(v, type_):
                return type_
    if numeric and all_match(_FLOAT) and _casts(v, "double"):
        return "double"
    if all_match(_DATE) and _casts(v, "date"):
        return "date"
    if all_match(_TS):
        with_tz = v.str.contains(_TZ)
        type_ = "timestamptz" if with_tz.all() else "timestamp" if not with_tz.any() else None
        if type_ and _casts(v, type_):
            return type_
    if all_match(_UUID):
        return "uuid"
    return "string"
