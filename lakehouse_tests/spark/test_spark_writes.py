"""The Spark engine's writes: delta-spark MERGE, Hudi upserts, the incremental job ``apply_table``
(a DMS reload included).

They need the Delta and Hudi JARs (Maven), which cannot be downloaded here: every test is marked
``spark_jars`` and skipped with that reason unless the JVM can load ``io.delta.tables.DeltaTable``
(and ``org.apache.hudi.DataSourceWriteOptions`` for Hudi); see ``conftest.py`` for how to provide
them. Where they run, the tables the Spark engine writes equal the local engine's tables.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import polars as pl
import pytest

from lakehouse.declarations import all_datasets
from lakehouse.dms.settings import DmsS3Settings
from lakehouse.engine import bronze, silver
from lakehouse.engine.spark.silver import apply_table
from lakehouse.engine.spark.tables import LakeLocations
from lakehouse.registry import Column, TableSpec
from lakehouse.storage import LocalLake
from lakehouse_tests.spark.helpers import to_polars

pytestmark = [pytest.mark.spark_jars, pytest.mark.integration, pytest.mark.xdist_group("spark")]

SETTINGS = DmsS3Settings(
    AddColumnName=True, TimestampColumnName="ts", before_image_key=True, change_seq_column="seq"
)
COLUMNS = (
    Column("id", "int", nullable=False),
    Column("name", "string"),
    Column("qty", "int", checks={"ge": 0}),
)
SPEC = TableSpec(dataset="t", name="things", columns=COLUMNS, primary_key=("id",))
HEADER = "Op,ts,id,name,qty,BI_id,seq\n"
NOW = datetime(2024, 3, 1, tzinfo=UTC)
TABLES = [(d.name, t.name) for d in all_datasets() for t in d.tables if t.primary_key]


def _line(op, second, id_, name="x", qty="1", old=None):
    return (
        f"{op},2024-01-01 00:00:{second:02d}.000000,{id_},{name},{qty},{old or id_},{second:035d}\n"
    )


DROPS = [
    ("LOAD00000001.csv", [_line("I", 1, 1, "a"), _line("I", 1, 2, "b"), _line("I", 1, 3, "c")]),
    (
        "20240101-000005000.csv",
        [
            _line("U", 5, 1, "a2"),
            _line("D", 6, 2, "", ""),
            _line("U", 7, 30, "c", old=3),
            _line("I", 8, 4, "bad", "-5"),
        ],
    ),
    ("20240101-000003000.csv", [_line("U", 3, 2, "zombie")]),  # late, older than the delete
    # a DMS reload at second 9 (the same LOAD name: the next load generation): 30 is not in the
    # new baseline and goes, 4 arrives; then a change after the reload and one ordered before it
    ("LOAD00000001.csv", [_line("I", 9, 1, "a2"), _line("I", 9, 4, "d")]),
    ("20240101-000010000.csv", [_line("U", 10, 4, "d2")]),
    ("20240101-000004000.csv", [_line("I", 4, 50, "superseded")]),
]


def _read_table(spark, uri: str, fmt: str) -> pl.DataFrame:
    frame = spark.read.format(fmt).load(uri)
    return to_polars(frame.drop(*[c for c in frame.columns if c.startswith("_hoodie")]))


def _run(spark, spec, tmp_path, fmt: str):
    """The three drops through both engines, drop by drop; compare after each."""
    local, sparkside = LocalLake(tmp_path / "local"), LocalLake(tmp_path / "spark")
    locations = LakeLocations.single(sparkside.root)
    for i, (name, lines) in enumerate(DROPS):
        for lake in (local, sparkside):  # bronze runs at distinct times, as in production
            lake.write_text(spec.raw_prefix + name, HEADER + "".join(lines))
            bronze.ingest(lake, spec, SETTINGS, now=NOW + timedelta(minutes=i))
        expected = silver.apply_changes(local, spec, now=NOW)
        got = apply_table(spark, spec, locations, now=NOW)
        assert (got.inserted, got.updated, got.deleted, got.quarantined) == (
            expected.inserted,
            expected.updated,
            expected.deleted,
            expected.quarantined,
        ), name
        assert (got.reload_generation, got.reload_deletes) == (
            expected.reload_generation,
            expected.reload_deletes,
        ), name
        table = _read_table(spark, locations.uri(f"silver/{spec.name}"), fmt)
        want = silver.read_silver(local, spec)
        assert table.select(want.columns).sort("id").equals(want.sort("id")), name
    again = apply_table(spark, spec, locations, now=NOW)
    assert again.changes == 0  # the checkpoint holds the bronze version applied
    tombs = _read_table(spark, locations.uri(f"_state/tombstones/{spec.name}"), "delta")
    assert (
        tombs.select("id", "_sequence")
        .sort("id")
        .equals(
            pl.from_arrow(
                __import__("deltalake")
                .DeltaTable(local.uri(f"_state/tombstones/{spec.name}"))
                .to_pyarrow_table()
            )
            .select("id", "_sequence")
            .sort("id")
        )
    )
    rebuilt = apply_table(spark, spec, locations, full_refresh=True, now=NOW)
    assert rebuilt.full_refresh
    table = _read_table(spark, locations.uri(f"silver/{spec.name}"), fmt)
    assert table.select(want.columns).sort("id").equals(silver.read_silver(local, spec).sort("id"))
    return locations, local


def test_delta_merge_equals_the_local_engine(delta_spark, tmp_path):
    _run(delta_spark, SPEC, tmp_path, "delta")


def test_scd2_history_merge_equals_the_local_engine(delta_spark, tmp_path):
    spec = replace(SPEC, name="people", scd_type=2)
    locations, local = _run(delta_spark, spec, tmp_path, "delta")
    hist = _read_table(delta_spark, locations.uri("silver/people_history"), "delta")
    want = silver.read_silver(local, replace(spec, name="people_history"))
    assert hist.select(want.columns).sort("id", "_sequence").equals(want.sort("id", "_sequence"))


def test_hudi_upsert_equals_the_local_engine(hudi_spark, tmp_path):
    _run(hudi_spark, replace(SPEC, name="orders", table_format="hudi"), tmp_path, "hudi")


@pytest.mark.parametrize(("dataset", "table"), TABLES, ids=[f"{d}.{t}" for d, t in TABLES])
def test_apply_table_on_the_scenario_bronze(hudi_spark, scenarios, tmp_path, dataset, table):
    """Every registry table: the Spark job over the scenario's bronze (Delta written by delta-rs)
    gives the local engine's final silver table (Hudi for the tables the registry declares so)."""
    scenario = scenarios(dataset)
    spec = scenario.dataset.table(table)
    locations = LakeLocations(
        {"bronze": scenario.root, "silver": str(tmp_path), "gold": str(tmp_path)}
    )
    result = apply_table(hudi_spark, spec, locations)
    final = scenario.rounds[-1][table].state
    got = _read_table(hudi_spark, locations.uri(f"silver/{table}"), spec.table_format)
    assert result.changes > 0
    assert (
        got.select(final.columns)
        .sort(list(spec.primary_key))
        .equals(final.sort(list(spec.primary_key)))
    )


