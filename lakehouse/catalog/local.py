"""The local catalog: a DuckDB database with one view per Delta table of the lake.

The ``local`` profile's stand-in for the Glue Data Catalog. Each view is built from delta-rs
(``catalog.snapshots``): the files of the table's current snapshot read with ``read_parquet``. A
view is pinned to the snapshot it was built from; ``refresh_catalog`` moves it to the newest one.
Which views there are is ``catalog.views.plan_views`` (plus ``catalog.tenants``); this module
writes them, records them in ``_catalog.views`` and opens the catalog (``connect``).

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
- ``tenant_<id>``: one schema per tenant of a multi-tenant dataset (``catalog.tenants``).
- ``_catalog.views``: one row per view (schema, name, kind, zone, table, uri, wrapper SQL, Delta
  version, row count — -1 for tenant views); the SQL layer uses it to resolve time travel.

Tenant connections (``catalog.tenants.connect_tenant``) see one tenant's rows and nothing else.

Naming rule for friendly names: a friendly alias never shadows a real table in
``<project>_silver``; in the ``silver`` alias schema, the alias dataset's friendly name wins over a
real table of the same name (autocorp's ``silver/customers`` is then reachable as
``<project>_silver.customers``), because that schema exists to run the alias dataset's seed SQL
unchanged. ``alias_dataset=None`` makes ``silver`` an exact mirror of ``<project>_silver``.

Roots on S3: views in a database file cannot read ``s3://`` without httpfs, so for an S3 lake the
catalog is in-process only: ``DeltaTable.to_pyarrow_dataset()`` is registered on the connection
and the views select from it (``connect`` uses an in-memory database).

Tables whose protocol needs reader features ``read_parquet`` cannot honour (deletion vectors,
column mapping) are skipped with a warning; a table SQL cannot read (a column with an empty
name, columns differing only in case — ``id`` and ``ID`` —, a log delta-rs refuses, a snapshot
DuckDB refuses) is skipped with an error naming it and the columns: the other
tables' views are refreshed as usual, and queries that do not name it run.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import duckdb

from lakehouse.catalog.snapshots import (
    arrow_schema,
    case_collisions,
    discover_tables,
    is_remote,
    open_delta,
    quote,
    registered_datasets,
    row_count,
    snapshot_sql,
    unsupported_reason,
)
from lakehouse.catalog.tenants import TENANT_PREFIX, plan_tenant_views, tenant_rows
from lakehouse.catalog.views import (
    DECLARED,
    CatalogView,
    check_project,
    managed_schemas,
    plan_views,
)
from lakehouse.storage import Lake

log = logging.getLogger(__name__)

CATALOG_SCHEMA = "_catalog"
CATALOG_FILE = "catalog.duckdb"


def default_catalog_path(lake: Lake) -> Path | None:
    """``<root>/catalog.duckdb`` for a local lake (its state dir); None (in-memory) for S3."""
    if is_remote(lake):
        return None
    return Path(lake.root) / CATALOG_FILE


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
    check_project(project)
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
    snapshots, gold_columns = _snapshots(lake, con, tables, previous, project, in_process)
    tenant_views = plan_tenant_views(tables, lake, tenant_rows(lake, tables), gold_columns)
    views = plan_views(tables, lake, project, alias_dataset) + tenant_views
    tenant_schemas = sorted({v.schema for v in tenant_views})
    con.begin()
    try:
        _drop_stale(con, views, managed_schemas(project), tenant_schemas)
        out = _write_views(con, views, snapshots, project)
        con.commit()
    except BaseException:
        con.rollback()
        raise
    for name in stale_registrations:
        con.unregister(name)
    return out


#: (zone, table) -> (SELECT of the snapshot, or "" when the existing view is current; version; rows)
Snapshots = dict[tuple[str, str], tuple[str, int, int]]


def _snapshots(
    lake: Lake, con, tables: dict[str, list[str]], previous: dict, project: str, in_process: bool
) -> tuple[Snapshots, dict[str, list[str]]]:
    """The snapshot of every readable table and the columns of the gold tables. A table that
    cannot be a view is removed from ``tables`` (so no view names it) with a warning or, for a
    table whose data cannot be reached by SQL (``_unqueryable``, a snapshot DuckDB refuses), an
    error naming the table, the reason and the fix: one bad table never stops the refresh of
    the others (the views are written in one transaction, which a failing view would abort)."""
    snapshots: Snapshots = {}
    gold_columns: dict[str, list[str]] = {}
    for zone, names in tables.items():
        for table in list(names):
            try:
                dt = open_delta(lake, zone, table)
            except Exception as err:  # delta-rs refuses the log (e.g. names differing in case)
                log.error(
                    "catalog: table %s/%s has no view: delta-rs cannot open it: %s",
                    zone,
                    table,
                    str(err).splitlines()[0],
                )
                names.remove(table)
                continue
            reason = unsupported_reason(dt)
            if reason:
                log.warning("catalog: skipping %s/%s (%s)", zone, table, reason)
                names.remove(table)
                continue
            problem = _unqueryable(arrow_schema(dt).names)
            prev = previous.get((f"{project}_{zone}", table))
            current = (
                prev and prev[1] == dt.version() and prev[0].uri == lake.table_uri(zone, table)
            )
            try:
                sql = "" if current or problem else snapshot_sql(con, dt, in_process=in_process)
                if sql:
                    con.extract_statements(f"CREATE VIEW v AS {sql}")  # parses, reads nothing
            except duckdb.Error as err:
                problem = f"DuckDB cannot read its snapshot: {err}"
            if problem:
                log.error("catalog: table %s/%s has no view: %s", zone, table, problem)
                names.remove(table)
                continue
            if zone == "gold":
                gold_columns[table] = arrow_schema(dt).names
            snapshots[(zone, table)] = (sql, dt.version(), row_count(dt))
    return snapshots, gold_columns


def _unqueryable(columns: list[str]) -> str | None:
    """Why SQL cannot name a column of a table with these ``columns``, or None: an empty name
    (a CSV header with a trailing delimiter or an empty field) is no SQL identifier; names that
    differ only in case (``case_collisions``) are one identifier."""
    empty = [i for i, name in enumerate(columns) if name == ""]
    if not empty:
        return case_collisions(columns)
    i = empty[0]
    where = f"column {i + 1}" + (f" (after {columns[i - 1]!r})" if i else "")
    return (
        f"{where} has an empty name, which SQL cannot name — fix: give it a name (the "
        "file's header and the table's declared columns) and rebuild the table"
    )


def _drop_stale(con, views: list[CatalogView], managed: list[str], tenants: list[str]) -> None:
    """Create the ``managed`` and ``tenants`` schemas; drop the views not in ``views`` and the
    schemas of tenants that left."""
    stale_tenants = [
        r[0]
        for r in con.execute(
            "SELECT schema_name FROM duckdb_schemas() WHERE database_name = current_database() "
            "AND starts_with(schema_name, ?)",
            [TENANT_PREFIX],
        ).fetchall()
        if r[0] not in tenants
    ]
    schemas = managed + tenants
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


def _write_views(
    con, views: list[CatalogView], snapshots: Snapshots, project: str
) -> dict[str, int]:
    """Create or replace ``views`` and record them in ``_catalog.views``; rows per view."""
    out: dict[str, int] = {}
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
    return out


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
