"""The code location: every registry table becomes raw/bronze/silver assets with checks, per profile."""

from __future__ import annotations

import dagster as dg
import pytest

from lakehouse.declarations import all_datasets
from lakehouse.definitions import build_definitions
from lakehouse.profiles import Settings


def _defs(profile: str, tmp_path) -> dg.Definitions:
    return build_definitions(
        Settings.from_env({"LAKEHOUSE_PROFILE": profile, "LAKEHOUSE_ROOT": str(tmp_path)})
    )


@pytest.mark.parametrize("profile", ["local", "aws"])
def test_every_registry_table_has_its_assets(profile, tmp_path):
    graph = _defs(profile, tmp_path).resolve_asset_graph()
    keys = {k.to_user_string() for k in graph.get_all_asset_keys()}
    for ds in all_datasets():
        for t in ds.tables:
            assert f"raw/{t.name}" in keys
            assert f"bronze/{t.name}" in keys
            assert f"silver/{t.name}" in keys
            if t.scd_type == 2:
                assert f"silver/{t.name}_history" in keys
    # lineage: source → raw → bronze → silver
    source = graph.get(dg.AssetKey(["source", "core_order"]))
    assert not source.is_executable and "postgres" in source.kinds
    assert source.key in graph.get(dg.AssetKey(["raw", "core_order"])).parent_keys
    drops = graph.get(dg.AssetKey(["source", "customers_csv"]))
    assert "csv" in drops.kinds and drops.group_name == "autocorp_source"
    node = graph.get(dg.AssetKey(["silver", "core_order"]))
    assert dg.AssetKey(["bronze", "core_order"]) in node.parent_keys
    assert (
        dg.AssetKey(["raw", "core_order"])
        in graph.get(dg.AssetKey(["bronze", "core_order"])).parent_keys
    )


def test_specs_groups_kinds_owners_and_automation(tmp_path):
    graph = _defs("local", tmp_path).resolve_asset_graph()
    bronze = graph.get(dg.AssetKey(["bronze", "sales_order"]))
    assert bronze.group_name == "autocorp_bronze"
    assert {"delta", "polars"} <= set(bronze.kinds)
    assert bronze.owners == ["team:data-platform"]
    silver = graph.get(dg.AssetKey(["silver", "sales_order"]))
    assert "hudi" in silver.kinds  # the registry declares it Hudi (Spark engine)
    assert silver.automation_condition is not None
    gold = graph.get(dg.AssetKey(["gold", "saas_tenant_summary"]))
    assert gold.automation_condition is not None and gold.owners == ["team:data-platform"]
    assert dg.AssetKey(["silver", "core_order"]) in gold.parent_keys
    raw = graph.get(dg.AssetKey(["raw", "core_event"]))
    assert raw.is_executable and {"postgres", "s3"} <= set(raw.kinds)


def test_aws_profile_declares_raw_as_external(tmp_path):
    graph = _defs("aws", tmp_path).resolve_asset_graph()
    raw = graph.get(dg.AssetKey(["raw", "core_event"]))
    assert not raw.is_executable and "dms" in raw.kinds
    checks = {k.name for k in graph.asset_check_keys}
    assert "reconciliation" not in checks  # needs the local source database


def test_checks_per_silver_table(tmp_path):
    graph = _defs("local", tmp_path).resolve_asset_graph()
    by_asset: dict[str, set[str]] = {}
    for ck in graph.asset_check_keys:
        by_asset.setdefault(ck.asset_key.to_user_string(), set()).add(ck.name)
    assert by_asset["silver/sales_order_parts"] == {
        "schema",
        "references",
        "reconciliation",
        "freshness",
    }
    assert by_asset["silver/customers_csv"] == {"schema", "freshness"}
    assert by_asset["gold/saas_tenant_summary"] == {"freshness"}
    assert all(
        graph.get_check_spec(k).blocking for k in graph.asset_check_keys if k.name == "schema"
    )


