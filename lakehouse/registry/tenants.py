"""Which silver tables a multi-tenant dataset filters by tenant, and on which column.

One rule, used by the local catalog's tenant views and the AWS Lake Formation filters alike:
a table with a ``tenant_id`` column filters on it; the table that column references (the tenant
table) filters on its own key; an SCD2 table's ``<table>_history`` filters like the table.
"""

from __future__ import annotations

from lakehouse.registry.model import DatasetSpec

TENANT_COLUMN = "tenant_id"


def tenant_tables(spec: DatasetSpec) -> dict[str, str]:
    """Silver tables of a multi-tenant dataset -> the column holding the tenant id.

    Every table with ``tenant_id`` filters on it; the table it references (the tenant table)
    filters on its own key; an SCD2 table's ``<table>_history`` filters like the table. Empty for
    a dataset without tenants.
    """
    out: dict[str, str] = {}
    for t in spec.database_tables:
        if TENANT_COLUMN in t.column_names:
            ref = t.column(TENANT_COLUMN).references
            if ref:
                ref_table, ref_column = ref.split(".", 1)
                out.setdefault(ref_table, ref_column)
    for t in spec.database_tables:
        if TENANT_COLUMN in t.column_names:
            out[t.name] = TENANT_COLUMN
    for t in spec.database_tables:
        if t.name in out and t.scd_type == 2:
            out[f"{t.name}_history"] = out[t.name]
    return dict(sorted(out.items()))
