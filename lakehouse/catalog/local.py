"""The local catalog: a DuckDB database with one view per Delta table of the lake.

The ``local`` profile's stand-in for the Glue Data Catalog. DuckDB's ``delta`` and ``httpfs``
extensions cannot be downloaded here, so each view is built from delta-rs: the files of the
table's current snapshot (``DeltaTable.file_uris()``) read with ``read_parquet``. A view is pinned
to the snapshot it was built from; ``refresh_catalog`` moves it to the newest one.

Data contract (schemas of the catalog database; ``project`` defaults to ``lakehouse``):

- ``<project>_bronze`` / ``<project>_silver`` / ``<project>_gold`` (named like the Glue
  databases): exactly the Delta tables found at ``<root>/<zone>/<table>`` (a folder holding
  ``_delta_log``), one view per table under the table's own name, with the Delta schema's
  columns in order and types (columns missing from older files are NULL; hive partition columns
  come from the paths, typed by the Delta schema). No aliases ever live here.
- ``bronze`` / ``silver`` / ``gold``: short aliases so seed SQL written against ``silver.x`` runs
  unchanged: every table of the zone under its own name, plus, in ``silver``, the friendly names
  of the *alias dataset* (``alias_dataset``; by default the declared dataset with
  ``sql_aliases: true``, the shipped ``saas``; its tables' ``view`` names, ``friendly_names``).
- ``<dataset>`` (``saas``): the dataset's friendly names over its silver tables
  (``saas.customers`` = ``<project>_silver.core_customer``). Never ambiguous.
- ``<dataset>_compat`` (``saas_compat``): the dataset's bronze tables, with the column aliases of
  its tables' declared ``compat_columns`` added (``core_order.total_amount`` = ``total``: seed 000's Athena query uses
  ``total_amount``; the source column is ``total``). Data is never rewritten. Bronze is the
  append-only change log, so sums over it count every change row (as the seed's crawler tables
  over raw DMS files did); use ``silver`` for current state.
- ``tenant_<id>`` (one per tenant of a multi-tenant dataset, ``tenant_schema``): that tenant's
  rows of every silver table with a tenant column and of the dataset's gold tables that carry
  ``tenant_id`` — ``WHERE tenant_id = '<id>'`` (the tenant table itself by its key), the same
  tables and columns as the Lake Formation data filters of the ``aws`` profile
  (``aws.terraform_config.tenant_tables``) — under the table's name and its short name (the
  friendly name of a silver table, a gold table without its ``<dataset>_`` prefix). Tenants are
  the rows of the tenant table (``core_tenant``); a tenant that leaves loses its schema.
- ``_catalog.views``: one row per view (schema, name, kind, zone, table, uri, wrapper SQL, Delta
  version, row count — -1 for tenant views); the SQL layer uses it to resolve time travel.

Tenant connections (``connect_tenant``): a separate in-memory database that attaches nothing and
holds one schema, ``tenant_<id>``, with the tenant's rows of those tables copied in (the filter is
applied while copying) and the schema as the default one. Then file system access, Python
replacement scans and configuration changes are switched off (``enable_external_access``,
``python_enable_replacements``, ``lock_configuration``): SQL on that connection cannot read a
lake file, attach the catalog, see another tenant or an unfiltered table, or lift the
restriction. The copy is a snapshot taken when the connection opens (no time travel there).

Naming rule for friendly names: a friendly alias never shadows a real table in
``<project>_silver``; in the ``silver`` alias schema, the alias dataset's friendly name wins over a
real table of the same name (autocorp's ``silver/customers`` is then reachable as
``<project>_silver.customers``), because that schema exists to run the alias dataset's seed SQL
unchanged. ``alias_dataset=None`` makes ``silver`` an exact mirror of ``<project>_silver``.

Roots on S3: views in a database file cannot read ``s3://`` without httpfs, so for an S3 lake the
catalog is in-process only: ``DeltaTable.to_pyarrow_dataset()`` is registered on the connection
and the views select from it (``connect`` uses an in-memory database).

Tables whose protocol needs reader features ``read_parquet`` cannot honour (deletion vectors,
column mapping) are skipped with a warning.
"""

