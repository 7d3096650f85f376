"""Silver and gold assets of the aws profile: each materialization is a Glue job run (the Spark
engine, ``glue_scripts/``) launched through Dagster Pipes.

Same asset keys, groups and data contracts as the local profile (``defs.silver``, ``defs.gold``),
so ``definitions.py`` swaps the factories when ``settings.profile == "aws"``. A silver asset runs
the ``bronze_to_silver`` job for its table, a gold asset the ``silver_to_gold`` job for its metric;
the job reports one materialization per asset through Pipes (counts, versions: see
``engine.core.results.SilverResult.metadata`` and ``engine.spark.gold.metadata``), to which
the asset adds the Glue run's id/URL, registers the table in the Glue catalog for Athena (Delta:
``table_type=DELTA``; Hudi tables are synced by the job itself) and, when asked, counts its rows
with Athena.

Silver checks (``aws_silver_checks``, which ``defs.checks.silver_checks`` returns for the aws
profile): the same check names and severities as the local profile's, ``schema`` (blocking) and
``references`` (warn), but evaluated by Athena over the Glue catalog (``aws.checks``), because
Glue writes silver as Delta or Hudi where the Dagster process cannot read it (delta-rs reads no
Hudi). The catalog supplies the column types; a table missing from the catalog fails ``schema``.

``raw_observer_sensor`` (stopped by default; when on, every ``LAKEHOUSE_AWS_OBSERVER_SECONDS``,
5 minutes by default) records an observation of every raw asset: the DMS task's status, CDC
latency and the table's statistics for database tables, the DataSync task's latest execution for
CSV drops (``aws.observers``).

Glue job arguments: ``--dataset``, ``--table`` / ``--metric``, ``--bronze-root``,
``--silver-root``, ``--gold-root`` (one bucket per zone), ``--full-refresh``, ``--hudi-database``,
``--declarations`` (a user's declaration, uploaded to the scripts bucket:
``declarations.shipping``) and the Pipes bootstrap arguments PipesGlueClient adds.
"""

import dagster as dg
from dagster_aws.pipes import PipesGlueClient

from lakehouse.aws.athena import LakehouseAthenaResource
from lakehouse.aws.config import AwsConfig
from lakehouse.aws.glue_catalog import GlueCatalogResource, hive_columns
from lakehouse.aws.observers import DataSyncObserverResource, DmsObserverResource
from lakehouse.declarations.shipping import ship
from lakehouse.gold.model import GoldMetric
from lakehouse.profiles import Settings
from lakehouse.registry import DatasetSpec, TableSpec

SILVER_JOB = "bronze_to_silver"
GOLD_JOB = "silver_to_gold"


class AwsSilverConfig(dg.Config):
    full_refresh: bool = False
    athena_row_count: bool = False


class AwsGoldConfig(dg.Config):
    athena_row_count: bool = False


def glue_arguments(aws: AwsConfig, dataset: str, **named) -> dict[str, str]:
    """The job arguments of a run (see the module docstring); ``named``: table, metric, …"""
    args = {
        "--dataset": dataset,
        "--bronze-root": aws.zone_root("bronze"),
        "--silver-root": aws.zone_root("silver"),
        "--gold-root": aws.zone_root("gold"),
    }
    for name, value in named.items():
        if value is not None:
            args[f"--{name.replace('_', '-')}"] = (
                str(value).lower() if isinstance(value, bool) else str(value)
            )
    return args


def _run(context, pipes_glue: PipesGlueClient, aws: AwsConfig, job: str, arguments: dict):
    """Run ``glue_scripts/<job>.py`` (``LakehousePipesGlueClient.run_entry_point``); its results."""
    return pipes_glue.run_entry_point(
        context=context, job=job, job_name=aws.glue_jobs[job], arguments=arguments
    ).get_results()


def _register_silver(catalog: GlueCatalogResource, aws: AwsConfig, table: TableSpec) -> None:
    database = aws.glue_databases["silver"]
    glue = catalog.catalog()
    if table.table_format == "delta":
        glue.register_delta_table(
            database,
            table.name,
            f"{aws.zone_root('silver')}/silver/{table.name}",
            hive_columns(table),
            description=table.description,
        )
    if table.scd_type == 2:
        glue.register_delta_table(
            database,
            f"{table.name}_history",
            f"{aws.zone_root('silver')}/silver/{table.name}_history",
            hive_columns(table, history=True),
        )


def _with_metadata(result, extra: dict):
    return dg.MaterializeResult(
        asset_key=result.asset_key, metadata={**(result.metadata or {}), **extra}
    )


