"""The table registry's data model: what every source table is, declared as data.

A ``TableSpec`` is the single description of one table that the replicator, the bronze reader,
the silver apply, the quality checks and the Terraform DMS mappings all read. Column types are
*logical* types (``LOGICAL_TYPES``) so one declaration maps to PostgreSQL, Polars/Arrow and Spark.

Data contract:
- ``primary_key`` names the columns that identify a row (CDC apply key). A table without one is
  captured insert-only (as AWS DMS does) and warned about.
- ``source`` is ``"database"`` (replicated from PostgreSQL in the DMS S3 format under
  ``raw/database/<schema>/<name>/``) or ``"csv_drop"`` (files matching ``file_glob`` synced to
  ``raw/csv/<dataset>/``).
- ``pii`` marks columns to standardise in silver and mask in gold (``"email"``, ``"phone"``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Literal

LOGICAL_TYPES = (
    "smallint",
    "int",
    "bigint",
    "real",
    "double",
    "decimal",  # decimal(p,s)
    "money",  # PostgreSQL MONEY: decimal(19,2) in the lake
    "bool",
    "string",
    "uuid",
    "json",
    "inet",
    "date",
    "timestamp",  # without time zone: stored UTC-aware in the lake (see DESIGN: no timestampNtz)
    "timestamptz",
    "bytes",
    "time",  # PostgreSQL time: its text (HH:MM:SS[.ffffff]); Delta has no time type
    "timetz",  # text as PostgreSQL prints it (12:00:00+05:30)
    "interval",  # text as PostgreSQL prints it (IntervalStyle postgres: 1 year 2 mons 03:04:05)
    "numeric",  # unconstrained NUMERIC: its exact text (any digits, NaN, Infinity)
)

#: logical types the lake stores as PostgreSQL's text (``registry.types``: pl.String)
TEXT_TYPES = frozenset({"string", "uuid", "json", "inet", "time", "timetz", "interval", "numeric"})

_NOT_IN_NAMES = re.compile(r"[^A-Za-z0-9_]+")
_CRON_FIELD = re.compile(r"^[0-9A-Za-z*/,?-]+$")
_CRON_MACROS = ("@hourly", "@daily", "@weekly", "@monthly", "@yearly", "@annually", "@midnight")
_DECIMAL = re.compile(r"^decimal\((\d+),\s*(\d+)\)$")


def parse_type(type_: str) -> tuple[str, int | None, int | None]:
    """Split a logical type into (base, precision, scale); ``decimal(10,2)`` → ('decimal', 10, 2)."""
    m = _DECIMAL.match(type_)
    if m:
        precision, scale = int(m.group(1)), int(m.group(2))
        if not 1 <= precision <= 38 or scale > precision:
            raise ValueError(
                f"logical type {type_!r}: a decimal needs 1 <= precision <= 38 and scale <= "
                "precision (an unconstrained or wider PostgreSQL NUMERIC is 'numeric': text)"
            )
        return "decimal", precision, scale
    if type_ == "money":
        return "money", 19, 2
    if type_ not in LOGICAL_TYPES:
        raise ValueError(f"unknown logical type {type_!r}; expected one of {LOGICAL_TYPES}")
    return type_, None, None


@dataclass(frozen=True)
class Column:
    """One column: logical ``type``, nullability, PII kind and row-level rules.

    ``checks`` holds pandera-style rules: ``ge``, ``le``, ``gt``, ``isin``, ``str_length_max``,
    ``regex``, ``unique``. ``references`` is ``"table.column"`` for referential rules.
    """

    name: str
    type: str
    nullable: bool = True
    pii: Literal["email", "phone"] | None = None
    checks: dict = field(default_factory=dict, hash=False, compare=False)
    references: str | None = None
    description: str = ""

    def __post_init__(self) -> None:
        parse_type(self.type)


@dataclass(frozen=True)
class CsvOptions:
    """How a ``csv_drop`` table's files are written: delimiter, header row, quote character,
    text encoding and the token that means NULL (an empty unquoted field by default)."""

    delimiter: str = ","
    header: bool = True
    quote: str = '"'
    encoding: str = "utf-8"
    null_value: str = ""

    def __post_init__(self) -> None:
        if len(self.delimiter) != 1:
            raise ValueError(f"csv delimiter must be one character, got {self.delimiter!r}")
        if len(self.quote) != 1:
            raise ValueError(f"csv quote must be one character, got {self.quote!r}")
        if self.quote == self.delimiter or {self.quote, self.delimiter} & {"\r", "\n"}:
            raise ValueError(
                f"csv delimiter {self.delimiter!r} and quote {self.quote!r} must differ and "
                "be neither CR nor LF"
            )
        if any(ch in self.null_value for ch in (self.delimiter, self.quote, "\r", "\n")):
            raise ValueError(
                f"csv null_value {self.null_value!r} may not hold the delimiter, the quote, "
                "CR or LF"
            )
        "".encode(self.encoding)  # LookupError for an unknown encoding


@dataclass(frozen=True)
class TableSpec:
    """One source table (database or CSV drop) of a dataset. See the module docstring."""

    dataset: str
    name: str
    columns: tuple[Column, ...]
    primary_key: tuple[str, ...]
    schema: str = "public"
    source: Literal["database", "csv_drop"] = "database"
    file_glob: str | None = None  # csv_drop only, e.g. "customers-*.csv"
    csv: CsvOptions = field(default_factory=CsvOptions)  # csv_drop only
    #: an existing DMS output read in place (folder or ``s3://`` prefix holding
    #: ``<schema>/<table>/``); None: the lake's own raw zone
    raw_root: str | None = None
    #: ``<schema>/<table>`` under ``raw_root`` when the DMS task's rules renamed the folders
    raw_path: str | None = None
    #: source columns never captured (a secret, a blob): the replicator leaves them out of files
    exclude_columns: tuple[str, ...] = ()
    #: SQL names: a friendly view name, and (alias, real column) pairs of its compat view
    view: str | None = None
    compat_columns: tuple[tuple[str, str], ...] = ()
    #: the table's name in the source when the lake's differs (a dataset's ``table_prefix``)
    source_name: str | None = None
    #: where a replicated table's raw files land: ``<raw_folder>/<schema>/<source table>/``
    raw_folder: str = "raw/database"
    partition_by: tuple[str, ...] = ()
    table_format: Literal["delta", "hudi"] = "delta"
    scd_type: Literal[1, 2] = 1
    description: str = ""
    owners: tuple[str, ...] = ("team:data-platform",)

    def __post_init__(self) -> None:
        names = [c.name for c in self.columns]
        if len(set(names)) != len(names):
            raise ValueError(f"{self.dataset}.{self.name}: duplicate column names {names}")
        for key in (*self.primary_key, *self.partition_by):
            if key not in names:
                raise ValueError(f"{self.dataset}.{self.name}: unknown column {key!r} in keys")
        if self.source == "csv_drop" and not self.file_glob:
            raise ValueError(f"{self.dataset}.{self.name}: a csv_drop table needs file_glob")

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]

    def column(self, name: str) -> Column:
        for c in self.columns:
            if c.name == name:
                return c
        raise KeyError(f"{self.dataset}.{self.name} has no column {name!r}")

    @property
    def source_table(self) -> str:
        """The table's name in the source (the lake's ``name`` may carry a prefix)."""
        return self.source_name or self.name

    @property
    def qualified_name(self) -> str:
        """``schema.table`` in the source."""
        return f"{self.schema}.{self.source_table}"

    @property
    def raw_prefix(self) -> str:
        """Key prefix where this table's raw files land: relative to ``raw_root`` when set,
        else to the lake root."""
        if self.raw_root is not None:
            return f"{self.raw_path or f'{self.schema}/{self.source_table}'}/"
        if self.source == "database":
            return f"{self.raw_folder}/{self.schema}/{self.source_table}/"
        return f"raw/csv/{self.dataset}/"


def lake_name(source_name: str) -> str:
    """A source table's name in the lake (Delta folders, asset keys, op names, SQL views):
    Dagster names take ``[A-Za-z0-9_]``, so each run of other characters becomes ``_``
    (``Order Lines`` → ``Order_Lines``); the source keeps its name (``TableSpec.source_name``)."""
    return _NOT_IN_NAMES.sub("_", source_name)


def is_cron(text: str) -> bool:
    """Whether ``text`` looks like a cron schedule: five fields (``0 3 * * *``) or a macro."""
    fields = text.split()
    if len(fields) == 1:
        return fields[0] in _CRON_MACROS
    return len(fields) == 5 and all(_CRON_FIELD.match(f) for f in fields)


@dataclass(frozen=True)
class FreshnessPolicy:
    """A dataset's freshness checks (``silver/<t>`` and ``gold/<m>`` ``freshness``): they fail
    (WARN) when the oldest change not yet applied waited longer than ``max_lag``; the automation
    sensor evaluates them on ``cron``."""

    max_lag: timedelta = timedelta(minutes=2)
    cron: str = "*/5 * * * *"


@dataclass(frozen=True)
class SlotPolicy:
    """When a replication slot's lag is worth a warning or an error (its ``replication_slot``
    check and the status command): WAL behind in bytes, and the age of the oldest commit not
    consumed yet."""

    lag_warn: int = 1 << 30
    lag_error: int = 10 << 30
    age_warn: timedelta = timedelta(minutes=15)
    age_error: timedelta = timedelta(hours=1)


@dataclass(frozen=True)
class MaintenancePolicy:
    """A dataset's table maintenance (compaction, vacuum, tombstone GC): its schedule's ``cron``,
    whether that schedule runs without being turned on in the UI (``enabled``), how long
    unreferenced data files stay for readers and time travel (``vacuum_retention``, whole hours)
    and how long a delete's tombstone guards against a late older update
    (``tombstone_retention``)."""

    cron: str = "0 3 * * *"
    enabled: bool = False
    vacuum_retention: timedelta = timedelta(days=7)
    tombstone_retention: timedelta = timedelta(days=7)

    @property
    def vacuum_hours(self) -> int:
        return int(self.vacuum_retention.total_seconds() // 3600)


@dataclass(frozen=True)
class DatasetSpec:
    """A dataset: its tables, the DMS settings its demo uses, the selection rules and its
    operational policies (``freshness``, ``maintenance``; defaults when it declares none)."""

    name: str
    tables: tuple[TableSpec, ...]
    description: str = ""
    selection_rules: tuple[dict, ...] = ()  # DMS table-mapping selection rules
    #: a source table the selection rules match that no one declared is captured (else reported)
    capture_new_tables: bool = False
    sql_aliases: bool = False  # its friendly view names are also unqualified (silver.<view>)
    freshness: FreshnessPolicy = field(default_factory=FreshnessPolicy)
    maintenance: MaintenancePolicy = field(default_factory=MaintenancePolicy)
    slot: SlotPolicy = field(default_factory=SlotPolicy)

    def table(self, name: str) -> TableSpec:
        for t in self.tables:
            if t.name == name:
                return t
        raise KeyError(f"dataset {self.name} has no table {name!r}")

    @property
    def database_tables(self) -> tuple[TableSpec, ...]:
        return tuple(t for t in self.tables if t.source == "database")

    @property
    def reads_dms_output(self) -> bool:
        """Its database tables are read from an existing DMS output (no replicator runs)."""
        return any(t.raw_root is not None for t in self.database_tables)

    @property
    def csv_tables(self) -> tuple[TableSpec, ...]:
        return tuple(t for t in self.tables if t.source == "csv_drop")
