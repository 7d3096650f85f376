"""Parity: on the same bronze inputs the Spark engine resolves the same change set and produces
the same silver table, tombstones, quarantine and SCD2 history as the local engine — for every
registry table of both datasets, over a full load, a round of CDC churn (inserts, updates,
deletes, primary-key changes) and a DMS reload with changes lost before it and captured after it,
made by the real replicator (``scenario``). The Spark engine reads the load log (reload
generations) from the bronze table's Delta log itself.

The resulting tables are computed by applying the resolved set to the previous state with Spark
DataFrame operations (``apply_to_state``, the MERGE semantics in memory): delta-spark MERGE and
Hudi writes need JARs that cannot be downloaded here (``test_spark_writes.py`` covers them where
they exist)."""

from __future__ import annotations

import polars as pl
import pytest

from lakehouse.declarations import all_datasets
from lakehouse.engine.spark.tables import LakeLocations
from lakehouse_tests.spark.helpers import SparkSide, check_round, to_polars, to_spark

pytestmark = [pytest.mark.integration, pytest.mark.xdist_group("spark")]

TABLES = [(d.name, t.name) for d in all_datasets() for t in d.tables if t.primary_key]


@pytest.mark.parametrize(("dataset", "table"), TABLES, ids=[f"{d}.{t}" for d, t in TABLES])
def test_spark_engine_matches_local_engine(spark, scenarios, dataset, table):
    scenario = scenarios(dataset)
    spec = scenario.dataset.table(table)
    bronze_uri = LakeLocations.single(scenario.root).uri(f"bronze/{table}")
    side = SparkSide()
    for i, rounds in enumerate(scenario.rounds):
        side = check_round(spark, spec, bronze_uri, rounds[table], side, f"{table} round {i}")
    local = scenario.rounds[-1][table]
    assert to_polars(side.state).height == local.state.height > 0
    if spec.source != "csv_drop":  # the last round reloaded every replicated table
        assert scenario.rounds[-1][table].reloads, table


@pytest.mark.parametrize("dataset", ["autocorp", "saas"])
def test_the_scenario_reload_removes_rows_and_keeps_later_changes(scenarios, dataset):
    """The reload round is not vacuous: rows deleted while DMS did not capture them are removed
    by the reload, and changes captured after it are applied."""
    final = scenarios(dataset).rounds[-1]
    assert sum(r.result.reload_deletes for r in final.values()) > 0
    assert sum(r.result.deleted for r in final.values()) > 0
    after_reload = [
        r.resolved.filter(pl.col("_file_kind") == "cdc").height
        for r in final.values()
        if r.resolved.height
    ]
    assert sum(after_reload) > 0  # CDC changes ordered after the reload's start


@pytest.mark.parametrize("dataset", ["autocorp", "saas"])
def test_gold_metrics_from_spark_silver_equal_the_local_ones(spark, scenarios, dataset):
    """Gold on Spark runs the same metric definitions on silver read through Spark (Arrow)."""
    from polars.testing import assert_frame_equal

    from lakehouse.engine.core.metrics import load_metrics
    from lakehouse.engine.spark.gold import compute_metric
    from lakehouse.gold.masking import mask_pii, pii_columns
    from lakehouse.gold.model import conform

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