def aws_silver_asset(dataset: DatasetSpec, table: TableSpec) -> dg.AssetsDefinition:
    kinds = {"spark", "glue", table.table_format}
    common = dict(
        deps=[dg.AssetKey(["bronze", table.name])],
        group_name=f"{dataset.name}_silver",
        kinds=kinds,
        owners=list(table.owners),
    )
    specs = [
        dg.AssetSpec(
            key=["silver", table.name],
            description=f"Current state of {table.name} (CDC applied by key {', '.join(table.primary_key)}) "
            f"by the Spark engine on AWS Glue, stored as {table.table_format.capitalize()}. {table.description}".strip(),
            metadata={
                "primary_key": ", ".join(table.primary_key),
                "scd_type": table.scd_type,
                "table_format": table.table_format,
            },
            **common,
        )
    ]
    if table.scd_type == 2:
        specs.append(
            dg.AssetSpec(
                key=["silver", f"{table.name}_history"],
                description=f"Every version of {table.name} (SCD type 2), Delta.",
                **common,
            )
        )

    @dg.multi_asset(name=f"silver_{table.name}", specs=specs, pool=f"silver_{table.name}")
    def _silver(
        context: dg.AssetExecutionContext,
        config: AwsSilverConfig,
        pipes_glue: PipesGlueClient,
        aws: AwsConfig,
        glue_catalog: GlueCatalogResource,
        athena: LakehouseAthenaResource,
    ):
        aws.require()
        arguments = glue_arguments(
            aws,
            dataset.name,
            declarations=ship(aws.client("s3"), aws.pipes_bucket, dataset.name),
            table=table.name,
            full_refresh=config.full_refresh,
            hudi_database=aws.glue_databases.get("silver"),
        )
        results = _run(context, pipes_glue, aws, SILVER_JOB, arguments)
        _register_silver(glue_catalog, aws, table)
        for result in results:
            extra = {}
            if config.athena_row_count:
                from lakehouse.aws.athena import athena_row_count

                name = result.asset_key.path[-1]
                extra["dagster/row_count"] = athena_row_count(
                    athena.get_client(), aws.glue_databases["silver"], name
                )
            yield _with_metadata(result, extra)

    return _silver


def aws_gold_asset(dataset: DatasetSpec, metric: GoldMetric) -> dg.AssetsDefinition:
    @dg.asset(
        key=["gold", metric.key],
        deps=[dg.AssetKey(["silver", t]) for t in metric.deps],
        group_name=f"{dataset.name}_gold",
        kinds={"spark", "glue", "delta"},
        description=metric.description,
        metadata={"table": metric.table_key, "silver_inputs": ", ".join(metric.deps)},
    )
    def _gold(
        context: dg.AssetExecutionContext,
        config: AwsGoldConfig,
        pipes_glue: PipesGlueClient,
        aws: AwsConfig,
        glue_catalog: GlueCatalogResource,
        athena: LakehouseAthenaResource,
    ):
        aws.require()
        results = _run(
            context,
            pipes_glue,
            aws,
            GOLD_JOB,
            glue_arguments(
                aws,
                dataset.name,
                declarations=ship(aws.client("s3"), aws.pipes_bucket, dataset.name),
                metric=metric.name,
            ),
        )
        database = aws.glue_databases["gold"]
        glue_catalog.catalog().register_delta_table(
            database,
            metric.key,
            f"{aws.zone_root('gold')}/{metric.table_key}",
            description=metric.description,
        )
        for result in results:
            extra = {}
            if config.athena_row_count:
                from lakehouse.aws.athena import athena_row_count

                extra["dagster/row_count"] = athena_row_count(
                    athena.get_client(), database, metric.key
                )
            return _with_metadata(result, extra)
        raise RuntimeError(f"the Glue run reported no materialization for gold/{metric.key}")

    return _gold


def aws_schema_check(table: TableSpec) -> dg.AssetChecksDefinition:
    @dg.asset_check(
        asset=["silver", table.name],
        name="schema",
        blocking=True,
        description=f"registry schema of {table.dataset}.{table.name} (types, nullability, "
        f"ranges, allowed values, key uniqueness), checked by Athena on the {table.table_format} "
        "table",
    )
    def _check(
        aws: AwsConfig, athena: LakehouseAthenaResource, glue_catalog: GlueCatalogResource
    ) -> dg.AssetCheckResult:
        from lakehouse.aws.checks import schema_report

        aws.require()
        database = aws.glue_databases["silver"]
        catalog = glue_catalog.catalog().table_columns(database, table.name)
        meta = {"table_format": table.table_format, "engine": "athena"}
        if catalog is None:
            return dg.AssetCheckResult(
                passed=False,
                severity=dg.AssetCheckSeverity.ERROR,
                metadata={
                    **meta,
                    "error": f"{database}.{table.name} is not in the Glue catalog "
                    "(not materialized yet, or the job's catalog sync failed)",
                },
            )
        passed, details = schema_report(athena.get_client(), database, table, catalog)
        return dg.AssetCheckResult(
            passed=passed,
            severity=dg.AssetCheckSeverity.ERROR,
            metadata={
                **meta,
                "rows": details["rows"],
                "failures": details["failures"],
                "details": dg.MetadataValue.json(details),
            },
        )

    return _check


