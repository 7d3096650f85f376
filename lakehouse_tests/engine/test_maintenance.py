"""Maintenance compacts small files without changing data, and silver keeps applying after it."""

from __future__ import annotations

import polars as pl
from deltalake import DeltaTable

from lakehouse.engine import bronze, silver
from lakehouse.engine.maintenance import maintain, maintain_dataset
from lakehouse.registry import DatasetSpec
from lakehouse.storage import LocalLake
from lakehouse_tests.engine.test_silver import HEADER, SETTINGS, SPEC, _line


def test_compaction_keeps_data_and_silver_keeps_working(tmp_path):
    lake = LocalLake(tmp_path)
    for i in range(1, 6):
        lake.write_text(
            SPEC.raw_prefix + f"20240101-00000{i}000.csv", HEADER + _line("I", i, i, f"n{i}")
        )
        bronze.ingest(lake, SPEC, SETTINGS)
        silver.apply_changes(lake, SPEC)
    before = silver.read_silver(lake, SPEC).sort("id")
    files_before = len(DeltaTable(lake.uri("silver/things")).file_uris())
    res = maintain(lake, "silver/things", vacuum_hours=0)
    assert (
        files_before >= 5
        and res.files_removed_by_compaction == files_before
        and res.files_added_by_compaction == 1
    )
    assert len(DeltaTable(lake.uri("silver/things")).file_uris()) == 1
    assert res.files_vacuumed == files_before  # the replaced small files are gone from storage
    assert silver.read_silver(lake, SPEC).sort("id").equals(before)
    lake.write_text(
        SPEC.raw_prefix + "20240101-000009000.csv", HEADER + _line("U", 9, 1, "changed")
    )
    bronze.ingest(lake, SPEC, SETTINGS)
    r = silver.apply_changes(lake, SPEC)  # the bronze version is found past the OPTIMIZE commit
    assert r.changes == 1 and not r.full_refresh
    assert silver.read_silver(lake, SPEC).filter(pl.col("id") == 1)["name"].to_list() == ["changed"]
    results = maintain_dataset(lake, DatasetSpec("t", (SPEC,)))
    assert [r.key for r in results] == ["silver/things"]


def test_a_missing_table_is_skipped_by_the_dataset_and_an_error_alone(tmp_path):
    import pytest

    lake = LocalLake(tmp_path)
    assert maintain_dataset(lake, DatasetSpec("t", (SPEC,))) == []
    with pytest.raises(FileNotFoundError, match="silver/things"):
        maintain(lake, "silver/things")


def test_the_dataset_maintenance_policy_sets_both_retentions(tmp_path, monkeypatch):
    from datetime import timedelta

    from lakehouse.engine import maintenance, tombstones
    from lakehouse.registry import MaintenancePolicy

    calls = []
    monkeypatch.setattr(
        maintenance, "open_table", lambda lake, key: key if key == "silver/things" else None
    )
    monkeypatch.setattr(
        maintenance, "maintain", lambda lake, key, vacuum_hours: calls.append((key, vacuum_hours))
    )
    monkeypatch.setattr(tombstones, "gc_tombstones", lambda lake, t, r: calls.append((t.name, r)))
    lake = LocalLake(tmp_path)
    maintenance.maintain_dataset(lake, DatasetSpec("t", (SPEC,)))
    assert calls == [("silver/things", 168), ("things", timedelta(days=7))]
    calls.clear()
    policy = MaintenancePolicy(
        vacuum_retention=timedelta(hours=48), tombstone_retention=timedelta(days=1)
    )
    maintenance.maintain_dataset(lake, DatasetSpec("t", (SPEC,), maintenance=policy))
    assert calls == [("silver/things", 48), ("things", timedelta(days=1))]
