"""Sensors: the pipeline moves without anyone pressing a button.

- ``<dataset>_raw_files`` watches each table's raw prefix (DMS files; CSV drops by file glob)
  with the cursor of ``sensors.cursor`` and requests one run of exactly the bronze assets whose
  tables got files not yet in bronze, *and their silver assets* (bronze, then silver with its
  blocking checks, in one run: one process start less between a commit and silver; the eager
  automation does not run silver again, since silver updated after bronze). A table whose bronze
  is in a run still waiting to start is deferred (its cursor entry is not advanced): that run
  ingests the files, and the next tick finds nothing left to do instead of queueing a no-op run.
  A *running* run does not defer (it may be past its bronze step): the new run starts meanwhile
  and its steps follow the running one's through the per-table pools, so at most one run per
  table runs and one waits. Its run key names the newest file per table, so nothing runs twice.
- ``<dataset>_source_changes`` (local profile): the replicator runs *under Dagster* as the
  ``<dataset>_replication`` asset. This sensor asks PostgreSQL how far the WAL is ahead of the
  task's slot and peeks it for one change of its tables (``replication.lag``); it requests a
  catch-up run only when there is something to replicate (run key = the WAL position), plus the
  first full load, and none while one of its runs is still waiting to start (that run will
  replicate everything up to the WAL end it finds). Runs show in the UI like any other, and a
  failed replication is a failed run that the alert sensor reports. (AWS DMS plays this part in
  the aws profile, where the raw assets are external.) A commit thus reaches silver in two runs:
  the replication run, then the ``raw_files`` run of bronze + silver for the tables that got
  files. (Carrying bronze and silver in the replication run was tried: the steps of tables
  without files are skipped, and Dagster records their silver checks as skipped, which the
  gold automation reads as "blocking checks not passed": gold stopped following silver.)
- ``<dataset>_landing`` (local profile): new or changed files in the landing folder → a run of
  the file-sync asset (the local DataSync task).
- ``automation``: the declarative-automation sensor (silver, gold and the catalog), every 5 s.
- ``alert_on_run_failure``: posts failed runs to a webhook (``LAKEHOUSE_ALERT_WEBHOOK``) or an
  SNS topic (``LAKEHOUSE_ALERT_SNS_TOPIC``); without either it logs.
"""

import fnmatch
import hashlib
import json

import dagster as dg

from lakehouse.defs.resources import LakeResource, LandingResource, SourceDatabaseResource
from lakehouse.registry import DatasetSpec

TICK_SECONDS = 5
TRIGGER_TAG = "lakehouse/trigger"
DATASET_TAG = "lakehouse/dataset"
_WAITING = [
    dg.DagsterRunStatus.QUEUED,
    dg.DagsterRunStatus.NOT_STARTED,
    dg.DagsterRunStatus.STARTING,
]


def _run_key(parts: dict[str, str]) -> str:
    return hashlib.sha1(json.dumps(parts, sort_keys=True).encode()).hexdigest()[:20]


def _downstream_of_bronze(table) -> list[dg.AssetKey]:
    """The bronze asset of ``table`` and the silver assets its silver multi-asset materializes."""
    keys = [dg.AssetKey(["bronze", table.name])]
    if table.primary_key:
        keys.append(dg.AssetKey(["silver", table.name]))
        if table.scd_type == 2:
            keys.append(dg.AssetKey(["silver", f"{table.name}_history"]))
    return keys


def _bronze_waiting(instance: dg.DagsterInstance) -> set[str]:
    """Tables whose bronze asset is in a run that has not started yet (it will ingest every
    file there is when it does; a running one may be past its bronze step already)."""
    runs = instance.get_runs(filters=dg.RunsFilter(statuses=_WAITING))
    return {k.path[1] for r in runs for k in (r.asset_selection or ()) if k.path[0] == "bronze"}


def _not_yet_in_bronze(lake, table, objs) -> bool:
    """Whether any of ``objs`` is not ingested into ``bronze/<table>`` yet (when bronze's state
    cannot be read, assume so: a no-op run is cheaper than a missed file)."""
    from lakehouse.engine.bronze import pending_files

    try:
        return bool(pending_files(lake, table, objs))
    except Exception:  # noqa: BLE001 (e.g. the bronze table is being created right now)
        return True


def raw_files_sensor(dataset: DatasetSpec) -> dg.SensorDefinition:
    prefixes = {}
    for t in dataset.tables:
        if t.source == "database":
            prefixes[t.name] = t.raw_prefix
        else:  # a CSV drop: the part of its glob before the first wildcard
            prefixes[t.name] = t.raw_prefix + t.file_glob.split("*", 1)[0]
    globs = {t.name: t.file_glob for t in dataset.csv_tables}
    by_name = {t.name: t for t in dataset.tables}

    def accept(name, obj) -> bool:
        return name not in globs or fnmatch.fnmatch(obj.key.rsplit("/", 1)[-1], globs[name])

    @dg.sensor(
        name=f"{dataset.name}_raw_files",
        minimum_interval_seconds=TICK_SECONDS,
        asset_selection=[k for t in dataset.tables for k in _downstream_of_bronze(t)],
        default_status=dg.DefaultSensorStatus.RUNNING,
        description=f"New DMS / file-sync files of {dataset.name} → one run of bronze + silver for exactly those tables",
    )
    def _sensor(context: dg.SensorEvaluationContext, lake: LakeResource) -> dg.SensorResult:
        from lakehouse.sensors.cursor import keep_previous, scan

        the_lake = lake.lake()
        result = scan(the_lake, prefixes, context.cursor, accept=accept)
        if not result.names:
            return dg.SensorResult(cursor=result.cursor)
        busy = _bronze_waiting(context.instance)
        deferred = [n for n in result.names if n in busy]
        names = [n for n in result.names if n not in busy
                 and _not_yet_in_bronze(the_lake, by_name[n], result.new[n])]  # fmt: skip
        cursor = keep_previous(result.cursor, context.cursor, deferred)
        if deferred:
            context.log.info(f"deferred (bronze in a run waiting to start): {deferred}")
        if not names:
            return dg.SensorResult(cursor=cursor)
        newest = {n: result.new[n][-1].key for n in names}
        context.log.info(f"new raw files for {names}")
        return dg.SensorResult(
            run_requests=[
                dg.RunRequest(
                    run_key=_run_key(newest),
                    asset_selection=[k for n in names for k in _downstream_of_bronze(by_name[n])],
                    tags={TRIGGER_TAG: "raw_files", DATASET_TAG: dataset.name},
                )
            ],
            cursor=cursor,
        )

    return _sensor