def test_no_environment_is_read_at_import(monkeypatch):
    import importlib

    import lakehouse.definitions as mod

    monkeypatch.setenv("LAKEHOUSE_PROFILE", "nonsense")
    importlib.reload(mod)  # importing must not resolve the profile ...
    with pytest.raises(ValueError, match="LAKEHOUSE_PROFILE='nonsense'"):
        mod.build_definitions()  # ... building must


def test_datasets_filter(tmp_path):
    defs = build_definitions(
        Settings.from_env({"LAKEHOUSE_ROOT": str(tmp_path), "LAKEHOUSE_DATASETS": "saas"})
    )
    keys = {k.to_user_string() for k in defs.resolve_asset_graph().get_all_asset_keys()}
    assert "bronze/core_order" in keys and "bronze/sales_order" not in keys


def test_silver_checks_run_alone_in_the_silver_step_without_merging(tmp_path):
    """schema/reconciliation are check_specs of the silver step: executed alone (as the UI's
    "Execute checks" does) they read silver and merge nothing; a duplicate key fails schema."""
    from datetime import UTC, datetime

    import polars as pl

    from lakehouse.declarations import load_dataset
    from lakehouse.registry.types import table_polars_schema

    defs = _defs("local", tmp_path)
    table = load_dataset("saas").table("core_tenant")
    now = datetime(2024, 1, 1, tzinfo=UTC)
    row = {"id": "00000000-0000-0000-0000-000000000001", "name": "Acme", "slug": "acme",
           "domain": "acme.example", "is_active": True, "settings": "{}", "created_at": now, "updated_at": now}  # fmt: skip
    pl.DataFrame([row, row], schema=table_polars_schema(table)).write_delta(
        str(tmp_path / "silver" / "core_tenant")
    )
    key = dg.AssetCheckKey(dg.AssetKey(["silver", "core_tenant"]), "schema")
    job = defs.resolve_implicit_global_asset_job_def().get_subset(
        asset_selection=set(), asset_check_selection={key}
    )
    result = job.execute_in_process(instance=dg.DagsterInstance.ephemeral(), raise_on_error=False)
    (evaluation,) = result.get_asset_check_evaluations()
    assert evaluation.check_name == "schema" and not evaluation.passed and evaluation.blocking
    assert evaluation.metadata["rows"].value == 2
    assert result.get_asset_materialization_events() == []  # the check alone: no merge


