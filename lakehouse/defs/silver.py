"""Silver assets, one per registry table with a key: ``["silver", table]`` (and
``["silver", f"{table}_history"]`` for SCD type 2). See ``engine.silver`` for the data contract.

They move by themselves (declarative automation, set in ``definitions.py``) and can be rebuilt from bronze with the run config ``full_refresh: true``.

The step also evaluates the table's checks (``defs.checks.step_check_specs``: ``schema``, blocking;
``reconciliation``, ``freshness``) right after the merge; the step is subsettable, so the checks
can be executed alone (no merge) from the UI, and ``freshness`` runs alone on its dataset's cron.
``reconciliation`` keeps to its budget (``quality.reconcile.due``): a table whose last one took a
second or more is not reconciled again before ten times that long (the run logs why); alone, it
always runs.
Selecting one key of an SCD2 table's pair still merges both tables (they are written together);
only the selected one is reported.
"""

import time

import dagster as dg

from lakehouse.defs.checks import reconciliation_result, silver_schema_result, step_check_specs
from lakehouse.defs.freshness import silver_freshness_result
from lakehouse.defs.resources import LakeResource, SourceDatabaseResource
from lakehouse.quality import reconcile
from lakehouse.registry import DatasetSpec, TableSpec, widened


class SilverConfig(dg.Config):
    full_refresh: bool = False


def _kinds(table: TableSpec) -> set[str]:
    return {"delta", "polars"} if table.table_format == "delta" else {"delta", "polars", "hudi"}


def silver_asset(dataset: DatasetSpec, table: TableSpec) -> dg.AssetsDefinition:
    @dg.multi_asset(
        name=f"silver_{table.name}",
        specs=_silver_specs(dataset, table),
        check_specs=step_check_specs(table, dataset),
        can_subset=True,
        pool=f"silver_{table.name}",
    )
    def _silver(
        context: dg.AssetExecutionContext,
        config: SilverConfig,
        lake: LakeResource,
        source_db: SourceDatabaseResource,
    ):
        from lakehouse.engine.silver import apply_changes, read_silver
        from lakehouse.engine.silver_reads import silver_version

        selected = {k.path[1] for k in context.selected_asset_keys}
        before = None  # the table's version before this step wrote it (None: check it all)
        if selected and not config.full_refresh:
            before = silver_version(lake.lake(), table)
        if selected:
            res = apply_changes(
                lake.lake(),
                table,
                full_refresh=config.full_refresh,
                progress=lambda r: context.log.info(
                    f"silver/{table.name}: bronze v{r.bronze_version} applied so far, "
                    f"{r.changes} changes"
                ),
            )
            context.log.info(
                f"silver/{table.name}: {res.changes} changes from bronze v{res.bronze_version}: "
                f"+{res.inserted} ~{res.updated} -{res.deleted}, {res.ignored} ignored, "
                f"{res.quarantined} quarantined{' (full refresh)' if res.full_refresh else ''}"
            )
        if table.name in selected:
            yield dg.MaterializeResult(asset_key=["silver", table.name], metadata=_metadata(res))
        if f"{table.name}_history" in selected:
            yield dg.MaterializeResult(
                asset_key=["silver", f"{table.name}_history"],
                metadata={"versions_added": res.history_rows},
            )
        checks = {k.name for k in context.selected_asset_check_keys}
        the_lake = lake.lake()
        keys = None  # the key columns (keyless: one, rows counted), read once for both checks
        if "reconciliation" in checks and selected and not config.full_refresh:  # alone: always
            go, why = reconcile.due(the_lake, table, time.time())
            if not go:
                checks.discard("reconciliation")
                context.log.info(f"silver/{table.name}: reconciliation not this run: {why}")
        if "reconciliation" in checks:
            started = time.time()
            keys = read_silver(
                the_lake, table, columns=list(table.primary_key) or table.column_names[:1]
            )
            reading = time.time() - started
        if "schema" in checks:  # with the types widened at the source (registry.widened)
            yield silver_schema_result(
                the_lake,
                widened.apply(the_lake, table),
                before,
                keys if table.primary_key else None,
            )
        if keys is not None:
            comparing = time.time()
            yield reconciliation_result(table, keys, source_db.dataset_dsn(table.dataset))
            reconcile.record(the_lake, table, started, reading + time.time() - comparing)
        if "freshness" in checks:
            yield silver_freshness_result(the_lake, table.name, dataset.freshness)

    return _silver


def _silver_specs(dataset: DatasetSpec, table: TableSpec) -> list[dg.AssetSpec]:
    """``silver/<table>`` and, for an SCD type 2 table, ``silver/<table>_history``."""
    common = dict(
        deps=[dg.AssetKey(["bronze", table.name])],
        group_name=f"{dataset.name}_silver",
        kinds=_kinds(table),
        owners=list(table.owners),
    )
    fmt_note = (
        " Declared as Hudi (Copy-on-Write) for the Spark engine; stored as Delta in the local profile."
        if table.table_format == "hudi"
        else ""
    )
    specs = [
        dg.AssetSpec(
            key=["silver", table.name],
            description=f"Current state of {table.name} (SCD type 1, CDC applied by key "
            f"{', '.join(table.primary_key)}).{fmt_note} {table.description}".strip(),
            metadata={"primary_key": ", ".join(table.primary_key), "scd_type": table.scd_type},
            **common,
        )
    ]
    if table.scd_type == 2:
        specs.append(
            dg.AssetSpec(
                key=["silver", f"{table.name}_history"],
                description=f"Every version of {table.name} (SCD type 2: __start_at, __end_at, __is_current).",
                **common,
            )
        )
    return specs


def _metadata(res) -> dict:
    """The materialization metadata of ``silver/<table>``: what one apply of changes did."""
    return {
        "changes": res.changes,
        "inserted": res.inserted,
        "updated": res.updated,
        "deleted": res.deleted,
        "ignored": res.ignored,
        "quarantined": res.quarantined,
        "bronze_version": -1 if res.bronze_version is None else res.bronze_version,
        "delta_version": -1 if res.version is None else res.version,
        "full_refresh": res.full_refresh,
        "duration_s": round(res.seconds, 3),
    }


def silver_assets(dataset: DatasetSpec) -> list[dg.AssetsDefinition]:
    return [silver_asset(dataset, t) for t in dataset.tables]
