"""Silver apply: the named cases (besides the property test): SCD2, evolution, reload, GC, errors."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta

import polars as pl
import pyarrow as pa
import pytest
from deltalake import DeltaTable

from lakehouse.dms.settings import DmsS3Settings
from lakehouse.engine import bronze, silver
from lakehouse.engine.core.keys import (
    BRONZE_VERSION_KEY,
    history_key,
    silver_key,
    tombstone_key,
)
from lakehouse.engine.core.order import SEQUENCE
from lakehouse.engine.core.results import SchemaChangeError
from lakehouse.engine.silver_writes import check_types
from lakehouse.engine.tombstones import gc_tombstones
from lakehouse.registry import Column, TableSpec
from lakehouse.storage import LocalLake

SETTINGS = DmsS3Settings(
    AddColumnName=True, TimestampColumnName="ts", before_image_key=True, change_seq_column="seq"
)
COLUMNS = (
    Column("id", "int", nullable=False),
    Column("name", "string"),
    Column("qty", "int", checks={"ge": 0}),
)
SPEC = TableSpec(dataset="t", name="things", columns=COLUMNS, primary_key=("id",))
SCD2 = TableSpec(dataset="t", name="people", columns=COLUMNS, primary_key=("id",), scd_type=2)
HEADER = "Op,ts,id,name,qty,BI_id,seq\n"


def _line(op, second, id_, name="x", qty="1", old=None, seq=None):
    return f"{op},2024-01-01 00:00:{second:02d}.000000,{id_},{name},{qty},{old or id_},{(seq or second):035d}\n"


def _drop(lake, spec, name, *lines):
    lake.write_text(spec.raw_prefix + name, HEADER + "".join(lines))
    bronze.ingest(lake, spec, SETTINGS)
    return silver.apply_changes(lake, spec)


def _state(lake, spec=SPEC):
    return {
        r["id"]: (r["name"], r["qty"]) for r in silver.read_silver(lake, spec).iter_rows(named=True)
    }


def test_counts_metadata_and_incremental_versions(lake):
    r1 = _drop(
        lake,
        SPEC,
        "LOAD00000001.csv",
        _line("I", 1, 1, "a"),
        _line("I", 1, 2, "b"),
        _line("I", 1, 3, "c"),
    )
    assert (r1.inserted, r1.updated, r1.deleted) == (3, 0, 0)
    r2 = _drop(
        lake,
        SPEC,
        "20240101-000002000.csv",
        _line("U", 2, 1, "a2"),
        _line("D", 3, 2, "", ""),
        _line("I", 4, 4, "d"),
    )
    assert (r2.inserted, r2.updated, r2.deleted, r2.ignored) == (1, 1, 1, 0)
    assert r2.changes == 3  # only the new bronze version was read
    assert _state(lake) == {1: ("a2", 1), 3: ("c", 1), 4: ("d", 1)}
    again = silver.apply_changes(lake, SPEC)
    assert again.changes == 0 and again.version == r2.version  # nothing new: no commit
    history = DeltaTable(lake.uri("silver/things")).history(1)[0]
    assert history[BRONZE_VERSION_KEY] == str(r2.bronze_version)


def test_late_older_update_does_not_resurrect_a_deleted_row(lake):
    _drop(lake, SPEC, "LOAD00000001.csv", _line("I", 1, 1, "a"))
    _drop(lake, SPEC, "20240101-000005000.csv", _line("D", 5, 1, "", ""))
    late = _drop(lake, SPEC, "20240101-000003000.csv", _line("U", 3, 1, "zombie"))
    assert _state(lake) == {}
    assert late.ignored == 1
    # after the retention period the tombstone is collected
    removed = gc_tombstones(
        lake, SPEC, timedelta(days=7), now=datetime.now(UTC) + timedelta(days=8)
    )
    assert removed == 1


def test_primary_key_update_moves_the_row(lake):
    _drop(lake, SPEC, "LOAD00000001.csv", _line("I", 1, 1, "a"), _line("I", 1, 2, "b"))
    _drop(lake, SPEC, "20240101-000002000.csv", _line("U", 2, 10, "a", old=1))
    assert _state(lake) == {10: ("a", 1), 2: ("b", 1)}


def _write(lake, spec, name, *lines, second=None):
    """Write a raw file; ``second`` sets its last-modified time (2024-01-01 00:00:<second>)."""
    lake.write_text(spec.raw_prefix + name, HEADER + "".join(lines))
    if second is not None:
        t = datetime(2024, 1, 1, 0, 0, second, tzinfo=UTC).timestamp()
        os.utime(lake.path / (spec.raw_prefix + name), (t, t))


def _run(lake, spec=SPEC):
    bronze.ingest(lake, spec, SETTINGS)
    return silver.apply_changes(lake, spec)


def _tombstones(lake, spec=SPEC) -> dict[int, str]:
    tomb = DeltaTable(lake.uri(tombstone_key(spec.name))).to_pyarrow_table()
    return dict(zip(tomb["id"].to_pylist(), tomb["_sequence"].to_pylist(), strict=True))


def _assert_full_refresh_identical(lake, spec=SPEC):
    before = silver.read_silver(lake, spec).sort("id")
    silver.apply_changes(lake, spec, full_refresh=True)
    assert silver.read_silver(lake, spec).sort("id").equals(before)


def test_reload_replaces_the_baseline_without_losing_later_changes(lake):
    _drop(lake, SPEC, "LOAD00000001.csv", _line("I", 1, 1, "a"), _line("I", 1, 2, "b"))
    _drop(lake, SPEC, "20240101-000002000.csv", _line("U", 2, 1, "a2"))
    # DMS reload-target at second 5: a new baseline (row 2 gone, row 3 new) ...
    _write(lake, SPEC, "LOAD00000001.csv", _line("I", 5, 1, "a2"), _line("I", 5, 3, "c"))
    # ... and a change committed after it
    _write(lake, SPEC, "20240101-000006000.csv", _line("U", 6, 3, "c2"))
    res = _run(lake)
    assert _state(lake) == {1: ("a2", 1), 3: ("c2", 1)}
    assert res.reload_generation == 1 and res.deleted == 1
    # row 2 is deleted like a delete: its tombstone holds the reload's start (the first LOAD row)
    assert _tombstones(lake)[2].startswith("2024-01-01T00:00:05.000000|")
    _assert_full_refresh_identical(lake)


def test_a_change_ordered_after_the_reload_began_survives_and_one_before_is_ignored(lake):
    _drop(lake, SPEC, "LOAD00000001.csv", _line("I", 1, 1, "a"), _line("I", 1, 2, "b"))
    # an insert committed at second 7, after the reload began (5), arrives before the reload
    _drop(lake, SPEC, "20240101-000007000.csv", _line("I", 7, 4, "d"))
    _write(lake, SPEC, "LOAD00000001.csv", _line("I", 5, 1, "a"))
    _run(lake)
    assert _state(lake) == {1: ("a", 1), 4: ("d", 1)}  # 2 is gone, the later insert stays
    # a file committed before the reload (second 3) arrives late: the reload superseded it
    _write(lake, SPEC, "20240101-000003000.csv", _line("I", 3, 9, "late"), _line("U", 3, 2, "z"))
    late = _run(lake)
    assert _state(lake) == {1: ("a", 1), 4: ("d", 1)}
    assert late.ignored == 2 and late.inserted == 0
    _assert_full_refresh_identical(lake)


def test_a_reload_spanning_files_and_bronze_runs_is_one_baseline(lake):
    # the first full load arrives over two bronze runs: both files are the baseline (no reload)
    _write(lake, SPEC, "LOAD00000001.csv", _line("I", 1, 1, "a"), _line("I", 1, 2, "b"))
    _run(lake)
    _write(lake, SPEC, "LOAD00000002.csv", _line("I", 1, 3, "c"), _line("I", 1, 4, "d"))
    assert _run(lake).reload_generation is None
    assert set(_state(lake)) == {1, 2, 3, 4}
    # a reload rewrites both files; bronze sees the first one, then the second one
    _write(lake, SPEC, "LOAD00000001.csv", _line("I", 5, 1, "a"))
    assert _run(lake).reload_generation == 1
    # until LOAD00000002 of the reload arrives, its rows are missing (documented)
    assert set(_state(lake)) == {1}
    _write(lake, SPEC, "LOAD00000002.csv", _line("I", 5, 3, "c"), _line("I", 5, 5, "e"))
    res = _run(lake)
    assert res.reload_generation == 1  # the same reload, not a new one
    assert _state(lake) == {1: ("a", 1), 3: ("c", 1), 5: ("e", 1)}
    loads = bronze.load_log(lake, SPEC)
    assert [(e.key.rsplit("/", 1)[-1], e.generation) for e in loads] == [
        ("LOAD00000001.csv", 0),
        ("LOAD00000002.csv", 0),
        ("LOAD00000001.csv", 1),
        ("LOAD00000002.csv", 1),
    ]
    _assert_full_refresh_identical(lake)


KEYLESS = TableSpec(dataset="t", name="audit", columns=COLUMNS, primary_key=())


def _rows(lake, spec=KEYLESS):
    return sorted(silver.read_silver(lake, spec).select("id", "name").iter_rows())


def test_a_keyless_reload_replaces_its_baseline_as_one_reload_over_files_and_runs(lake):
    """A keyless table's reload (``lakehouse resync``) replaces its rows: no row twice, neither
    the old baseline's nor an insert both copied by the reload and replayed by CDC."""
    _write(lake, KEYLESS, "LOAD00000001.csv", _line("I", 1, 1, "a"), _line("I", 1, 2, "b"))
    _write(lake, KEYLESS, "LOAD00000002.csv", _line("I", 1, 3, "c"))
    _run(lake, KEYLESS)
    _write(lake, KEYLESS, "20240101-000002000.csv", _line("I", 2, 4, "d"))
    _run(lake, KEYLESS)
    assert _rows(lake) == [(1, "a"), (2, "b"), (3, "c"), (4, "d")]
    # a reload at second 5 over two files and two bronze runs; row 2 is gone at the source, the
    # insert of second 2 is copied by the reload and replayed (late) by CDC
    _write(lake, KEYLESS, "LOAD00000001.csv", _line("I", 5, 1, "a"), _line("I", 5, 4, "d"))
    _write(lake, KEYLESS, "20240101-000006000.csv", _line("I", 6, 5, "e"))
    assert _run(lake, KEYLESS).reload_generation == 1
    assert _rows(lake) == [(1, "a"), (4, "d"), (5, "e")]  # LOAD00000002 of the reload: missing
    _write(lake, KEYLESS, "LOAD00000002.csv", _line("I", 5, 3, "c"))
    _write(lake, KEYLESS, "20240101-000002001.csv", _line("I", 2, 4, "d"))  # replayed, late
    res = _run(lake, KEYLESS)
    assert res.reload_generation == 1 and res.inserted == 1
    assert _rows(lake) == [(1, "a"), (3, "c"), (4, "d"), (5, "e")]
    before = silver.read_silver(lake, KEYLESS).sort("id")
    silver.apply_changes(lake, KEYLESS, full_refresh=True)
    assert silver.read_silver(lake, KEYLESS).sort("id").equals(before)
    # an empty reload (the table truncated at the source) empties it, later inserts stay
    _write(lake, KEYLESS, "LOAD00000001.csv", second=10)
    _write(lake, KEYLESS, "20240101-000012000.csv", _line("I", 12, 6, "f"))
    _run(lake, KEYLESS)
    assert _rows(lake) == [(6, "f")]


