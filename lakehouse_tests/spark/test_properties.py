"""Property (the local engine's, ``engine/test_silver_properties.py``, with fewer examples): whatever
the interleaving of inserts, updates, deletes and key changes, and however the changes are split
into files that arrive out of order and duplicated, the Spark engine's table — applied batch by
batch with tombstones, and rebuilt from all of bronze at once — equals the reference model."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lakehouse.engine import bronze, silver
from lakehouse.engine.spark import apply as sapply
from lakehouse.replication import dms_format
from lakehouse.storage import LocalLake
from lakehouse_tests.engine.test_silver_properties import SETTINGS, SPEC, _history, _write_file, ops
from lakehouse_tests.spark.helpers import to_polars, to_spark

pytestmark = pytest.mark.xdist_group("spark")
NOW = datetime(2024, 2, 1, tzinfo=UTC)


def _apply(spark, changes, state, tombs):
    """One batch through the Spark engine: (table, tombstones) after it."""
    prepared = sapply.prepare_changes(to_spark(spark, changes), SPEC)
    kept, _ = sapply.split_rule_failures(prepared, SPEC)
    batch = sapply.resolve_changes(kept, SPEC, tombs).batch.cache()
    state = sapply.apply_to_state(state, batch, SPEC).localCheckpoint()
    tombs = sapply.next_tombstones(tombs, batch, SPEC, NOW).localCheckpoint()
    batch.unpersist()
    return state, tombs


def _state(frame) -> dict[int, str]:
    return dict(to_polars(frame.select("id", "val")).iter_rows()) if frame is not None else {}


@settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(script=ops, seed=st.integers(0, 10**6))
def test_spark_silver_equals_reference_model(spark, tmp_path_factory, script, seed):
    rng = random.Random(seed)
    lake = LocalLake(tmp_path_factory.mktemp("lake"))
    changes, expected = _history(script)
    files, i = [], 0  # as the local property: files of 1-5 changes, some duplicated, shuffled
    while i < len(changes):
        n = rng.randint(1, 5)
        files.append(changes[i : i + n])
        i += n
    files += [rng.choice(files) for _ in range(rng.randint(0, 2))]
    named = []
    for j, rows in enumerate(files):
        first = datetime.strptime(rows[0][1], "%Y-%m-%d %H:%M:%S.%f").replace(tzinfo=UTC)
        name = dms_format.cdc_file_name(first + timedelta(microseconds=j), SETTINGS)
        named.append((name.replace(".csv", f"{j % 10}.csv"), rows))
    rng.shuffle(named)
    state = tombs = after = None
    batches = max(1, rng.randint(1, 4))
    for b in range(batches):
        for name, rows in named[b::batches]:
            _write_file(lake, name, rows)
        bronze.ingest(lake, SPEC, SETTINGS)
        frame, version = silver.read_bronze_changes(lake, SPEC, after)
        after = version
        if frame.height:
            state, tombs = _apply(spark, frame, state, tombs)
    assert _state(state) == expected
    everything, _ = silver.read_bronze_changes(lake, SPEC, None)  # full refresh: one batch
    assert _state(_apply(spark, everything, None, None)[0]) == expected
