"""Text → registry types (``registry.casting``): exact values or a quarantine row naming the value."""

from __future__ import annotations

import random
import re
from datetime import UTC, date, datetime
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from lakehouse.registry import Column, casting
from lakehouse.registry.casting import cast_to_registry


def _cast(values: list[str | None], type_: str) -> list:
    """The cast value of each input, or 'REJECTED' (with the reason naming the value)."""
    typed, rejects = cast_to_registry(pl.DataFrame({"v": values}, schema={"v": pl.String}),
                                      [Column("v", type_)])  # fmt: skip
    got = dict(zip(typed["__row"], typed["v"], strict=True))
    for row, reason in zip(rejects["__row"], rejects["__reason"], strict=True):
        assert reason == f"column 'v': value {values[row - 1]!r} is not a valid {type_}"
        got[row] = "REJECTED"
    return [got[i + 1] for i in range(len(values))]


def _full_cast(monkeypatch, frame, columns):
    with monkeypatch.context() as m:
        m.setattr(casting, "_first_pass_expr", lambda *a: None)
        return casting.cast_to_registry(frame, columns)


@pytest.mark.parametrize(
    ("text", "want"),
    [
        ("10.50", "10.50"),
        ("1,234.50", "1234.50"),  # a thousands separator in a valid grouping
        ("1,234,567.89", "1234567.89"),
        ("1,000", "1000.00"),
        ("1,5", None),  # a decimal comma: not a number here, never 15
        ("1.234,56", None),  # European grouping: never 1.23
        ("1,23", None),
        ("12,3456", None),
        ("1,,234", None),
        ("12.345", "12.35"),  # one digit too many: half away from zero, as PostgreSQL
        ("12.3449", "12.34"),
        ("0.015", "0.02"),  # Polars' own cast gives 0.02 here but 12.34 for 12.345
        ("-12.345", "-12.35"),
        ("-0.005", "-0.01"),
        ("-0.001", "0.00"),
        (" 7 ", "7.00"),
        ("+.5", "0.50"),
        ("5.", "5.00"),
        ("1e5", "100000.00"),
        ("1.2345E1", "12.35"),
        ("9999999999999999.99", "9999999999999999.99"),
        ("9999999999999999.995", None),  # rounds beyond 16 integer digits
        ("1e99", None),
        ("$12.00", "12.00"),
        ("-$1,234.50", "-1234.50"),
        ("$-1.00", "-1.00"),
        ("-$-1", None),
        ("1_000", None),
        ("nan", None),
        ("", None),
        ("-", None),
    ],
)
def test_decimal_text(text, want):
    """A comma is a thousands separator only in a valid grouping; extra fraction digits are
    rounded half away from zero; anything else is quarantined naming the value."""
    expected = "REJECTED" if want is None else Decimal(want)
    assert _cast([text], "decimal(18,2)") == [expected]


def test_money_as_postgresql_prints_it():
    assert _cast(["-$1,234.50", "$0.01", "$92,233,720,368,547,758.07", "12.345"], "money") == [
        Decimal("-1234.50"),
        Decimal("0.01"),
        Decimal("92233720368547758.07"),
        Decimal("12.35"),
    ]


def test_scale_zero_and_the_widest_decimal():
    assert _cast(["0.5", "-1.5", "12345678901234567890123456789012345678"], "decimal(38,0)") == [
        Decimal(1),
        Decimal(-2),
        Decimal("12345678901234567890123456789012345678"),
    ]


_REFERENCE_TEXT = re.compile(
    r"(?:[+-]\$?|\$[+-]?)?(?:(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d*)?|\.\d+)"
    r"|[+-]?(?:\d+\.?\d*|\.\d+)[eE][+-]?\d+"
)


def _reference(text: str, precision: int, scale: int):
    """The value the contract gives, computed with Python's decimal module."""
    t = text.strip()
    if not _REFERENCE_TEXT.fullmatch(t):
        return "REJECTED"
    try:
        d = Decimal(t.replace("$", "").replace(",", ""))
        if d.adjusted() > 38:
            return "REJECTED"
        q = d.quantize(Decimal(1).scaleb(-scale), rounding=ROUND_HALF_UP)
    except InvalidOperation:
        return "REJECTED"
    return "REJECTED" if q.adjusted() >= precision - scale else q


