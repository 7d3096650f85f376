"""The MERGE's one-comparison guard (``NEWER_SQL`` with ``newer_bound``) decides exactly as
"newer and not the same change delivered again" (``SAME_CHANGE_SQL`` with
``same_change_bounds``), on sequences of every kind: CDC with and without a change sequence,
full-load rows, the same change under another file name, equal timestamps, change sequences
longer than DMS's (the identity then found by splitting, not by position). ``sequence_expr``
gives ``engine.core.order.sequence_text``'s values."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st

from lakehouse.engine.core.order import SEQUENCE, sequence_text
from lakehouse.engine.sequencing import (
    change_id_expr,
    fixed_layout,
    last_per_key,
    newer_bound,
    same_change_bounds,
    sequence_expr,
    unique_changes,
)

T0 = datetime(2024, 1, 1, tzinfo=UTC)
#: longer than DMS's 35 digits: the sequence is no longer of the fixed layout
LONG_SEQ = "1" * 40

_FIELDS = {
    "_commit_ts": st.one_of(st.none(), st.integers(0, 3).map(lambda s: T0 + timedelta(seconds=s))),
    "_change_seq": st.one_of(st.none(), st.sampled_from(["7", "8", "00000000000000000123",
                                                         LONG_SEQ])),
    "_file_kind": st.sampled_from(["load", "cdc"]),
    "_source_file": st.sampled_from(["20240101-000001000.csv", "20240101-000002000.csv",
                                     "LOAD00000001.csv", "t/02/01/2024/20240102-000000000.csv",
                                     "t/31/12/2023/20231231-000000000.csv", "drop.csv"]),
    "_source_row": st.one_of(st.none(), st.integers(0, 3)),
    "_ingested_at": st.one_of(st.none(), st.integers(0, 3).map(lambda s: T0 + timedelta(seconds=s))),
}  # fmt: skip
_change = st.fixed_dictionaries(_FIELDS)
LINEAGE_SCHEMA = {
    "_commit_ts": pl.Datetime("us", "UTC"),
    "_ingested_at": pl.Datetime("us", "UTC"),
    "_change_seq": pl.String,
    "_file_kind": pl.String,
    "_source_file": pl.String,
    "_source_row": pl.Int64,
}


def _sequenced(rows: list[dict]) -> pl.DataFrame:
    frame = pl.DataFrame(rows, schema=LINEAGE_SCHEMA).with_columns(sequence_expr())
    return frame.with_columns(*same_change_bounds(), newer_bound(fixed=fixed_layout(frame)))


@settings(max_examples=300, deadline=None)
@given(st.lists(_change, min_size=1, max_size=8))
def test_the_identity_by_position_is_the_identity_by_splitting(rows):
    """``change_id_expr(fixed=True)`` where ``fixed_layout`` holds: the same identities."""
    frame = pl.DataFrame(rows, schema=LINEAGE_SCHEMA).with_columns(sequence_expr())
    fixed = fixed_layout(frame)
    assert fixed == all(r["_change_seq"] != LONG_SEQ for r in rows)
    if fixed:
        got = frame.select(
            change_id_expr(fixed=True).alias("fixed"), change_id_expr().alias("split")
        )
        assert got["fixed"].to_list() == got["split"].to_list()


@settings(max_examples=300, deadline=None)
@given(st.lists(_change, min_size=1, max_size=6), st.lists(_change, min_size=1, max_size=6))
def test_the_one_comparison_guard_decides_as_newer_and_not_the_same_change(stored, incoming):
    t = _sequenced(stored).select(pl.col(SEQUENCE).alias("t"))
    s = _sequenced(incoming)
    pairs = s.join(t, how="cross")
    old = (pl.col(SEQUENCE) > pl.col("t")) & ~(
        (pl.col("t") == pl.col(SEQUENCE))
        | ((pl.col("t") >= pl.col("__same_lo")) & (pl.col("t") < pl.col("__same_hi")))
    )
    new = pl.col("t") < pl.col("__newer_than")
    got = pairs.select(old.alias("old"), new.alias("new"))
    assert got["old"].to_list() == got["new"].to_list()


_FILES = st.builds(
    lambda folder, name: folder + name,
    st.sampled_from(["", "public/t/", "public/t/31/01/2024/", "p/12/2023/31/", "a\nb/"]),
    st.one_of(
        st.from_regex(r"\A(x_)?LOAD[0-9A-F]{8}\.(csv|csv\.gz|parquet)\Z"),
        st.from_regex(r"\A(x-)?[0-9]{8}-[0-9]{9,10}\.(csv|csv\.gz|parquet)\Z"),
        st.text(max_size=12),
        st.sampled_from(["LOAD1.csv", "20240101-1234567890.csv\n", "20240101-\u0661\u0662345678.csv"]),
    ),
)  # fmt: skip
_LINEAGE = st.fixed_dictionaries({
    **_FIELDS,
    "_file_kind": st.sampled_from(["load", "cdc", "csv", None]),
    "_source_file": _FILES,
})  # fmt: skip


@settings(max_examples=300, deadline=None)
@given(st.lists(_LINEAGE, min_size=1, max_size=8))
def test_sequence_expr_gives_the_sequence_text_of_each_row(rows):
    """The Polars column is ``sequence_text`` of the row's lineage (its arrival when it has no
    commit timestamp), for DMS names in any folder and any other file name."""
    got = pl.DataFrame(rows, schema=LINEAGE_SCHEMA).select(sequence_expr())[SEQUENCE].to_list()
    assert got == [row_sequence_text(r) for r in rows]


def row_sequence_text(r: dict) -> str:
    """``sequence_text`` of a lineage row (its arrival when it has no commit timestamp)."""
    return sequence_text(
        r["_commit_ts"] or r["_ingested_at"],
        r["_change_seq"],
        r["_file_kind"],
        r["_source_file"],
        r["_source_row"],
    )


def test_changes_of_date_partitioned_files_ingested_together_follow_the_file_names():
    """DatePartitionSequence DDMMYYYY, no commit timestamp: the files arrive together, and the
    change in 20240201-… is newer than the one in 20240131-… although its folder sorts first."""
    at = datetime(2024, 3, 1, tzinfo=UTC)
    rows = [
        {"_commit_ts": None, "_change_seq": None, "_file_kind": "cdc", "_source_row": 1,
         "_ingested_at": at, "_source_file": f"public/t/{folder}/{name}"}
        for folder, name in [("31/01/2024", "20240131-120000000.csv"),
                             ("01/02/2024", "20240201-120000000.csv")]
    ]  # fmt: skip
    ordered = pl.DataFrame(rows, schema=LINEAGE_SCHEMA).with_columns(sequence_expr()).sort(SEQUENCE)
    assert ordered["_source_file"].to_list() == [r["_source_file"] for r in rows]


_KEYED = st.fixed_dictionaries({**_FIELDS, "id": st.integers(0, 4), "k2": st.sampled_from("ab")})


@settings(max_examples=300, deadline=None)
@given(st.lists(_KEYED, min_size=1, max_size=12), st.booleans())
def test_dedup_of_repeated_keys_only_is_the_dedup_of_every_row(rows, composite):
    """``unique_changes`` and ``last_per_key`` hash only the rows of keys with several changes:
    the same rows, in the same order, as a ``unique`` over every row."""
    from lakehouse.registry import Column, TableSpec

    keys = ("id", "k2") if composite else ("id",)
    spec = TableSpec(dataset="d", name="t", primary_key=keys,
                     columns=(Column("id", "int"), Column("k2", "string")))  # fmt: skip
    schema = {**LINEAGE_SCHEMA, "id": pl.Int64, "k2": pl.String}
    frame = pl.DataFrame(rows, schema=schema).with_columns(sequence_expr())
    ordered = frame.sort(SEQUENCE)
    ident = change_id_expr(fixed=fixed_layout(ordered)).alias("__c")
    want_unique = (
        ordered.with_columns(ident)
        .unique(subset=[*keys, "__c"], keep="first", maintain_order=True)
        .drop("__c")
    )
    got_unique = unique_changes(frame, spec)
    if got_unique.height == frame.height:  # one change per key: returned as given
        assert _canon(got_unique) == _canon(want_unique)
    else:
        assert got_unique.rows() == want_unique.rows()
    want_last = ordered.unique(subset=list(keys), keep="last", maintain_order=True)
    got_last = last_per_key(frame, spec)
    assert _canon(got_last) == _canon(want_last)
    if got_last.height != frame.height:
        assert got_last.rows() == want_last.rows()


def _canon(frame: pl.DataFrame) -> list[tuple]:
    return frame.sort(frame.columns, nulls_last=True).rows()
