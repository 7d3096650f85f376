"""The Dagster code location: assembles per-layer definitions and the profile's resources.

Loaded lazily (``@dg.definitions``): the environment is read when Dagster loads the location,
never at import time.
"""

from __future__ import annotations

import dagster as dg


def build_definitions(settings=None) -> dg.Definitions:
    from lakehouse.datasets import all_datasets
    from lakehouse.defs.bronze import bronze_assets
    from lakehouse.defs.checks import silver_checks
    from lakehouse.defs.raw import raw_assets
    from lakehouse.defs.silver import silver_assets
    from lakehouse.profiles import Settings, build_resources

    settings = settings or Settings.from_env()
    assets: list = []
    checks: list = []
    for dataset in all_datasets(settings.dataset_names()):
        assets += raw_assets(dataset, settings.profile)
        assets += bronze_assets(dataset)
        assets += silver_assets(dataset)
        checks += silver_checks(dataset, settings.profile)
    return dg.Definitions(assets=assets, asset_checks=checks, resources=build_resources(settings))


@dg.definitions
def defs() -> dg.Definitions:
    return build_definitions()
