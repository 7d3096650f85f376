"""Parity: on the same bronze inputs the Spark engine resolves the same change set and produces
the same silver table, tombstones, quarantine and SCD2 history as the local engine — for every
registry table of both datasets, over a full load and a round of CDC churn (inserts, updates,
deletes, primary-key changes) made by the real replicator (``scenario``).

The resulting tables are computed by applying the resolved set to the previous state with Spark
DataFrame operations (``apply_to_state``, the MERGE semantics in memory): delta-spark MERGE and
Hudi writes need JARs that cannot be downloaded here (``test_spark_writes.py`` covers them where
they exist)."""

from __future__ import annotations

import pytest

from lakehouse.datasets import all_datasets
from lakehouse.engine.spark import apply as sapply
from lakehouse.engine.spark.scd2 import apply_history_in_memory, history_changes
from lakehouse_tests.spark.helpers import assert_same, to_polars, to_spark

pytestmark = [pytest.mark.integration, pytest.mark.xdist_group("spark")]

TABLES = [(d.name, t.name) for d in all_datasets() for t in d.tables if t.primary_key]


@pytest.mark.parametrize(("dataset", "table"), TABLES, ids=[f"{d}.{t}" for d, t in TABLES])
def test_spark_engine_matches_local_engine(spark, scenarios, dataset, table):
    scenario = scenarios(dataset)
    spec = scenario.dataset.table(table)
    keys = list(spec.primary_key)
    state = tombs = hist = None
    for i, rounds in enumerate(scenario.rounds):
        local = rounds[table]
        what = f"{table} round {i}"
        if local.changes.height:
            prepared = sapply.prepare_changes(to_spark(spark, local.changes), spec)
            kept, bad = sapply.split_rule_failures(prepared, spec)
            assert_same(
                bad.select("_source_file", "_source_row", "__column", "__reason"),
                local.quarantined,
                ["_source_file", "_source_row"],
                f"{what}: quarantined rows",
            )
            resolved = sapply.resolve_changes(kept, spec, tombs)
            batch = resolved.batch.cache()
            # the resolved change set: one row per key, every column (op, _sequence, data, lineage)
            got = assert_same(batch, local.resolved, keys, f"{what}: resolved change set")
            assert got.select(keys).is_unique().all()
            counts = sapply.apply_counts(state, batch, spec)
            r = local.result
            assert counts == {"inserted": r.inserted, "updated": r.updated, "deleted": r.deleted}, (
                what
            )
            if spec.scd_type == 2:
                rows, closers = history_changes(resolved.exploded, spec, hist)
                hist = apply_history_in_memory(hist, rows, closers, spec).cache()
            state = sapply.apply_to_state(state, batch, spec).cache()
            tombs = sapply.next_tombstones(tombs, batch, spec, local.now).cache()
        assert_same(state, local.state, keys, f"{what}: silver table")
        assert_same(tombs, local.tombstones, keys, f"{what}: tombstones")
        if spec.scd_type == 2:
            assert_same(hist, local.history, [*keys, "_sequence"], f"{what}: SCD2 history")
    assert to_polars(state).height == local.state.height > 0


@pytest.mark.parametrize("dataset", ["autocorp", "saas"])
def test_gold_metrics_from_spark_silver_equal_the_local_ones(spark, scenarios, dataset):
    """Gold on Spark runs the same metric definitions on silver read through Spark (Arrow)."""
    from polars.testing import assert_frame_equal

    from lakehouse.defs.gold import conform, load_metrics
    from lakehouse.engine.spark.gold import compute_metric
    from lakehouse.gold.masking import mask_pii, pii_columns

    scenario = scenarios(dataset)
    final = scenario.rounds[-1]
    metrics = load_metrics(dataset)
    assert metrics
    for metric in metrics:
        got = compute_metric(
            {t: to_spark(spark, final[t].state) for t in metric.deps}, scenario.dataset, metric
        )
        local = {t: conform(final[t].state, scenario.dataset.table(t)) for t in metric.deps}
        want = mask_pii(metric.compute(local), pii_columns(scenario.dataset, metric.deps))
        assert want.height > 0, metric.key
        assert_frame_equal(got, want, check_dtypes=True)