def test_operations_declared_per_dataset_reach_the_checks_and_the_schedules(tmp_path):
    import copy

    import yaml

    from lakehouse.defs.resources import LakeResource
    from lakehouse_tests.declarations.test_declarations import GOOD

    doc = copy.deepcopy(GOOD)
    doc["attributes"]["freshness"] = {"max_lag": "90s", "cron": "*/1 * * * *"}
    doc["attributes"]["maintenance"] = {"cron": "30 1 * * 0", "enabled": True}
    path = tmp_path / "defs" / "shop" / "defs.yaml"
    path.parent.mkdir(parents=True)
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    env = {
        "LAKEHOUSE_ROOT": str(tmp_path / "lake"),
        "LAKEHOUSE_DEFS": str(tmp_path / "defs"),
        "LAKEHOUSE_DATASETS": "shop,saas",
    }
    defs = build_definitions(Settings.from_env(env))
    specs = {s.key: (s, c) for c in defs.asset_checks for s in c.check_specs}
    # the local silver step evaluates its own freshness check: the asset is the evaluator
    specs |= {s.key: (s, a) for a in defs.assets if isinstance(a, dg.AssetsDefinition)
              for s in a.check_specs}  # fmt: skip

    def freshness(*path):
        spec, check = specs[dg.AssetCheckKey(dg.AssetKey(list(path)), "freshness")]
        return spec.description, spec.automation_condition.cron_schedule, check

    description, cron, check = freshness("silver", "orders")
    assert (description, cron) == (
        "changes wait at most 90s between bronze and silver",
        "*/1 * * * *",
    )
    key = dg.AssetCheckKey(dg.AssetKey(["silver", "orders"]), "freshness")
    run = dg.materialize(  # the check alone: the silver step runs with no asset selected
        [check],
        selection=dg.AssetSelection.checks(key),
        resources={**defs.resources, "lake": LakeResource(root=str(tmp_path / "lake"))},
    )
    assert run.get_asset_materialization_events() == []  # no merge
    (result,) = run.get_asset_check_evaluations()  # nothing pending: lag 0
    assert result.asset_check_key == key and result.passed
    assert {k: v.value for k, v in result.metadata.items()} == {
        "lag_seconds": 0.0,
        "max_lag_seconds": 90.0,
    }
    assert freshness("silver", "core_order")[:2] == (
        "changes wait at most 2m between bronze and silver",
        "*/5 * * * *",
    )
    assert freshness("gold", "saas_tenant_summary")[:2] == (
        "gold follows its silver inputs within 2m",
        "*/5 * * * *",
    )
    schedules = {s.name: s for s in defs.schedules}
    assert sorted(schedules) == ["saas_maintenance", "shop_maintenance"]
    shop = schedules["shop_maintenance"]
    assert (shop.cron_schedule, shop.default_status, shop.job_name) == (
        "30 1 * * 0",
        dg.DefaultScheduleStatus.RUNNING,
        "maintenance",
    )
    (run,) = shop.evaluate_tick(dg.build_schedule_context()).run_requests
    assert run.run_config == {"ops": {"maintain_lake": {"config": {"datasets": ["shop"]}}}}
    saas = schedules["saas_maintenance"]
    assert (saas.cron_schedule, saas.default_status) == (
        "0 3 * * *",
        dg.DefaultScheduleStatus.STOPPED,
    )
    job = defs.resolve_job_def("maintenance")
    assert job.execute_in_process(run_config=run.run_config).success  # nothing to maintain yet
    unknown = {"ops": {"maintain_lake": {"config": {"datasets": ["nope"]}}}}
    failed = job.execute_in_process(run_config=unknown, raise_on_error=False)
    error = failed.failure_data_for_node("maintain_lake").error
    assert "maintenance: unknown datasets ['nope']; served: shop, saas" in error.message


def _intervals(defs: dg.Definitions) -> dict[str, int]:
    return {s.name: s.minimum_interval_seconds for s in defs.sensors}


@pytest.mark.parametrize("profile", ["local", "aws"])
def test_the_tick_seconds_setting_reaches_every_sensor(profile, tmp_path):
    env = {"LAKEHOUSE_PROFILE": profile, "LAKEHOUSE_ROOT": str(tmp_path)}
    default = _intervals(build_definitions(Settings.from_env(env)))
    observer = {"aws_raw_observer": 300} if profile == "aws" else {}
    tick = 5 if profile == "aws" else 2  # AWS DMS writes its files every minute
    assert default == {name: tick for name in default} | observer
    assert {"automation", "alert_on_run_failure", "events_raw_sensor", "saas_dms_files"} <= set(
        default
    )
    env |= {"LAKEHOUSE_TICK_SECONDS": "3", "LAKEHOUSE_AWS_OBSERVER_SECONDS": "60"}
    tuned = _intervals(build_definitions(Settings.from_env(env)))
    assert tuned == {name: 3 for name in default} | ({"aws_raw_observer": 60} if observer else {})


def test_a_bad_process_setting_is_one_line_naming_the_variable_and_the_fix():
    with pytest.raises(ValueError) as err:
        Settings.from_env({"LAKEHOUSE_TICK_SECONDS": "5s"})
    assert str(err.value) == (
        "LAKEHOUSE_TICK_SECONDS='5s': not a whole number above 0 — fix: e.g."
        " LAKEHOUSE_TICK_SECONDS=2, or unset it for the default 2"
    )
    with pytest.raises(ValueError, match=r"^LAKEHOUSE_CATCH_UP_MAX_SECONDS='0': not a number"):
        Settings.from_env({"LAKEHOUSE_CATCH_UP_MAX_SECONDS": "0"})
