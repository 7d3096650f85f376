"""End to end on a real Dagster instance: seeded PostgreSQL → raw → bronze → silver → gold,
then churn at the source and again; silver must reconcile with the source each time."""

from __future__ import annotations

import re

import polars as pl
import psycopg
import pytest

from lakehouse.commands.status import status_report
from lakehouse.declarations import load_dataset
from lakehouse.engine.silver import read_silver
from lakehouse.profiles import Settings
from lakehouse.runs.materialize import materialize
from lakehouse.source.churn import apply_random_changes
from lakehouse.source.seed import seed

pytestmark = pytest.mark.integration


def _check_results(result) -> dict[tuple[str, str], bool]:
    out = {}
    for ev in result.all_events:
        if ev.event_type_value == "ASSET_CHECK_EVALUATION":
            data = ev.event_specific_data
            out[(data.asset_key.to_user_string(), data.check_name)] = data.passed
    return out


def _source_counts(dsn: str, dataset: str) -> dict[str, int]:
    with psycopg.connect(dsn) as conn:
        return {
            t.name: conn.execute(f'select count(*) from "{t.schema}"."{t.name}"').fetchone()[0]
            for t in load_dataset(dataset).database_tables
        }


def test_pipeline_end_to_end(fresh_db, tmp_path, monkeypatch):
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "dagster"))
    settings = Settings.from_env(
        {
            "LAKEHOUSE_ROOT": str(tmp_path / "lake"),
            "LAKEHOUSE_SOURCE_DSN": fresh_db,
            "LAKEHOUSE_DATASETS": "saas",
        }
    )
    seed(fresh_db, "saas", "small")
    lake = settings.lake()

    for round_ in range(2):
        result = materialize(settings=settings)
        assert result.success
        checks = _check_results(result)
        recon = {k: v for k, v in checks.items() if k[1] == "reconciliation"}
        assert len(recon) == 8 and all(recon.values()), recon
        assert all(v for k, v in checks.items() if k[1] == "schema"), checks
        counts = _source_counts(fresh_db, "saas")
        for t in load_dataset("saas").database_tables:
            assert read_silver(lake, t).height == counts[t.name], (round_, t.name)
        if round_ == 0:
            stats = apply_random_changes(fresh_db, "saas", 40, seed=5)
            assert stats.changes > 0

    gold = pl.from_arrow(
        __import__("deltalake").DeltaTable(lake.uri("gold/saas_tenant_summary")).to_pyarrow_table()
    )
    with psycopg.connect(fresh_db) as conn:
        revenue = conn.execute(
            "select coalesce(sum(total), 0) from core_order where status = 'completed'"
        ).fetchone()[0]
    assert gold["revenue"].sum() == revenue
    report = status_report(settings)
    assert "core_order" in report and "full load done" in report
    slot = next(line for line in report.splitlines() if line.startswith("  slot "))
    assert re.fullmatch(
        r"  slot OK: replication slot 'lakehouse_saas': [\d.]+ (B|kiB|MiB|GiB) of WAL behind"
        r" \(oldest pending commit \d+ s, wal_status reserved, max_slot_wal_keep_size \S+( MB)?\)",
        slot,
    ), slot


def test_a_commit_reaches_silver_in_one_tick_and_one_run_for_exactly_its_table(
    fresh_db, tmp_path, monkeypatch
):
    """The sensor's run, executed as the daemon would launch it: a ``saas_dms_files`` tick
    replicates the commit and requests one run of bronze + silver (with silver's checks) for
    exactly the table that got files."""
    import dagster as dg

    from lakehouse.definitions import build_definitions
    from lakehouse.defs.resources import LakeResource, SourceDatabaseResource
    from lakehouse.runs.instance import open_instance

    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "dagster"))
    settings = Settings.from_env(
        {"LAKEHOUSE_ROOT": str(tmp_path / "lake"), "LAKEHOUSE_SOURCE_DSN": fresh_db, "LAKEHOUSE_DATASETS": "saas"}
    )  # fmt: skip
    seed(fresh_db, "saas", "small")
    assert materialize(settings=settings).success
    defs = build_definitions(settings)
    job = defs.resolve_implicit_global_asset_job_def()
    resources = {
        "source_db": SourceDatabaseResource(dsn=fresh_db),
        "lake": LakeResource(root=str(settings.lake().path)),
    }
    with open_instance(settings) as instance:

        def tick(name: str, cursor=None):
            ctx = dg.build_sensor_context(instance=instance, resources=resources, cursor=cursor)
            return defs.get_sensor_def(name)(ctx)

        def execute(request):
            result = job.execute_in_process(
                instance=instance, asset_selection=list(request.asset_selection), tags=request.tags
            )
            assert result.success
            return result

        seen = tick("saas_dms_files")  # everything so far is in bronze already
        assert seen.run_requests == []
        with psycopg.connect(fresh_db, autocommit=True) as conn:
            conn.execute("update core_tenant set name = name || ' (renamed)'")
        replicated = tick("saas_dms_files", seen.cursor)
        assert [
            e.asset_key.to_user_string()
            for e in replicated.asset_events
            if isinstance(e, dg.AssetMaterialization)
        ] == ["raw/core_tenant"]
        (apply,) = replicated.run_requests
        result = execute(apply)
    done = {ev.asset_key.to_user_string() for ev in result.get_asset_materialization_events()}
    assert done == {"bronze/core_tenant", "silver/core_tenant"}
    assert {("silver/core_tenant", "schema"), ("silver/core_tenant", "reconciliation")} <= set(
        _check_results(result)
    )
    tenants = read_silver(settings.lake(), load_dataset("saas").table("core_tenant"))
    assert tenants["name"].str.ends_with(" (renamed)").all()
