"""The YAML shape of a dataset declaration (the ``attributes`` of a ``defs.yaml``).

A declaration names the dataset, its sources (``postgres``, ``csv_drop``, ``dms_s3``) and its
tables with their pinned columns and overrides. Pydantic validates it (unknown keys are errors);
``declarations.problems`` turns errors into one line naming the file, the key and the fix, and
``declarations.spec`` the declaration into the registry's ``DatasetSpec``. Secrets are never values here: a DSN is named by
the environment variable that holds it (``dsn_env``).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from lakehouse.registry.durations import format_duration
from lakehouse.registry.model import FreshnessPolicy, MaintenancePolicy, SlotPolicy
from lakehouse.registry.sizes import format_size

NAME_PATTERN = r"^[a-z][a-z0-9_]*$"
#: what the replicator writes unless a postgres source's ``dms`` says otherwise: a header, ``Op``
#: in full-load files, the commit timestamp, the key's before-image (primary-key updates) and the
#: change sequence (a total order) -- every fact silver's CDC apply can use
REPLICATOR_DMS_DEFAULTS = {
    "AddColumnName": True,
    "IncludeOpForFullLoad": True,
    "TimestampColumnName": "_dms_commit_ts",
    "before_image_key": True,
    "change_seq_column": "_dms_change_seq",
}


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class ColumnDecl(_Model):
    """One column: its logical type (``lakehouse.registry.model.LOGICAL_TYPES``) and rules."""

    name: str
    type: str
    nullable: bool = True
    pii: Literal["email", "phone"] | None = None
    checks: dict[str, Any] = Field(default_factory=dict)
    references: str | None = None
    description: str = ""


class CsvDecl(_Model):
    """How a CSV drop's files are written."""

    delimiter: str = ","
    header: bool = True
    quote: str = '"'
    encoding: str = "utf-8"
    null_value: str = ""


class SelectionRuleDecl(_Model):
    """A DMS selection rule: include or exclude ``schema.table``; ``%`` matches any run."""

    rule_action: Literal["include", "exclude"] = Field("include", alias="rule-action")
    schema_name: str = Field("public", alias="schema-name")
    table_name: str = Field(..., alias="table-name")

    def as_dms(self) -> dict:
        return {
            "rule-action": self.rule_action,
            "schema-name": self.schema_name,
            "table-name": self.table_name,
        }


class PostgresSource(_Model):
    """A PostgreSQL database replicated by the lakehouse's replicator in the DMS S3 format.

    ``dsn_env`` names the environment variable holding the DSN (never the DSN itself); without
    it the embedded server is used, database ``database`` (default: the dataset's name).
    ``dms`` holds the S3Settings the files are written with, as AWS prints them, over
    ``REPLICATOR_DMS_DEFAULTS``. ``max_full_load_subtasks`` (DMS ``MaxFullLoadSubTasks``,
    default 8): tables of 64 MiB and more are full-loaded that many at once, in worker
    processes (at most one per CPU). ``new_tables``: a source table the selection rules match that
    the declaration does not name is ``capture``d (full-loaded alone while the others stream,
    declared with its discovered columns until ``lakehouse discover`` pins it: as DMS does with
    a ``%`` rule) or only ``report``ed.
    """

    kind: Literal["postgres"]
    name: str = "postgres"
    dsn_env: str | None = None
    database: str | None = None
    selection: list[SelectionRuleDecl] = Field(
        default_factory=lambda: [SelectionRuleDecl(**{"table-name": "%"})]
    )
    dms: dict[str, Any] = Field(default_factory=dict)
    new_tables: Literal["capture", "report"] = "capture"
    #: as the DMS task setting: at most this many big tables copied at once by a full load
    max_full_load_subtasks: int = 8

    @field_validator("max_full_load_subtasks")
    @classmethod
    def _subtasks(cls, v: int) -> int:
        if not 1 <= v <= 49:  # DMS's range
            raise ValueError(f"max_full_load_subtasks must be 1 to 49, got {v}")
        return v


class CsvDropSource(_Model):
    """CSV files dropped in a landing folder (``landing``, default ``<root>/landing/<dataset>``)."""

    kind: Literal["csv_drop"]
    name: str = "csv_drop"
    landing: str | None = None


class DmsS3Source(_Model):
    """An existing AWS DMS S3 output read as the raw zone (no replicator).

    ``path`` is the folder or ``s3://bucket/prefix`` holding ``<schema>/<table>/`` (the endpoint's
    BucketFolder included); ``endpoint_settings`` and ``table_mappings`` are the JSON AWS prints
    (inline, or a file path relative to the declaration); ``table_mappings`` may be a list, the
    task's mappings then each later revision (rules added while it ran: each file is read by its
    own layout). ``dsn_env`` optionally names a source DSN for reconciliation checks.
    """

    kind: Literal["dms_s3"]
    name: str = "dms_s3"
    path: str
    endpoint_settings: dict[str, Any] | str = Field(default_factory=dict)
    table_mappings: dict[str, Any] | str | list[dict[str, Any] | str] | None = None
    dsn_env: str | None = None


