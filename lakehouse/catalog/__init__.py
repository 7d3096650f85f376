"""The local catalog: DuckDB views over the lake's Delta tables (see ``catalog.local``)."""

from lakehouse.catalog.local import (
    COMPAT_COLUMNS,
    FRIENDLY_NAMES,
    CatalogView,
    connect,
    connect_tenant,
    default_catalog_path,
    discover_tables,
    refresh_catalog,
    tenant_schema,
)

__all__ = [
    "COMPAT_COLUMNS",
    "FRIENDLY_NAMES",
    "CatalogView",
    "connect",
    "connect_tenant",
    "default_catalog_path",
    "discover_tables",
    "refresh_catalog",
    "tenant_schema",
]