@pytest.mark.parametrize("type_", ["decimal(18,2)", "decimal(6,0)", "decimal(10,4)", "money"])
def test_decimal_cast_agrees_with_a_reference_and_its_first_pass(type_, monkeypatch):
    """Random texts (noise and numbers with too many digits on either side): the fast first
    pass, the full cast and a decimal-module reference agree on every one."""
    rng = random.Random(7)
    noise = ["".join(rng.choice("0123456789.,$+-e ") for _ in range(rng.randint(1, 9)))
             for _ in range(3000)]  # fmt: skip
    numbers = [f"{rng.choice(['', '-', '+'])}{rng.randint(0, 10**9)}.{rng.randint(0, 10**6)}"
               for _ in range(3000)]  # fmt: skip
    values = noise + numbers
    _, precision, scale = casting.parse_type(type_)
    got = _cast(values, type_)
    assert got == [_reference(v, precision, scale) for v in values]
    frame = pl.DataFrame({"v": values})
    typed, rejects = cast_to_registry(frame, [Column("v", type_)])
    want_typed, want_rejects = _full_cast(monkeypatch, frame, [Column("v", type_)])
    assert_frame_equal(typed, want_typed)
    assert_frame_equal(rejects, want_rejects)


ISO_VALUES = {
    "2024-01-31T10:00:00+02:00": datetime(2024, 1, 31, 8, tzinfo=UTC),
    "2024-02-29T23:59:59Z": datetime(2024, 2, 29, 23, 59, 59, tzinfo=UTC),
    "2024-03-01T00:00:00.5-05:00": datetime(2024, 3, 1, 5, 0, 0, 500000, tzinfo=UTC),
    "2024-03-01T00:00:00.123456+0530": datetime(2024, 2, 29, 18, 30, 0, 123456, tzinfo=UTC),
    "2024-03-01T12:00:00-03": datetime(2024, 3, 1, 15, tzinfo=UTC),
    "2024-01-31 10:00:00+02:00": datetime(2024, 1, 31, 8, tzinfo=UTC),
    "2024-01-31 10:00:00Z": datetime(2024, 1, 31, 10, tzinfo=UTC),
    "2024-01-31T10:00:00": datetime(2024, 1, 31, 10, tzinfo=UTC),
    "2024-01-31T10:00:00+2": "REJECTED",
    "2024-01-31T10:00:00X": "REJECTED",
    "2024-01-31T25:00:00Z": "REJECTED",
}


@pytest.mark.parametrize("type_", ["timestamptz", "timestamp"])
def test_iso_8601_timestamps_with_t_and_an_offset_or_z(type_):
    """ISO 8601 (``T``, ``Z``, ``±hh:mm``/``±hhmm``/``±hh``) is read as the instant it names."""
    assert _cast(list(ISO_VALUES), type_) == list(ISO_VALUES.values())


@pytest.mark.parametrize("first", [*ISO_VALUES, "2024-01-01 10:00:00", None])
def test_timestamp_first_pass_gives_the_full_cast(first, monkeypatch):
    """Whatever the first value (it picks the first pass's format), the result is the full cast's."""
    values = [first, *ISO_VALUES, "2024-01-01 10:00:00", "2024-01-01 10:00:00.5+02", "x", None,
              "-0043-03-15 00:00:00", "0001-01-01 00:00:00+01", "infinity"]  # fmt: skip
    frame = pl.DataFrame({"ts": values}, schema={"ts": pl.String})
    columns = [Column("ts", "timestamptz")]
    typed, rejects = cast_to_registry(frame, columns)
    want_typed, want_rejects = _full_cast(monkeypatch, frame, columns)
    assert_frame_equal(typed, want_typed)
    assert_frame_equal(rejects, want_rejects)


LOW_DAY, HIGH_DAY = date(1, 1, 1), date(9999, 12, 31)
LOW_TS = datetime(1, 1, 1, tzinfo=UTC)
HIGH_TS = datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC)