class EventFieldDecl(_Model):
    """A field of an event's ``data`` object (``lakehouse.events.schemas.Field``)."""

    name: str
    type: Literal["string", "number", "integer", "boolean", "timestamp"]
    required: bool = False
    ge: float | None = None
    le: float | None = None
    max_length: int | None = None
    pattern: str | None = None
    one_of: list[str] | None = None
    description: str = ""


class EventMetricDecl(_Model):
    """A column of ``gold/events_daily``: ``agg`` of ``field`` per source and day."""

    name: str
    agg: Literal["mean", "min", "max", "sum", "n_unique"]
    field: str


class EventsSource(_Model):
    """Records posted to the event ingestion API (``POST /ingest``) under ``name``: their
    ``data`` fields, the field holding the event time and the source's daily metrics."""

    kind: Literal["events"]
    name: str
    description: str = ""
    event_time: str | None = None
    fields: list[EventFieldDecl]
    metrics: list[EventMetricDecl] = Field(default_factory=list)
    allow_extra_fields: bool = False
    owners: list[str] = Field(default_factory=list)


Source = Annotated[
    PostgresSource | CsvDropSource | DmsS3Source | EventsSource, Field(discriminator="kind")
]


class TableDecl(_Model):
    """One table of a source, with its pinned columns and overrides."""

    name: str
    description: str = ""
    source: str | None = None  # a source's name; default: the dataset's only source of its kind
    schema_: str = Field("public", alias="schema")
    primary_key: list[str] = Field(default_factory=list)
    exclude_columns: list[str] = Field(default_factory=list)
    file_glob: str | None = None
    csv: CsvDecl | None = None
    partition_by: list[str] = Field(default_factory=list)
    table_format: Literal["delta", "hudi"] = "delta"
    scd_type: Literal[1, 2] = 1
    owners: list[str] = Field(default_factory=list)
    #: SQL: the table's friendly view name (``<dataset>.<view>``; ``silver.<view>`` too in the
    #: dataset with ``sql_aliases``) and alias columns of its ``<dataset>_compat`` bronze view
    view: str | None = None
    compat_columns: dict[str, str] = Field(default_factory=dict)
    columns: list[ColumnDecl] = Field(default_factory=list)


class DemoDecl(_Model):
    """Sample data of a shipped dataset: its DDL, a generator module and a churn workload."""

    ddl: str
    generator: str
    #: ``module:Class``, a ``lakehouse.source.churn.Workload``; None: the dataset is not churned
    workload: str | None = None


#: a duration as written: a number and a unit (``90s``, ``2m``, ``1h``, ``7d``); checked at load
Duration = str | int | float


class FreshnessDecl(_Model):
    """The dataset's freshness checks (``registry.model.FreshnessPolicy``): a silver or gold
    table fails its ``freshness`` check (WARN) when a change waited longer than ``max_lag``;
    the checks are evaluated on ``cron``."""

    max_lag: Duration = format_duration(FreshnessPolicy.max_lag)
    cron: str = FreshnessPolicy.cron


class MaintenanceDecl(_Model):
    """The dataset's maintenance schedule and retention (``registry.model.MaintenancePolicy``):
    ``cron``, ``enabled`` (the schedule runs without being turned on in the UI),
    ``vacuum_retention`` (whole hours) and ``tombstone_retention``."""

    cron: str = MaintenancePolicy.cron
    enabled: bool = MaintenancePolicy.enabled
    vacuum_retention: Duration = format_duration(MaintenancePolicy.vacuum_retention)
    tombstone_retention: Duration = format_duration(MaintenancePolicy.tombstone_retention)


class SlotDecl(_Model):
    """The thresholds of the dataset's ``replication_slot`` check (``registry.model.SlotPolicy``):
    WAL behind (``lag_warn``/``lag_error``, sizes) and the age of the oldest pending commit
    (``age_warn``/``age_error``, durations)."""

    lag_warn: str | int = format_size(SlotPolicy.lag_warn)
    lag_error: str | int = format_size(SlotPolicy.lag_error)
    age_warn: Duration = format_duration(SlotPolicy.age_warn)
    age_error: Duration = format_duration(SlotPolicy.age_error)


class DatasetDecl(_Model):
    """A dataset: its name (a namespace), its sources and its tables."""

    name: str = Field(..., pattern=NAME_PATTERN)
    description: str = ""
    gold: str | None = None  # a Python module whose METRICS are this dataset's gold tables
    demo: DemoDecl | None = None
    #: its tables' friendly view names are also unqualified in the catalog (``silver.orders``)
    sql_aliases: bool = False
    #: the namespace of its lake tables: ``<prefix><table>`` in asset keys, storage, the catalog
    #: and Glue, and its raw files under ``raw/database/<dataset>/`` (two datasets may then both
    #: have a table ``customers``); none by default
    table_prefix: str | None = Field(None, pattern=r"^[a-z][a-z0-9_]*$")
    #: operations: when its tables count as stale, when and how its tables are maintained
    freshness: FreshnessDecl = Field(default_factory=FreshnessDecl)
    maintenance: MaintenanceDecl = Field(default_factory=MaintenanceDecl)
    replication_slot: SlotDecl = Field(default_factory=SlotDecl)
    sources: list[Source] = Field(..., min_length=1)
    tables: list[TableDecl] = Field(default_factory=list)
