"""The local catalog: DuckDB views over the lake's Delta tables (see ``catalog.local``)."""

from lakehouse.catalog.local import (
    CatalogView,
    compat_columns,
    connect,
    connect_tenant,
    default_catalog_path,
    discover_tables,
    friendly_names,
    refresh_catalog,
    tenant_schema,
)

__all__ = [
    "CatalogView",
    "compat_columns",
    "connect",
    "connect_tenant",
    "default_catalog_path",
    "discover_tables",
    "friendly_names",
    "refresh_catalog",
    "tenant_schema",
]
