"""Reload parity: the local engine's named DMS reload cases (``engine/test_silver.py``) through both
engines on the same bronze, run by run. The Spark engine reads the load log from the bronze
table's Delta log (and the bronze writer's cache) itself; its reload plan, reload deletes,
resolved change set, MERGE counts, table, tombstones and SCD2 history equal the local engine's
after every run, and a full refresh from all of bronze gives the local engine's rebuilt table.
No Delta JARs needed (``check_round``: the MERGE semantics in memory)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from lakehouse.engine import bronze, silver
from lakehouse.engine.core.keys import history_key, tombstone_key
from lakehouse.engine.core.reloads import plan_reloads
from lakehouse.engine.increments import read_bronze_changes
from lakehouse.engine.spark import apply as sapply
from lakehouse.engine.spark.reloads import read_load_log
from lakehouse.engine.spark.scd2 import history_changes
from lakehouse.storage import LocalLake
from lakehouse_tests.engine.test_silver import SCD2, SETTINGS, SPEC, _line, _write
from lakehouse_tests.spark.helpers import SparkSide, assert_same, check_round, to_spark
from lakehouse_tests.spark.scenario import _read, local_round

pytestmark = pytest.mark.xdist_group("spark")
NOW = datetime(2024, 2, 1, tzinfo=UTC)

# each case: runs; each run: the raw files written before it (name, lines, last-modified second)
CASES = {
    "replaces_the_baseline_keeping_later_changes": [
        [("LOAD00000001.csv", [_line("I", 1, 1, "a"), _line("I", 1, 2, "b")], None)],
        [("20240101-000002000.csv", [_line("U", 2, 1, "a2")], None)],
        [
            ("LOAD00000001.csv", [_line("I", 5, 1, "a2"), _line("I", 5, 3, "c")], None),
            ("20240101-000006000.csv", [_line("U", 6, 3, "c2")], None),
        ],
    ],
    "a_change_after_the_start_survives_one_before_is_ignored": [
        [("LOAD00000001.csv", [_line("I", 1, 1, "a"), _line("I", 1, 2, "b")], None)],
        [("20240101-000007000.csv", [_line("I", 7, 4, "d")], None)],
        [("LOAD00000001.csv", [_line("I", 5, 1, "a")], None)],
        [("20240101-000003000.csv", [_line("I", 3, 9, "late"), _line("U", 3, 2, "z")], None)],
    ],
    "a_reload_spanning_files_and_runs_is_one_baseline": [
        [("LOAD00000001.csv", [_line("I", 1, 1, "a"), _line("I", 1, 2, "b")], None)],
        [("LOAD00000002.csv", [_line("I", 1, 3, "c"), _line("I", 1, 4, "d")], None)],
        [("LOAD00000001.csv", [_line("I", 5, 1, "a")], None)],
        [("LOAD00000002.csv", [_line("I", 5, 3, "c"), _line("I", 5, 5, "e")], None)],
    ],
    "an_empty_reload_deletes_the_old_baseline": [
        [("LOAD00000001.csv", [_line("I", 1, 1, "a"), _line("I", 1, 2, "b")], None)],
        [("20240101-000002000.csv", [_line("I", 2, 3, "c")], None)],
        [
            ("LOAD00000001.csv", [], 10),
            ("20240101-000012000.csv", [_line("I", 12, 4, "d")], None),
        ],
    ],
    "an_empty_first_load_is_a_baseline_then_a_reload": [
        [("LOAD00000001.csv", [], 1)],
        [("20240101-000002000.csv", [_line("I", 2, 1, "a"), _line("I", 3, 2, "b")], None)],
        [("LOAD00000001.csv", [_line("I", 5, 1, "a")], 5)],
    ],
    "two_reloads_in_one_run_with_deletes_and_key_moves_between": [
        [("LOAD00000001.csv", [_line("I", 1, i, f"n{i}") for i in range(1, 6)], None)],
        [
            (
                "20240101-000002000.csv",
                [_line("D", 2, 1, "", ""), _line("U", 3, 20, "m", old=2)],
                None,
            ),
            ("LOAD00000001.csv", [_line("I", 4, 3, "n3"), _line("I", 4, 20, "m")], None),
        ],
        [
            ("20240101-000005000.csv", [_line("I", 5, 6, "f"), _line("U", 6, 3, "x")], None),
            ("LOAD00000001.csv", [_line("I", 7, 6, "f"), _line("I", 7, 7, "g")], None),
            ("20240101-000008000.csv", [_line("U", 8, 7, "g2"), _line("I", 8, 8, "q", "-1")], None),
        ],
    ],
}
# the third run ingests the second reload together with a CDC file ordered before it and keys
# the first reload kept; row 8 breaks a rule (qty >= 0) and goes to quarantine


def _runs(spark, lake, spec, runs, name):
    bronze_uri = lake.uri(f"bronze/{spec.name}")
    side, rounds = SparkSide(), []
    for i, writes in enumerate(runs):
        for file, lines, second in writes:
            _write(lake, spec, file, *lines, second=second)
        # bronze runs at distinct times (a reload's files are told apart by their ingestion)
        bronze.ingest(lake, spec, SETTINGS, now=NOW + timedelta(minutes=i))
        rounds.append(local_round(lake, spec, NOW))
        side = check_round(spark, spec, bronze_uri, rounds[-1], side, f"{name} run {i}")
    return side, rounds


def _full_refresh(spark, lake, spec, name):
    """The Spark engine rebuilds from all of bronze as the local engine's full refresh does."""
    everything, version, _ = read_bronze_changes(lake, spec.name, None)
    reloads, barrier, _ = plan_reloads(
        read_load_log(spark, lake.uri(f"bronze/{spec.name}")), spec, None, version
    )
    kept, _ = sapply.split_rule_failures(
        sapply.prepare_changes(to_spark(spark, everything), spec), spec
    )
    kept = kept.localCheckpoint()
    resolved = sapply.resolve_changes(kept, spec, reloads=reloads, barrier=barrier)
    batch = resolved.batch.cache()
    silver.apply_changes(lake, spec, full_refresh=True, now=NOW)
    keys = list(spec.primary_key)
    assert_same(
        sapply.apply_to_state(None, batch, spec),
        silver.read_silver(lake, spec),
        keys,
        f"{name}: full refresh",
    )
    tombs = _read(lake, tombstone_key(spec.name))
    assert_same(
        sapply.tombstone_rows(batch, spec, NOW).select(*keys, "_sequence"),
        tombs.select(*keys, "_sequence") if tombs.height else tombs,
        keys,
        f"{name}: full-refresh tombstones",
    )
    if spec.scd_type == 2:
        rows, _ = history_changes(resolved.exploded, spec, None)
        assert_same(
            rows, _read(lake, history_key(spec.name)), [*keys, "_sequence"], f"{name}: history"
        )


