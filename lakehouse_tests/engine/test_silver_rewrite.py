"""The copy-on-write of a batch (``silver_rewrite``) against delta-rs's MERGE (``merge_batch``)
on copies of the same table: the same rows after, the same row metrics, one commit recording
the bronze version, the files it did not touch kept; and None (nothing changed) where it leaves
the batch to the MERGE."""

from __future__ import annotations

import shutil

import polars as pl
import pytest
from deltalake import DeltaTable, write_deltalake
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lakehouse.engine.core.keys import silver_key
from lakehouse.engine.delta import open_table
from lakehouse.engine.increments import applied_bronze_version
from lakehouse.engine.silver_rewrite import rewrite_batch
from lakehouse.engine.silver_writes import TABLE_CONFIG, merge_batch, merge_source
from lakehouse.registry import Column, TableSpec
from lakehouse.storage import LocalLake

SPEC = TableSpec(
    dataset="rw",
    name="items",
    columns=(Column("id", "bigint", nullable=False), Column("val", "string"), Column("n", "int")),
    primary_key=("id",),
)
SCHEMA = {"id": pl.Int64, "val": pl.String, "n": pl.Int32, "_sequence": pl.String}
METRICS = ("num_target_rows_inserted", "num_target_rows_updated", "num_target_rows_deleted")


def _table(lake: LocalLake, files: list[list[tuple]]) -> None:
    """``silver/items`` with one data file per entry of ``files`` (rows: id, val, n, seq)."""
    for rows in files:
        frame = pl.DataFrame(rows, schema=SCHEMA, orient="row")
        write_deltalake(lake.uri(silver_key(SPEC.name)), frame.to_arrow(), mode="append",
                        configuration=TABLE_CONFIG)  # fmt: skip


def _batch(changes: list[tuple], columns=("id", "val", "n", "_sequence")) -> pl.DataFrame:
    """A resolved batch (one change per key): (op, id, val, n, seq) rows → the MERGE source."""
    frame = pl.DataFrame(changes, schema={"_op": pl.String, **SCHEMA}, orient="row").unique(
        "id", keep="last", maintain_order=True
    )
    return merge_source(frame.select("_op", *columns))


def _rows(lake: LocalLake) -> list[tuple]:
    frame = pl.from_arrow(open_table(lake, silver_key(SPEC.name)).to_pyarrow_table())
    return sorted(frame.select("id", "val", "n", "_sequence").iter_rows())


def _both(tmp_path, files, source) -> tuple[dict | None, LocalLake, dict, LocalLake]:
    """The batch rewritten into one copy of the table and merged into the other."""
    ours, theirs = LocalLake(tmp_path / "ours"), LocalLake(tmp_path / "theirs")
    _table(ours, files)
    shutil.copytree(ours.path, theirs.path)
    key = silver_key(SPEC.name)
    got = rewrite_batch(ours, SPEC, open_table(ours, key), source, 7)
    want = merge_batch(theirs, SPEC, open_table(theirs, key), source, 7)
    return got, ours, want, theirs


FILES = [
    [(i, f"a{i}", i, "s10") for i in range(0, 10)],
    [(i, f"b{i}", i, "s10") for i in range(10, 20)],
    [(i, f"c{i}", i, "s10") for i in range(20, 30)],
]


def test_a_batch_over_most_files_is_rewritten_as_the_merge_would(tmp_path):
    """Updates, deletes, inserts between and after the files, a change older than the row
    (ignored), a delete of an absent key (nothing) and a column the batch does not carry (kept
    by an update, null for an insert)."""
    source = _batch(
        [("U", 3, "new3", None, "s20"), ("D", 12, None, None, "s20"), ("U", 25, "old", None, "s05"),
         ("I", 35, "ins", None, "s20"), ("D", 40, None, None, "s20"), ("U", 21, "x", None, "s20")],
        columns=("id", "val", "_sequence"),
    )  # fmt: skip
    got, ours, want, theirs = _both(tmp_path, FILES, source)
    assert got is not None and got["rewritten"]
    assert {m: got[m] for m in METRICS} == {m: want[m] for m in METRICS}
    assert _rows(ours) == _rows(theirs)
    rows = {r[0]: r[1:] for r in _rows(ours)}
    assert rows[3] == ("new3", 3, "s20") and 12 not in rows and rows[25] == ("c25", 25, "s10")
    assert rows[35] == ("ins", None, "s20") and 40 not in rows
    table = open_table(ours, silver_key(SPEC.name))
    assert applied_bronze_version(ours, silver_key(SPEC.name), table) == 7
    assert table.version() == len(FILES)  # one commit after the three appends
    assert pl.from_arrow(table.to_pyarrow_table())["id"].is_sorted()  # written in key order