def test_an_empty_reload_deletes_the_old_baseline(lake):
    """A table truncated at the source (DMS does not capture TRUNCATE), then reloaded: the LOAD
    file has no rows, so the reload begins at the file's last-modified time."""
    _drop(lake, SPEC, "LOAD00000001.csv", _line("I", 1, 1, "a"), _line("I", 1, 2, "b"))
    _drop(lake, SPEC, "20240101-000002000.csv", _line("I", 2, 3, "c"))
    _write(lake, SPEC, "LOAD00000001.csv", second=10)  # header only
    _write(lake, SPEC, "20240101-000012000.csv", _line("I", 12, 4, "d"))
    res = _run(lake)
    assert _state(lake) == {4: ("d", 1)} and res.deleted == 3
    _assert_full_refresh_identical(lake)


def test_an_empty_first_load_is_a_baseline_too(lake):
    _write(lake, SPEC, "LOAD00000001.csv", second=1)  # the table was empty at the full load
    _run(lake)
    _drop(lake, SPEC, "20240101-000002000.csv", _line("I", 2, 1, "a"), _line("I", 3, 2, "b"))
    # row 2 disappears without a captured change (TRUNCATE + insert of 1), then a reload
    _write(lake, SPEC, "LOAD00000001.csv", _line("I", 5, 1, "a"), second=5)
    assert _run(lake).reload_generation == 1
    assert _state(lake) == {1: ("a", 1)}
    _assert_full_refresh_identical(lake)