from __future__ import annotations

import functools
import logging
import os
import re
import uuid
from dataclasses import dataclass
from pathlib import Path

import duckdb

from lakehouse.registry.tenants import TENANT_COLUMN, tenant_tables
from lakehouse.storage import Lake

log = logging.getLogger(__name__)

ZONES = ("bronze", "silver", "gold")
CATALOG_SCHEMA = "_catalog"
CATALOG_FILE = "catalog.duckdb"


def friendly_names() -> dict[str, dict[str, str]]:
    """Friendly view name -> silver table, per declared dataset (its tables' ``view``)."""
    from lakehouse.declarations import all_datasets

    out = {d.name: {t.view: t.name for t in d.tables if t.view} for d in all_datasets()}
    return {d: names for d, names in out.items() if names}


def compat_columns() -> dict[str, dict[str, dict[str, str]]]:
    """Bronze table -> {alias column: real column}, per declared dataset (``<dataset>_compat``)."""
    from lakehouse.declarations import all_datasets

    return {
        d.name: {t.name: dict(t.compat_columns) for t in d.tables if t.compat_columns}
        for d in all_datasets()
    }


def default_alias_dataset() -> str | None:
    """The declared dataset whose friendly names are also unqualified (``sql_aliases``)."""
    from lakehouse.declarations import all_datasets

    return next((d.name for d in all_datasets() if d.sql_aliases), None)


#: ``alias_dataset`` left to the declarations (``default_alias_dataset``)
DECLARED = "declared"
_UNSUPPORTED_READER_FEATURES = {"deletionVectors", "columnMapping"}
_PROJECT_RE = re.compile(r"^[a-z_][a-z0-9_]*$")
TENANT_PREFIX = "tenant_"


class UnknownTenantError(ValueError):
    """No tenant (or more than one) has the id or slug asked for (``connect_tenant``)."""


@dataclass(frozen=True)
class CatalogView:
    """One view of the catalog; ``wrapper`` is its SQL with ``{base}`` for the table snapshot."""

    schema: str
    name: str
    kind: str  # table | alias | friendly | compat
    zone: str
    table: str
    uri: str
    wrapper: str = "SELECT * FROM {base}"

    @property
    def qualified(self) -> str:
        return f"{self.schema}.{self.name}"


def quote(name: str) -> str:
    """A DuckDB identifier, always quoted."""
    return '"' + name.replace('"', '""') + '"'