@pytest.mark.parametrize("keys", [(0, 10, 20), (9, 19, 29), (0, 19, 29), (9, 10)])
def test_keys_at_the_ends_of_a_file_touch_it(tmp_path, keys):
    """A file's smallest and largest keys are in its range: their rows are replaced, never
    doubled by an insert."""
    source = _batch([("U", k, "z", 1, "s20") for k in keys])
    got, ours, want, theirs = _both(tmp_path, FILES, source)
    assert got is not None and got["num_target_rows_updated"] == len(keys)
    assert _rows(ours) == _rows(theirs)


def test_a_batch_the_merge_prunes_for_is_left_to_it(tmp_path):
    """One file of three touched: None, and the table unchanged."""
    lake = LocalLake(tmp_path)
    _table(lake, FILES)
    before = _rows(lake)
    source = _batch([("U", 3, "z", 1, "s20")])
    assert rewrite_batch(lake, SPEC, open_table(lake, silver_key(SPEC.name)), source, 1) is None
    assert _rows(lake) == before and DeltaTable(lake.uri("silver/items")).version() == 2


def test_a_batch_with_a_new_column_is_left_to_the_merge(tmp_path):
    lake = LocalLake(tmp_path)
    _table(lake, FILES[:1])
    source = _batch([("U", 3, "z", 1, "s20")]).with_columns(pl.lit("x").alias("added"))
    assert rewrite_batch(lake, SPEC, open_table(lake, silver_key(SPEC.name)), source, 1) is None


def test_a_batch_deleting_every_row_is_left_to_the_merge(tmp_path):
    lake = LocalLake(tmp_path)
    _table(lake, FILES[:1])
    source = _batch([("D", i, None, None, "s20") for i in range(10)])
    assert rewrite_batch(lake, SPEC, open_table(lake, silver_key(SPEC.name)), source, 1) is None


_change = st.tuples(
    st.sampled_from("IUD"),
    st.integers(-2, 33),
    st.one_of(st.none(), st.text("ab", max_size=2)),
    st.one_of(st.none(), st.integers(-3, 3)),
    st.sampled_from(["s05", "s10", "s20", None]),
)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(changes=st.lists(_change, min_size=1, max_size=25), files=st.integers(1, 3))
def test_the_rewrite_equals_the_merge(tmp_path_factory, changes, files):
    """Any batch over one to three files: where it rewrites, the rows and row metrics are the
    MERGE's (rows of a ``None`` sequence are never newer, as in SQL)."""
    source = _batch(changes)
    got, ours, want, theirs = _both(tmp_path_factory.mktemp("rw"), FILES[:files], source)
    if got is None:
        assert _rows(ours) == sorted(r for f in FILES[:files] for r in f)
        return
    assert {m: got[m] for m in METRICS} == {m: want[m] for m in METRICS}
    assert _rows(ours) == _rows(theirs)


def test_an_incompatible_type_raises_as_the_merge_does(tmp_path):
    """A batch whose key is Int32 against the Int64 key: the MERGE's ``SchemaChangeError``,
    before anything is written."""
    from lakehouse.engine.core.results import SchemaChangeError

    lake = LocalLake(tmp_path)
    _table(lake, FILES[:1])
    source = _batch([("U", 3, "z", 1, "s20")]).with_columns(pl.col("id").cast(pl.Int32))
    with pytest.raises(SchemaChangeError, match="column 'id' changed type"):
        rewrite_batch(lake, SPEC, open_table(lake, silver_key(SPEC.name)), source, 1)
    assert open_table(lake, silver_key(SPEC.name)).version() == 0


