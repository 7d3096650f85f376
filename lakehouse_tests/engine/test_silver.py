"""Silver apply: the named cases (besides the property test): SCD2, evolution, reload, GC, errors."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import polars as pl
import pyarrow as pa
import pytest
from deltalake import DeltaTable

from lakehouse.engine import bronze, silver
from lakehouse.registry import Column, TableSpec
from lakehouse.replication.dms_settings import DmsS3Settings
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


@pytest.fixture
def lake(tmp_path):
    return LocalLake(tmp_path / "lake")


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
    assert history[silver.BRONZE_VERSION_KEY] == str(r2.bronze_version)


def test_late_older_update_does_not_resurrect_a_deleted_row(lake):
    _drop(lake, SPEC, "LOAD00000001.csv", _line("I", 1, 1, "a"))
    _drop(lake, SPEC, "20240101-000005000.csv", _line("D", 5, 1, "", ""))
    late = _drop(lake, SPEC, "20240101-000003000.csv", _line("U", 3, 1, "zombie"))
    assert _state(lake) == {}
    assert late.ignored == 1
    # after the retention period the tombstone is collected
    removed = silver.gc_tombstones(
        lake, SPEC, timedelta(days=7), now=datetime.now(UTC) + timedelta(days=8)
    )
    assert removed == 1


def test_primary_key_update_moves_the_row(lake):
    _drop(lake, SPEC, "LOAD00000001.csv", _line("I", 1, 1, "a"), _line("I", 1, 2, "b"))
    _drop(lake, SPEC, "20240101-000002000.csv", _line("U", 2, 10, "a", old=1))
    assert _state(lake) == {10: ("a", 1), 2: ("b", 1)}


def test_reload_replaces_the_baseline_without_losing_later_changes(lake):
    _drop(lake, SPEC, "LOAD00000001.csv", _line("I", 1, 1, "a"), _line("I", 1, 2, "b"))
    _drop(lake, SPEC, "20240101-000002000.csv", _line("U", 2, 1, "a2"))
    # DMS reload-target at second 5: a new baseline (row 2 gone, row 3 new) ...
    lake.write_text(
        SPEC.raw_prefix + "LOAD00000001.csv",
        HEADER + _line("I", 5, 1, "a2", seq=0) + _line("I", 5, 3, "c", seq=0),
    )
    # ... and a change committed after it
    lake.write_text(SPEC.raw_prefix + "20240101-000006000.csv", HEADER + _line("U", 6, 3, "c2"))
    bronze.ingest(lake, SPEC, SETTINGS)
    silver.apply_changes(lake, SPEC)
    state = _state(lake)
    assert state[1] == ("a2", 1) and state[3] == ("c2", 1)
    # a reload is not a delete: rows absent from the new baseline are found by reconciliation
    assert 2 in state


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
        silver.SchemaChangeError, match=r"silver/things: column 'qty' changed type from int32 to"
    ):
        silver._check_types(
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
