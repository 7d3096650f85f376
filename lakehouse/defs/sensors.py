"""Sensors: the pipeline moves without anyone pressing a button.

- ``<dataset>_dms_files`` and ``<dataset>_filesync_files`` watch the raw prefix of each of the
  dataset's database tables (DMS files) and CSV tables (file-sync drops, by file glob) with the
  cursor of ``sensors.cursor``; each requests one run of exactly the bronze assets whose
  tables got files not yet in bronze, *and their silver assets* (bronze, then silver with its
  blocking checks, in one run; the automation does not run silver again, since silver
  updated after bronze). A table whose bronze is in a run still waiting to start is deferred
  (its cursor entry is not advanced): that run ingests the files, and the next tick finds
  nothing left to do instead of queueing a no-op run. A *running* run does not defer (it may be
  past its bronze step): the new run starts meanwhile and its steps follow the running one's
  through the per-table pools, so at most one run per table runs and one waits. Its run key
  names the newest file per table, so nothing runs twice.
- In the local profile the ``dms_files`` sensor is the replicator under Dagster (AWS DMS plays this part
  in the aws profile, where the raw assets are external): each tick first asks PostgreSQL how
  far the WAL is ahead of the dataset's slot and peeks it for one change of its tables
  (``replication.lag``); a CDC catch-up of that is done *in the tick* (``sensors.catch_up``: the
  long-lived code server, no run process to start) and reported as materializations of the raw
  assets, and the files it wrote are requested in the same tick. The full load, a large backlog
  and a catch-up that failed in the tick are requested as runs of ``<dataset>_replication``
  (run key = the WAL position; none while a replication run is in progress), so they show in
  the UI and a failure is a failed run that the alert sensor reports. A commit thus reaches
  silver in one tick and one run (bench/README.md: where the seconds go). A quiet slot on a
  busy database is advanced and a lost one is one failing run (``sensors.catch_up``).
- ``<dataset>_landing`` (local profile): new or changed files in the landing folder → a run of
  the file-sync asset (the local DataSync task).
- ``automation``: the declarative-automation sensor (silver, gold and the catalog), every tick.
- ``alert_on_run_failure``: posts failed runs to a webhook (``LAKEHOUSE_ALERT_WEBHOOK``) or an
  SNS topic (``LAKEHOUSE_ALERT_SNS_TOPIC``); without either it logs.

Every sensor here ticks every ``Settings.tick_seconds`` (``LAKEHOUSE_TICK_SECONDS``, default
2 s, 5 s on aws); the in-tick catch-up's bounds are ``Settings.catch_up_max_bytes`` and ``catch_up_max_seconds``.
A factory given no ``settings`` uses their defaults; the code location passes the process's.
"""

import fnmatch
import hashlib
import json

import dagster as dg

from lakehouse.defs.reload import reload_if_grown
from lakehouse.defs.resources import LakeResource, LandingResource, SourceDatabaseResource
from lakehouse.engine.bronze import raw_lake
from lakehouse.profiles import Settings
from lakehouse.registry import DatasetSpec

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


def _replication_in_progress(instance: dg.DagsterInstance, raw_keys: list[dg.AssetKey]) -> bool:
    """Whether a run that replicates this dataset (any run selecting one of its raw assets, or
    every asset) is waiting or running: it will replicate everything up to the WAL end."""
    runs = instance.get_runs(
        filters=dg.RunsFilter(statuses=[*_WAITING, dg.DagsterRunStatus.STARTED])
    )
    wanted = set(raw_keys)
    return any(r.asset_selection is None or wanted & set(r.asset_selection) for r in runs)