def test_a_reload_without_commit_timestamps_replaces_the_baseline(lake):
    """DMS output without ``TimestampColumnName`` (AWS's default): a reload rewriting
    LOAD00000001 is placed at its arrival in bronze, after the first load and the CDC files
    ingested before it, before the ones after it."""
    from datetime import timedelta

    plain = DmsS3Settings(AddColumnName=True)
    spec = TableSpec(dataset="t", name="plain", columns=COLUMNS, primary_key=("id",))
    t0 = datetime(2024, 3, 1, tzinfo=UTC)

    def drop(name, body, hours):
        lake.write_text(spec.raw_prefix + name, body)
        bronze.ingest(lake, spec, plain, now=t0 + timedelta(hours=hours))
        silver.apply_changes(lake, spec, now=t0 + timedelta(hours=hours))

    drop("LOAD00000001.csv", "id,name,qty\n1,a,1\n2,b,1\n3,c,1\n", 0)
    drop("20240301-010000000.csv", "Op,id,name,qty\nU,1,a2,1\nI,4,d,1\n", 1)
    drop("LOAD00000001.csv", "id,name,qty\n1,a3,1\n3,c-new,1\n", 2)  # reload: 2 and 4 gone
    assert _state(lake, spec) == {1: ("a3", 1), 3: ("c-new", 1)}
    drop("20240301-030000000.csv", "Op,id,name,qty\nU,3,c4,1\n", 3)
    assert _state(lake, spec) == {1: ("a3", 1), 3: ("c4", 1)}


@pytest.mark.parametrize("spec", [SPEC, SCD2], ids=["scd1", "scd2"])
def test_an_empty_source_table_has_an_empty_silver_table_with_its_columns(lake, spec):
    """Queryable (and reconciled) before its first row: the table, not its absence."""
    from lakehouse.quality.reconcile import lake_keys

    _write(lake, spec, "LOAD00000001.csv")
    _run(lake, spec)
    frame = silver.read_silver(lake, spec)
    assert frame.height == 0 and {"id", "name", "qty"} <= set(frame.columns)
    assert frame.schema["id"] == pl.Int32
    assert lake_keys(frame, spec).schema == {"id": pl.Int64}
    assert lake_keys(pl.DataFrame(), spec).columns == ["id"]  # none at all yet
    _drop(lake, spec, "20240101-000002000.csv", _line("I", 2, 1, "a"))
    assert _state(lake, spec) == {1: ("a", 1)}


def test_scd2_history_closes_the_rows_a_reload_removes(lake):
    _drop(lake, SCD2, "LOAD00000001.csv", _line("I", 1, 1, "v1"), _line("I", 1, 2, "w1"))
    _write(lake, SCD2, "LOAD00000001.csv", _line("I", 5, 1, "v1"))
    _run(lake, SCD2)
    hist = pl.from_arrow(DeltaTable(lake.uri("silver/people_history")).to_pyarrow_table())
    rows = (
        hist.sort("id", "__start_at")
        .select(
            "id",
            "__is_current",
            pl.col("__start_at").dt.second(),
            pl.col("__end_at").dt.second(),
        )
        .rows()
    )
    assert rows == [(1, True, 1, None), (2, False, 1, 5)]  # 1 reloaded unchanged: no version
    assert _state(lake, SCD2) == {1: ("v1", 1)}
    silver.apply_changes(lake, SCD2, full_refresh=True)
    again = pl.from_arrow(DeltaTable(lake.uri("silver/people_history")).to_pyarrow_table())
    assert again.sort("id", "__start_at").equals(hist.sort("id", "__start_at"))


def test_full_refresh_gives_the_identical_table(lake):
    _drop(lake, SPEC, "LOAD00000001.csv", *[_line("I", 1, i, f"n{i}") for i in range(1, 20)])
    _drop(
        lake,
        SPEC,
        "20240101-000002000.csv",
        _line("U", 2, 3, "x"),
        _line("D", 3, 4, "", ""),
        _line("U", 4, 30, "m", old=5),
    )
    before = silver.read_silver(lake, SPEC).drop("_source_file").sort("id")
    res = silver.apply_changes(lake, SPEC, full_refresh=True)
    assert res.full_refresh
    after = silver.read_silver(lake, SPEC).drop("_source_file").sort("id")
    assert after.equals(before)


