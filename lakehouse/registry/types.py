"""Logical column types (see ``registry.model``) mapped to Polars and Arrow types.

What the lake stores for each PostgreSQL type, chosen so that the value round-trips exactly
(``source.discovery`` maps the PostgreSQL type; the replicator reads every value as PostgreSQL's
text in a session with ``DateStyle=ISO``, ``IntervalStyle=postgres``, ``TimeZone=UTC``,
``lc_monetary=C``, ``bytea_output=hex``, ``extra_float_digits=1``):

=================================== ============== ============================================
PostgreSQL                          logical        lake (Polars / Delta)
=================================== ============== ============================================
smallint / integer / bigint         smallint/int/  Int16 / Int32 / Int64
                                    bigint
numeric(p,s), p <= 38               decimal(p,s)   Decimal(p,s) (``NaN`` is rejected: quarantine)
numeric, numeric(p,s) with p > 38   numeric        String: the exact text (``NaN``, ``Infinity``,
                                                   any digits); cast at query time
real / double precision             real/double    Float32 / Float64 (NaN, ±Infinity kept)
money                               money          Decimal(19,2) (``-$1,234.50`` → -1234.50)
boolean                             bool           Boolean
text, varchar(n), char(n), citext,  string         String; ``char(n)`` keeps its blank padding;
name, enums, macaddr, macaddr8,                    varchar(n) adds the check
bit, varbit, xml, tsvector, …                      ``str_length_max: n``; enums their label
uuid                                uuid           String (canonical lower-case text)
json / jsonb                        json           String (jsonb as PostgreSQL normalises it)
inet / cidr                         inet           String
date                                date           Date (``infinity`` → 9999-12-31, ``-infinity``
                                                   and BC dates → 0001-01-01: the lake's range)
time                                time           String ``HH:MM:SS[.ffffff]`` (Delta has no
                                                   time type; sorts correctly as text)
time with time zone                 timetz         String as printed (``12:00:00+05:30``)
timestamp                           timestamp      Datetime(us, UTC): the wall time taken as UTC
timestamp with time zone            timestamptz    Datetime(us, UTC): the instant (both: as for
                                                   date, the range's ends 9999-12-31
                                                   23:59:59.999999 / 0001-01-01 UTC)
interval                            interval       String as printed (``1 year 2 mons 03:04:05``)
bytea                               bytes          Binary
any array (int[], text[], …)        string         String: PostgreSQL's array text
                                                   (``{1,NULL,3}``, ``{"a,b","c\\"d"}``), as AWS
                                                   DMS maps arrays to text
domain                              its base type  as the base type (NOT NULL of the domain kept)
generated column (stored)           its type       replicated like any column; flagged
=================================== ============== ============================================

Any other type (a range, a composite, a geometric type, an extension type) is stored as its
PostgreSQL text (``string``) and named in the discovery notes. The lake stores every timestamp
UTC-aware (``Datetime("us", "UTC")``): a naive timestamp would raise the Delta protocol to
timestampNtz (reader 3 / writer 7), which Athena cannot read.
"""

from __future__ import annotations

import polars as pl
import pyarrow as pa

from lakehouse.registry.model import Column, TableSpec, parse_type

_INTS = [pa.int8(), pa.int16(), pa.int32(), pa.int64()]


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
        case _:  # model.TEXT_TYPES: string, uuid, json, inet, time, timetz, interval, numeric
            return pl.String()


def polars_schema(columns: tuple[Column, ...] | list[Column]) -> dict[str, pl.DataType]:
    return {c.name: polars_dtype(c.type) for c in columns}


def table_polars_schema(table: TableSpec) -> dict[str, pl.DataType]:
    return polars_schema(table.columns)


def arrow_type(type_: str) -> pa.DataType:
    """The Arrow type the lake stores a logical type as (``polars_dtype``'s)."""
    return pl.Series([], dtype=polars_dtype(type_)).to_arrow().type


def wider(old: pa.DataType, new: pa.DataType) -> bool:
    """Whether ``new`` holds every value of ``old`` and is not the same type: a larger integer,
    a decimal with as many digits on both sides of the point, a timestamp gaining its zone."""
    if old == new:
        return False
    if old in _INTS and new in _INTS:
        return _INTS.index(new) > _INTS.index(old)
    if pa.types.is_decimal(old) and pa.types.is_decimal(new):
        return new.scale >= old.scale and new.precision - new.scale >= old.precision - old.scale
    if pa.types.is_timestamp(old) and pa.types.is_timestamp(new):
        return old.tz is None and new.tz is not None and old.unit == new.unit
    return False