def _catch_up(
    context, dataset: DatasetSpec, lake, dsn: str, settings: Settings
) -> tuple[list, list]:
    """The tick's replication step (``sensors.catch_up``): run requests and raw asset events."""
    from lakehouse.replication.task import dataset_task
    from lakehouse.sensors.catch_up import plan, replicate_inline

    raw_keys = [dg.AssetKey(["raw", t.name]) for t in dataset.database_tables]
    tags = {TRIGGER_TAG: "replication", DATASET_TAG: dataset.name}
    task = dataset_task(dataset.name, dsn)
    todo = plan(task, lake, max_bytes=settings.catch_up_max_bytes,
                replication_in_progress=_replication_in_progress(context.instance, raw_keys))  # fmt: skip
    watched = _watch_slot(context, dataset, task, lake, settings)
    if todo.action == "none" and _new_tables_due(dataset.name) and task.capture_new:
        from lakehouse.replication.task import uncaptured_tables

        new = uncaptured_tables(task, lake)
        if new:
            context.log.info(f"new source tables {new} match the include rules: a replication"
                             " run captures them (their assets appear when definitions reload)")  # fmt: skip
            key = f"capture:{','.join(new)}"
            return [dg.RunRequest(run_key=key, asset_selection=raw_keys, tags=tags)], watched
    if todo.action == "none":
        return [], watched
    if todo.action == "run":
        context.log.info(f"replication run: {todo.reason}")
        return [dg.RunRequest(run_key=todo.run_key, asset_selection=raw_keys, tags=tags)], watched
    try:
        stats = replicate_inline(task, lake, max_seconds=settings.catch_up_max_seconds)
    except Exception as exc:  # noqa: BLE001 (a run retries it where a failure alerts)
        context.log.error(f"inline catch-up failed ({exc}); requesting a replication run")
        return [
            dg.RunRequest(run_key=f"{todo.run_key}:retry", asset_selection=raw_keys, tags=tags)
        ], watched
    context.log.info(f"replicated {stats.total_changes} changes in {stats.transactions} "
                     f"transactions, {len(stats.files)} files ({todo.reason})")  # fmt: skip
    events = list(watched)
    for t in dataset.database_tables:
        files = [f for f in stats.files if f.startswith(t.raw_prefix)]
        if files:
            events.append(dg.AssetMaterialization(
                asset_key=["raw", t.name],
                description="CDC catch-up in the sensor tick",
                metadata={"cdc_changes": stats.changes.get(t.qualified_name, 0), "new_files": len(files)},
            ))  # fmt: skip
    for w in stats.warnings:
        context.log.warning(w)
    return [], events


#: seconds between two readings of a dataset's slot by its dms_files sensor
SLOT_WATCH_SECONDS = 60.0
#: per dataset: monotonic time of the last look for new source tables (``_new_tables_due``)
_TABLE_WATCH: dict[str, float] = {}


def _new_tables_due(dataset: str) -> bool:
    """Whether it is time (every ``SLOT_WATCH_SECONDS``) to look for new source tables."""
    import time

    if time.monotonic() - _TABLE_WATCH.get(dataset, float("-inf")) < SLOT_WATCH_SECONDS:
        return False
    _TABLE_WATCH[dataset] = time.monotonic()
    return True


#: per dataset: monotonic time of the last reading (its grade is in the lake: ``grade_key``)
_SLOT_WATCH: dict[str, float] = {}


def _watch_slot(context, dataset: DatasetSpec, task, lake, settings: Settings) -> list:
    """Every ``SLOT_WATCH_SECONDS``: the slot's ``replication_slot`` check evaluated from the tick
    (so a slot falling behind shows between replication runs); a slot that turns to error is
    alerted once (webhook, SNS or the log), as a failed run is: its last grade is kept in the
    lake, so a restart does not alert it again. Not before the first full load."""
    import time

    from lakehouse.defs.raw import slot_check_results
    from lakehouse.replication.slot_health import grade_key
    from lakehouse.replication.state import ReplicationState
    from lakehouse.sensors.alerts import send_alert

    if time.monotonic() - _SLOT_WATCH.get(dataset.name, float("-inf")) < SLOT_WATCH_SECONDS:
        return []
    if not ReplicationState.load(lake, task.name, task.slot).full_load_done:
        return []  # no slot to watch before the first full load
    results = slot_check_results(dataset, task)
    severity = "ok" if results[0].passed else results[0].severity.value.lower()
    _SLOT_WATCH[dataset.name] = time.monotonic()
    graded = grade_key(task.name)  # kept across restarts: alert once
    before = lake.read_text(graded) if lake.exists(graded) else "ok"
    if severity != before:
        lake.write_text(graded, severity)
    if severity == "error" and before != "error":
        message = {"job": f"{dataset.name}_replication", "error": results[0].description}
        where = send_alert(message, webhook=settings.alert_webhook, sns_topic=settings.alert_sns_topic,
                           region=settings.region, subject="lakehouse replication slot in error")  # fmt: skip
        context.log.error(f"{results[0].description} (reported to {where})")
    return [
        dg.AssetCheckEvaluation(
            asset_key=r.asset_key,
            check_name=r.check_name,
            passed=r.passed,
            severity=r.severity,
            description=r.description,
            metadata=r.metadata or {},
        )  # fmt: skip
        for r in results
    ]