def test_rows_breaking_rules_are_quarantined_and_the_rest_flows(lake):
    res = _drop(
        lake, SPEC, "LOAD00000001.csv", _line("I", 1, 1, "ok"), _line("I", 1, 2, "neg", qty="-5")
    )
    assert res.quarantined == 1 and _state(lake) == {1: ("ok", 1)}
    q = pl.from_arrow(DeltaTable(lake.uri("quarantine/things")).to_pyarrow_table())
    row = q.row(0, named=True)
    assert row["_stage"] == "silver" and row["_column"] == "qty" and row["_source_row"] == 3
    assert "greater_than_or_equal_to(0)" in row["_reason"] and "-5" in row["_reason"]


def test_scd2_history(lake):
    _drop(lake, SCD2, "LOAD00000001.csv", _line("I", 1, 1, "v1"), _line("I", 1, 2, "w1"))
    _drop(
        lake,
        SCD2,
        "20240101-000002000.csv",
        _line("U", 2, 1, "v2"),
        _line("U", 3, 1, "v3"),
        _line("D", 4, 2, "", ""),
    )
    hist = pl.from_arrow(DeltaTable(lake.uri("silver/people_history")).to_pyarrow_table()).sort(
        "id", "__start_at"
    )
    rows = hist.select(
        "id",
        "name",
        "__is_current",
        pl.col("__start_at").dt.second(),
        pl.col("__end_at").dt.second(),
    ).rows()
    assert rows == [
        (1, "v1", False, 1, 2),
        (1, "v2", False, 2, 3),
        (1, "v3", True, 3, None),
        (2, "w1", False, 1, 4),  # closed by the delete
    ]
    assert _state(lake, SCD2) == {1: ("v3", 1)}


def _history_rows(lake):
    hist = pl.from_arrow(DeltaTable(lake.uri("silver/people_history")).to_pyarrow_table())
    return (
        hist.select(
            "id",
            "name",
            "__is_current",
            pl.col("__start_at").dt.second(),
            pl.col("__end_at").dt.second(),
            pl.col(SEQUENCE).str.slice(17, 2).alias("seq_second"),
        )
        .sort("id", "__start_at")
        .rows()
    )


def test_a_reload_row_identical_to_the_current_version_opens_no_history_version(lake):
    """A resync copies every row again: one whose data equals the key's current version hands it
    its lineage (the current version is still silver's row) and opens no version; a changed one
    does. Reloaded in the same run as a change before it, or again later: the same history, and
    the rebuild gives it too."""
    _drop(lake, SCD2, "LOAD00000001.csv", *[_line("I", 1, i, f"n{i}") for i in (1, 2, 3)])
    _drop(lake, SCD2, "20240101-000002000.csv", _line("U", 2, 2, "n2b"))
    assert len(_history_rows(lake)) == 4
    # a reload at second 5: 1 and 2 unchanged, 3 changed (its change was not captured)
    _write(lake, SCD2, "LOAD00000001.csv", *[_line("I", 5, i, n) for i, n in
                                             ((1, "n1"), (2, "n2b"), (3, "n3x"))])  # fmt: skip
    _run(lake, SCD2)
    assert _history_rows(lake) == [
        (1, "n1", True, 1, None, "05"),  # opened at 1, with the reload's lineage
        (2, "n2", False, 1, 2, "01"),
        (2, "n2b", True, 2, None, "05"),
        (3, "n3", False, 1, 5, "01"),
        (3, "n3x", True, 5, None, "05"),
    ]
    # another resync, and a change with a reload in the same run
    _write(lake, SCD2, "20240101-000006000.csv", _line("U", 6, 1, "n1c"))
    _write(lake, SCD2, "LOAD00000001.csv", *[_line("I", 8, i, n) for i, n in
                                             ((1, "n1c"), (2, "n2b"), (3, "n3x"))])  # fmt: skip
    _run(lake, SCD2)
    rows = _history_rows(lake)
    assert rows == [
        (1, "n1", False, 1, 6, "05"),
        (1, "n1c", True, 6, None, "08"),
        (2, "n2", False, 1, 2, "01"),
        (2, "n2b", True, 2, None, "08"),
        (3, "n3", False, 1, 5, "01"),
        (3, "n3x", True, 5, None, "08"),
    ]
    current = silver.read_silver(lake, SCD2).sort("id")[SEQUENCE].to_list()
    assert [r[-1] for r in rows if r[2]] == [c[17:19] for c in current]
    silver.apply_changes(lake, SCD2, full_refresh=True)
    assert _history_rows(lake) == rows


def test_added_column_appears_and_incompatible_type_change_fails_clearly(lake):
    _drop(lake, SPEC, "LOAD00000001.csv", _line("I", 1, 1, "a"))
    lake.write_text(
        SPEC.raw_prefix + "20240101-000002000.csv",
        "Op,ts,id,name,qty,color,BI_id,seq\n"
        + f"U,2024-01-01 00:00:02.000000,1,a,1,red,1,{2:035d}\n",
    )
    bronze.ingest(lake, SPEC, SETTINGS)
    silver.apply_changes(lake, SPEC)
    assert silver.read_silver(lake, SPEC)["color"].to_list() == ["red"]
    # the registry now says qty is a string: bronze holds it, silver refuses with names and types
    changed = TableSpec(
        dataset="t",
        name="things",
        primary_key=("id",),
        columns=(COLUMNS[0], COLUMNS[1], Column("qty", "string")),
    )
    with pytest.raises(
        SchemaChangeError, match=r"silver/things: column 'qty' changed type from int32 to"
    ):
        check_types(
            changed,
            pl.DataFrame({"qty": ["1"]}).to_arrow().schema,
            pa.schema(DeltaTable(lake.uri("silver/things")).schema().to_arrow()),
        )


