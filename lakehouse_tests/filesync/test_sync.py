"""Tests for the landing -> lake file sync (local DataSync stand-in)."""

from __future__ import annotations

import hashlib
import json
import os
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from lakehouse.filesync import SyncReport, state_key, sync_folder
from lakehouse.filesync import sync as sync_mod
from lakehouse.storage.lake import LocalLake, S3Lake

T0 = datetime(2024, 1, 2, 3, 4, 5, 678901, tzinfo=UTC)
DEST = "raw/csv/"


def _write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def _sync(landing: Path, lake, **kw) -> SyncReport:
    kw.setdefault("settle_seconds", 0)
    return sync_folder(landing, lake, DEST, **kw)


@pytest.fixture
def landing(tmp_path: Path) -> Path:
    root = tmp_path / "landing"
    _write(root / "autocorp" / "customers-20240101.csv", "id,name\n1,Ann\n")
    _write(root / "orders.csv", "id,total\n1,9.50\n2,3.00\n")
    _write(root / "readme.md", "not a drop")
    _write(root / ".orders.csv.part", "half")
    _write(root / ".hidden" / "x.csv", "hidden folder")
    return root


def test_first_run_copies_all_matching_files_with_manifest(landing, lake):
    report = _sync(landing, lake, now=lambda: T0)

    assert [(f.source, f.key, f.action) for f in report.copied] == [
        ("autocorp/customers-20240101.csv", "raw/csv/autocorp/customers-20240101.csv", "new"),
        ("orders.csv", "raw/csv/orders.csv", "new"),
    ]
    assert report.skipped == 0 and report.errors == [] and report.pending == []
    assert lake.read_text("raw/csv/autocorp/customers-20240101.csv") == "id,name\n1,Ann\n"
    assert lake.read_text("raw/csv/orders.csv") == "id,total\n1,9.50\n2,3.00\n"
    # non-matching glob, hidden files and hidden folders are ignored
    assert [o.key for o in lake.list("raw/")] == [
        "raw/csv/autocorp/customers-20240101.csv",
        "raw/csv/orders.csv",
    ]
    assert report.bytes_copied == 14 + 23 == sum(f.size for f in report.copied)
    assert report.started_at == report.finished_at == T0

    assert report.manifest_key == "_manifests/filesync/csv/20240102T030405678901Z.json"
    assert json.loads(lake.read_text(report.manifest_key)) == {
        "task": "csv",
        "started_at": "2024-01-02T03:04:05.678901+00:00",
        "finished_at": "2024-01-02T03:04:05.678901+00:00",
        "files": [
            {
                "source": "autocorp/customers-20240101.csv",
                "key": "raw/csv/autocorp/customers-20240101.csv",
                "size": 14,
                "sha256": _sha("id,name\n1,Ann\n"),
                "action": "new",
            },
            {
                "source": "orders.csv",
                "key": "raw/csv/orders.csv",
                "size": 23,
                "sha256": _sha("id,total\n1,9.50\n2,3.00\n"),
                "action": "new",
            },
        ],
    }
    state = json.loads(lake.read_text(state_key("csv")))["files"]
    st = (landing / "orders.csv").stat()
    assert state["orders.csv"] == {
        "key": "raw/csv/orders.csv",
        "size": 23,
        "mtime_ns": st.st_mtime_ns,
        "sha256": _sha("id,total\n1,9.50\n2,3.00\n"),
    }


def test_second_run_copies_nothing_and_state_survives_new_lake_object(landing, lake, tmp_path):
    _sync(landing, lake)
    fresh = LocalLake(tmp_path / "lake")  # as a new process would open it
    report = _sync(landing, fresh)
    assert report.copied == [] and report.skipped == 2 and report.errors == []
    assert report.manifest_key is None
    assert len(fresh.list("_manifests/")) == 1


def test_unchanged_size_and_mtime_are_skipped_without_reading(landing, lake, monkeypatch):
    _sync(landing, lake)

    def boom(path):
        raise AssertionError(f"read {path}")

    monkeypatch.setattr(sync_mod, "_read_file", boom)
    report = _sync(landing, lake)
    assert report.skipped == 2 and report.errors == []


