"""Type inference from text values: a value written like an identifier keeps the column text."""

from __future__ import annotations

import polars as pl
import pytest

from lakehouse.registry.inference import infer_type, pinned_type


@pytest.mark.parametrize(
    "values, expected",
    [
        (["02134", "00501", "90210"], "string"),  # zip codes: 02134 is not 2134
        (["007", "010", "123"], "string"),  # SKUs
        (["-01", "5"], "string"),
        (["00.5", "1.5"], "string"),
        (["+4930123", "+1555"], "string"),  # phone numbers: the + is part of the value
        (["0", "10", "-3"], "bigint"),  # a lone zero is a number
        (["0.5", "-0.25", "12"], "decimal(18,2)"),  # a zero before the point is a number
        (["0e3", "1.5e2"], "double"),
        (["2024-01-02", "1999-12-31"], "date"),
        (["01234567-89ab-cdef-0123-456789abcdef"], "uuid"),
    ],
)
def test_a_leading_zero_or_plus_keeps_a_column_text(values, expected):
    assert infer_type(pl.Series(values, dtype=pl.String)) == expected


@pytest.mark.parametrize(
    "declared, values, expected",
    [
        ("decimal(18,2)", ["5", "7"], "decimal(18,2)"),  # never narrowed to bigint
        ("string", ["02134", "10001"], "string"),  # a type set by hand is kept
        ("string", ["1", "2"], "string"),
        ("bigint", [None, None], "bigint"),  # no value: nothing to widen for
        ("int", ["3000000000"], "bigint"),
        ("bigint", ["1.5"], "decimal(20,1)"),
        ("decimal(10,2)", ["123456789012.125"], "decimal(18,3)"),
        ("bigint", ["1e3"], "double"),
        ("date", ["2024-01-02 10:00:00"], "timestamp"),
        ("bigint", ["abc"], "string"),
        ("bool", ["maybe"], "string"),
        ("varchar", ["1"], "bigint"),  # not a logical type: inferred
    ],
)
def test_a_pinned_type_is_kept_or_widened_never_narrowed(declared, values, expected):
    assert pinned_type(declared, pl.Series(values, dtype=pl.String)) == expected


@pytest.mark.parametrize(
    "values, expected",
    [
        (["1,234.50", "12,000", "7.25"], "decimal(18,2)"),
        (["12,000", "1,234,567", "999"], "decimal(18,0)"),  # whole numbers: casting reads
        (["-1,234.5", "0.5"], "decimal(18,1)"),  # groupings for decimals only
        (["1,5", "2,5"], "string"),  # a decimal comma, not a grouping
        (["1,234", "1,5"], "string"),
        (["12,34"], "string"),
        (["0,123", "1,000"], "string"),  # a leading zero: an identifier, never 123
        (["012,345"], "string"),
        (["+1,234"], "string"),
        (["1,234", "02134"], "string"),
        (["1,,234"], "string"),
    ],
)
def test_thousands_separators_in_a_valid_grouping_are_numbers(values, expected):
    from decimal import Decimal

    from lakehouse.registry.casting import cast_to_registry
    from lakehouse.registry.model import Column

    series = pl.Series(values, dtype=pl.String)
    assert infer_type(series) == expected
    if expected != "string":  # the inferred type reads every value, exactly
        typed, rejects = cast_to_registry(series.to_frame("v"), [Column("v", expected)])
        assert rejects.height == 0
        assert typed["v"].to_list() == [Decimal(v.replace(",", "")) for v in values]