def test_pii_is_standardised_in_silver():
    from lakehouse.engine.pii import standardize_pii

    spec = TableSpec(
        dataset="t",
        name="p",
        primary_key=("id",),
        columns=(
            Column("id", "int"),
            Column("email", "string", pii="email"),
            Column("phone", "string", pii="phone"),
        ),
    )
    out = standardize_pii(
        pl.DataFrame(
            {
                "id": [1, 2],
                "email": [" Jane.Doe@Example.COM ", None],
                "phone": ["(555) 123-4567 x89", "+1-555-123-4567"],
            }
        ),
        spec,
    )
    assert out.rows() == [(1, "jane.doe@example.com", "5551234567x89"), (2, None, "+15551234567")]


@pytest.mark.parametrize(
    "raw, want",
    [("+1 (555) 123-4567 X89", "+15551234567x89"), ("1+555+123", "1555123"),
     (" +1+2+3", "+123"), ("++1", "+1"), ("x+1", "x1"), ("+", "+"), ("", ""), (None, None)],
)  # fmt: skip
def test_a_phone_keeps_only_its_leading_plus(raw, want):
    from lakehouse.engine.pii import standardize_pii

    spec = TableSpec(dataset="t", name="p", primary_key=("id",),
                     columns=(Column("id", "int"), Column("phone", "string", pii="phone")))  # fmt: skip
    frame = pl.DataFrame(
        {"id": [1, 2], "phone": [raw, "555.123"]}, schema_overrides={"phone": pl.String}
    )
    assert standardize_pii(frame, spec)["phone"].to_list() == [want, "555123"]


def test_sequence_text_is_the_sequence_of_those_lineage_values():
    from lakehouse.engine.core.order import sequence_commit_ts, sequence_text
    from lakehouse.engine.sequencing import sequence_expr

    arrived = datetime(2024, 2, 1, tzinfo=UTC)
    rows = [
        (datetime(2024, 1, 1, 0, 0, 5, 123456, tzinfo=UTC), "12", "load", "raw/x/LOAD1.csv", 2),
        (None, None, "cdc", "raw/x/20240101-000000000.csv", None),
    ]
    schema = {
        "_commit_ts": pl.Datetime("us", "UTC"),
        "_change_seq": pl.String,
        "_file_kind": pl.String,
        "_source_file": pl.String,
        "_source_row": pl.Int64,
    }
    frame = pl.DataFrame(rows, schema=schema, orient="row")
    unknown = frame.with_columns(pl.lit(None, pl.Datetime("us", "UTC")).alias("_ingested_at"))
    got = unknown.select(sequence_expr())["_sequence"].to_list()
    assert got == [sequence_text(*r) for r in rows]
    assert sequence_commit_ts(sequence_text(*rows[0])) == rows[0][0]
    assert sequence_commit_ts(sequence_text(*rows[1])) is None
    # no commit timestamp: placed at its arrival in bronze
    arrival = frame.with_columns(pl.lit(arrived, pl.Datetime("us", "UTC")).alias("_ingested_at"))
    got = arrival.select(sequence_expr())["_sequence"].to_list()
    assert got == [sequence_text(*rows[0]), sequence_text(arrived, *rows[1][1:])]


def _table(lake, key, sort=("id", "_sequence")) -> pl.DataFrame:
    return pl.from_arrow(DeltaTable(lake.uri(key)).to_pyarrow_table()).sort(*sort)


_SCD2_BATCH = (
    _line("U", 2, 1, "v2"),  # an update: key 1 stays current
    _line("D", 3, 2, "", ""),  # a delete: key 2 has no current version left
    _line("U", 4, 3, "x2"),  # changed, then deleted in the same batch
    _line("D", 5, 3, "", ""),
    _line("I", 6, 4, "y1"),  # inserted, then updated
    _line("U", 7, 4, "y2"),
)


def _scd2_lake(lake):
    _drop(lake, SCD2, "LOAD00000001.csv", *[_line("I", 1, i, f"v{i}") for i in (1, 2, 3)])
    return lake


def _assert_same_scd2(lake, reference, tombstones=True):
    tables = ["silver/people", "silver/people_history"]
    for key in tables + [tombstone_key(SCD2.name)] * tombstones:
        got, want = _table(lake, key), _table(reference, key)
        if key == tombstone_key(SCD2.name):
            got, want = got.drop("_deleted_at"), want.drop("_deleted_at")
        assert got.equals(want), f"{key}:\n{got}\n{want}"
    hist = _table(lake, "silver/people_history")
    assert hist.group_by("id", "_sequence").len()["len"].max() == 1
    current = hist.filter(pl.col("__is_current")).drop("__start_at", "__end_at", "__is_current")
    assert current.equals(_table(lake, "silver/people").select(current.columns))


class _Crash(BaseException):
    """The process dies (nothing may catch it)."""


