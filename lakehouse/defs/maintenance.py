"""Maintenance job (compaction, vacuum, tombstone GC; daily schedule, off by default) and the
local catalog asset (a DuckDB view per table, refreshed whenever a table it lists changes)."""

import dagster as dg

from lakehouse.defs.resources import LakeResource
from lakehouse.registry import DatasetSpec


def maintenance_job(datasets: list[DatasetSpec]) -> dg.JobDefinition:
    @dg.op(description="Compact and vacuum silver/gold/quarantine tables; collect old tombstones.")
    def maintain_lake(context: dg.OpExecutionContext, lake: LakeResource) -> dg.Output:
        from lakehouse.engine.maintenance import maintain_dataset

        results = []
        for ds in datasets:
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


def maintenance_schedule(job: dg.JobDefinition) -> dg.ScheduleDefinition:
    return dg.ScheduleDefinition(
        job=job, cron_schedule="0 3 * * *", default_status=dg.DefaultScheduleStatus.STOPPED
    )


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
