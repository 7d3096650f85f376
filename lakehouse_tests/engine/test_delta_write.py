"""delta_write: Polars-written files committed by delta-rs leave the table write_deltalake would."""

from __future__ import annotations

import json
import os
import time
from datetime import UTC, date, datetime
from decimal import Decimal

import polars as pl
import pytest
from deltalake import CommitProperties, DeltaTable, write_deltalake
from polars.testing import assert_frame_equal

from lakehouse.engine import delta_write
from lakehouse.engine.delta_write import STAGING, write_frame
from lakehouse.storage.lake import LocalLake, S3Lake


@pytest.fixture
def lake(tmp_path):
    return LocalLake(tmp_path / "lake")


def _frame(first: int) -> pl.DataFrame:
    """Every plain type, with nulls, NaN, infinity, long and non-ASCII text."""
    return pl.DataFrame(
        {
            "id": [first, first + 1, first + 2],
            "i8": pl.Series([1, None, -3], dtype=pl.Int8),
            "i16": pl.Series([300, 2, None], dtype=pl.Int16),
            "i32": pl.Series([None, 70000, 3], dtype=pl.Int32),
            "f32": pl.Series([1.5, None, -2.0], dtype=pl.Float32),
            "f64": [float("nan"), float("inf"), 0.25],
            "flag": [True, None, False],
            "name": ["é" * 40, "x" * 2000, None],
            "blob": [b"\x00\x01", None, b"z"],
            "day": [date(2024, 2, 29), None, date(1970, 1, 1)],
            "at": [datetime(2024, 1, 1, 1, 2, 3, 456789, tzinfo=UTC), None, datetime(1999, 12, 31, tzinfo=UTC)],
            "local": [datetime(2024, 1, 1, 1, 2, 3, 456789), datetime(2000, 1, 1), None],
            "amount": [Decimal("1.50"), Decimal("-99999.99"), None],
            "empty": pl.Series([None, None, None], dtype=pl.String),
        },
        schema_overrides={"amount": pl.Decimal(12, 2)},
    )  # fmt: skip


def _log(uri: str) -> list[dict]:
    """Every action of the table's log, in order."""
    folder = os.path.join(uri, "_delta_log")
    return [
        json.loads(line)
        for name in sorted(os.listdir(folder))
        if name.endswith(".json")
        for line in open(os.path.join(folder, name))
        if line.strip()
    ]


def _stats(uri: str) -> list[dict]:
    return [json.loads(a["add"]["stats"]) for a in _log(uri) if "add" in a]


def _rows(uri: str) -> pl.DataFrame:
    return pl.from_arrow(DeltaTable(uri).to_pyarrow_table()).sort("id")


def test_a_created_then_appended_table_is_the_one_write_deltalake_leaves(lake, tmp_path):
    ours, theirs = lake.uri("bronze/t"), str(tmp_path / "theirs")
    config = {"delta.targetFileSize": "1048576"}
    props = CommitProperties(custom_metadata={"lakehouse.bronze_version": "7"})
    assert write_frame(lake, "bronze/t", _frame(0), commit_properties=props, configuration=config)
    assert write_frame(lake, "bronze/t", _frame(10), commit_properties=props)
    write_deltalake(theirs, _frame(0).to_arrow(), configuration=config, commit_properties=props)
    write_deltalake(theirs, _frame(10).to_arrow(), mode="append", commit_properties=props)
    a, b = DeltaTable(ours), DeltaTable(theirs)
    assert a.version() == b.version() == 1
    assert a.schema().to_json() == b.schema().to_json()
    assert a.protocol() == b.protocol()
    assert a.metadata().configuration == b.metadata().configuration == config
    assert _stats(ours) == _stats(theirs)  # delta-rs's statistics, read from our files
    assert len(_stats(ours)) == 2 and _stats(ours)[1]["numRecords"] == 3
    assert_frame_equal(_rows(ours), _rows(theirs))  # NaN equal to NaN
    assert _rows(ours).height == 6
    for entry in a.history():
        assert entry["lakehouse.bronze_version"] == "7"
    assert not (lake.path / "bronze/t" / STAGING).exists()