def aws_references_check(table: TableSpec, dataset: DatasetSpec) -> dg.AssetChecksDefinition | None:
    names = {t.name for t in dataset.tables}
    refs = [(c.name, *c.references.split(".")) for c in table.columns if c.references]
    refs = [r for r in refs if r[1] in names]
    if not refs:
        return None
    others = sorted({r[1] for r in refs} - {table.name})

    @dg.asset_check(
        asset=["silver", table.name],
        name="references",
        additional_deps=[dg.AssetKey(["silver", o]) for o in others],
        description="referential rules (Athena): "
        + ", ".join(f"{c} → {t}.{k}" for c, t, k in refs),
    )
    def _check(aws: AwsConfig, athena: LakehouseAthenaResource) -> dg.AssetCheckResult:
        from lakehouse.aws.checks import references_report

        aws.require()
        orphans = references_report(athena.get_client(), aws.glue_databases["silver"], table, refs)
        return dg.AssetCheckResult(
            passed=not orphans,
            severity=dg.AssetCheckSeverity.WARN,
            metadata={"orphans": dg.MetadataValue.json(orphans), "engine": "athena"},
        )

    return _check


def aws_silver_checks(dataset: DatasetSpec) -> list[dg.AssetChecksDefinition]:
    """The aws profile's silver checks (see the module docstring)."""
    out = []
    for t in dataset.tables:
        if not t.primary_key:
            continue
        out.append(aws_schema_check(t))
        ref = aws_references_check(t, dataset)
        if ref is not None:
            out.append(ref)
    return out


def aws_silver_assets(dataset: DatasetSpec) -> list[dg.AssetsDefinition]:
    return [aws_silver_asset(dataset, t) for t in dataset.tables if t.primary_key]


def aws_gold_assets(dataset: DatasetSpec) -> list[dg.AssetsDefinition]:
    from lakehouse.engine.core.metrics import load_metrics

    return [aws_gold_asset(dataset, m) for m in load_metrics(dataset.name)]


_DMS_TABLE_KEYS = (
    "Inserts",
    "Updates",
    "Deletes",
    "Ddls",
    "FullLoadRows",
    "FullLoadErrorRows",
    "ValidationState",
    "TableState",
)


def observe_raw(
    datasets: list[DatasetSpec], aws: AwsConfig, dms, datasync
) -> list[dg.AssetObservation]:
    """One observation per raw asset of ``datasets`` whose task Terraform created."""
    events = []
    for dataset in datasets:
        arn = aws.dms_replication_tasks.get(dataset.name)
        if arn and dataset.database_tables:
            task = dms.metadata(arn)
            tables = task.pop("tables")
            for t in dataset.database_tables:
                stats = tables.get(t.qualified_name, {})
                table_meta = {f"table_{k.lower()}": stats[k] for k in _DMS_TABLE_KEYS if k in stats}
                meta = {k: v for k, v in task.items() if v is not None and k != "table_states"}
                events.append(
                    dg.AssetObservation(asset_key=["raw", t.name], metadata={**meta, **table_meta})
                )
        arn = aws.datasync_tasks.get(dataset.name)
        if arn and dataset.csv_tables:
            meta = datasync.metadata(arn)
            events += [
                dg.AssetObservation(asset_key=["raw", t.name], metadata=meta)
                for t in dataset.csv_tables
            ]
    return events


def raw_observer_sensor(
    datasets: list[DatasetSpec], settings: Settings | None = None
) -> dg.SensorDefinition:
    @dg.sensor(
        name="aws_raw_observer",
        minimum_interval_seconds=(settings or Settings()).aws_observer_seconds,
        default_status=dg.DefaultSensorStatus.STOPPED,
        description="Observes the raw zone's feeders: DMS task status, CDC latency and table "
        "statistics; DataSync's latest execution.",
    )
    def _observe(
        context: dg.SensorEvaluationContext,
        aws: AwsConfig,
        dms: DmsObserverResource,
        datasync: DataSyncObserverResource,
    ):
        aws.require()
        events = observe_raw(datasets, aws, dms.observer(), datasync.observer())
        context.log.info(f"{len(events)} raw observations")
        return dg.SensorResult(asset_events=events)

    return _observe
