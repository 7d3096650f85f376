"""Pandera (Polars) schemas generated from the registry: one per table, nothing hand-copied.

Per column: the Polars dtype of its logical type, nullability, and the rules in
``Column.checks`` (``ge``, ``le``, ``gt``, ``lt``, ``isin``, ``regex``, ``str_length_max``,
``unique``). The primary key is unique and not null. ``row_level=True`` leaves out the
table-level rules (uniqueness), which a single row cannot fail on its own: that schema decides
what goes to quarantine; the full schema is the blocking asset check.
"""

from __future__ import annotations

import pandera.polars as pa

from lakehouse.registry.model import TableSpec
from lakehouse.registry.types import polars_dtype

_CHECKS = {
    "ge": pa.Check.ge,
    "le": pa.Check.le,
    "gt": pa.Check.gt,
    "lt": pa.Check.lt,
    "isin": pa.Check.isin,
    "regex": pa.Check.str_matches,
    "str_length_max": lambda n: pa.Check.str_length(max_value=n),
}


def table_schema(spec: TableSpec, *, row_level: bool = False) -> pa.DataFrameSchema:
    columns = {}
    for col in spec.columns:
        in_key = col.name in spec.primary_key
        checks = [
            _CHECKS[name](arg)
            for name, arg in col.checks.items()
            if name in _CHECKS and arg is not None
        ]
        unique = (
            bool(col.checks.get("unique")) or (in_key and len(spec.primary_key) == 1)
        ) and not row_level
        columns[col.name] = pa.Column(
            polars_dtype(col.type),
            checks=checks,
            nullable=col.nullable and not in_key,
            unique=unique,
            required=False,  # an older file may predate a column
            coerce=False,
        )
    unique_key = list(spec.primary_key) if len(spec.primary_key) > 1 and not row_level else None
    return pa.DataFrameSchema(
        columns, strict=False, unique=unique_key, name=f"{spec.dataset}.{spec.name}"
    )
