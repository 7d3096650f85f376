"""Type inference from text values: a value written like an identifier keeps the column text."""

from __future__ import annotations

import polars as pl
import pytest

from lakehouse.registry.inference import infer_type


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
