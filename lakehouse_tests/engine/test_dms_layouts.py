"""A DMS task whose table mappings gain rules mid-stream: every file reaches bronze and silver.

The stream is written by the project's writer (``layout_rows`` + ``encode_dms_file``) as AWS
DMS lays it out: before the new rules, data columns only; after them, data columns, the change
sequence (add-column ``$AR_H_CHANGE_SEQ``), then ``before_<key>`` (add-before-image-columns).
"""

from __future__ import annotations

import json

import polars as pl
import pytest
from deltalake import DeltaTable

from lakehouse.dms.settings import DmsS3Settings
from lakehouse.dms.table_mappings import known_layouts
from lakehouse.dms.writer import encode_dms_file, layout_rows
from lakehouse.engine import bronze, silver
from lakehouse.engine.core.keys import bronze_key, quarantine_key
from lakehouse.engine.delta import open_table
from lakehouse.engine.sequencing import explode_key_changes
from lakehouse.registry import Column, TableSpec
from lakehouse_tests.dms.test_table_mappings import BEFORE_RULE, SELECT_ALL, SEQ_RULE

COLUMNS = (Column("id", "int", nullable=False), Column("name", "string"), Column("qty", "int"))
SPEC = TableSpec(dataset="t", name="things", columns=COLUMNS, primary_key=("id",))
SELECT = SELECT_ALL
ADDED_RULES = [SEQ_RULE, BEFORE_RULE]  # add-column $AR_H_CHANGE_SEQ, before-images "before_"
FIRST = {"rules": [SELECT]}
LATER = {"rules": [SELECT, *ADDED_RULES]}


def _layouts():
    return known_layouts(
        SPEC.schema, SPEC.name, SPEC.column_names, SPEC.primary_key, mappings=[FIRST, LATER]
    )


def _write(lake, name, layout, settings, rows):
    """rows: (op, second, id, name, qty, change seq or None, before id or None)"""
    frame = pl.DataFrame(
        {
            "id": [r[2] for r in rows],
            "name": [r[3] for r in rows],
            "qty": [r[4] for r in rows],
        },
        schema={c: pl.String for c in SPEC.column_names},
    )
    out = layout_rows(
        frame,
        layout,
        settings,
        op=[r[0] for r in rows],
        ts=[f"2024-01-01 00:00:{r[1]:02d}.000000" for r in rows],
        change_seq=[None if r[5] is None else f"{r[5]:035d}" for r in rows],
        before={"id": pl.Series([r[6] for r in rows], dtype=pl.String)},
    )
    data = encode_dms_file(out, settings, full_load=name.startswith("LOAD"))
    lake.write_bytes(SPEC.raw_prefix + name, data)
    return data


def _state(lake):
    return {
        r["id"]: (r["name"], r["qty"]) for r in silver.read_silver(lake, SPEC).iter_rows(named=True)
    }


@pytest.mark.parametrize("header", [False, True], ids=["no-header", "AddColumnName"])
def test_rules_added_mid_stream_reach_silver_with_nothing_quarantined(lake, header):
    settings = DmsS3Settings(TimestampColumnName="ts", AddColumnName=header)
    before, after = _layouts()
    assert [a.name for a in after.added] == ["_seq", "before_id"]
    # before the rules: full load (no Op: AWS default) and a CDC file, data columns only
    _write(lake, "LOAD00000001.csv", before, settings, [
        ("I", 0, "1", "a", "1", None, None),
        ("I", 0, "2", "b", "2", None, None),
        ("I", 0, "3", "c", "3", None, None),
    ])  # fmt: skip
    first = _write(lake, "20240101-000001000.csv", before, settings, [
        ("U", 1, "1", "a1", "10", None, None),
        ("I", 1, "4", "d", "4", None, None),
    ])  # fmt: skip
    assert first.splitlines()[-1] == b"I,2024-01-01 00:00:01.000000,4,d,4"
    r1 = bronze.ingest(lake, SPEC, settings, layouts=_layouts())
    assert (r1.quarantined, r1.errors, r1.rows) == (0, [], 5)
    silver.apply_changes(lake, SPEC)
    assert _state(lake) == {1: ("a1", 10), 2: ("b", 2), 3: ("c", 3), 4: ("d", 4)}
    # the task gains the rules: data, change sequence, before-image of the key
    second = _write(lake, "20240101-000002000.csv", after, settings, [
        # equal commit timestamps: the change sequence orders them, not the row position
        ("U", 2, "2", "b-late", "20", 2, "2"),
        ("U", 2, "2", "b-early", "21", 1, "2"),
        # a key update arrives as U with the new key; the before-image has the old one
        ("U", 3, "5", "c2", "30", 3, "3"),
        # a delete carries only the key
        ("D", 3, "4", None, None, 4, "4"),
    ])  # fmt: skip
    lines = second.splitlines()
    if header:
        assert lines[0] == b"Op,ts,id,name,qty,_seq,before_id"
    assert lines[-1] == b"D,2024-01-01 00:00:03.000000,4,,," + b"0" * 34 + b"4,4"
    r2 = bronze.ingest(lake, SPEC, settings, layouts=_layouts())
    assert (r2.quarantined, r2.errors, r2.rows) == (0, [], 4)
    assert open_table(lake, quarantine_key(SPEC.name)) is None
    lineage = (
        pl.from_arrow(DeltaTable(lake.uri(bronze_key(SPEC.name))).to_pyarrow_table())
        .filter(pl.col("_source_file").str.ends_with("000002000.csv"))
        .sort("_source_row")
        .select("_op", "id", "_change_seq", "_before_key")
    )
    assert lineage.rows() == [
        ("U", 2, f"{2:035d}", json.dumps({"id": "2"}, separators=(",", ":"))),
        ("U", 2, f"{1:035d}", '{"id":"2"}'),
        ("U", 5, f"{3:035d}", '{"id":"3"}'),
        ("D", 4, f"{4:035d}", '{"id":"4"}'),
    ]
    assert "before_id" not in lineage.columns and "_seq" not in lineage.columns
    silver.apply_changes(lake, SPEC)
    assert _state(lake) == {1: ("a1", 10), 2: ("b-late", 20), 5: ("c2", 30)}
    # rebuilt from bronze, the same
    silver.apply_changes(lake, SPEC, full_refresh=True)
    assert _state(lake) == {1: ("a1", 10), 2: ("b-late", 20), 5: ("c2", 30)}


