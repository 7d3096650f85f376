"""Unchanged TOASTed values: the Spark engine fills the marked columns of a batch exactly as the
local engine (``engine.unchanged``) does, whatever the order of the changes, the marks, the
NULLs written on purpose and the silver rows before the batch."""

from __future__ import annotations

import json

import polars as pl
import pytest
from deltalake import write_deltalake
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lakehouse.engine.core.keys import silver_key
from lakehouse.engine.spark.unchanged import resolve_unchanged as spark_resolve
from lakehouse.engine.unchanged import resolve_unchanged as local_resolve
from lakehouse.registry import Column, TableSpec
from lakehouse.storage import LocalLake
from lakehouse_tests.spark.helpers import assert_same, to_spark

pytestmark = pytest.mark.xdist_group("spark")

SPEC = TableSpec(
    dataset="t",
    name="docs",
    columns=(
        Column("id", "int", nullable=False),
        Column("big", "string"),
        Column("small", "int"),
    ),
    primary_key=("id",),
)
VALUES = st.one_of(st.none(), st.text(alphabet="ab\u00e9", min_size=0, max_size=3))
MARKS = st.sampled_from([None, [], ["big"], ["small"], ["big", "small"], ["gone"]])
CHANGE = st.tuples(
    st.integers(1, 3),
    st.sampled_from("IUD"),
    VALUES,
    st.one_of(st.none(), st.integers(0, 9)),
    MARKS,
)


def _changes(rows) -> pl.DataFrame:
    """The batch, each change with a distinct ``_sequence`` (drawn order shuffled by it)."""
    return pl.DataFrame(
        [
            (k, op, big, small, None if m is None else json.dumps(m), f"{(i * 7) % 50:04d}")
            for i, (k, op, big, small, m) in enumerate(rows)
        ],
        schema={
            "id": pl.Int32,
            "_op": pl.String,
            "big": pl.String,
            "small": pl.Int32,
            "_unchanged": pl.String,
            "_sequence": pl.String,
        },
        orient="row",
    ).unique("_sequence", keep="first", maintain_order=True)


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    rows=st.lists(CHANGE, min_size=1, max_size=12),
    silver=st.dictionaries(st.integers(1, 3), st.tuples(VALUES, st.integers(0, 9)), max_size=3),
)
def test_marked_values_come_from_the_same_place_as_in_the_local_engine(
    spark, tmp_path_factory, rows, silver
):
    changes = _changes(rows)
    lake = LocalLake(tmp_path_factory.mktemp("lake"))
    current = None
    if silver:
        state = pl.DataFrame(
            [(k, b, s, "0000") for k, (b, s) in silver.items()],
            schema={"id": pl.Int32, "big": pl.String, "small": pl.Int32, "_sequence": pl.String},
            orient="row",
        )
        write_deltalake(lake.uri(silver_key(SPEC.name)), state.to_arrow())
        current = to_spark(spark, state)
    expected = local_resolve(lake, SPEC, changes)
    got = spark_resolve(to_spark(spark, changes), SPEC, current)
    assert_same(got, expected, ["_sequence"], "resolved changes")


def test_without_marks_or_a_key_the_changes_pass_as_they_are(spark):
    changes = _changes([(1, "U", None, 1, None), (1, "U", "x", 2, "[]")])
    frame = to_spark(spark, changes)
    assert spark_resolve(frame, SPEC) is frame
    keyless = TableSpec(dataset="t", name="k", columns=SPEC.columns, primary_key=())
    marked = to_spark(spark, _changes([(1, "U", None, 1, '["big"]')]))
    assert spark_resolve(marked, keyless) is marked
