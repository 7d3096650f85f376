"""``lakehouse query "<SQL>" [--format table|csv|json] [--tenant T]``: SQL over the lake.

Athena (Trino) SQL on the local catalog (``query.sql.run_query``); with ``--tenant`` on that
tenant's connection (only its rows). A mistake in the query (an unknown tenant or table, SQL
that does not parse, an unknown column, a file or setting a tenant connection refuses) is a
``UserError``: one line, exit 2.

Output (``query.sql.format_frame``, as for every caller of it): every result can be printed in
every format. A value the format has no type for is written as text (``query.sql.writable``): in
CSV a list, array, map or struct as its JSON text (``[1,2]``, ``{"a":1}``), a duration as ISO
8601 (``PT5S``); in CSV and JSON a binary value as PostgreSQL's hex text (``\\x00ff``).
"""

from __future__ import annotations

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
    print(format_frame(frame, args.format))
    return 0


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