#: the two raw zones a sensor watches: what AWS DMS writes, what AWS DataSync writes
SOURCES = {"database": "dms_files", "csv": "filesync_files"}


#: the unclaimed raw files last reported per dataset (a tick logs only what changed)
_UNCLAIMED: dict[str, frozenset[str]] = {}


def _report_unclaimed(context, dataset: DatasetSpec, the_lake) -> None:
    """Log the dataset's raw CSV files that no table's glob claims (new ones as a warning)."""
    from lakehouse.filesync.unclaimed import unclaimed_files

    keys = frozenset(o.key for o in unclaimed_files(the_lake, [dataset]))
    new = keys - _UNCLAIMED.get(dataset.name, frozenset())
    _UNCLAIMED[dataset.name] = keys
    if new:
        context.log.warning(
            f"{len(new)} raw file(s) no table of {dataset.name} claims (declare a csv_drop table"
            f" whose file_glob matches, or `lakehouse discover {dataset.name}`): {sorted(new)[:10]}"
        )


def raw_files_sensor(
    dataset: DatasetSpec,
    source: str,
    *,
    replicate: bool = False,
    settings: Settings | None = None,
) -> dg.SensorDefinition:
    """The ``<dataset>_dms_files`` (``source="database"``) or ``<dataset>_filesync_files``
    (``source="csv"``) sensor. ``replicate`` (local profile, database): each tick first
    replicates the source's changes (``sensors.catch_up``), so the files it writes are requested
    in the same tick."""
    settings = settings or Settings()
    tables = dataset.database_tables if source == "database" else dataset.csv_tables
    prefixes = _raw_prefixes(tables)
    globs = {t.name: t.file_glob for t in tables if t.source != "database"}
    by_name = {t.name: t for t in tables}
    replicate = replicate and source == "database"
    raw_keys = [dg.AssetKey(["raw", t.name]) for t in tables] if replicate else []

    def accept(name, obj) -> bool:
        return name not in globs or fnmatch.fnmatch(obj.key.rsplit("/", 1)[-1], globs[name])

    def evaluate(context: dg.SensorEvaluationContext, the_lake, dsn: str | None) -> dg.SensorResult:
        from lakehouse.sensors.cursor import scan

        requests, events = [], []
        if dsn is not None:
            requests, events = _catch_up(context, dataset, the_lake, dsn, settings)
        reload_if_grown(context, dataset, settings)
        if source == "csv":
            _report_unclaimed(context, dataset, the_lake)
        result = scan(raw_lake(the_lake, tables[0]) if tables else the_lake, prefixes,
                      context.cursor, accept=accept)  # fmt: skip
        if not result.names:
            return dg.SensorResult(run_requests=requests, asset_events=events, cursor=result.cursor)
        request, cursor = _request_new_files(context, dataset, the_lake, result, by_name)
        if request is not None:
            requests.append(request)
        return dg.SensorResult(run_requests=requests, asset_events=events, cursor=cursor)

    if replicate:

        def _sensor(
            context: dg.SensorEvaluationContext,
            lake: LakeResource,
            source_db: SourceDatabaseResource,
        ) -> dg.SensorResult:
            return evaluate(context, lake.lake(), source_db.dataset_dsn(dataset.name))
    else:

        def _sensor(context: dg.SensorEvaluationContext, lake: LakeResource) -> dg.SensorResult:
            return evaluate(context, lake.lake(), None)

    return dg.sensor(
        name=f"{dataset.name}_{SOURCES[source]}",
        minimum_interval_seconds=settings.tick_seconds,
        asset_selection=raw_keys + [k for t in tables for k in _downstream_of_bronze(t)],
        default_status=dg.DefaultSensorStatus.RUNNING,
        description=_raw_files_description(dataset, source, replicate),
    )(_sensor)


def _raw_prefixes(tables) -> dict[str, str]:
    """``{table: raw prefix the sensor lists}``; a CSV drop's narrowed to its glob's fixed part."""
    prefixes = {}
    for t in tables:
        if t.source == "database":
            prefixes[t.name] = t.raw_prefix
        else:  # a CSV drop: the part of its glob before the first wildcard
            prefixes[t.name] = t.raw_prefix + t.file_glob.split("*", 1)[0]
    return prefixes