def test_touch_without_change_is_not_copied_and_refreshes_state(landing, lake):
    _sync(landing, lake)
    path = landing / "orders.csv"
    later = path.stat().st_mtime_ns + 5_000_000_000
    os.utime(path, ns=(later, later))

    report = _sync(landing, lake)
    assert report.copied == [] and report.skipped == 2 and report.manifest_key is None
    state = json.loads(lake.read_text(state_key("csv")))["files"]
    assert state["orders.csv"]["mtime_ns"] == later


def test_changed_content_and_new_file_in_subfolder(landing, lake):
    _sync(landing, lake)
    _write(landing / "orders.csv", "id,total\n1,9.50\n2,3.00\n3,1.25\n")
    _write(landing / "autocorp" / "2024" / "orders-20240102.csv", "id\n7\n")

    report = _sync(landing, lake)
    assert sorted((f.source, f.action) for f in report.copied) == [
        ("autocorp/2024/orders-20240102.csv", "new"),
        ("orders.csv", "changed"),
    ]
    assert report.skipped == 1
    assert lake.read_text("raw/csv/orders.csv").endswith("3,1.25\n")
    assert lake.read_text("raw/csv/autocorp/2024/orders-20240102.csv") == "id\n7\n"
    manifest = json.loads(lake.read_text(report.manifest_key))
    assert [f["source"] for f in manifest["files"]] == [
        "autocorp/2024/orders-20240102.csv",
        "orders.csv",
    ]
    assert _sync(landing, lake).copied == []


def test_recently_modified_file_waits_for_settle_then_is_copied(tmp_path, lake):
    landing = tmp_path / "landing"
    _write(landing / "fresh.csv", "a\n1\n")

    first = sync_folder(landing, lake, DEST, settle_seconds=60)
    assert first.copied == [] and first.pending == ["fresh.csv"]
    assert not lake.exists("raw/csv/fresh.csv") and first.manifest_key is None

    later = datetime.now(UTC) + timedelta(seconds=120)
    second = sync_folder(landing, lake, DEST, settle_seconds=60, now=lambda: later)
    assert [f.source for f in second.copied] == ["fresh.csv"] and second.pending == []
    assert lake.read_text("raw/csv/fresh.csv") == "a\n1\n"


def test_file_growing_while_read_is_not_copied(landing, lake, monkeypatch):
    real_read = sync_mod._read_file

    def read_then_append(path):
        out = real_read(path)
        if path.name == "orders.csv":
            with open(path, "a") as fh:
                fh.write("3,7.00\n")
        return out

    monkeypatch.setattr(sync_mod, "_read_file", read_then_append)
    report = _sync(landing, lake)
    assert [f.source for f in report.copied] == ["autocorp/customers-20240101.csv"]
    assert report.pending == ["orders.csv"]
    assert not lake.exists("raw/csv/orders.csv")

    monkeypatch.setattr(sync_mod, "_read_file", real_read)
    report = _sync(landing, lake)
    assert [f.source for f in report.copied] == ["orders.csv"]
    assert lake.read_text("raw/csv/orders.csv").endswith("3,7.00\n")


def test_checksum_mismatch_is_an_error_and_retried(landing, lake, monkeypatch):
    real_write = lake.write_bytes

    def corrupting_write(key, data):
        if key.endswith("orders.csv"):
            data = data[:-1] + b"X"
        real_write(key, data)

    monkeypatch.setattr(lake, "write_bytes", corrupting_write)
    report = _sync(landing, lake)
    assert [f.source for f in report.copied] == ["autocorp/customers-20240101.csv"]
    assert len(report.errors) == 1
    assert report.errors[0].startswith("orders.csv: checksum mismatch")
    state = json.loads(lake.read_text(state_key("csv")))["files"]
    assert "orders.csv" not in state

    monkeypatch.undo()
    report = _sync(landing, lake)
    assert [(f.source, f.action) for f in report.copied] == [("orders.csv", "new")]
    assert lake.read_text("raw/csv/orders.csv") == "id,total\n1,9.50\n2,3.00\n"