@pytest.mark.parametrize("point", ["after the history", "after the tombstones"])
def test_a_crash_between_the_history_and_the_silver_commit_adds_no_version(
    tmp_path, monkeypatch, point
):
    reference = _scd2_lake(LocalLake(tmp_path / "reference"))
    _drop(reference, SCD2, "20240101-000002000.csv", *_SCD2_BATCH)
    lake = _scd2_lake(LocalLake(tmp_path / "lake"))
    write_tombstones = silver.write_tombstones

    def die(*args, **kwargs):
        if point == "after the tombstones":
            write_tombstones(*args, **kwargs)
        raise _Crash(point)

    lake.write_text(SCD2.raw_prefix + "20240101-000002000.csv", HEADER + "".join(_SCD2_BATCH))
    bronze.ingest(lake, SCD2, SETTINGS)
    monkeypatch.setattr(silver, "write_tombstones", die)
    for _ in range(2):  # dies twice at the same point: the history MERGE ran each time
        with pytest.raises(_Crash):
            silver.apply_changes(lake, SCD2)
    monkeypatch.setattr(silver, "write_tombstones", write_tombstones)
    again = silver.apply_changes(lake, SCD2)
    assert again.history_rows == 0  # every version was already there
    _assert_same_scd2(lake, reference)
    assert _state(lake, SCD2) == {1: ("v2", 1), 4: ("y2", 1)}
    silver.apply_changes(lake, SCD2, full_refresh=True)
    _assert_same_scd2(lake, reference)


@pytest.mark.parametrize("same_run", [False, True])
def test_a_cdc_file_delivered_again_under_a_later_name_is_the_same_changes(tmp_path, same_run):
    """A DMS task restarted from an older checkpoint re-sends changes in new files: the same
    commit timestamps and change sequences under a greater file name. Neither silver (its
    lineage included), its tombstones nor the SCD2 history change."""
    later = (_line("U", 8, 1, "v3"), _line("I", 9, 2, "w2"))  # key 2 comes back
    reference = _scd2_lake(LocalLake(tmp_path / "reference"))
    _drop(reference, SCD2, "20240101-000002000.csv", *_SCD2_BATCH)
    _drop(reference, SCD2, "20240101-000008000.csv", *later)
    lake = _scd2_lake(LocalLake(tmp_path / "lake"))
    _drop(lake, SCD2, "20240101-000002000.csv", *_SCD2_BATCH)
    if same_run:  # the original and its copy reach bronze in the same run
        _write(lake, SCD2, "20240101-000008000.csv", *later)
        _drop(lake, SCD2, "20240101-010008000.csv", *later)
    else:
        _drop(lake, SCD2, "20240101-000008000.csv", *later)
        again = _drop(lake, SCD2, "20240101-010008000.csv", *later)
        assert (again.history_rows, again.inserted, again.updated, again.deleted) == (0, 0, 0, 0)
        assert again.ignored == len(later)
    again = _drop(lake, SCD2, "20240101-010002000.csv", *_SCD2_BATCH)
    assert (again.history_rows, again.inserted, again.updated, again.deleted) == (0, 0, 0, 0)
    _assert_same_scd2(lake, reference)
    assert _state(lake, SCD2) == {1: ("v3", 1), 2: ("w2", 1), 4: ("y2", 1)}
    silver.apply_changes(lake, SCD2, full_refresh=True)  # bronze holds every change twice
    _assert_same_scd2(lake, reference, tombstones=False)  # a rebuild keeps the last deletes only


def test_the_identity_of_a_change_leaves_out_its_file_only_with_a_change_sequence():
    from lakehouse.engine.core.order import sequence_text
    from lakehouse.engine.sequencing import change_id_expr

    t = datetime(2024, 1, 1, tzinfo=UTC)
    resent = [
        sequence_text(t, "7", "cdc", "raw/x/20240101-000000000.csv", 3),
        sequence_text(t, "7", "cdc", "raw/x/20240101-010000000.csv", 1),
    ]
    others = [  # full-load rows, CDC without a change sequence: the whole position
        sequence_text(t, None, "load", "raw/x/LOAD00000001.csv", 1),
        sequence_text(t, None, "load", "raw/x/LOAD00000002.csv", 1),
        sequence_text(t, None, "cdc", "raw/x/20240101-000000000.csv", 1),
        sequence_text(t, None, "cdc", "raw/x/20240101-010000000.csv", 1),
    ]
    ids = pl.DataFrame({"_sequence": resent + others}).select(change_id_expr().alias("id"))["id"]
    assert ids[0] == ids[1] and resent[0] != resent[1]
    assert ids.to_list()[2:] == others


def _assert_history_current_is_silver(lake, spec=SCD2):
    hist = _table(lake, history_key(spec.name))
    assert hist.group_by("id", "_sequence").len()["len"].max() == 1, "a version twice"
    current = hist.filter(pl.col("__is_current")).drop("__start_at", "__end_at", "__is_current")
    assert current.equals(_table(lake, silver_key(spec.name)).select(current.columns))


def _versions_of(lake, id_, spec=SCD2) -> list[tuple]:
    hist = _table(lake, history_key(spec.name), sort=("id", "__start_at"))
    return (
        hist.filter(pl.col("id") == id_)
        .select(
            "name", "__is_current", pl.col("__start_at").dt.second(), pl.col("__end_at").dt.second()
        )
        .rows()
    )


def test_a_late_older_change_of_a_deleted_key_adds_no_history_version(lake):
    """Silver ignores a change older than the key's tombstone; the history ignores it too (no
    version, above all no current one): its current versions stay silver's rows."""
    _drop(lake, SCD2, "LOAD00000001.csv", _line("I", 1, 1, "v1"), _line("I", 1, 2, "w1"))
    _drop(lake, SCD2, "20240101-000005000.csv", _line("D", 5, 1, "", ""))
    late = _drop(
        lake,
        SCD2,
        "20240101-000003000.csv",
        _line("U", 3, 1, "zombie"),
        _line("U", 4, 2, "w2"),  # a key still live: its change applies as usual
    )
    assert _state(lake, SCD2) == {2: ("w2", 1)}
    assert (late.history_rows, late.ignored) == (1, 1)
    assert _versions_of(lake, 1) == [("v1", False, 1, 5)]
    _assert_history_current_is_silver(lake)
    # a rebuild orders every change: the late one is a version closed by the delete, not current
    silver.apply_changes(lake, SCD2, full_refresh=True)
    assert _state(lake, SCD2) == {2: ("w2", 1)}
    assert _versions_of(lake, 1) == [("v1", False, 1, 3), ("zombie", False, 3, 5)]
    _assert_history_current_is_silver(lake)