def _lit(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def default_catalog_path(lake: Lake) -> Path | None:
    """``<root>/catalog.duckdb`` for a local lake (its state dir); None (in-memory) for S3."""
    if is_remote(lake):
        return None
    return Path(lake.root) / CATALOG_FILE


def is_remote(lake: Lake) -> bool:
    """True for an object-store root (``s3://``): no Parquet views in a database file."""
    return "://" in lake.root and not lake.root.startswith("file://")


def discover_tables(lake: Lake) -> dict[str, list[str]]:
    """Delta tables per zone: ``{"bronze": ["core_order", ...], ...}`` (sorted)."""
    found: dict[str, list[str]] = {}
    for zone in ZONES:
        names = set()
        for obj in lake.list(f"{zone}/"):
            parts = obj.key.split("/")
            if len(parts) >= 4 and parts[2] == "_delta_log":
                names.add(parts[1])
        found[zone] = sorted(names)
    return found


def open_delta(lake: Lake, zone: str, table: str, version: int | None = None):
    """The delta-rs table ``<zone>/<table>`` (at ``version`` when given)."""
    from deltalake import DeltaTable

    uri = lake.table_uri(zone, table)
    if version is None:
        return DeltaTable(uri, storage_options=lake.storage_options or None)
    return DeltaTable(uri, version=version, storage_options=lake.storage_options or None)


def unsupported_reason(dt) -> str | None:
    """Why a snapshot cannot be read as plain Parquet files, or None."""
    proto = dt.protocol()
    features = set(proto.reader_features or []) & _UNSUPPORTED_READER_FEATURES
    if features:
        return f"reader features {sorted(features)}"
    mode = dt.metadata().configuration.get("delta.columnMapping.mode", "none")
    if mode not in ("none", None):
        return f"column mapping mode {mode!r}"
    return None


def row_count(dt) -> int:
    """Rows of the snapshot from the Delta log's file statistics (-1 when a file has none)."""
    import pyarrow as pa

    actions = pa.table(dt.get_add_actions(flatten=True))
    if actions.num_rows == 0:
        return 0
    counts = actions.column("num_records").to_pylist()
    return -1 if any(c is None for c in counts) else int(sum(counts))


def snapshot_sql(con: duckdb.DuckDBPyConnection, dt, *, in_process: bool = False) -> str:
    """A SELECT returning exactly the rows of the snapshot ``dt`` with its Delta schema.

    Local: ``read_parquet`` over the snapshot's files (no state outside the SQL). In-process:
    registers ``dt.to_pyarrow_dataset()`` on ``con`` under a fresh name and selects from it.
    """
    import pyarrow as pa

    if in_process:
        name = f"__delta_{uuid.uuid4().hex[:12]}"
        con.register(name, dt.to_pyarrow_dataset())
        return f"SELECT * FROM {quote(name)}"
    schema = pa.schema(dt.schema().to_arrow())
    types = [str(t) for t in con.from_arrow(schema.empty_table()).types]
    wanted = dict(zip(schema.names, types, strict=True))
    files = [f.removeprefix("file://") for f in dt.file_uris()]
    if not files:
        cols = ", ".join(f"CAST(NULL AS {t}) AS {quote(c)}" for c, t in wanted.items())
        return f"SELECT {cols} WHERE false"
    partitions = list(dt.metadata().partition_columns)
    if partitions:
        hive = ", ".join(f"{_lit(c)}: {_lit(wanted[c])}" for c in partitions)
        opts = f"union_by_name=true, hive_partitioning=true, hive_types={{{hive}}}"
    else:
        opts = "union_by_name=true, hive_partitioning=false"
    source = f"read_parquet([{', '.join(_lit(f) for f in files)}], {opts})"
    present = {r[0]: r[1] for r in con.execute(f"DESCRIBE SELECT * FROM {source}").fetchall()}
    cols = []
    for c, t in wanted.items():
        if c not in present:
            cols.append(f"CAST(NULL AS {t}) AS {quote(c)}")
        elif present[c] != t:
            cols.append(f"CAST({quote(c)} AS {t}) AS {quote(c)}")
        else:
            cols.append(quote(c))
    return f"SELECT {', '.join(cols)} FROM {source}"


def plan_views(
    tables: dict[str, list[str]], lake: Lake, project: str, alias_dataset: str | None
) -> list[CatalogView]:
    """Every view of the catalog for the discovered ``tables`` (see the module's naming rule)."""
    views: dict[tuple[str, str], CatalogView] = {}

    def add(schema: str, name: str, kind: str, zone: str, table: str, wrapper: str | None = None):
        views[(schema, name)] = CatalogView(
            schema,
            name,
            kind,
            zone,
            table,
            lake.table_uri(zone, table),
            wrapper or "SELECT * FROM {base}",
        )

    for zone in ZONES:
        for table in tables.get(zone, []):
            add(f"{project}_{zone}", table, "table", zone, table)
            add(zone, table, "alias", zone, table)
    silver = set(tables.get("silver", []))
    bronze = set(tables.get("bronze", []))
    if alias_dataset == DECLARED:
        alias_dataset = default_alias_dataset()
    compat = compat_columns()
    for dataset, names in friendly_names().items():
        for friendly, table in names.items():
            if table not in silver:
                continue
            add(dataset, friendly, "friendly", "silver", table)
            if dataset == alias_dataset:
                if friendly in silver and friendly != table:
                    log.info("silver.%s is %s's alias of %s", friendly, dataset, table)
                add("silver", friendly, "friendly", "silver", table)
        for table in sorted(set(names.values()) & bronze):
            extra = compat.get(dataset, {}).get(table, {})
            cols = "".join(f", {quote(real)} AS {quote(alias)}" for alias, real in extra.items())
            add(
                f"{dataset}_compat",
                table,
                "compat",
                "bronze",
                table,
                f"SELECT *{cols} FROM {{base}}",
            )
    return sorted(views.values(), key=lambda v: (v.schema, v.name))


@dataclass(frozen=True)
class TenantScope:
    """The tenant-filtered silver tables of a multi-tenant dataset."""

    dataset: str
    tenant_table: str  # the silver table of the tenants, filtered by its key
    tenant_key: str
    silver: tuple[tuple[str, str], ...]  # (silver table, its tenant column)


@functools.cache
def tenant_scopes() -> tuple[TenantScope, ...]:
    """Every multi-tenant dataset of the registry, with the Lake Formation filter columns."""
    from lakehouse.declarations import all_datasets

    out = []
    for d in all_datasets():
        tables = tenant_tables(d)
        owners = [(t, c) for t, c in tables.items() if c != TENANT_COLUMN]
        if tables and len(owners) == 1:
            out.append(TenantScope(d.name, owners[0][0], owners[0][1], tuple(tables.items())))
    return tuple(out)


def tenant_schema(tenant_id: str) -> str:
    """``tenant_<id>``: the tenant's schema (the id lower-cased, other characters as ``_``)."""
    return TENANT_PREFIX + re.sub(r"[^a-z0-9_]", "_", str(tenant_id).lower())


def tenant_rows(lake: Lake, tables: dict[str, list[str]]) -> list[tuple[TenantScope, dict]]:
    """(scope, tenant row) for every tenant: the rows of each scope's tenant table in silver."""
    out = []
    for scope in tenant_scopes():
        if scope.tenant_table not in tables.get("silver", []):
            continue
        dt = open_delta(lake, "silver", scope.tenant_table)
        names = _arrow_schema(dt).names
        cols = [c for c in (scope.tenant_key, "slug", "name") if c in names]
        for row in dt.to_pyarrow_table(columns=cols).to_pylist():
            if row[scope.tenant_key] is not None:
                out.append((scope, row))
    return out


def _arrow_schema(dt):
    import pyarrow as pa

    return pa.schema(dt.schema().to_arrow())


def plan_tenant_views(
    tables: dict[str, list[str]],
    lake: Lake,
    tenants: list[tuple[TenantScope, dict]],
    gold_columns: dict[str, list[str]],
) -> list[CatalogView]:
    """The views of every tenant schema (see the module docstring); kind ``tenant``."""
    views: dict[tuple[str, str], CatalogView] = {}
    silver = set(tables.get("silver", []))
    seen: dict[str, str] = {}
    for scope, row in tenants:
        tenant_id = str(row[scope.tenant_key])
        schema = tenant_schema(tenant_id)
        if seen.setdefault(schema, tenant_id) != tenant_id:
            log.warning(
                "catalog: tenants %s and %s share schema %s; skipping the second",
                seen[schema],
                tenant_id,
                schema,
            )
            continue
        friendly = {t: f for f, t in friendly_names().get(scope.dataset, {}).items()}
        entries = [("silver", t, c, friendly.get(t)) for t, c in scope.silver if t in silver]
        prefix = f"{scope.dataset}_"
        for table in tables.get("gold", []):
            if table.startswith(prefix) and TENANT_COLUMN in gold_columns.get(table, []):
                entries.append(("gold", table, TENANT_COLUMN, table.removeprefix(prefix)))
        for zone, table, column, short in entries:
            wrapper = f"SELECT * FROM {{base}} WHERE {quote(column)} = {_lit(tenant_id)}"
            uri = lake.table_uri(zone, table)
            for name in (table, short):
                if name and (schema, name) not in views:
                    views[(schema, name)] = CatalogView(
                        schema, name, "tenant", zone, table, uri, wrapper
                    )
    return sorted(views.values(), key=lambda v: (v.schema, v.name))


def managed_schemas(project: str) -> list[str]:
    zones = [f"{project}_{z}" for z in ZONES] + list(ZONES)
    names = friendly_names()
    datasets = [d for d in names] + [f"{d}_compat" for d in names]
    return zones + datasets


def _ensure_catalog_table(con: duckdb.DuckDBPyConnection) -> None:
    con.execute(f"CREATE SCHEMA IF NOT EXISTS {CATALOG_SCHEMA}")
    con.execute(
        f"""CREATE TABLE IF NOT EXISTS {CATALOG_SCHEMA}.views (
            schema_name VARCHAR, view_name VARCHAR, kind VARCHAR, zone VARCHAR,
            table_name VARCHAR, uri VARCHAR, wrapper VARCHAR, delta_version BIGINT,
            row_count BIGINT, PRIMARY KEY (schema_name, view_name))"""
    )


def _is_file_database(con: duckdb.DuckDBPyConnection) -> bool:
    row = con.execute(
        "SELECT path FROM duckdb_databases() WHERE database_name = current_database()"
    ).fetchall()[0]
    return bool(row and row[0])


def catalog_views(con: duckdb.DuckDBPyConnection) -> dict[tuple[str, str], tuple[CatalogView, int]]:
    """``(schema, name) -> (view, delta_version)`` as recorded by the last refresh ({} if none)."""
    exists = con.execute(
        "SELECT count(*) FROM duckdb_tables() WHERE database_name = current_database() "
        "AND schema_name = ? AND table_name = 'views'",
        [CATALOG_SCHEMA],
    ).fetchall()[0][0]
    if not exists:
        return {}
    rows = con.execute(
        f"SELECT schema_name, view_name, kind, zone, table_name, uri, wrapper, delta_version "
        f"FROM {CATALOG_SCHEMA}.views"
    ).fetchall()
    return {(r[0], r[1]): (CatalogView(*r[:7]), r[7]) for r in rows}


def refresh_catalog(
    lake: Lake,
    con_or_path: duckdb.DuckDBPyConnection | str | os.PathLike,
    project: str = "lakehouse",
    *,
    alias_dataset: str | None = DECLARED,
    in_process: bool | None = None,
) -> dict[str, int]:
    """Create or replace every view over the lake's current snapshots; drop views of gone tables.

    Returns ``{"<schema>.<view>": row count}`` (-1 when the Delta log has no row statistics).
    ``in_process`` (default: True for S3 lakes) registers Arrow datasets instead of Parquet file
    lists; it needs an in-memory database, since the views only work on this connection.
    """
    if not _PROJECT_RE.match(project):
        raise ValueError(f"project {project!r} must be a lower-case SQL identifier")
    if not isinstance(con_or_path, duckdb.DuckDBPyConnection):
        con = duckdb.connect(str(con_or_path))
        try:
            return refresh_catalog(
                lake, con, project, alias_dataset=alias_dataset, in_process=in_process
            )
        finally:
            con.close()
    con = con_or_path
    if in_process is None:
        in_process = is_remote(lake)
    if in_process and _is_file_database(con):
        raise ValueError(
            "in-process views (Arrow datasets) work only on this connection: "
            "use an in-memory database for an S3 lake"
        )
    tables = discover_tables(lake)
    previous = {} if in_process else catalog_views(con)
    stale_registrations = registered_datasets(con) if in_process else []
    # (zone, table) -> (SELECT of the snapshot, or "" when the existing view is current; version; rows)
    snapshots: dict[tuple[str, str], tuple[str, int, int]] = {}
    gold_columns: dict[str, list[str]] = {}
    for zone, names in tables.items():
        for table in list(names):
            dt = open_delta(lake, zone, table)
            reason = unsupported_reason(dt)
            if reason:
                log.warning("catalog: skipping %s/%s (%s)", zone, table, reason)
                names.remove(table)
                continue
            if zone == "gold":
                gold_columns[table] = _arrow_schema(dt).names
            prev = previous.get((f"{project}_{zone}", table))
            current = (
                prev and prev[1] == dt.version() and prev[0].uri == lake.table_uri(zone, table)
            )
            sql = "" if current else snapshot_sql(con, dt, in_process=in_process)
            snapshots[(zone, table)] = (sql, dt.version(), row_count(dt))
    tenant_views = plan_tenant_views(tables, lake, tenant_rows(lake, tables), gold_columns)
    views = plan_views(tables, lake, project, alias_dataset) + tenant_views
    tenant_schemas = sorted({v.schema for v in tenant_views})
    stale_tenants = [
        r[0]
        for r in con.execute(
            "SELECT schema_name FROM duckdb_schemas() WHERE database_name = current_database() "
            "AND starts_with(schema_name, ?)",
            [TENANT_PREFIX],
        ).fetchall()
        if r[0] not in tenant_schemas
    ]
    schemas = managed_schemas(project) + tenant_schemas
    out: dict[str, int] = {}
    con.begin()
    try:
        _ensure_catalog_table(con)
        for schema in schemas:
            con.execute(f"CREATE SCHEMA IF NOT EXISTS {quote(schema)}")
        wanted = {(v.schema, v.name) for v in views}
        for schema, name in con.execute(
            "SELECT schema_name, view_name FROM duckdb_views() WHERE NOT internal "
            "AND database_name = current_database() AND list_contains(?, schema_name)",
            [schemas + stale_tenants],
        ).fetchall():
            if (schema, name) not in wanted:
                con.execute(f"DROP VIEW {quote(schema)}.{quote(name)}")
        for schema in stale_tenants:  # a tenant that left (its views are gone)
            con.execute(f"DROP SCHEMA IF EXISTS {quote(schema)}")
        con.execute(f"DELETE FROM {CATALOG_SCHEMA}.views")
        for v in views:  # base views first: the others select from them
            if v.kind == "table" and snapshots[(v.zone, v.table)][0]:
                sql = snapshots[(v.zone, v.table)][0]
                con.execute(f"CREATE OR REPLACE VIEW {quote(v.schema)}.{quote(v.name)} AS {sql}")
        for v in views:
            _, version, rows = snapshots[(v.zone, v.table)]
            if v.kind != "table":
                base = f"{quote(f'{project}_{v.zone}')}.{quote(v.table)}"
                sql = v.wrapper.format(base=base)
                con.execute(f"CREATE OR REPLACE VIEW {quote(v.schema)}.{quote(v.name)} AS {sql}")
            if v.kind == "tenant":
                rows = -1  # the table's count is not the tenant's
            con.execute(
                f"INSERT INTO {CATALOG_SCHEMA}.views VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [v.schema, v.name, v.kind, v.zone, v.table, v.uri, v.wrapper, version, rows],
            )
            out[v.qualified] = rows
        con.commit()
    except BaseException:
        con.rollback()
        raise
    for name in stale_registrations:
        con.unregister(name)
    return out


def registered_datasets(con: duckdb.DuckDBPyConnection) -> list[str]:
    """Names of the Arrow datasets ``snapshot_sql(in_process=True)`` registered on ``con``."""
    rows = con.execute(
        "SELECT view_name FROM duckdb_views() WHERE temporary AND starts_with(view_name, '__delta_')"
    ).fetchall()
    return [r[0] for r in rows]


def connect(
    lake: Lake,
    path: str | os.PathLike | None = None,
    *,
    project: str = "lakehouse",
    alias_dataset: str | None = DECLARED,
) -> duckdb.DuckDBPyConnection:
    """Open the catalog (refreshed) with session time zone UTC, as Athena's.

    ``path``: the database file (default ``default_catalog_path(lake)``), or ``":memory:"``.
    An S3 lake always gets an in-memory, in-process catalog (a file path is an error). When the
    file is locked by another process, falls back to an in-memory catalog with a warning.
    """
    remote = is_remote(lake)
    if remote and path not in (None, ":memory:"):
        raise ValueError(f"the catalog of an S3 lake is in-process only; got path={path!r}")
    target = str(path or default_catalog_path(lake) or ":memory:")
    if target != ":memory:":
        Path(target).parent.mkdir(parents=True, exist_ok=True)
    try:
        con = duckdb.connect(target)
    except duckdb.IOException as err:
        if "lock" not in str(err).lower():
            raise
        log.warning("catalog %s is locked (%s); using an in-memory catalog", target, err)
        con = duckdb.connect(":memory:")
    con.execute("SET TimeZone = 'UTC'")
    try:
        refresh_catalog(lake, con, project, alias_dataset=alias_dataset, in_process=remote)
    except BaseException:
        con.close()
        raise
    return con


def connect_tenant(
    lake: Lake, tenant: str, *, project: str = "lakehouse"
) -> duckdb.DuckDBPyConnection:
    """A connection that sees only ``tenant``'s rows (its id, or its slug); see the module
    docstring ("Tenant connections"). ``UnknownTenantError`` (a ValueError) when no tenant has
    that id or slug."""
    if not _PROJECT_RE.match(project):
        raise ValueError(f"project {project!r} must be a lower-case SQL identifier")
    tables = discover_tables(lake)
    tenants = tenant_rows(lake, tables)
    wanted = str(tenant).strip().lower()
    match = [
        (scope, row)
        for scope, row in tenants
        if wanted in {str(row[scope.tenant_key]).lower(), str(row.get("slug") or "").lower()}
    ]
    if len(match) != 1:
        why = "no" if not match else "more than one"
        raise UnknownTenantError(
            f"{why} tenant {tenant!r} (by id or slug) among {len(tenants)} tenants"
        )
    gold_columns = {
        t: _arrow_schema(open_delta(lake, "gold", t)).names for t in tables.get("gold", [])
    }
    views = plan_tenant_views(tables, lake, match, gold_columns)
    schema = tenant_schema(str(match[0][1][match[0][0].tenant_key]))
    remote = is_remote(lake)
    con = duckdb.connect(":memory:")
    try:
        con.execute("SET TimeZone = 'UTC'")
        con.execute(f"CREATE SCHEMA {quote(schema)}")
        for v in views:  # the tables first (the filter applies while copying), then short names
            if v.name != v.table:
                continue
            dt = open_delta(lake, v.zone, v.table)
            reason = unsupported_reason(dt)
            if reason:
                log.warning("tenant catalog: skipping %s/%s (%s)", v.zone, v.table, reason)
                continue
            base = snapshot_sql(con, dt, in_process=remote)
            sql = v.wrapper.format(base=f"({base})")
            con.execute(f"CREATE TABLE {quote(schema)}.{quote(v.name)} AS {sql}")
        made = {
            r[0]
            for r in con.execute(
                "SELECT table_name FROM duckdb_tables() WHERE schema_name = ?", [schema]
            ).fetchall()
        }
        for v in views:
            if v.name != v.table and v.table in made:
                con.execute(
                    f"CREATE VIEW {quote(schema)}.{quote(v.name)} AS "
                    f"SELECT * FROM {quote(schema)}.{quote(v.table)}"
                )
        for name in registered_datasets(con):
            con.unregister(name)
        con.execute(f"USE {quote(schema)}")
        con.execute("SET python_enable_replacements = false")
        con.execute("SET enable_external_access = false")
        con.execute("SET lock_configuration = true")
    except BaseException:
        con.close()
        raise
    return con


def is_tenant_connection(con: duckdb.DuckDBPyConnection) -> bool:
    """True for a connection made by ``connect_tenant`` (file access off, settings locked)."""
    row = con.execute(
        "SELECT current_setting('enable_external_access'), current_setting('lock_configuration')"
    ).fetchall()[0]
    return not row[0] and bool(row[1])