def test_files_follow_the_target_file_size_in_even_parts(lake):
    frame = pl.DataFrame({"id": range(200_000), "text": [f"row {i:09d}" for i in range(200_000)]})
    config = {"delta.targetFileSize": str(256 * 1024)}
    assert write_frame(lake, "silver/t", frame, configuration=config)
    dt = DeltaTable(lake.uri("silver/t"))
    counts = [s["numRecords"] for s in _stats(lake.uri("silver/t"))]
    assert len(counts) >= 4 and max(counts) - min(counts) < len(counts) and sum(counts) == 200_000
    sizes = [os.path.getsize(u) for u in dt.file_uris()]
    assert max(sizes) < 4 * 256 * 1024
    assert pl.from_arrow(dt.to_pyarrow_table())["id"].sort().to_list() == list(range(200_000))


def _blocked(lake):
    """(why, lake, key, frame, create_only) for each case the writer leaves to delta-rs."""
    base = pl.DataFrame({"id": [1]})
    cases = [
        ("not a local folder", S3Lake("s3://bucket/lake"), "bronze/t", base, False),
        ("no rows", lake, "bronze/empty", base.clear(), False),
        ("unsigned integers", lake, "bronze/u", pl.DataFrame({"id": pl.Series([1], dtype=pl.UInt8)}), False),
        ("nanoseconds", lake, "bronze/ns", base.with_columns(at=pl.lit(datetime(2024, 1, 1)).cast(pl.Datetime("ns"))), False),
        ("a list", lake, "bronze/l", pl.DataFrame({"id": [[1]]}), False),
        ("categorical", lake, "bronze/c", pl.DataFrame({"id": ["a"]}, schema={"id": pl.Categorical}), False),
    ]  # fmt: skip
    write_deltalake(
        lake.uri("bronze/p"), base.with_columns(part=pl.lit("a")).to_arrow(), partition_by=["part"]
    )
    cases.append(("partitioned", lake, "bronze/p", base.with_columns(part=pl.lit("b")), False))
    write_deltalake(lake.uri("bronze/k"), base.to_arrow())
    DeltaTable(lake.uri("bronze/k")).alter.add_constraint({"positive": "id > 0"})
    cases.append(("a constraint", lake, "bronze/k", pl.DataFrame({"id": [-1]}), False))
    write_deltalake(lake.uri("bronze/e"), base.to_arrow())
    cases.append(("a new column", lake, "bronze/e", base.with_columns(extra=pl.lit("x")), False))
    cases.append(("another type", lake, "bronze/e", base.cast({"id": pl.Int32}), False))
    cases.append(("create only, a table exists", lake, "bronze/e", base, True))
    return cases


def _table_state(where, key: str):
    """(version or None, the data files under the table's folder): what a write would change."""
    folder = where.path / key
    version = DeltaTable(where.uri(key)).version() if (folder / "_delta_log").exists() else None
    return version, sorted(p.relative_to(folder) for p in folder.rglob("*.parquet"))


def test_where_the_shortcut_does_not_hold_nothing_is_written(lake):
    for why, where, key, frame, create_only in _blocked(lake):
        local = isinstance(where, LocalLake)
        before = _table_state(where, key) if local else None
        assert not write_frame(where, key, frame, create_only=create_only), why
        if local:
            assert _table_state(where, key) == before, why  # no commit, no file left behind
            assert not (where.path / key / STAGING).exists(), why


def test_a_crash_before_the_commit_leaves_the_table_as_it_was(lake, monkeypatch):
    assert write_frame(lake, "bronze/t", pl.DataFrame({"id": [1]}))

    def dies(*a, **kw):
        raise RuntimeError("crash")

    monkeypatch.setattr(delta_write, "_commit", dies)
    with pytest.raises(RuntimeError):
        write_frame(lake, "bronze/t", pl.DataFrame({"id": [2]}))
    dt = DeltaTable(lake.uri("bronze/t"))
    assert dt.version() == 0 and dt.to_pyarrow_table()["id"].to_pylist() == [1]
    assert not (lake.path / "bronze/t" / STAGING).exists()


def test_stale_staging_folders_are_removed_and_fresh_ones_kept(lake):
    staging = lake.path / "bronze/t" / STAGING
    old, fresh = staging / "old", staging / "fresh"
    for folder in (old, fresh):
        folder.mkdir(parents=True)
        (folder / "part-0.parquet").write_bytes(b"x")
    hours_ago = time.time() - 2 * delta_write.STALE_S
    os.utime(old, (hours_ago, hours_ago))
    assert write_frame(lake, "bronze/t", pl.DataFrame({"id": [1]}))
    assert not old.exists() and fresh.exists()
    assert DeltaTable(lake.uri("bronze/t")).to_pyarrow_table()["id"].to_pylist() == [1]