def test_error_on_one_file_does_not_stop_the_run(landing, lake):
    (landing / "autocorp" / "gone.csv").symlink_to(landing / "missing.csv")  # vanished file
    report = _sync(landing, lake)
    assert [f.source for f in report.copied] == [
        "autocorp/customers-20240101.csv",
        "orders.csv",
    ]
    assert len(report.errors) == 1 and report.errors[0].startswith("autocorp/gone.csv: ")
    assert "autocorp/gone.csv" not in json.loads(lake.read_text(state_key("csv")))["files"]


def test_tasks_keep_separate_state_and_progress_bar(landing, lake, capsys):
    a = _sync(landing, lake, task="csv", progress=True)
    b = sync_folder(landing, lake, "raw/text", task="text", include=("*.md",), settle_seconds=0)
    assert len(a.copied) == 2
    assert [f.key for f in b.copied] == ["raw/text/readme.md"]
    assert lake.exists(state_key("text")) and lake.exists(state_key("csv"))
    assert "filesync csv" in capsys.readouterr().err


def test_missing_landing_folder_raises(tmp_path, lake):
    with pytest.raises(FileNotFoundError):
        sync_folder(tmp_path / "nope", lake, DEST)


@pytest.mark.integration
def test_sync_into_moto_s3(landing, moto_s3):
    boto3 = pytest.importorskip("boto3")
    endpoint = moto_s3
    s3 = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1")
    s3.create_bucket(Bucket="bucket")
    lake = S3Lake("s3://bucket/lake", endpoint_url=endpoint)

    report = _sync(landing, lake, now=lambda: T0)
    assert report.errors == [] and len(report.copied) == 2
    keys = sorted(o["Key"] for o in s3.list_objects_v2(Bucket="bucket")["Contents"])
    assert keys == [
        "lake/_manifests/filesync/csv/20240102T030405678901Z.json",
        "lake/_state/filesync/csv.json",
        "lake/raw/csv/autocorp/customers-20240101.csv",
        "lake/raw/csv/orders.csv",
    ]
    body = s3.get_object(Bucket="bucket", Key="lake/raw/csv/orders.csv")["Body"].read()
    assert body == (landing / "orders.csv").read_bytes()

    again = _sync(landing, S3Lake("s3://bucket/lake", endpoint_url=endpoint))
    assert again.copied == [] and again.skipped == 2


def test_settle_uses_file_age(tmp_path, lake):
    landing = tmp_path / "landing"
    old = _write(landing / "old.csv", "x\n")
    past = time.time() - 3600
    os.utime(old, (past, past))
    _write(landing / "new.csv", "y\n")
    report = sync_folder(landing, lake, DEST, settle_seconds=30)
    assert [f.source for f in report.copied] == ["old.csv"] and report.pending == ["new.csv"]


def test_the_drops_discover_proposes_are_synced_their_extension_in_any_case(tmp_path, lake):
    root = tmp_path / "landing"
    for name in ("Orders 2024.CSV", "prices-1.txt", "stock-1.Tsv", "a.csv", "notes.md", "x.dat"):
        _write(root / name, "id\n1\n")
    report = _sync(root, lake)
    assert [f.source for f in report.copied] == [
        "Orders 2024.CSV", "a.csv", "prices-1.txt", "stock-1.Tsv",
    ]  # fmt: skip


def test_a_tables_own_glob_is_synced_too(tmp_path, lake):
    from lakehouse.registry.model import TableSpec

    root = tmp_path / "landing"
    _write(root / "feed-1.dat", "id\n1\n")
    _write(root / "x.bin", "id\n1\n")
    table = TableSpec(
        dataset="d", name="feed", columns=(), primary_key=(), source="csv_drop",
        file_glob="feed-*.dat",
    )  # fmt: skip
    assert sync_mod.sync_globs([table]) == ("*.csv", "*.txt", "*.tsv", "feed-*.dat")
    report = _sync(root, lake, include=sync_mod.sync_globs([table]))
    assert [f.source for f in report.copied] == ["feed-1.dat"]
    assert sync_mod.matches("Sales.CSV", "Sales*.csv")
    assert not sync_mod.matches("sales.csv", "S*.csv")  # only the extension in any case
