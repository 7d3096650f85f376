"""Maintenance job (compaction, vacuum, tombstone GC) with one schedule per dataset, and the
local catalog asset (a DuckDB view per table, refreshed whenever a table it lists changes).

The ``maintenance`` job maintains every served dataset, or those its run config names
(``ops: {maintain_lake: {config: {datasets: [...]}}}``). Schedule ``<dataset>_maintenance``
runs it for one dataset on the dataset's ``maintenance.cron`` (default ``0 3 * * *``), stopped
unless the dataset declares ``maintenance.enabled: true``; the retentions are the dataset's too
(``registry.model.MaintenancePolicy``, ``engine.maintenance``).
"""

import dagster as dg

from lakehouse.defs.resources import LakeResource
from lakehouse.registry import DatasetSpec

OP_NAME = "maintain_lake"


class MaintenanceConfig(dg.Config):
    #: the datasets to maintain; empty: every dataset of the job
    datasets: list[str] = []


def maintenance_job(datasets: list[DatasetSpec]) -> dg.JobDefinition:
    @dg.op(
        name=OP_NAME,
        description="Compact and vacuum silver/gold/quarantine tables; collect old tombstones.",
    )
    def maintain_lake(
        context: dg.OpExecutionContext, config: MaintenanceConfig, lake: LakeResource
    ) -> dg.Output:
        from lakehouse.engine.maintenance import maintain_dataset

        unknown = set(config.datasets) - {ds.name for ds in datasets}
        if unknown:
            raise dg.Failure(
                f"maintenance: unknown datasets {sorted(unknown)}; served: "
                f"{', '.join(ds.name for ds in datasets)}"
            )
        results = []
        for ds in datasets:
            if config.datasets and ds.name not in config.datasets:
                continue
            for r in maintain_dataset(lake.lake(), ds):
                context.log.info(
                    f"{r.key}: compacted {r.files_removed_by_compaction}→{r.files_added_by_compaction} files, "
                    f"vacuumed {r.files_vacuumed}, tombstones collected {r.tombstones_collected}"
                )
                results.append(r)
        return dg.Output(
            None,
            metadata={
                "tables": len(results),
                "files_vacuumed": sum(r.files_vacuumed for r in results),
                "tombstones_collected": sum(r.tombstones_collected for r in results),
            },
        )

    @dg.job(name="maintenance", description="Table maintenance for every dataset")
    def _job():
        maintain_lake()

    return _job


def maintenance_schedules(
    job: dg.JobDefinition, datasets: list[DatasetSpec]
) -> list[dg.ScheduleDefinition]:
    """``<dataset>_maintenance``: the job for one dataset on its ``maintenance`` policy."""
    return [
        dg.ScheduleDefinition(
            name=f"{ds.name}_maintenance",
            job=job,
            cron_schedule=ds.maintenance.cron,
            run_config={"ops": {OP_NAME: {"config": {"datasets": [ds.name]}}}},
            default_status=dg.DefaultScheduleStatus.RUNNING
            if ds.maintenance.enabled
            else dg.DefaultScheduleStatus.STOPPED,
            description=f"Table maintenance of {ds.name} (its defs.yaml: maintenance.cron, "
            "maintenance.enabled)",
        )
        for ds in datasets
    ]


def catalog_asset(deps: list[dg.AssetKey], profile: str) -> dg.AssetsDefinition:
    @dg.asset(
        key=["catalog", "duckdb" if profile == "local" else "glue"],
        deps=deps,
        group_name="catalog",
        kinds={"duckdb"} if profile == "local" else {"glue", "athena"},
        description="One SQL view per bronze/silver/gold table (Glue-style database names), "
        "so `lakehouse query` and any DuckDB client see the newest snapshots.",
    )
    def _catalog(context: dg.AssetExecutionContext, lake: LakeResource) -> dg.MaterializeResult:
        from lakehouse.catalog import refresh_catalog
        from lakehouse.catalog.local import default_catalog_path

        the_lake = lake.lake()
        path = default_catalog_path(the_lake)
        views = refresh_catalog(the_lake, str(path) if path else ":memory:")
        context.log.info(f"catalog {path}: {len(views)} views")
        return dg.MaterializeResult(metadata={"views": len(views), "path": str(path)})

    return _catalog
