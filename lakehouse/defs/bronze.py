"""Bronze assets, one per registry table: ``["bronze", table]`` (see ``engine.bronze`` for the
data contract of the Delta change log and its quarantine)."""

import dagster as dg

from lakehouse.defs.resources import LakeResource
from lakehouse.registry import DatasetSpec, TableSpec


def bronze_asset(dataset: DatasetSpec, table: TableSpec) -> dg.AssetsDefinition:
    @dg.asset(
        key=["bronze", table.name],
        deps=[dg.AssetKey(["raw", table.name])],
        group_name=f"{dataset.name}_bronze",
        kinds={"delta", "polars"},
        owners=list(table.owners),
        description=(
            f"Append-only Delta change log of {table.name} with lineage columns "
            f"(_op, _commit_ts, _change_seq, _source_file, _source_row, _ingested_at). {table.description}"
        ).strip(),
        pool=f"bronze_{table.name}",
        metadata={"primary_key": ", ".join(table.primary_key), "table_format": "delta"},
    )
    def _bronze(context: dg.AssetExecutionContext, lake: LakeResource) -> dg.MaterializeResult:
        from lakehouse.declarations.dms import settings_for, table_layouts
        from lakehouse.engine.bronze import ingest

        settings = settings_for(dataset.name)
        res = ingest(
            lake.lake(),
            table,
            settings,
            layouts=table_layouts(table, settings),
            progress=lambda r: context.log.info(
                f"bronze/{table.name}: {len(r.files)} files, {r.rows} rows so far "
                f"(version {r.version})"
            ),
        )
        context.log.info(
            f"bronze/{table.name}: {len(res.files)} new files, {res.rows} rows {res.rows_by_op}, "
            f"{res.quarantined} quarantined"
        )
        for err in res.errors[:20]:
            context.log.warning(err)
        return dg.MaterializeResult(
            metadata={
                "files": len(res.files),
                "rows": res.rows,
                "inserts": res.rows_by_op.get("I", 0),
                "updates": res.rows_by_op.get("U", 0),
                "deletes": res.rows_by_op.get("D", 0),
                "quarantined": res.quarantined,
                "bytes_read": res.bytes_read,
                "delta_version": res.version if res.version is not None else -1,
                "duration_s": round(res.seconds, 3),
            }
        )

    return _bronze


def bronze_assets(dataset: DatasetSpec) -> list[dg.AssetsDefinition]:
    return [bronze_asset(dataset, t) for t in dataset.tables]
