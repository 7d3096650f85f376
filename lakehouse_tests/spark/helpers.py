"""Comparing Spark DataFrames with the local engine's Polars frames, and one apply of the Spark
engine checked against the local engine's (``check_round``)."""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl
from polars.testing import assert_frame_equal

from lakehouse.engine.spark.tables import from_polars, to_arrow


def to_spark(spark, frame: pl.DataFrame):
    return from_polars(spark, frame)


def to_polars(frame) -> pl.DataFrame:
    return pl.from_arrow(to_arrow(frame))


def assert_same(got, expected: pl.DataFrame, by: list[str], what: str) -> pl.DataFrame:
    """``got`` (a Spark DataFrame or None) equals ``expected``: columns in order, dtypes, rows."""
    got = pl.DataFrame() if got is None else to_polars(got)
    if expected.width == 0 or expected.height == 0:
        assert got.height == 0, f"{what}: expected no rows, got {got.height}"
        return got
    assert got.columns == expected.columns, f"{what}: columns {got.columns} != {expected.columns}"
    assert_frame_equal(
        got.sort(by, nulls_last=True), expected.sort(by, nulls_last=True), check_dtypes=True
    )
    return got


def same_reloads(reloads, barrier, local) -> bool:
    """The Spark engine's reload plan (``core.reloads.plan_reloads`` over Spark's load log) equals the local engine's
    (``local``: a ``scenario.TableRound``, or anything with ``reloads`` and ``barrier``)."""
    fields = ("generation", "start", "files", "source_file", "ingested_at")
    got = [tuple(getattr(r, f) for f in fields) for r in reloads]
    want = [tuple(getattr(r, f) for f in fields) for r in local.reloads]
    return got == want and barrier == local.barrier


@dataclass
class SparkSide:
    """The Spark engine's silver table, tombstones and SCD2 history (in memory) so far."""

    state: object = None
    tombs: object = None
    hist: object = None


def check_round(spark, spec, bronze_uri: str, local, side: SparkSide, what: str) -> SparkSide:
    """Run the Spark engine on the bronze rows the local engine read in ``local`` (a
    ``scenario.TableRound``) — its load log read by Spark from the bronze table at ``bronze_uri``
    — and assert that its reload plan, quarantine, reload deletes, resolved change set, MERGE
    counts, table, tombstones and SCD2 history equal the local engine's. Returns the new side."""
    from lakehouse.engine.core.reloads import plan_reloads
    from lakehouse.engine.spark import apply as sapply
    from lakehouse.engine.spark.reloads import read_load_log
    from lakehouse.engine.spark.scd2 import apply_history_in_memory, history_changes

    keys = list(spec.primary_key)
    version = local.result.bronze_version
    reloads, barrier, settled = plan_reloads(
        read_load_log(spark, bronze_uri, up_to=version), spec, local.after, version
    )
    assert same_reloads(reloads, barrier, local), f"{what}: reloads"
    assert settled == local.settled, f"{what}: history barrier"
    state, tombs, hist = side.state, side.tombs, side.hist
    if local.changes.height or reloads:
        prepared = sapply.prepare_changes(to_spark(spark, local.changes), spec)
        kept, bad = sapply.split_rule_failures(prepared, spec)
        kept = kept.localCheckpoint()  # used by several actions below: plan and compute it once
        assert_same(
            bad.select("_source_file", "_source_row", "__column", "__reason"),
            local.quarantined,
            ["_source_file", "_source_row"],
            f"{what}: quarantined rows",
        )
        resolved = sapply.resolve_changes(
            kept, spec, tombs, state=state, reloads=reloads, barrier=barrier, settled=settled
        )
        gone = 0 if resolved.reload_deletes is None else resolved.reload_deletes.count()
        assert gone == local.result.reload_deletes, f"{what}: reload deletes"
        batch = resolved.batch.cache()
        # the resolved change set: one row per key, every column (op, _sequence, data, lineage)
        got = assert_same(batch, local.resolved, keys, f"{what}: resolved change set")
        assert got.select(keys).is_unique().all()
        counts = sapply.apply_counts(state, batch, spec)
        r = local.result
        want = {"inserted": r.inserted, "updated": r.updated, "deleted": r.deleted}
        assert counts == want, what
        if spec.scd_type == 2:
            rows, closers = history_changes(resolved.exploded, spec, hist)
            hist = apply_history_in_memory(hist, rows, closers, spec)
            hist = None if hist is None else hist.localCheckpoint()
        state = sapply.apply_to_state(state, batch, spec).localCheckpoint()
        tombs = sapply.next_tombstones(tombs, batch, spec, local.now).localCheckpoint()
        batch.unpersist()
    assert_same(state, local.state, keys, f"{what}: silver table")
    assert_same(tombs, local.tombstones, keys, f"{what}: tombstones")
    if spec.scd_type == 2:
        assert_same(hist, local.history, [*keys, "_sequence"], f"{what}: SCD2 history")
    return SparkSide(state, tombs, hist)
