"""The local catalog: DuckDB views over the lake's Delta tables (see ``catalog.local``)."""

from lakehouse.catalog.local import connect, default_catalog_path, refresh_catalog
from lakehouse.catalog.snapshots import discover_tables
from lakehouse.catalog.tenants import connect_tenant, tenant_schema
from lakehouse.catalog.views import CatalogView, compat_columns, friendly_names

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
