"""Raw-zone assets: ``["raw", table]`` per registry table, produced by the replication task
(database tables) or the file sync (CSV drops) of each dataset, downstream of ``["source",
table]``: the PostgreSQL table or the landing folder's CSV drops they copy (external assets: the
lineage starts where the data does, source → raw → bronze → silver → gold).

In the ``local`` profile materializing them runs the project's replicator once (catch up with the
source, full load on first run) and the file sync. In the ``aws`` profile AWS DMS and DataSync
write the raw zone, so the same keys are declared as external assets (observed, not run here).
"""

import dagster as dg

from lakehouse.defs.resources import LakeResource, LandingResource, SourceDatabaseResource
from lakehouse.profiles import DEFAULT_CATCH_UP_MAX_SECONDS, Settings
from lakehouse.registry import DatasetSpec

RAW_CSV_PREFIX = "raw/csv/"


def source_spec(dataset: DatasetSpec, table) -> dg.AssetSpec:
    """The operational data a raw table copies: a PostgreSQL table or a landing folder's drops."""
    if table.source == "database":
        kinds, what = (
            {"postgres"},
            (
                f"Source table {table.qualified_name} in the {dataset.name} PostgreSQL database, "
                "replicated by the dataset's replication task (full load + CDC)."
            ),
        )
    else:
        kinds, what = (
            {"csv"},
            (
                f"CSV drops matching {table.file_glob} in the {dataset.name} landing folder, "
                "copied by the dataset's file-sync task."
            ),
        )
    return dg.AssetSpec(
        key=["source", table.name],
        group_name=f"{dataset.name}_source",
        kinds=kinds,
        owners=list(table.owners),
        description=f"{what} {table.description}".strip(),
    )


def _spec(dataset: DatasetSpec, table, kinds: set[str]) -> dg.AssetSpec:
    return dg.AssetSpec(
        key=["raw", table.name],
        deps=[dg.AssetKey(["source", table.name])],
        group_name=f"{dataset.name}_raw",
        kinds=kinds,
        owners=list(table.owners),
        description=f"Raw {table.source.replace('_', ' ')} files of {table.qualified_name if table.source == 'database' else table.name} "
        f"(under {table.raw_prefix}). {table.description}".strip(),
        metadata={"raw_prefix": table.raw_prefix},
    )


SLOT_CHECK = "replication_slot"


class ReplicationConfig(dg.Config):
    """``resync``: copy the tables again (all of the task's, or ``tables``) before CDC."""

    resync: bool = False
    tables: list[str] = []


def replication_asset(
    dataset: DatasetSpec, catch_up_max_seconds: float = DEFAULT_CATCH_UP_MAX_SECONDS
) -> dg.AssetsDefinition:
    specs = [_spec(dataset, t, {"postgres", "s3"}) for t in dataset.database_tables]
    checks = [
        dg.AssetCheckSpec(
            SLOT_CHECK,
            asset=["raw", t.name],
            description="The replication slot of the dataset's task: lag in bytes and time,"
            " WAL status; an error when it is lost (the task needs a resync)",
        )
        for t in dataset.database_tables
    ]

    @dg.multi_asset(
        name=f"{dataset.name}_replication",
        specs=specs,
        check_specs=checks,
        pool=f"replication_{dataset.name}",
    )
    def _replicate(
        context: dg.AssetExecutionContext,
        config: ReplicationConfig,
        lake: LakeResource,
        source_db: SourceDatabaseResource,
    ):
        """Run the replication task once: full load on first run, then CDC until caught up;
        with ``resync``, copy the tables again first."""
        from lakehouse.replication.lag import wait_until_free
        from lakehouse.replication.replicator import Replicator
        from lakehouse.replication.resync import resync
        from lakehouse.replication.slot_health import SlotLostError
        from lakehouse.replication.task import dataset_task

        task = dataset_task(dataset.name, source_db.dataset_dsn(dataset.name))
        # the dms_files sensor may be catching up in its tick right now: let it finish
        if not wait_until_free(task.dsn, task.slot, catch_up_max_seconds + 30):
            raise RuntimeError(_slot_busy(task, dataset.name))
        try:
            if config.resync:
                stats = resync(task, lake.lake(), config.tables or None)
            else:
                stats = Replicator(task, lake.lake()).run(follow=False)
        except SlotLostError:  # the check says so on every table before the run fails
            yield from slot_check_results(dataset, task)
            raise
        for w in stats.warnings:
            context.log.warning(w)
        yield from _raw_results(context, dataset, stats, _history(lake.lake(), dataset.name))
        yield from slot_check_results(dataset, task)

    return _replicate


def _slot_busy(task, dataset: str) -> str:
    """The one-line error of a replication run whose slot another replicator keeps streaming:
    who holds it (pid, application, client) and what to do."""
    import psycopg

    holder = "another replicator"
    try:
        with psycopg.connect(task.dsn, autocommit=True) as conn:
            row = conn.execute(
                """select s.active_pid, r.application_name, r.client_addr::text, r.backend_start
                   from pg_replication_slots s
                   left join pg_stat_replication r on r.pid = s.active_pid
                   where s.slot_name = %s""",
                (task.slot,),
            ).fetchone()
        if row and row[0]:
            pid, app, client, since = row
            where = ", ".join(x for x in (app and f"application {app!r}", client and f"from {client}",
                                          since and f"since {since:%Y-%m-%d %H:%M:%S %Z}") if x)  # fmt: skip
            holder = f"another replicator (pid {pid}{', ' + where if where else ''})"
    except psycopg.Error:
        pass  # the holder stays unnamed
    return (
        f"replication slot {task.slot!r} of dataset {dataset!r} stayed in use by {holder}:"
        " probably `lakehouse replicate --follow`, which already streams the raw files — fix:"
        " stop that replicator (Ctrl-C) before materializing the replication asset, or"
        f" materialize without it: lakehouse materialize --select"
        f" 'group:{dataset}_bronze or group:{dataset}_silver'"
    )


