"""Row-level rules: the Polars-native ``split_valid`` (the silver path) says exactly what pandera
says (``split_valid_pandera``), row for row and reason for reason, on fixed rows made to break
every kind of rule, on random rows, and for every registry table's rules."""

from __future__ import annotations

import subprocess
import sys
from decimal import Decimal

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lakehouse.declarations import load_dataset
from lakehouse.quality.validate import split_valid, split_valid_pandera
from lakehouse.registry import Column, TableSpec
from lakehouse.registry.types import polars_dtype

SPEC = TableSpec(
    dataset="t",
    name="rules",
    columns=(
        Column("id", "int", nullable=False),
        Column("qty", "int", checks={"ge": 0, "le": 10}),
        Column("code", "string", nullable=False, checks={"str_length_max": 3, "regex": r"\d{2}$"}),
        Column("status", "string", checks={"isin": ["new", "done"]}),
        Column("price", "decimal(10,2)", checks={"gt": 0, "lt": 5}),
        Column("note", "string"),
    ),
    primary_key=("id",),
)
SCHEMA = {
    "id": pl.Int32,
    "qty": pl.Int32,
    "code": pl.String,
    "status": pl.String,
    "price": pl.Decimal(10, 2),
    "note": pl.String,
}
ROWS = [
    (1, -1, "12", "new", Decimal("1"), "a"),
    (2, 5, "1234", "gone", None, None),
    (None, None, None, None, Decimal("0"), "b"),
    (4, 11, "ab", "done", Decimal("7"), "c"),
    (5, 3, "99", None, Decimal("2"), None),
    (6, 0, "007", "new", Decimal("4.99"), "d"),
]


def _assert_same(frame: pl.DataFrame, spec: TableSpec) -> tuple[pl.DataFrame, pl.DataFrame]:
    good, bad = split_valid(frame, spec)
    ref_good, ref_bad = split_valid_pandera(frame, spec)
    assert good.equals(ref_good), (good, ref_good)
    assert (
        bad.select("__column", "__reason").to_dicts()
        == ref_bad.select("__column", "__reason").to_dicts()
    )
    assert bad.drop("__column", "__reason").equals(ref_bad.drop("__column", "__reason"))
    return good, bad


def test_every_kind_of_rule_fails_as_pandera_says():
    good, bad = _assert_same(pl.DataFrame(ROWS, schema=SCHEMA, orient="row"), SPEC)
    assert good["id"].to_list() == [5] and bad.height == 5  # "007" breaks ^\d{2}$ (start match)
    reasons = dict(zip(bad["id"].fill_null(-1).to_list(), bad["__reason"].to_list(), strict=True))
    assert reasons[1] == "qty: greater_than_or_equal_to(0) failed for -1"
    assert reasons[-1].startswith("id: not_nullable failed for null; code: not_nullable")


def test_a_valid_frame_and_an_empty_frame():
    frame = pl.DataFrame([ROWS[4]], schema=SCHEMA, orient="row")
    good, bad = _assert_same(frame, SPEC)
    assert good.height == 1 and bad.height == 0 and bad.columns[-2:] == ["__column", "__reason"]
    good, bad = _assert_same(frame.head(0), SPEC)
    assert good.height == 0 and bad.height == 0


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.one_of(st.none(), st.integers(-3, 3)),
            st.one_of(st.none(), st.integers(-2, 12)),
            st.one_of(st.none(), st.text("0129a", max_size=5)),
            st.one_of(st.none(), st.sampled_from(["new", "done", "gone", ""])),
            st.one_of(st.none(), st.decimals(-1, 6, places=2, allow_nan=False)),
            st.one_of(st.none(), st.text(max_size=3)),
        ),
        max_size=25,
    )
)
def test_random_rows_split_as_pandera_splits_them(rows):
    _assert_same(pl.DataFrame(rows, schema=SCHEMA, orient="row"), SPEC)


@pytest.mark.parametrize("dataset", ["saas", "autocorp"])
def test_every_registry_tables_rules_agree_with_pandera(dataset):
    """Nulls everywhere, and each rule's boundary broken where the column's type allows it."""
    quarantined = 0
    for spec in load_dataset(dataset).tables:
        schema = {c.name: polars_dtype(c.type) for c in spec.columns}
        frame = pl.DataFrame({name: [None, None] for name in schema}, schema=schema)
        for col in spec.columns:
            for name, arg in col.checks.items():
                if name in ("ge", "gt") and isinstance(arg, int | float):
                    frame = frame.with_columns(
                        pl.Series(col.name, [arg - 1, arg]).cast(schema[col.name], strict=False)
                    )
                elif name == "isin" and schema[col.name] == pl.String:
                    frame = frame.with_columns(pl.Series(col.name, ["not-allowed", list(arg)[0]]))
        quarantined += _assert_same(frame, spec)[1].height
    assert quarantined > 0  # the registry has rules, and the frames broke them


def test_the_silver_path_does_not_import_pandera():
    code = (
        "import sys, polars as pl; from lakehouse.quality.validate import split_valid; "
        "from lakehouse_tests.quality.test_row_rules import ROWS, SCHEMA, SPEC; "
        "split_valid(pl.DataFrame(ROWS, schema=SCHEMA, orient='row'), SPEC); "
        "print('pandera' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