def _request_new_files(context, dataset: DatasetSpec, the_lake, result, by_name: dict):
    """(one run of bronze and silver of the tables with files not yet in bronze, keyed by each
    one's newest file, or None; the cursor). A table whose bronze waits in a queued run is
    deferred: its cursor entry stays where it was."""
    from lakehouse.sensors.cursor import keep_previous

    busy = _bronze_waiting(context.instance)
    deferred = [n for n in result.names if n in busy]
    names = [n for n in result.names if n not in busy
             and _not_yet_in_bronze(the_lake, by_name[n], result.new[n])]  # fmt: skip
    cursor = keep_previous(result.cursor, context.cursor, deferred)
    if deferred:
        context.log.info(f"deferred (bronze in a run waiting to start): {deferred}")
    if not names:
        return None, cursor
    context.log.info(f"new raw files for {names}")
    newest = {n: result.new[n][-1].key for n in names}
    request = dg.RunRequest(
        run_key=_run_key(newest),
        asset_selection=[k for n in names for k in _downstream_of_bronze(by_name[n])],
        tags={TRIGGER_TAG: "raw_files", DATASET_TAG: dataset.name},
    )
    return request, cursor


def _raw_files_description(dataset: DatasetSpec, source: str, replicate: bool) -> str:
    return (
        f"Changes in {dataset.name}'s source database → replicated in the tick; "
        if replicate
        else ""
    ) + (
        f"new {'DMS' if source == 'database' else 'file-sync'} files of {dataset.name} "
        "→ one run of bronze + silver for exactly those tables"
    )


def landing_sensor(dataset: DatasetSpec, settings: Settings | None = None) -> dg.SensorDefinition:
    raw_keys = [dg.AssetKey(["raw", t.name]) for t in dataset.csv_tables]

    @dg.sensor(
        name=f"{dataset.name}_landing",
        minimum_interval_seconds=(settings or Settings()).tick_seconds,
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
        from lakehouse.filesync.sync import matches, sync_globs

        globs = sync_globs(dataset.csv_tables)
        files = {
            str(p.relative_to(folder)): [p.stat().st_size, p.stat().st_mtime_ns]
            for p in sorted(folder.rglob("*"))
            if p.is_file() and not p.name.startswith(".") and any(matches(p.name, g) for g in globs)
        }
        cursor = json.dumps(files, sort_keys=True)
        if cursor == context.cursor:
            return dg.SkipReason("landing folder unchanged")
        return dg.SensorResult(
            run_requests=[dg.RunRequest(run_key=_run_key(files), asset_selection=raw_keys)],
            cursor=cursor,
        )

    return _sensor


def automation_sensor(settings: Settings | None = None) -> dg.AutomationConditionSensorDefinition:
    return dg.AutomationConditionSensorDefinition(
        "automation",
        target=dg.AssetSelection.all(),
        minimum_interval_seconds=(settings or Settings()).tick_seconds,
        default_status=dg.DefaultSensorStatus.RUNNING,
        description="Declarative automation: silver, gold and the catalog follow their parents",
    )


def alert_sensor(settings: Settings | None = None) -> dg.SensorDefinition:
    """Failed runs → ``Settings.alert_webhook`` or ``alert_sns_topic`` (else the log)."""
    settings = settings or Settings()
    webhook, sns_topic, region = settings.alert_webhook, settings.alert_sns_topic, settings.region

    @dg.run_failure_sensor(
        name="alert_on_run_failure",
        default_status=dg.DefaultSensorStatus.RUNNING,
        minimum_interval_seconds=settings.tick_seconds,
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


def sensors(datasets: list[DatasetSpec], settings: Settings) -> list:
    """The location's sensors: automation, alerts and every dataset's (``settings.profile``)."""
    out: list = [automation_sensor(settings), alert_sensor(settings)]
    for ds in datasets:
        out += dataset_sensors(ds, settings.profile, settings)
    return out


def dataset_sensors(ds: DatasetSpec, profile: str, settings: Settings | None = None) -> list:
    """The sensors of one dataset: its raw zones' file sensors and, locally, its landing sync."""
    out: list = []
    if ds.database_tables:
        replicate = profile == "local" and not ds.reads_dms_output
        out.append(raw_files_sensor(ds, "database", replicate=replicate, settings=settings))
    if ds.csv_tables:
        out.append(raw_files_sensor(ds, "csv", settings=settings))
        if profile == "local":
            out.append(landing_sensor(ds, settings))
    return out
