"""``lakehouse query "<SQL>" [--format table|csv|json] [--tenant T]``: SQL over the lake.

Athena (Trino) SQL on the local catalog (``query.sql.run_query``); with ``--tenant`` on that
tenant's connection (only its rows). A mistake in the query (an unknown tenant or table, SQL
that does not parse, an unknown column, a file or setting a tenant connection refuses) is a
``UserError``: one line, exit 2.

Output (``query.sql.format_frame``): every result can be printed in every format. A value the
format has no type for is written as text (``writable``): in CSV a list, array, map or struct as
its JSON text (``[1,2]``, ``{"a":1}``), a duration as ISO 8601 (``PT5S``); in CSV and JSON a
binary value as PostgreSQL's hex text (``\\x00ff``).
"""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal

import polars as pl

from lakehouse.commands.errors import UserError
from lakehouse.commands.targets import settings


def cmd_query(args) -> int:
    from lakehouse.query.sql import format_frame, run_query

    lake = settings().lake()
    try:
        frame = run_query(args.sql, lake, tenant=args.tenant)
    except Exception as err:
        problem = query_mistake(err, tenant=args.tenant)
        if problem is None:
            raise
        raise problem from err
    print(format_frame(writable(frame, args.format), args.format))
    return 0


def writable(frame: pl.DataFrame, output_format: str) -> pl.DataFrame:
    """``frame`` with each column ``output_format`` cannot write (see the module docstring) as
    text; the others, and every column of a table, unchanged."""
    if output_format == "table":
        return frame
    columns = []
    for name, dtype in frame.schema.items():
        column = frame[name]
        if dtype == pl.Binary:
            columns.append(("\\x" + column.bin.encode("hex")).alias(name))
        elif dtype.is_nested() and (output_format == "csv" or _holds_binary(dtype)):
            text = [None if v is None else _json_text(v) for v in column.to_list()]
            columns.append(pl.Series(name, text, pl.String))
        elif output_format == "csv" and isinstance(dtype, pl.Duration):
            columns.append(column.dt.to_string())
    return frame.with_columns(columns) if columns else frame


def _holds_binary(dtype: pl.DataType) -> bool:
    """Whether a nested type has binary values inside (Polars cannot write them as JSON)."""
    if isinstance(dtype, (pl.List, pl.Array)):
        return _holds_binary(dtype.inner)
    if isinstance(dtype, pl.Struct):
        return any(_holds_binary(f.dtype) for f in dtype.fields)
    return dtype == pl.Binary


def _json_text(value) -> str:
    return json.dumps(value, default=_json_value, ensure_ascii=False, separators=(",", ":"))


def _json_value(value):
    """A JSON value for what ``json`` cannot encode: dates and times in ISO 8601, a decimal as
    its exact text, bytes as PostgreSQL's hex text."""
    if isinstance(value, (dt.date, dt.time)):  # datetime is a date
        return value.isoformat()
    if isinstance(value, dt.timedelta):
        return pl.Series([value]).dt.to_string()[0]
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, bytes):
        return "\\x" + value.hex()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def query_mistake(err: Exception, *, tenant: str | None = None) -> UserError | None:
    """The ``UserError`` for a mistake in a query, or None (not the query's fault)."""
    import duckdb

    from lakehouse.catalog.tenants import UnknownTenantError
    from lakehouse.query.sql import QueryError, SqlSyntaxError, UnknownTableError

    if isinstance(err, UnknownTenantError):
        fix = 'name a tenant by its id or slug (lakehouse query "SELECT id, slug FROM silver.tenants")'
    elif isinstance(err, UnknownTableError):
        fix = "query one of the tables listed (lakehouse status shows what is loaded)"
    elif isinstance(err, SqlSyntaxError):
        fix = "write one statement in Athena (Trino) SQL, e.g. SELECT * FROM silver.orders LIMIT 5"
    elif isinstance(err, QueryError):
        fix = "correct the query as the message says"
    elif isinstance(err, duckdb.PermissionException):
        who = f"as tenant {tenant!r}, query" if tenant else "query"
        fix = f"{who} the catalog's tables by name (no file reads, ATTACH or SET)"
    elif isinstance(err, duckdb.ParserException):
        fix = "correct the SQL (Athena/Trino dialect)"
    elif isinstance(err, (duckdb.CatalogException, duckdb.BinderException)):
        fix = "check the table and column names (DESCRIBE <table> lists the columns)"
    else:
        return None
    return UserError(str(err), fix)