def test_a_late_change_ordered_before_the_latest_reload_adds_no_history_version(lake):
    _drop(lake, SCD2, "LOAD00000001.csv", _line("I", 1, 1, "v1"), _line("I", 1, 2, "w1"))
    _write(lake, SCD2, "LOAD00000001.csv", _line("I", 5, 1, "v1"))  # the reload: 2 is gone
    _run(lake, SCD2)
    before = _table(lake, history_key(SCD2.name))
    # committed before the reload began, arriving after it: a new key, the key the reload
    # deleted, and a key of the new baseline
    late = _drop(
        lake,
        SCD2,
        "20240101-000003000.csv",
        _line("I", 3, 9, "late"),
        _line("U", 3, 2, "w2"),
        _line("U", 3, 1, "v2"),
    )
    assert _state(lake, SCD2) == {1: ("v1", 1)}
    assert (late.history_rows, late.inserted, late.ignored) == (0, 0, 3)
    assert _table(lake, history_key(SCD2.name)).equals(before)
    _assert_history_current_is_silver(lake)
    silver.apply_changes(lake, SCD2, full_refresh=True)
    assert _state(lake, SCD2) == {1: ("v1", 1)}
    _assert_history_current_is_silver(lake)


def test_a_change_before_a_reload_arriving_with_it_is_a_closed_history_version(lake):
    """In the run that applies the reload, a change ordered before it is a version the reload
    closes (as a rebuild records it)."""
    _drop(lake, SCD2, "LOAD00000001.csv", _line("I", 1, 1, "v1"), _line("I", 1, 2, "w1"))
    _write(lake, SCD2, "LOAD00000001.csv", _line("I", 5, 1, "v1"))
    _write(lake, SCD2, "20240101-000003000.csv", _line("I", 3, 9, "late"))
    _run(lake, SCD2)
    assert _state(lake, SCD2) == {1: ("v1", 1)}
    assert _versions_of(lake, 9) == [("late", False, 3, 5)]
    _assert_history_current_is_silver(lake)
    hist = _table(lake, history_key(SCD2.name))
    silver.apply_changes(lake, SCD2, full_refresh=True)
    assert _table(lake, history_key(SCD2.name)).equals(hist)


def test_the_tombstone_filter_reads_the_batch_keys_and_matches_composite_keys_exactly(lake):
    """``filter_tombstoned`` reads only the tombstones of the batch's key values, over a
    tombstone table of several files: a change not newer than its key's tombstone is dropped,
    the delete at the tombstone's sequence kept, and a composite key whose columns each match
    some tombstone (but not together) kept."""
    from lakehouse.engine.tombstones import filter_tombstoned, write_tombstones

    spec = TableSpec(dataset="t", name="lines", primary_key=("region", "n"),
                     columns=(Column("region", "string", nullable=False),
                              Column("n", "int", nullable=False)))  # fmt: skip
    now = datetime(2024, 1, 2, tzinfo=UTC)
    # four commits; the last replaces r0's tombstones with newer ones (a MERGE that updates,
    # whose files delta-rs writes with string views)
    for part, second in ((0, 9), (1, 11), (2, 12), (0, 10)):
        deletes = pl.DataFrame({
            "region": [f"r{part}"] * 1000 + ["r3"], "n": [*range(1000), part],
            "_op": ["D"] * 1001,
            SEQUENCE: [f"2024-01-01T00:00:{second:02d}.000000|{i:035d}" for i in range(1001)],
        }, schema_overrides={"n": pl.Int32})  # fmt: skip
        write_tombstones(lake, spec, deletes, now)
        now += timedelta(days=1)
    batch = pl.DataFrame({
        "region": ["r0", "r1", "r1", "r2", "r9"],
        "n": [5, 7, 7, 3000, 5],
        "_op": ["U", "U", "D", "I", "I"],
        SEQUENCE: ["2024-01-01T00:00:09.500000|" + "0" * 35,  # older than r0/5's new delete
                   "2024-01-01T00:00:12.000000|" + "1" * 35,  # newer than r1/7's: kept
                   "2024-01-01T00:00:11.000000|" + f"{7:035d}",  # r1/7's delete itself: kept
                   "2024-01-01T00:00:00.000000|" + "0" * 35,  # (r2, 3000): no tombstone
                   "2024-01-01T00:00:00.000000|" + "0" * 35],  # (r9, 5): n=5 alone matches
    }, schema_overrides={"n": pl.Int32})  # fmt: skip
    kept, dropped = filter_tombstoned(lake, spec, batch)
    assert dropped == 1
    assert sorted(kept.select("region", "n", "_op").rows()) == [
        ("r1", 7, "D"), ("r1", 7, "U"), ("r2", 3000, "I"), ("r9", 5, "I"),
    ]  # fmt: skip