@pytest.mark.parametrize("setting", ["delta.enableChangeDataFeed"])
def test_a_table_with_a_change_data_feed_is_left_to_the_merge(tmp_path, setting):
    lake = LocalLake(tmp_path)
    frame = pl.DataFrame(FILES[0], schema=SCHEMA, orient="row")
    write_deltalake(lake.uri("silver/items"), frame.to_arrow(), configuration={setting: "true"})
    source = _batch([("U", 3, "z", 1, "s20")])
    assert rewrite_batch(lake, SPEC, open_table(lake, silver_key(SPEC.name)), source, 1) is None


def test_a_compaction_after_the_version_read_writes_nothing(tmp_path):
    """delta-rs checks no conflict for a commit's removes: a rewrite from a version a compaction
    has since replaced would keep the compacted copies of its rows. It commits only at the next
    version, else raises ``StaleTableError`` with the table and its files as they were."""
    from lakehouse.engine.silver_rewrite import StaleTableError

    lake = LocalLake(tmp_path)
    _table(lake, FILES)
    stale = open_table(lake, silver_key(SPEC.name))
    open_table(lake, silver_key(SPEC.name)).optimize.compact()
    before = _rows(lake)
    names = {p.name for p in (tmp_path / "silver" / "items").glob("*.parquet")}
    source = _batch([("U", k, "z", 1, "s20") for k in (3, 13, 23)])
    with pytest.raises(StaleTableError, match="version 3 came after 2"):
        rewrite_batch(lake, SPEC, stale, source, 1)
    assert _rows(lake) == before and open_table(lake, silver_key(SPEC.name)).version() == 3
    assert {p.name for p in (tmp_path / "silver" / "items").glob("*.parquet")} == names


def test_apply_changes_merges_into_the_latest_version_after_a_compaction(tmp_path, monkeypatch):
    """The silver step then MERGEs the batch into the compacted table: each key once."""
    from lakehouse.engine import silver, silver_rewrite

    lake = LocalLake(tmp_path)
    _table(lake, FILES)
    real = silver_rewrite.rewrite_batch

    def compacted_first(lake_, spec, target, source, version, **kw):
        open_table(lake_, silver_key(SPEC.name)).optimize.compact()
        return real(lake_, spec, target, source, version, **kw)

    monkeypatch.setattr(silver, "rewrite_batch", compacted_first)
    result = silver.SilverResult(SPEC.name)
    batch = pl.DataFrame(
        [("U", k, "z", 1, "s20") for k in (3, 13, 23)], schema={"_op": pl.String, **SCHEMA},
        orient="row",
    )  # fmt: skip
    silver._merge(lake, SPEC, batch, open_table(lake, silver_key(SPEC.name)), result)
    rows = _rows(lake)
    assert len(rows) == 30 and len({r[0] for r in rows}) == 30
    assert result.updated == 3 and [r[1] for r in rows if r[0] in (3, 13, 23)] == ["z"] * 3


def test_a_text_key_batch_the_merge_prunes_for_is_left_to_it(tmp_path):
    """Text statistics may be truncated, so a text key's files are all read by a rewrite: a
    batch the MERGE can prune for (one file of three by the statistics) stays the MERGE's."""
    spec = TableSpec(dataset="rw", name="items", primary_key=("id",),
                     columns=(Column("id", "string", nullable=False), Column("val", "string")))  # fmt: skip
    lake = LocalLake(tmp_path)
    for lo in (10, 20, 30):
        rows = pl.DataFrame(
            {"id": [f"k{i}" for i in range(lo, lo + 10)], "val": "v", "_sequence": "s10"}
        )
        write_deltalake(lake.uri("silver/items"), rows.to_arrow(), mode="append")
    source = merge_source(
        pl.DataFrame({"_op": ["U"], "id": ["k15"], "val": ["z"], "_sequence": ["s20"]})
    )
    assert rewrite_batch(lake, spec, open_table(lake, silver_key("items")), source, 1) is None
    wide = merge_source(
        pl.DataFrame(
            {"_op": ["U"] * 3, "id": ["k15", "k25", "k35"], "val": "z", "_sequence": "s20"}
        )
    )
    got = rewrite_batch(lake, spec, open_table(lake, silver_key("items")), wide, 1)
    assert got is not None and got["num_target_rows_updated"] == 3


