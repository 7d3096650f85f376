"""Logical column types (see ``registry.model``) mapped to Polars and Arrow types.

The lake stores every timestamp UTC-aware (``Datetime("us", "UTC")``): a naive timestamp would
raise the Delta protocol to timestampNtz (reader 3 / writer 7), which Athena cannot read.
"""

from __future__ import annotations

import polars as pl

from lakehouse.registry.model import Column, TableSpec, parse_type


def polars_dtype(type_: str) -> pl.DataType:
    base, precision, scale = parse_type(type_)
    match base:
        case "smallint":
            return pl.Int16()
        case "int":
            return pl.Int32()
        case "bigint":
            return pl.Int64()
        case "real":
            return pl.Float32()
        case "double":
            return pl.Float64()
        case "decimal" | "money":
            return pl.Decimal(precision, scale)
        case "bool":
            return pl.Boolean()
        case "date":
            return pl.Date()
        case "timestamp" | "timestamptz":
            return pl.Datetime("us", "UTC")
        case "bytes":
            return pl.Binary()
        case _:  # string, uuid, json, inet
            return pl.String()


def polars_schema(columns: tuple[Column, ...] | list[Column]) -> dict[str, pl.DataType]:
    return {c.name: polars_dtype(c.type) for c in columns}


def table_polars_schema(table: TableSpec) -> dict[str, pl.DataType]:
    return polars_schema(table.columns)