def source_changes_sensor(dataset: DatasetSpec) -> dg.SensorDefinition:
    keys = [dg.AssetKey(["raw", t.name]) for t in dataset.database_tables]

    @dg.sensor(
        name=f"{dataset.name}_source_changes",
        minimum_interval_seconds=TICK_SECONDS,
        asset_selection=keys,
        default_status=dg.DefaultSensorStatus.RUNNING,
        description=f"WAL ahead of the {dataset.name} slot → a replication catch-up run",
    )
    def _sensor(
        context: dg.SensorEvaluationContext, source_db: SourceDatabaseResource
    ) -> dg.SensorResult | dg.SkipReason:
        from lakehouse.replication.lag import slot_lag

        tags = {TRIGGER_TAG: "source_changes", DATASET_TAG: dataset.name}
        if context.instance.get_run_ids(
            filters=dg.RunsFilter(statuses=_WAITING, tags=tags), limit=1
        ):
            return dg.SkipReason("a replication run is waiting to start: it will catch up")
        pubs = ",".join(f"lakehouse_{dataset.name}{s}" for s in ("", "_inserts"))
        lag = slot_lag(source_db.dataset_dsn(dataset.name), f"lakehouse_{dataset.name}", pubs)
        if lag.active:
            return dg.SkipReason("the replicator is streaming from the slot right now")
        if lag.slot_exists and not lag.has_changes:
            return dg.SkipReason(f"slot at {lag.confirmed}: no change of a replicated table")
        return dg.SensorResult(
            run_requests=[
                dg.RunRequest(
                    run_key=f"{dataset.name}:{lag.current}",
                    asset_selection=keys,
                    tags=tags,
                )
            ]
        )

    return _sensor


def landing_sensor(dataset: DatasetSpec) -> dg.SensorDefinition:
    raw_keys = [dg.AssetKey(["raw", t.name]) for t in dataset.csv_tables]

    @dg.sensor(
        name=f"{dataset.name}_landing",
        minimum_interval_seconds=TICK_SECONDS,
        asset_selection=raw_keys,
        default_status=dg.DefaultSensorStatus.RUNNING,
        description=f"New or changed CSV drops in the {dataset.name} landing folder → a file-sync run",
    )
    def _sensor(
        context: dg.SensorEvaluationContext, landing: LandingResource
    ) -> dg.SensorResult | dg.SkipReason:
        folder = landing.dataset_folder(dataset.name)
        if not folder.exists():
            return dg.SkipReason(f"no landing folder {folder}")
        files = {
            str(p.relative_to(folder)): [p.stat().st_size, p.stat().st_mtime_ns]
            for p in sorted(folder.rglob("*.csv"))
            if p.is_file()
        }
        cursor = json.dumps(files, sort_keys=True)
        if cursor == context.cursor:
            return dg.SkipReason("landing folder unchanged")
        return dg.SensorResult(
            run_requests=[dg.RunRequest(run_key=_run_key(files), asset_selection=raw_keys)],
            cursor=cursor,
        )

    return _sensor


def automation_sensor() -> dg.AutomationConditionSensorDefinition:
    return dg.AutomationConditionSensorDefinition(
        "automation",
        target=dg.AssetSelection.all(),
        minimum_interval_seconds=TICK_SECONDS,
        default_status=dg.DefaultSensorStatus.RUNNING,
        description="Declarative automation: silver, gold and the catalog follow their parents",
    )


def alert_sensor(webhook: str | None, sns_topic: str | None, region: str) -> dg.SensorDefinition:
    @dg.run_failure_sensor(
        name="alert_on_run_failure",
        default_status=dg.DefaultSensorStatus.RUNNING,
        minimum_interval_seconds=TICK_SECONDS,
    )
    def _alert(context: dg.RunFailureSensorContext):
        from lakehouse.sensors.alerts import send_alert

        message = {
            "run_id": context.dagster_run.run_id,
            "job": context.dagster_run.job_name,
            "error": context.failure_event.message,
            "assets": sorted(
                k.to_user_string() for k in (context.dagster_run.asset_selection or [])
            ),
        }
        where = send_alert(message, webhook=webhook, sns_topic=sns_topic, region=region)
        context.log.info(f"run failure {message['run_id']} reported to {where}")

    return _alert


def sensors(
    datasets: list[DatasetSpec], profile: str, *, webhook=None, sns_topic=None, region="us-east-1"
) -> list:
    out: list = [automation_sensor(), alert_sensor(webhook, sns_topic, region)]
    for ds in datasets:
        out.append(raw_files_sensor(ds))
        if profile == "local":
            if ds.database_tables:
                out.append(source_changes_sensor(ds))
            if ds.csv_tables:
                out.append(landing_sensor(ds))
    return out