def test_a_keyless_reload_replaces_the_table_as_in_the_local_engine(delta_spark, tmp_path):
    """A keyless table (inserts only): a reload replaces its baseline, an insert ordered before
    the reload arriving late is superseded; run by run as the local engine, and rebuilt."""
    spec = replace(SPEC, name="audit", primary_key=())
    drops = [
        ("LOAD00000001.csv", [_line("I", 1, 1, "a"), _line("I", 1, 2, "b")]),
        ("20240101-000002000.csv", [_line("I", 2, 3, "c")]),
        ("LOAD00000001.csv", [_line("I", 5, 1, "a"), _line("I", 5, 3, "c")]),
        ("20240101-000006000.csv", [_line("I", 6, 4, "d")]),
        ("20240101-000002001.csv", [_line("I", 2, 3, "c")]),  # replayed: before the reload
    ]
    local, sparkside = LocalLake(tmp_path / "local"), LocalLake(tmp_path / "spark")
    locations = LakeLocations.single(sparkside.root)
    uri = locations.uri(f"silver/{spec.name}")
    for i, (name, lines) in enumerate(drops):
        for lake in (local, sparkside):
            lake.write_text(spec.raw_prefix + name, HEADER + "".join(lines))
            bronze.ingest(lake, spec, SETTINGS, now=NOW + timedelta(minutes=i))
        expected = silver.apply_changes(local, spec, now=NOW)
        got = apply_table(delta_spark, spec, locations, now=NOW)
        assert (got.inserted, got.reload_generation, got.reload_deletes) == (
            expected.inserted,
            expected.reload_generation,
            expected.reload_deletes,
        ), name
        want = silver.read_silver(local, spec)
        table = _read_table(delta_spark, uri, "delta")
        assert table.select(want.columns).sort("id").equals(want.sort("id")), name
    assert sorted(want["id"].to_list()) == [1, 3, 4]
    apply_table(delta_spark, spec, locations, full_refresh=True, now=NOW)
    table = _read_table(delta_spark, uri, "delta")
    assert table.select(want.columns).sort("id").equals(want.sort("id"))
