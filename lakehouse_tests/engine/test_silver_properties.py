"""Property: whatever the interleaving of inserts, updates, deletes and key changes, and however
the changes are split into files that arrive out of order and duplicated, silver equals a
reference model applied in commit order — incrementally and after a full refresh."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import polars as pl
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lakehouse.engine import bronze, silver
from lakehouse.registry import Column, TableSpec
from lakehouse.replication import dms_format
from lakehouse.replication.dms_settings import DmsS3Settings
from lakehouse.replication.replicator import change_seq
from lakehouse.storage import LocalLake

SETTINGS = DmsS3Settings(
    AddColumnName=True, TimestampColumnName="ts", before_image_key=True, change_seq_column="seq"
)
SPEC = TableSpec(
    dataset="prop",
    name="items",
    columns=(Column("id", "int", nullable=False), Column("val", "string")),
    primary_key=("id",),
)
T0 = datetime(2024, 1, 1, tzinfo=UTC)

ops = st.lists(
    st.tuples(st.sampled_from("IUDK"), st.integers(0, 7), st.text("abc", max_size=3)),
    min_size=1,
    max_size=40,
)


def _history(script):
    """Apply a script to a reference model in commit order; return (changes, final state)."""
    state: dict[int, str] = {}
    changes = []
    next_key = 100
    for step, (op, pick, val) in enumerate(script):
        keys = sorted(state)
        ts = (T0 + timedelta(milliseconds=step)).strftime("%Y-%m-%d %H:%M:%S.%f")
        seq = change_seq(1000 + step, 0)
        if op == "I" or not keys:
            k = next_key = next_key + 1
            state[k] = val
            changes.append(("I", ts, k, val, k, seq))
            continue
        k = keys[pick % len(keys)]
        if op == "U":
            state[k] = val
            changes.append(("U", ts, k, val, k, seq))
        elif op == "D":
            del state[k]
            changes.append(("D", ts, k, None, k, seq))
        else:  # primary-key change
            new = next_key = next_key + 1
            state[new] = state.pop(k)
            changes.append(("U", ts, new, state[new], k, seq))
    return changes, state


def _write_file(lake, name: str, rows) -> None:
    frame = pl.DataFrame(
        [(op, ts, str(k), v, str(bk), seq) for op, ts, k, v, bk, seq in rows],
        schema=["Op", "ts", "id", "val", "BI_id", "seq"],
        orient="row",
    )
    lake.write_bytes(
        SPEC.raw_prefix + name, dms_format.encode_dms_file(frame, SETTINGS, full_load=False)
    )


def _silver_state(lake) -> dict[int, str]:
    frame = silver.read_silver(lake, SPEC)
    return {} if frame.height == 0 else dict(frame.select("id", "val").iter_rows())


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(script=ops, seed=st.integers(0, 10**6))
def test_silver_equals_reference_model(tmp_path_factory, script, seed):
    rng = random.Random(seed)
    lake = LocalLake(tmp_path_factory.mktemp("lake"))
    changes, expected = _history(script)
    # split into files (DMS names them by first commit), duplicate some (a DMS restart)
    files, i = [], 0
    while i < len(changes):
        n = rng.randint(1, 5)
        files.append(changes[i : i + n])
        i += n
    files += [rng.choice(files) for _ in range(rng.randint(0, 2))]
    named = []
    for j, rows in enumerate(files):
        first = datetime.strptime(rows[0][1], "%Y-%m-%d %H:%M:%S.%f").replace(tzinfo=UTC)
        named.append(
            (
                dms_format.cdc_file_name(first + timedelta(microseconds=j), SETTINGS).replace(
                    ".csv", f"{j % 10}.csv"
                ),
                rows,
            )
        )
    rng.shuffle(named)  # arrival out of order
    batches = max(1, rng.randint(1, 4))
    for b in range(batches):
        for name, rows in named[b::batches]:
            _write_file(lake, name, rows)
        bronze.ingest(lake, SPEC, SETTINGS)
        silver.apply_changes(lake, SPEC)
        if rng.random() < 0.3:  # a replayed run is a no-op
            bronze.ingest(lake, SPEC, SETTINGS)
            silver.apply_changes(lake, SPEC)
    assert _silver_state(lake) == expected
    silver.apply_changes(lake, SPEC, full_refresh=True)
    assert _silver_state(lake) == expected