def test_postgresql_infinite_and_bc_dates_are_the_ends_of_the_range():
    """PostgreSQL's text for an infinite or BC date keeps its row: the ends of 0001..9999."""
    values = {
        "infinity": HIGH_DAY,
        "-infinity": LOW_DAY,
        "Infinity": HIGH_DAY,
        "0044-03-15 BC": LOW_DAY,
        "0001-02-29 BC": LOW_DAY,  # year 0, a leap year
        "10000-01-01": HIGH_DAY,  # PostgreSQL's dates go on to 5874897
        "-0043-03-15": LOW_DAY,  # Polars reads astronomical years: not kept either
        "0001-01-01": LOW_DAY,
        "9999-12-31": HIGH_DAY,
        "2024-02-29": date(2024, 2, 29),
        "infinite": "REJECTED",
        "0044-13-15 BC": "REJECTED",
        "x BC": "REJECTED",
    }
    assert _cast(list(values), "date") == list(values.values())


@pytest.mark.parametrize("type_", ["timestamptz", "timestamp"])
def test_postgresql_infinite_and_bc_timestamps_are_the_ends_of_the_range(type_):
    values = {
        "infinity": HIGH_TS,
        "-infinity": LOW_TS,
        "0044-03-15 10:00:00+00 BC": LOW_TS,
        "0044-03-15 10:00:00 BC": LOW_TS,
        "10000-01-01 00:00:00+00": HIGH_TS,
        "294276-12-31 23:59:59.999999": HIGH_TS,
        "0001-01-01 00:00:00+01": LOW_TS,  # 0000-12-31 23:00 UTC
        "9999-12-31 23:30:00-01": HIGH_TS,  # 10000-01-01 00:30 UTC
        "2024-01-01 10:00:00+00": datetime(2024, 1, 1, 10, tzinfo=UTC),
        "0044-03-15 25:00:00 BC": "REJECTED",
    }
    assert _cast(list(values), type_) == list(values.values())


@pytest.mark.parametrize("first", ["0001-01-01", "-0043-03-15", "2024-01-01", None])
def test_date_first_pass_gives_the_full_cast(first, monkeypatch):
    values = [first, "-0043-03-15", "0000-02-29", "infinity", "0044-03-15 BC", "2024-01-31", "x"]
    frame = pl.DataFrame({"d": values}, schema={"d": pl.String})
    typed, rejects = cast_to_registry(frame, [Column("d", "date")])
    want_typed, want_rejects = _full_cast(monkeypatch, frame, [Column("d", "date")])
    assert_frame_equal(typed, want_typed)
    assert_frame_equal(rejects, want_rejects)


def test_a_frame_in_chunks_casts_as_one_chunk_with_its_row_numbers():
    """A parallel CSV read gives columns in chunks; the row numbers are cut to the same chunks
    (so Polars casts them chunk by chunk), and nothing else changes: rows, values, rejects."""
    values = [["1", "2024-01-01 10:00:00", "x"], ["2", "infinity", "3"], ["z", "2024-02-30", "4"]]
    parts = [pl.DataFrame(dict(zip(["id", "ts", "n"], zip(*values, strict=True), strict=True)))]
    parts = [pl.DataFrame({"id": ["5"], "ts": ["2024-03-01T00:00:00Z"], "n": ["6"]}), *parts]
    chunked = pl.concat(parts * 3, rechunk=False)
    assert chunked.to_series(0).n_chunks() == 6
    rows = pl.Series("__row", range(10, 10 + chunked.height), pl.Int64)
    columns = [Column("id", "int"), Column("ts", "timestamptz"), Column("n", "bigint")]
    typed, rejects = cast_to_registry(chunked, columns, row_numbers=rows)
    want_typed, want_rejects = cast_to_registry(chunked.rechunk(), columns, row_numbers=rows)
    lengths = chunked.to_series(0).chunk_lengths()
    assert casting.chunked_like(rows, chunked).chunk_lengths() == lengths == [1, 3] * 3
    assert_frame_equal(typed, want_typed)
    assert_frame_equal(rejects, want_rejects)
    assert typed["__row"].to_list() == [10, 12, 14, 16, 18, 20]
    assert rejects["__row"].to_list() == [11, 13, 15, 17, 19, 21]  # n 'x'; id 'z'
    assert rejects["__column"].to_list() == ["n", "id"] * 3