def _history(the_lake, dataset: str) -> dict[str, list[dict]]:
    from lakehouse.replication import schema_history

    return schema_history.read(the_lake, dataset)


def _raw_results(
    context, dataset: DatasetSpec, stats, history: dict | None = None
) -> list[dg.MaterializeResult]:
    """One materialization per replicated table: its full-load rows, changes and new files, and
    the source schema changes seen against its declaration (``schema_history``, newest 20)."""
    context.log.info(
        f"{dataset.name}: full load rows {dict(stats.full_load_rows)}, {stats.total_changes}"
        f" changes in {stats.transactions} transactions, {len(stats.files)} files"
    )
    return [
        dg.MaterializeResult(
            asset_key=["raw", t.name],
            metadata={
                "full_load_rows": stats.full_load_rows.get(t.qualified_name, 0),
                "cdc_changes": stats.changes.get(t.qualified_name, 0),
                "new_files": len([f for f in stats.files if f.startswith(t.raw_prefix)]),
                **(
                    {"schema_history": dg.MetadataValue.json(history[t.qualified_name][-20:])}
                    if history and history.get(t.qualified_name)
                    else {}
                ),
            },
        )
        for t in dataset.database_tables
    ]


def slot_check_results(dataset: DatasetSpec, task) -> list[dg.AssetCheckResult]:
    """The slot check of every replicated table of ``dataset`` (one reading of the slot)."""
    from lakehouse.replication.slot_health import assess, slot_health
    from lakehouse.replication.task import resync_command

    pubs = f"{task.publication},{task.insert_only_publication}"
    health = slot_health(task.dsn, task.slot, pubs)
    graded = assess(health, dataset.slot, fix=resync_command(dataset.name))
    severity = (
        dg.AssetCheckSeverity.ERROR if graded.severity == "error" else dg.AssetCheckSeverity.WARN
    )
    return [
        dg.AssetCheckResult(
            asset_key=["raw", t.name],
            check_name=SLOT_CHECK,
            passed=graded.severity == "ok",
            severity=severity,
            description=graded.message,
            metadata=health.metadata(),
        )
        for t in dataset.database_tables
    ]


def resync_job(dataset: DatasetSpec):
    """``<dataset>_resync``: the replication asset with ``resync`` on (all tables; edit
    ``tables`` in the launchpad to copy only some)."""
    return dg.define_asset_job(
        f"{dataset.name}_resync",
        selection=dg.AssetSelection.assets(*(["raw", t.name] for t in dataset.database_tables)),
        config={"ops": {f"{dataset.name}_replication": {"config": {"resync": True, "tables": []}}}},
        description=f"Copy {dataset.name}'s source tables again (a lost slot, a diverged table)"
        " while CDC goes on; silver takes the copy as a reload.",
    )


def file_sync_asset(dataset: DatasetSpec) -> dg.AssetsDefinition:
    specs = [_spec(dataset, t, {"s3", "csv"}) for t in dataset.csv_tables]

    @dg.multi_asset(name=f"{dataset.name}_file_sync", specs=specs)
    def _sync(context: dg.AssetExecutionContext, lake: LakeResource, landing: LandingResource):
        """Sync the dataset's landing folder into raw/csv (new or changed files, verified)."""
        from lakehouse.filesync import sync_folder
        from lakehouse.filesync.sync import matches, sync_globs

        folder = landing.dataset_folder(dataset.name)
        folder.mkdir(parents=True, exist_ok=True)
        report = sync_folder(
            folder,
            lake.lake(),
            f"{RAW_CSV_PREFIX}{dataset.name}/",
            include=sync_globs(dataset.csv_tables),
            task=dataset.name,
            settle_seconds=0,
        )
        for err in report.errors:
            context.log.error(err)
        for t in dataset.csv_tables:
            mine = [f for f in report.copied if matches(f.key.rsplit("/", 1)[-1], t.file_glob)]
            yield dg.MaterializeResult(
                asset_key=["raw", t.name],
                metadata={
                    "files_copied": len(mine),
                    "bytes": sum(f.size for f in mine),
                    "manifest": report.manifest_key or "",
                },
            )

    return _sync


def replicated_here(dataset: DatasetSpec, profile: str) -> bool:
    """Whether this process's replicator (not AWS DMS) writes the dataset's database tables."""
    return profile != "aws" and not dataset.reads_dms_output and bool(dataset.database_tables)


def resync_jobs(datasets: list[DatasetSpec], profile: str) -> list:
    return [resync_job(d) for d in datasets if replicated_here(d, profile)]


def raw_assets(dataset: DatasetSpec, profile: str, settings: Settings | None = None) -> list:
    """The dataset's source (external) and raw assets for ``profile`` (``settings``: the
    process's knobs; their defaults when not given)."""
    settings = settings or Settings()
    sources = [source_spec(dataset, t) for t in dataset.tables]
    if profile == "aws":
        return [
            *sources,
            *(_spec(dataset, t, {"postgres", "s3", "dms"}) for t in dataset.database_tables),
            *(_spec(dataset, t, {"s3", "datasync"}) for t in dataset.csv_tables),
        ]
    if dataset.reads_dms_output:  # AWS DMS writes these files: observed, not run here
        sources += [_spec(dataset, t, {"s3", "dms"}) for t in dataset.database_tables]
        out = sources
    else:
        replication = replication_asset(dataset, settings.catch_up_max_seconds)
        out = sources + ([replication] if replicated_here(dataset, profile) else [])
    if dataset.csv_tables:
        out.append(file_sync_asset(dataset))
    return out
