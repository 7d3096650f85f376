"""A replication task: which database, which tables, which DMS settings, where the files go.

One task per dataset (its own database, logical slot and publication), like one AWS DMS task.
Raw layout, as the DMS S3 target writes it (``BucketFolder`` = ``raw/database``):
``raw/database/<schema>/<table>/LOAD00000001.<ext>`` for the full load and
``raw/database/<schema>/<table>/[<date partition>/]<yyyymmdd-hhmmssfff>.<ext>`` for CDC.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from lakehouse.dms.settings import DmsS3Settings
from lakehouse.dms.table_mappings import TableMappings
from lakehouse.registry.model import TableSpec

RAW_DATABASE_PREFIX = "raw/database"


@dataclass(frozen=True)
class ReplicationTask:
    name: str
    dsn: str
    settings: DmsS3Settings
    selection_rules: tuple[dict, ...] = (
        {"rule-action": "include", "schema-name": "public", "table-name": "%"},
    )
    #: the declaration's include rules: a source table they match that the task does not
    #: capture (not declared yet) is reported, never silently left out
    watch_rules: tuple[dict, ...] = ()
    #: a source table ``watch_rules`` match that the task does not capture joins it (full-loaded
    #: alone, recorded in ``registry.captured``) instead of being reported
    capture_new: bool = False
    #: lake table names other declared datasets use: a new source table named so is reported,
    #: not captured (its raw folder and lake tables are theirs)
    reserved: frozenset[str] = field(default_factory=frozenset, compare=False)
    #: the dataset's ``table_prefix``: a source table ``t`` is the lake table ``<prefix>t``
    table_prefix: str = ""
    #: the DMS BucketFolder: files under ``<bucket_folder>/<schema>/<table>/``
    bucket_folder: str = RAW_DATABASE_PREFIX
    #: "schema.table" → source columns left out of every file (declared ``exclude_columns``)
    exclude_columns: dict[str, tuple[str, ...]] = field(default_factory=dict, compare=False)
    registry: dict[str, TableSpec] = field(
        default_factory=dict, compare=False
    )  # "schema.table" → spec
    #: the task's table mappings when they shape the files beyond ``settings.before_image_key``
    #: and ``change_seq_column`` (then the files follow the mappings' layout)
    table_mappings: TableMappings | None = field(default=None, compare=False)
    #: DMS ``MaxFullLoadSubTasks``: at most this many tables copied at once by a full load
    #: (worker processes, at most one per CPU; ``replication.parallel_load``)
    max_full_load_subtasks: int = 8

    @property
    def slot(self) -> str:
        return slot_name(self.name)

    @property
    def publication(self) -> str:
        return f"lakehouse_{self.name}"

    @property
    def insert_only_publication(self) -> str:
        return f"lakehouse_{self.name}_inserts"


def slot_name(task: str) -> str:
    """The logical replication slot of task ``task``."""
    return f"lakehouse_{task}"


def resync_command(dataset: str, tables: list[str] | None = None) -> str:
    """The command line that resyncs ``dataset`` (named in errors about a lost slot)."""
    return f"lakehouse resync --dataset {dataset}" + "".join(f" --table {t}" for t in tables or ())


def table_prefix(schema: str, table: str, folder: str = RAW_DATABASE_PREFIX) -> str:
    return f"{folder}/{schema}/{table}/"


def dataset_task(dataset: str, dsn: str, settings: DmsS3Settings | None = None) -> ReplicationTask:
    """The task of a declared dataset: its declared database tables, with its DMS settings."""
    from lakehouse.declarations import declaration, declarations, load_dataset
    from lakehouse.declarations.dms import settings_for

    spec = load_dataset(dataset)
    declared = declaration(dataset)
    prefix = declared.decl.table_prefix or ""
    postgres = declared.sources_of("postgres")
    others = [d.spec for name, d in declarations().items() if name != dataset]
    settings = settings or settings_for(dataset)
    rules = tuple(
        {"rule-action": "include", "schema-name": t.schema, "table-name": t.source_table}
        for t in spec.database_tables
    )
    folders = {t.raw_folder for t in spec.database_tables} or {RAW_DATABASE_PREFIX}
    return ReplicationTask(
        name=dataset,
        dsn=dsn,
        settings=settings,
        bucket_folder=folders.pop(),
        watch_rules=spec.selection_rules,
        capture_new=spec.capture_new_tables,
        reserved=frozenset(t.name for d in others for t in d.tables),
        table_prefix=prefix,
        selection_rules=rules,
        registry={t.qualified_name: t for t in spec.database_tables},
        exclude_columns={
            t.qualified_name: t.exclude_columns for t in spec.database_tables if t.exclude_columns
        },
        # the postgres source's DMS MaxFullLoadSubTasks (the task's default without one)
        **({"max_full_load_subtasks": postgres[0].max_full_load_subtasks} if postgres else {}),
    )


def uncaptured_tables(task: ReplicationTask, lake) -> list[str]:
    """Source tables (``schema.table``) the task's include rules match that it neither declares
    nor has captured (``registry.captured``): the next run captures them when ``capture_new``."""
    import psycopg

    from lakehouse.registry import captured
    from lakehouse.source.catalog import select_tables

    if not task.watch_rules:
        return []
    with psycopg.connect(task.dsn, connect_timeout=5) as conn:
        found = {f"{s}.{t}" for s, t in select_tables(conn, list(task.watch_rules))}
    return sorted(found - set(task.registry) - set(captured.read(lake, task.name)))
