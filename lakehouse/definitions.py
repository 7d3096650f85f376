"""The Dagster code location: assembles per-layer definitions and the profile's resources.

Loaded lazily (``@dg.definitions``): the environment is read when Dagster loads the location,
never at import time.
"""

from __future__ import annotations

import dagster as dg

from lakehouse.defs.automation import automation_for

OWNERS = ["team:data-platform"]


def _global_pass(spec: dg.AssetSpec) -> dg.AssetSpec:
    """The automation condition (``defs.automation.automation_for``: silver, gold and the
    catalog move when their parents change and hold while a parent's blocking check fails) and
    an owner everywhere: one place, not in every factory."""
    changes = {}
    condition = automation_for(spec)
    if condition is not None and spec.automation_condition is None:
        changes["automation_condition"] = condition
    if not spec.owners:
        changes["owners"] = OWNERS
    return spec.replace_attributes(**changes) if changes else spec


def dataset_assets(dataset, profile: str = "local", settings=None) -> tuple[list, list]:
    """The assets and checks of one declared dataset (raw, bronze, silver, gold); ``settings``:
    the process's knobs (their defaults when not given)."""
    from lakehouse.defs.bronze import bronze_assets
    from lakehouse.defs.checks import silver_checks
    from lakehouse.defs.gold import gold_assets
    from lakehouse.defs.raw import raw_assets
    from lakehouse.defs.silver import silver_assets

    if profile == "aws":  # silver and gold run as Glue jobs (the Spark engine)
        from lakehouse.defs.aws import aws_gold_assets as gold_assets
        from lakehouse.defs.aws import aws_silver_assets as silver_assets
    assets = raw_assets(dataset, profile, settings) + bronze_assets(dataset)
    assets += silver_assets(dataset) + gold_assets(dataset)
    return assets, silver_checks(dataset, profile)


def dataset_definitions(dataset, profile: str = "local", settings=None) -> dg.Definitions:
    """One dataset's assets, checks and sensors (what the ``Dataset`` component builds)."""
    from lakehouse.defs.raw import resync_jobs
    from lakehouse.defs.sensors import dataset_sensors

    assets, checks = dataset_assets(dataset, profile, settings)
    return dg.Definitions(
        assets=[a.map_asset_specs(_global_pass) if isinstance(a, dg.AssetsDefinition) else
                _global_pass(a) for a in assets],
        asset_checks=checks,
        jobs=resync_jobs([dataset], profile),
        sensors=dataset_sensors(dataset, profile, settings),
    )  # fmt: skip


def build_definitions(settings=None) -> dg.Definitions:
    from lakehouse.declarations import all_datasets, declarations, register, served
    from lakehouse.defs.events import events_defs
    from lakehouse.defs.freshness import freshness_checks
    from lakehouse.defs.maintenance import catalog_asset, maintenance_job, maintenance_schedules
    from lakehouse.defs.raw import resync_jobs
    from lakehouse.defs.resources import build_resources
    from lakehouse.defs.sensors import sensors
    from lakehouse.profiles import Settings

    settings = settings or Settings.from_env()
    assets: list = []
    checks: list = []
    datasets = all_datasets(served(settings), settings)
    for decl in declarations(settings).values():  # found by name later, whatever the env says
        register(decl)
    freshness = _event_freshness(settings)  # each asset key: its dataset's FreshnessPolicy
    for dataset in datasets:
        more_assets, more_checks = dataset_assets(dataset, settings.profile, settings)
        assets += more_assets
        checks += more_checks
        for a in more_assets:
            for k in a.keys if isinstance(a, dg.AssetsDefinition) else [a.key]:
                freshness[k] = dataset.freshness
    event_assets, event_checks, event_sensors = events_defs(settings)
    assets, checks = assets + event_assets, checks + event_checks
    table_keys = [
        k
        for a in assets
        for k in (a.keys if isinstance(a, dg.AssetsDefinition) else [a.key])
        if k.path[0] in ("bronze", "silver", "gold")
    ]
    if settings.profile == "local":
        assets.append(catalog_asset(table_keys, settings.profile))
    checks += freshness_checks(assets, freshness)
    job = maintenance_job(datasets)
    assets = [
        a.map_asset_specs(_global_pass) if isinstance(a, dg.AssetsDefinition) else _global_pass(a)
        for a in assets
    ]
    return dg.Definitions(
        # one process per run, not one per step: a run here is small, and process start-up
        # (importing the stack) would cost more than the work
        executor=dg.in_process_executor,
        assets=assets,
        asset_checks=checks,
        jobs=[job, *resync_jobs(datasets, settings.profile)],
        schedules=maintenance_schedules(job, datasets),
        sensors=sensors(datasets, settings) + event_sensors + _profile_sensors(settings, datasets),
        resources=build_resources(settings),
    )


def _event_freshness(settings) -> dict:
    """``silver/events_<source>``: the freshness of the dataset declaring the source."""
    from lakehouse.declarations import declarations

    return {
        dg.AssetKey(["silver", f"events_{s.name}"]): d.spec.freshness
        for d in declarations(settings).values()
        for s in d.sources_of("events")
    }


def _profile_sensors(settings, datasets) -> list:
    if settings.profile != "aws":
        return []
    from lakehouse.defs.aws import raw_observer_sensor

    return [raw_observer_sensor(datasets, settings)]


@dg.definitions
def defs() -> dg.Definitions:
    return build_definitions()