@pytest.mark.parametrize("name", list(CASES))
def test_reload_cases_match_the_local_engine(spark, tmp_path, name):
    lake = LocalLake(tmp_path / "lake")
    _, rounds = _runs(spark, lake, SPEC, CASES[name], name)
    assert any(r.reloads for r in rounds)
    _full_refresh(spark, lake, SPEC, name)


SCD2_CASES = {
    "the_history_closes_the_rows_a_reload_removes": [
        [("LOAD00000001.csv", [_line("I", 1, 1, "v1"), _line("I", 1, 2, "w1")], None)],
        [("LOAD00000001.csv", [_line("I", 5, 1, "v1")], None)],
    ],
    # committed before the reload began, arriving after a run applied it: no version
    "a_late_change_before_an_applied_reload_adds_no_version": [
        [("LOAD00000001.csv", [_line("I", 1, 1, "v1"), _line("I", 1, 2, "w1")], None)],
        [("LOAD00000001.csv", [_line("I", 5, 1, "v1")], None)],
        [
            (
                "20240101-000003000.csv",
                [_line("I", 3, 9, "late"), _line("U", 3, 2, "w2"), _line("U", 3, 1, "v2")],
                None,
            )
        ],
    ],
    # arriving with the reload: a version the reload closes
    "a_change_before_a_reload_arriving_with_it_is_a_closed_version": [
        [("LOAD00000001.csv", [_line("I", 1, 1, "v1"), _line("I", 1, 2, "w1")], None)],
        [
            ("LOAD00000001.csv", [_line("I", 5, 1, "v1")], None),
            ("20240101-000003000.csv", [_line("I", 3, 9, "late")], None),
        ],
    ],
    # older than the key's tombstone: ignored by silver and its history
    "a_late_older_change_of_a_deleted_key_adds_no_version": [
        [("LOAD00000001.csv", [_line("I", 1, 1, "v1"), _line("I", 1, 2, "w1")], None)],
        [("20240101-000005000.csv", [_line("D", 5, 1, "", "")], None)],
        [("20240101-000003000.csv", [_line("U", 3, 1, "zombie"), _line("U", 4, 2, "w2")], None)],
    ],
}


@pytest.mark.parametrize("name", list(SCD2_CASES))
def test_scd2_reload_cases_match_the_local_engine(spark, tmp_path, name):
    lake = LocalLake(tmp_path / "lake")
    _runs(spark, lake, SCD2, SCD2_CASES[name], name)
    _full_refresh(spark, lake, SCD2, name)


def test_the_load_log_read_by_spark_is_the_bronze_one(spark, tmp_path):
    """From the bronze writer's cache and the Delta log, from the Delta log alone (no cache), and
    as of an older bronze version."""
    lake = LocalLake(tmp_path / "lake")
    versions = []
    for i, writes in enumerate(CASES["a_reload_spanning_files_and_runs_is_one_baseline"]):
        for file, lines, second in writes:
            _write(lake, SPEC, file, *lines, second=second)
        now = NOW + timedelta(minutes=i)
        versions.append(bronze.ingest(lake, SPEC, SETTINGS, now=now).version)
    uri = lake.uri(f"bronze/{SPEC.name}")
    want = bronze.load_log(lake, SPEC)
    assert [e.generation for e in want] == [0, 0, 1, 1]
    assert read_load_log(spark, uri) == want
    lake.delete(f"_state/bronze/{SPEC.name}.json")
    assert read_load_log(spark, uri) == want
    assert read_load_log(spark, uri, up_to=versions[2]) == want[:3]
