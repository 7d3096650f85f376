"""Tenants in the catalog: a schema per tenant, and connections that see one tenant only.

- ``tenant_<id>`` (``tenant_schema``; one per tenant of a multi-tenant dataset, ``tenant_scopes``):
  that tenant's rows of every silver table with a tenant column and of the dataset's gold tables
  that carry ``tenant_id`` — ``WHERE tenant_id = '<id>'`` (the tenant table itself by its key),
  the same tables and columns as the Lake Formation data filters of the ``aws`` profile
  (``registry.tenants.tenant_tables``) — under the table's name and its short name (the friendly
  name of a silver table, a gold table without its ``<dataset>_`` prefix). Tenants are the rows
  of the tenant table (``core_tenant``); a tenant that leaves loses its schema.
- Tenant connections (``connect_tenant``): a separate in-memory database that attaches nothing
  and holds one schema, ``tenant_<id>``, with the tenant's rows of those tables copied in (the
  filter is applied while copying) and the schema as the default one. Then file system access,
  Python replacement scans and configuration changes are switched off
  (``enable_external_access``, ``python_enable_replacements``, ``lock_configuration``): SQL on
  that connection cannot read a lake file, attach the catalog, see another tenant or an
  unfiltered table, or lift the restriction. The copy is a snapshot taken when the connection
  opens (no time travel there). An unknown tenant is an ``UnknownTenantError`` (a ValueError).
"""

from __future__ import annotations

import functools
import logging
import re
from dataclasses import dataclass

import duckdb

from lakehouse.catalog.snapshots import (
    UnreadableSnapshot,
    arrow_schema,
    discover_tables,
    is_remote,
    literal,
    open_delta,
    quote,
    registered_datasets,
    snapshot_sql,
    unsupported_reason,
)
from lakehouse.catalog.views import CatalogView, check_project, friendly_names
from lakehouse.registry.tenants import TENANT_COLUMN, tenant_tables
from lakehouse.storage import Lake

log = logging.getLogger(__name__)


TENANT_PREFIX = "tenant_"


class UnknownTenantError(ValueError):
    """No tenant (or more than one) has the id or slug asked for (``connect_tenant``)."""


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
        names = arrow_schema(dt).names
        cols = [c for c in (scope.tenant_key, "slug", "name") if c in names]
        for row in dt.to_pyarrow_table(columns=cols).to_pylist():
            if row[scope.tenant_key] is not None:
                out.append((scope, row))
    return out


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
            wrapper = f"SELECT * FROM {{base}} WHERE {quote(column)} = {literal(tenant_id)}"
            uri = lake.table_uri(zone, table)
            for name in (table, short):
                if name and (schema, name) not in views:
                    views[(schema, name)] = CatalogView(
                        schema, name, "tenant", zone, table, uri, wrapper
                    )
    return sorted(views.values(), key=lambda v: (v.schema, v.name))


def connect_tenant(
    lake: Lake, tenant: str, *, project: str = "lakehouse"
) -> duckdb.DuckDBPyConnection:
    """A connection that sees only ``tenant``'s rows (its id, or its slug); see the module
    docstring ("Tenant connections"). ``UnknownTenantError`` (a ValueError) when no tenant has
    that id or slug."""
    check_project(project)
    tables = discover_tables(lake)
    match = [_the_tenant(tenant_rows(lake, tables), tenant)]
    gold_columns = {
        t: arrow_schema(open_delta(lake, "gold", t)).names for t in tables.get("gold", [])
    }
    views = plan_tenant_views(tables, lake, match, gold_columns)
    scope, row = match[0]
    schema = tenant_schema(str(row[scope.tenant_key]))
    con = duckdb.connect(":memory:")
    try:
        con.execute("SET TimeZone = 'UTC'")
        con.execute(f"CREATE SCHEMA {quote(schema)}")
        _copy_tenant_tables(con, lake, schema, views)
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


def _the_tenant(tenants: list[tuple[TenantScope, dict]], tenant: str) -> tuple[TenantScope, dict]:
    """The one (scope, row) whose id or slug is ``tenant`` (case-insensitive)."""
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
    return match[0]


def _copy_tenant_tables(con, lake: Lake, schema: str, views: list[CatalogView]) -> None:
    """The tenant's rows of each table copied into ``schema`` (the filter applies while
    copying), then its short names as views over those copies."""
    remote = is_remote(lake)
    for v in views:
        if v.name != v.table:
            continue
        dt = open_delta(lake, v.zone, v.table)
        reason = unsupported_reason(dt)
        if reason:
            log.warning("tenant catalog: skipping %s/%s (%s)", v.zone, v.table, reason)
            continue
        try:
            base = snapshot_sql(con, dt, in_process=remote)
        except UnreadableSnapshot as err:
            log.error("tenant catalog: table %s/%s has no view: %s", v.zone, v.table, err)
            continue
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


def is_tenant_connection(con: duckdb.DuckDBPyConnection) -> bool:
    """True for a connection made by ``connect_tenant`` (file access off, settings locked)."""
    row = con.execute(
        "SELECT current_setting('enable_external_access'), current_setting('lock_configuration')"
    ).fetchall()[0]
    return not row[0] and bool(row[1])
