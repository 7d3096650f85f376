"""Bronze inputs for the parity tests, made by the real local pipeline, and the local engine's
answers on them.

For one dataset: seed the embedded PostgreSQL at scale ``small``, replicate (full load) with the
local replicator, drop the CSV files (autocorp), ingest bronze and apply silver with the local
engine (round 0); then churn the source (inserts, updates, deletes, primary-key changes),
replicate the CDC, drop another CSV generation, ingest and apply again (round 1); then a DMS
reload (round 2): the source changes while the changes are not captured (they are lost with the
replication slot), the replicator's state is deleted so that it runs the full load again (the same
``LOAD`` file names: bronze's next load generation), and more changes are captured after it. For
every registry table and round it records what the local engine saw and decided: the bronze rows
read (the Spark engine's input), the bronze versions (the load log the Spark engine reads is the
bronze table's), the resolved change set (one row per key after the reloads and tombstones), the
quarantined rows, the table after the apply, its tombstones and, for SCD2 tables, its history.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

import polars as pl
import psycopg

from lakehouse.declarations import load_dataset
from lakehouse.declarations.dms import settings_for
from lakehouse.engine import bronze, silver
from lakehouse.engine.core.keys import history_key, silver_key, tombstone_key
from lakehouse.engine.core.results import SilverResult
from lakehouse.engine.increments import applied_bronze_version, read_bronze_changes
from lakehouse.engine.pii import standardize_pii
from lakehouse.engine.quarantine import quarantine_rule_failures
from lakehouse.engine.reloads import reload_deletes, reload_plan
from lakehouse.engine.sequencing import (
    explode_key_changes,
    last_per_key,
    unique_changes,
    with_sequence,
)
from lakehouse.engine.tombstones import filter_tombstoned
from lakehouse.registry import DatasetSpec, TableSpec
from lakehouse.replication.replicator import Replicator
from lakehouse.replication.state import ReplicationState
from lakehouse.replication.task import dataset_task
from lakehouse.source.churn import apply_random_changes
from lakehouse.source.seed import seed
from lakehouse.storage import LocalLake

T0 = datetime(2024, 6, 1, tzinfo=UTC)


@dataclass
class TableRound:
    """What the local engine saw and decided for one table in one round."""

    changes: pl.DataFrame  # bronze rows read (the input of both engines)
    resolved: pl.DataFrame  # one row per key: the MERGE source
    quarantined: pl.DataFrame  # _source_file, _source_row, __column, __reason
    state: pl.DataFrame  # silver/<table> after the apply
    tombstones: pl.DataFrame
    history: pl.DataFrame | None
    result: SilverResult
    now: datetime
    after: int | None = None  # the bronze version applied before this round (None: all)
    reloads: list = field(default_factory=list)  # the local engine's ``reloads.reload_plan``
    barrier: str | None = None
    settled: str | None = None


@dataclass
class Scenario:
    dataset: DatasetSpec
    root: str  # the lake (its bronze tables are the Spark engine's input in the JAR tests)
    rounds: list[dict[str, TableRound]] = field(default_factory=list)


def _read(lake, key: str) -> pl.DataFrame:
    from deltalake import DeltaTable
    from deltalake.exceptions import TableNotFoundError

    try:
        return pl.from_arrow(DeltaTable(lake.uri(key)).to_pyarrow_table())
    except TableNotFoundError:
        return pl.DataFrame()


def local_round(lake, spec: TableSpec, now: datetime) -> TableRound:
    """The local engine on one table: its resolved change set (computed with its own functions,
    as ``silver.apply_changes`` does, before the apply writes tombstones) and the apply itself."""
    from lakehouse.engine.delta import open_table

    after = applied_bronze_version(lake, silver_key(spec.name))
    target = open_table(lake, silver_key(spec.name))
    changes, version, _ = read_bronze_changes(lake, spec.name, after)
    reloads, barrier, settled = reload_plan(lake, spec, after, version)
    resolved, quarantined = pl.DataFrame(), pl.DataFrame()
    if changes.height or reloads:
        kept = standardize_pii(with_sequence(changes), spec) if changes.width else changes
        if changes.height:
            from lakehouse.quality.validate import split_valid

            _, bad = split_valid(kept.filter(pl.col("_op") != "D"), spec)
            quarantined = bad.select("_source_file", "_source_row", "__column", "__reason")
            kept, _ = quarantine_rule_failures(lake, spec, kept, now, write=False)
        exploded = explode_key_changes(kept, spec)
        if reloads:
            gone = reload_deletes(spec, kept, reloads, target)
            if gone.height:
                exploded = pl.concat([exploded, gone], how="diagonal_relaxed")
        exploded = unique_changes(exploded, spec)
        exploded, _ = filter_tombstoned(lake, spec, exploded)
        if barrier is not None:
            exploded = exploded.filter(pl.col("_sequence") >= barrier)
        resolved = last_per_key(exploded, spec)
    result = silver.apply_changes(lake, spec, now=now)
    return TableRound(
        changes=changes,
        resolved=resolved,
        quarantined=quarantined,
        state=silver.read_silver(lake, spec),
        tombstones=_read(lake, tombstone_key(spec.name)),
        history=_read(lake, history_key(spec.name)) if spec.scd_type == 2 else None,
        result=result,
        now=now,
        after=after,
        reloads=reloads,
        barrier=barrier,
        settled=settled,
    )


def _drop_csvs(lake: LocalLake, day: date, seed_: int) -> None:
    from lakehouse.datasets.autocorp import generator

    folder = lake.path / "raw" / "csv" / "autocorp"
    stamp = day.strftime("%Y%m%d")
    generator.write_customers_csv(folder / f"customers-{stamp}.csv", 300, seed=seed_)
    generator.write_sales_orders_csv(
        folder / f"sales_orders-{stamp}.csv", day, 300, seed=seed_, bad_fraction=0.03
    )


def build(pg_dsn: str, dataset: str, root, *, churn: int = 80) -> Scenario:
    """Run the two rounds of the module docstring for ``dataset``; the lake lives under ``root``."""
    from lakehouse.source import embedded

    spec = load_dataset(dataset)
    name = f"p_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(embedded.with_database(pg_dsn, "postgres"), autocommit=True) as conn:
        conn.execute(f'create database "{name}"')
    dsn = embedded.with_database(pg_dsn, name)
    lake = LocalLake(root)
    settings = settings_for(dataset)
    scenario = Scenario(spec, str(lake.path))
    seed(dsn, dataset, "small")
    task = dataset_task(dataset, dsn)
    for round_ in range(3):
        if round_ == 1:
            apply_random_changes(dsn, dataset, churn, seed=7)
        if round_ == 2:  # changes DMS misses, then a reload (full load again), then captured ones
            apply_random_changes(dsn, dataset, churn, seed=8)
            lake.delete(ReplicationState.key(task.name))
            Replicator(task, lake).run()
            apply_random_changes(dsn, dataset, churn // 2, seed=9)
        Replicator(task, lake).run()
        if spec.csv_tables and round_ < 2:
            _drop_csvs(lake, date(2024, 6, 1) + timedelta(days=round_), 42 + round_)
        now = T0 + timedelta(hours=round_)
        for table in spec.tables:
            bronze.ingest(lake, table, settings, now=now)
        scenario.rounds.append(
            {t.name: local_round(lake, t, now) for t in spec.tables if t.primary_key}
        )
    return scenario