def test_a_file_of_no_known_layout_is_quarantined_whole(lake):
    settings = DmsS3Settings(TimestampColumnName="ts")
    before, _after = _layouts()
    _write(lake, "LOAD00000001.csv", before, settings, [("I", 0, "1", "a", "1", None, None)])
    lake.write_bytes(SPEC.raw_prefix + "20240101-000001000.csv", b"U,2024-01-01 00:00:01,1,a\n")
    r = bronze.ingest(lake, SPEC, settings, layouts=_layouts())
    assert r.quarantined == 1 and r.rows == 1
    q = pl.from_arrow(DeltaTable(lake.uri(quarantine_key(SPEC.name))).to_pyarrow_table())
    row = q.row(0, named=True)
    assert row["_source_file"] == SPEC.raw_prefix + "20240101-000001000.csv"
    assert row["_source_row"] is None
    assert "[4] fields, which matches no known layout" in row["_reason"]


def test_a_before_image_key_that_does_not_cast_is_quarantined_and_silver_applies(lake):
    settings = DmsS3Settings(TimestampColumnName="ts", AddColumnName=True)
    _before, after = _layouts()
    _write(lake, "20240101-000001000.csv", after, settings, [
        ("I", 1, "1", "a", "1", 1, "1"),
        ("U", 2, "1", "a2", "2", 2, "x1"),  # the before-image is no int
        ("I", 2, "2", "b", "3", 3, "2"),
    ])  # fmt: skip
    r = bronze.ingest(lake, SPEC, settings, layouts=_layouts())
    assert (r.quarantined, r.rows) == (1, 2)
    q = pl.from_arrow(DeltaTable(lake.uri(quarantine_key(SPEC.name))).to_pyarrow_table())
    row = q.row(0, named=True)
    assert (row["_source_file"], row["_source_row"], row["_column"]) == (
        SPEC.raw_prefix + "20240101-000001000.csv",
        3,  # header is record 1
        "before_id",
    )
    assert row["_reason"].startswith("before-image column 'before_id' of key column 'id': ")
    assert "'x1'" in row["_reason"]
    assert json.loads(row["_raw"])["before_id"] == "x1"
    silver.apply_changes(lake, SPEC)
    assert _state(lake) == {1: ("a", 1), 2: ("b", 3)}


def test_explode_key_changes_takes_an_uncastable_before_image_for_no_key_change():
    changes = pl.DataFrame(
        {
            "id": [1, 5, 7],
            "name": ["a", "b", "c"],
            "qty": [1, 2, 3],
            "_op": ["U", "U", "U"],
            "_before_key": ['{"id":"x1"}', '{"id":"3"}', None],
        },
        schema_overrides={"id": pl.Int32, "qty": pl.Int32},
    )
    got = explode_key_changes(changes, SPEC)
    assert got.select("id", "name", "_op").rows() == [
        (1, "a", "U"),
        (5, "b", "U"),
        (7, "c", "U"),
        (3, None, "D"),  # only the castable key change is split
    ]