def test_files_beyond_the_bound_are_left_to_the_merge(tmp_path, monkeypatch):
    """The rewrite holds the rows it reads in memory: more Parquet bytes than ``MAX_BYTES``
    are the streaming MERGE's."""
    from lakehouse.engine import silver_rewrite

    lake = LocalLake(tmp_path)
    _table(lake, FILES)
    source = _batch([("U", k, "z", 1, "s20") for k in (3, 13, 23)])
    sizes = [p.stat().st_size for p in (tmp_path / "silver" / "items").glob("*.parquet")]
    monkeypatch.setattr(silver_rewrite, "MAX_BYTES", sum(sizes) - 1)
    assert rewrite_batch(lake, SPEC, open_table(lake, silver_key(SPEC.name)), source, 1) is None
    monkeypatch.setattr(silver_rewrite, "MAX_BYTES", sum(sizes))
    assert rewrite_batch(lake, SPEC, open_table(lake, silver_key(SPEC.name)), source, 1)


def test_a_composite_key_is_rewritten_as_the_merge_would(tmp_path):
    """Rows keyed by (a, b): a change is its key's only where both parts match."""
    spec = TableSpec(dataset="rw", name="items", primary_key=("a", "b"),
                     columns=(Column("a", "bigint", nullable=False), Column("b", "string", nullable=False),
                              Column("val", "string")))  # fmt: skip
    ours, theirs = LocalLake(tmp_path / "ours"), LocalLake(tmp_path / "theirs")
    for lo in (0, 10):
        rows = pl.DataFrame({"a": list(range(lo, lo + 10)) * 2, "b": ["x"] * 10 + ["y"] * 10,
                             "val": "v", "_sequence": "s10"}).sort("a", "b")  # fmt: skip
        write_deltalake(ours.uri("silver/items"), rows.to_arrow(), mode="append")
    shutil.copytree(ours.path, theirs.path)
    batch = pl.DataFrame(
        {"_op": ["U", "D", "I", "U", "D"], "a": [3, 12, 3, 15, 7], "b": ["x", "y", "z", "x", "q"],
         "val": ["n1", None, "n3", "n4", None], "_sequence": ["s20", "s20", "s20", "s05", "s20"]}
    )  # fmt: skip
    source = merge_source(batch)
    got = rewrite_batch(ours, spec, open_table(ours, "silver/items"), source, 1)
    want = merge_batch(theirs, spec, open_table(theirs, "silver/items"), source, 1)
    assert got is not None and {m: got[m] for m in METRICS} == {m: want[m] for m in METRICS}
    assert {m: got[m] for m in METRICS} == dict(zip(METRICS, (1, 1, 1), strict=True))

    def table(lake):
        frame = pl.from_arrow(open_table(lake, "silver/items").to_pyarrow_table())
        return sorted(frame.select("a", "b", "val", "_sequence").iter_rows())

    assert table(ours) == table(theirs)


def test_a_table_the_writer_cannot_take_is_left_to_the_merge_unread(tmp_path, monkeypatch):
    """A column type Polars' writer does not take as delta-rs would (a list here): None before
    any file is read."""
    from lakehouse.engine import silver_rewrite

    lake = LocalLake(tmp_path)
    frame = pl.DataFrame(FILES[0], schema=SCHEMA, orient="row").with_columns(
        pl.col("id")
        .cast(pl.String)
        .map_elements(lambda v: [v], return_dtype=pl.List(pl.String))
        .alias("tags")
    )
    write_deltalake(lake.uri("silver/items"), frame.to_arrow())
    monkeypatch.setattr(silver_rewrite, "_read", lambda *a: pytest.fail("read for nothing"))
    source = _batch([("U", k, "z", 1, "s20") for k in (3, 5)])
    assert rewrite_batch(lake, SPEC, open_table(lake, silver_key(SPEC.name)), source, 1) is None