def test_a_big_backlog_is_applied_in_several_commits_with_the_same_result(tmp_path):
    """``batch_rows`` bounds the bronze rows of one silver commit (whole bronze commits): a
    backlog of five bronze commits is applied in three, each recording the bronze version it
    reached, and silver ends as one commit would leave it."""
    lakes = {n: LocalLake(tmp_path / n) for n in ("batched", "whole")}
    files = [
        ("LOAD00000001.csv", [_line("I", 1, 1, "a"), _line("I", 1, 2, "b")]),
        ("LOAD00000002.csv", [_line("I", 1, 3, "c"), _line("I", 1, 4, "d")]),
        ("20240101-000002000.csv", [_line("U", 2, 1, "a2"), _line("D", 2, 2, "", "")]),
        ("20240101-000003000.csv", [_line("I", 3, 5, "e")]),
        ("20240101-000004000.csv", [_line("U", 4, 5, "e2"), _line("U", 4, 3, "c2")]),
    ]
    for lake in lakes.values():
        for name, lines in files:
            _write(lake, SPEC, name, *lines)
        # one bronze commit per file
        assert bronze.ingest(lake, SPEC, SETTINGS, batch_bytes=1).version == 4
    seen = []
    res = silver.apply_changes(lakes["batched"], SPEC, batch_rows=4, progress=seen.append)
    whole = silver.apply_changes(lakes["whole"], SPEC)
    commits = DeltaTable(lakes["batched"].uri(silver_key(SPEC.name))).history()
    assert sorted(int(c[BRONZE_VERSION_KEY]) for c in commits) == [1, 3, 4]  # 4 + 3 + 2 rows
    assert [r.bronze_version for r in seen] == [1, 3]
    assert (res.changes, res.bronze_version, res.version) == (9, 4, 2)
    assert (res.inserted + res.updated + res.deleted) == 5 + 3 + 1  # across the three commits
    assert _state(lakes["batched"]) == _state(lakes["whole"]) == {
        1: ("a2", 1), 3: ("c2", 1), 4: ("d", 1), 5: ("e2", 1)
    }  # fmt: skip
    assert whole.changes == 9 and whole.version == 0
    # a single bronze commit bigger than the batch is applied whole
    _write(lakes["batched"], SPEC, "20240101-000005000.csv", *[_line("I", 5, i) for i in (7, 8)])
    bronze.ingest(lakes["batched"], SPEC, SETTINGS)
    assert silver.apply_changes(lakes["batched"], SPEC, batch_rows=1).inserted == 2


def test_a_reload_cut_by_a_batch_deletes_only_the_keys_absent_from_all_its_files(lake):
    """A reload's LOAD files in two bronze commits applied in two silver commits: the keys of the
    second file are in the baseline of the first commit too, so they are neither deleted nor
    closed in the history; only the key absent from both files is."""
    _write(lake, SCD2, "LOAD00000001.csv", *[_line("I", 1, i, "v1") for i in (1, 2, 3, 4)])
    _run(lake, SCD2)
    _write(lake, SCD2, "LOAD00000001.csv", _line("I", 5, 1, "v2"), _line("I", 5, 2, "v2"))
    _write(lake, SCD2, "LOAD00000002.csv", _line("I", 6, 3, "v2"))  # 4 is gone
    bronze.ingest(lake, SCD2, SETTINGS, batch_bytes=1)
    res = silver.apply_changes(lake, SCD2, batch_rows=2)
    assert res.reload_deletes == 1 and res.deleted == 1
    assert _state(lake, SCD2) == {1: ("v2", 1), 2: ("v2", 1), 3: ("v2", 1)}
    assert _versions_of(lake, 3) == [("v1", False, 1, 6), ("v2", True, 6, None)]
    assert _versions_of(lake, 4) == [("v1", False, 1, 5)]
    _assert_history_current_is_silver(lake)
    _assert_full_refresh_identical(lake, SCD2)


def test_the_merge_streams_its_source_unless_the_key_range_prunes_half_the_files(tmp_path):
    """``silver_writes.prunes`` chooses delta-rs's execution: files pruned by the batch's key
    range (a small batch of recent keys) or the source streamed (keys over the whole table)."""
    from deltalake import DeltaTable, write_deltalake

    from lakehouse.engine.silver_writes import prunes

    uri = str(tmp_path / "t")
    for start in range(0, 400, 100):  # four files: keys 0-99, 100-199, ...
        write_deltalake(uri, pa.table({"id": list(range(start, start + 100))}), mode="append")
    dt = DeltaTable(uri)
    assert prunes(dt, pl.DataFrame({"id": [310, 399, 420]}), "id")  # one file of four
    assert prunes(dt, pl.DataFrame({"id": [150, 250]}), "id")  # two of four
    assert not prunes(dt, pl.DataFrame({"id": [5, 250, 390]}), "id")  # all four
    assert prunes(dt, pl.DataFrame({"id": [1, 390]}).clear(), "id")  # nothing to merge


@pytest.mark.parametrize(
    "sequence, first, second",
    [
        ("DDMMYYYY", "31/01/2024/20240131-120000000.csv", "01/02/2024/20240201-120000000.csv"),
        ("MMYYYYDD", "12/2023/31/20231231-120000000.csv", "01/2024/01/20240101-120000000.csv"),
    ],
)
def test_date_partitioned_cdc_files_without_commit_timestamps_apply_in_file_name_order(
    lake, sequence, first, second
):
    """No ``TimestampColumnName`` (AWS's default), date-partition folders whose order is not
    the dates' (DatePartitionSequence DDMMYYYY, MMYYYYDD across a year end), files ingested
    together: the later DMS file name wins, not the later folder."""
    plain = DmsS3Settings(DatePartitionEnabled=True, DatePartitionSequence=sequence)
    spec = TableSpec(dataset="t", name="parts", columns=COLUMNS, primary_key=("id",))
    folder = first.rsplit("/", 1)[0] + "/"
    lake.write_text(spec.raw_prefix + folder + "LOAD00000001.csv", "1,load,1\n")
    lake.write_text(spec.raw_prefix + first, "U,1,older,1\n")
    lake.write_text(spec.raw_prefix + second, "U,1,newer,1\n")
    bronze.ingest(lake, spec, plain)
    silver.apply_changes(lake, spec)
    assert _state(lake, spec) == {1: ("newer", 1)}
    _assert_full_refresh_identical(lake, spec)
