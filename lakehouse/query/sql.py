"""Athena (Trino) SQL on the local catalog: sqlglot transpiles, DuckDB runs, Polars comes back.

Contract of ``run_query``:
- input: ONE statement in ``dialect`` (``athena`` — sqlglot's Athena dialect, Trino for queries —
  ``trino``, ``duckdb``, or any sqlglot dialect name); a trailing ``;`` is fine;
- table names resolve in the local catalog (``lakehouse.catalog.local``): ``lakehouse_silver.x``,
  ``silver.x``, ``saas.customers``, … ; Athena's catalog prefix ``awsdatacatalog.`` is dropped;
- time travel (Trino / Delta syntax, after a table name): ``FOR VERSION AS OF <n>`` and
  ``FOR TIMESTAMP AS OF <expr>`` (also ``FOR SYSTEM_TIME AS OF``); the expression is evaluated
  by DuckDB in UTC, so ``TIMESTAMP '2024-05-01 10:00:00 UTC'`` and
  ``current_timestamp - INTERVAL '1' DAY`` both work. A timestamp selects the newest version
  committed at or before it (Delta semantics, commit timestamps of the Delta log). ``as_of``
  does the same without SQL syntax: ``{"silver.customers": 3}`` or ``{"silver.customers":
  datetime(...)}``. The snapshot is a temporary view dropped after the query;
- errors: SQL that does not parse (``SqlSyntaxError``), an unknown table (``UnknownTableError``:
  the message names it and lists the catalog's tables), a version or time the table does not
  have -> ``QueryError``, all ``ValueError``s; errors raised by DuckDB while running (unknown
  column, type errors) propagate as ``duckdb.Error``.
- result: the rows as DuckDB's Polars export gives them, except INTERVALs (``query.intervals``):
  an interval column without months is a ``Duration("us")``, one with months is text in
  PostgreSQL's ``iso_8601`` style (``P1M3DT2H``).
- tenants: ``connect(lake, tenant=...)`` / ``run_query(..., tenant=...)`` run on a tenant
  connection (``catalog.tenants.connect_tenant``): only that tenant's rows, unqualified names in
  its schema (``SELECT * FROM orders``); another tenant's schema or an unfiltered table is an
  unknown table (``ValueError`` listing only the tenant's tables), reading a file is a
  ``duckdb.PermissionException``, time travel a ``ValueError``.
"""

from __future__ import annotations

import difflib
import functools
import json
import uuid
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal

import duckdb
import polars as pl
import sqlglot
from sqlglot import exp

from lakehouse.catalog.local import CATALOG_SCHEMA, catalog_views
from lakehouse.catalog.local import connect as connect_catalog
from lakehouse.catalog.snapshots import (
    UnreadableSnapshot,
    is_remote,
    open_delta,
    quote,
    snapshot_sql,
)
from lakehouse.catalog.tenants import connect_tenant, is_tenant_connection
from lakehouse.query.intervals import to_polars
from lakehouse.storage import Lake

DIALECTS = {"athena": "athena", "trino": "trino", "duckdb": "duckdb"}
OUTPUT_FORMATS = ("table", "csv", "json")
_ATHENA_CATALOGS = {"awsdatacatalog"}
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class QueryError(ValueError):
    """The query cannot run as written (time travel the table cannot do, an unknown table, …)."""


class SqlSyntaxError(QueryError):
    """SQL that does not parse in the dialect, or not exactly one statement."""


class UnknownTableError(QueryError):
    """A table the catalog (or the tenant connection) does not have; the message lists them."""


def parse(sql: str, dialect: str = "athena") -> exp.Expression:
    """The one statement of ``sql`` as a sqlglot tree (ValueError with sqlglot's message)."""
    read = DIALECTS.get(dialect, dialect)
    try:
        statements = [s for s in sqlglot.parse(sql, read=read) if s is not None]
    except sqlglot.errors.ParseError as err:
        raise SqlSyntaxError(f"cannot parse the SQL as {dialect}: {err}") from err
    except ValueError as err:  # unknown dialect
        raise SqlSyntaxError(f"unknown SQL dialect {dialect!r}: {err}") from err
    if len(statements) != 1:
        raise SqlSyntaxError(f"expected one SQL statement, got {len(statements)}")
    return statements[0]


def transpile(sql: str, dialect: str = "athena") -> str:
    """``sql`` written in ``dialect`` as DuckDB SQL (no catalog lookups)."""
    return parse(sql, dialect).sql(dialect="duckdb")


def _known_relations(con: duckdb.DuckDBPyConnection) -> tuple[set[tuple[str, str, str]], list[str]]:
    """Every (database, schema, name) DuckDB can resolve, and the listable ``schema.name``s."""
    rows = con.execute(
        "SELECT database_name, schema_name, view_name, internal, temporary FROM duckdb_views() "
        "UNION ALL SELECT database_name, schema_name, table_name, internal, temporary "
        "FROM duckdb_tables()"
    ).fetchall()
    known = {(d.lower(), s.lower(), n.lower()) for d, s, n, _, _ in rows}
    listable = sorted(
        f"{s}.{n}"
        for _, s, n, internal, temporary in rows
        if not internal and not temporary and s != CATALOG_SCHEMA
    )
    return known, listable


def _exists(table: exp.Table, known: set[tuple[str, str, str]], default: str = "main") -> bool:
    name, db, catalog = table.name.lower(), table.db.lower(), table.catalog.lower()
    if catalog:
        return (catalog, db, name) in known
    schema = db or default
    return any(s == schema and n == name for _, s, n in known)


def _label(table: exp.Table) -> str:
    return ".".join(p for p in (table.catalog, table.db, table.name) if p)


def _unknown_table(table: exp.Table, listable: list[str]) -> UnknownTableError:
    label = _label(table)
    close = difflib.get_close_matches(label, listable, n=3)
    hint = f" Did you mean {', '.join(close)}?" if close else ""
    shown = ", ".join(listable) if listable else "(none: is the lake empty?)"
    return UnknownTableError(f"unknown table {label!r}.{hint} Available tables: {shown}")


def _eval(con: duckdb.DuckDBPyConnection, expression: exp.Expression, kind: str) -> int:
    """A VERSION expression as an integer, a TIMESTAMP one as epoch milliseconds (UTC)."""
    sql = expression.sql(dialect="duckdb")
    query = (
        f"SELECT CAST(({sql}) AS BIGINT)"
        if kind == "VERSION"
        else f"SELECT epoch_ms(CAST(({sql}) AS TIMESTAMPTZ))"
    )
    try:
        return con.execute(query).fetchall()[0][0]
    except duckdb.Error as err:
        raise QueryError(f"cannot evaluate {kind} AS OF {sql!r}: {err}") from err


def _as_of_value(con, label: str, kind: str, value) -> int:
    """An AS OF value (sqlglot expression or Python value) as a version or epoch milliseconds."""
    if isinstance(value, exp.Expression):
        value = _eval(con, value, kind)
    elif kind == "TIMESTAMP":
        if isinstance(value, str):
            value = _eval(con, exp.Literal.string(value), kind)
        elif isinstance(value, datetime):
            aware = value if value.tzinfo else value.replace(tzinfo=UTC)
            value = (aware - _EPOCH) // timedelta(milliseconds=1)
        elif isinstance(value, date):
            value = (
                datetime(value.year, value.month, value.day, tzinfo=UTC) - _EPOCH
            ).days * 86_400_000
        else:
            raise QueryError(f"{label}: unsupported AS OF value {value!r}")
    if not isinstance(value, int) or isinstance(value, bool) or (kind == "VERSION" and value < 0):
        raise QueryError(f"{label}: a version must be a non-negative integer, got {value!r}")
    return value


def _version_at(dt, label: str, ts_ms: int) -> int:
    """The newest version of ``dt`` committed at or before ``ts_ms`` (epoch milliseconds)."""
    commits = [(c["version"], c["timestamp"]) for c in dt.history() if "timestamp" in c]
    eligible = [v for v, t in commits if t <= ts_ms]
    if not eligible:
        when = _iso(ts_ms)
        oldest = f"; its oldest commit is at {_iso(min(t for _, t in commits))}" if commits else ""
        raise QueryError(f"{label} has no version at or before {when}{oldest}")
    return max(eligible)


def _iso(ms: int) -> str:
    return (_EPOCH + timedelta(milliseconds=ms)).isoformat()


@dataclass
class _Scratch:
    """What binding time travel made on the connection, dropped after the query."""

    views: list[str] = field(default_factory=list)  # temp views
    datasets: list[str] = field(default_factory=list)  # Arrow datasets (S3 lakes)


def _snapshot_view(
    con, lake: Lake, label: str, view, kind: str, value: int, scratch: _Scratch
) -> str:
    """A temp view of catalog view ``view`` AS OF a version or a time (epoch ms); its name."""
    latest = open_delta(lake, view.zone, view.table)
    if kind == "TIMESTAMP":
        version = _version_at(latest, label, value)
    elif value > latest.version():
        raise QueryError(f"{label} has no version {value}; the latest is {latest.version()}")
    else:
        version = value
    try:
        dt = open_delta(lake, view.zone, view.table, version)
    except Exception as err:  # delta-rs: log entry cleaned up
        raise QueryError(f"{label}: cannot load version {version}: {err}") from err
    try:
        base = snapshot_sql(con, dt, in_process=is_remote(lake), registered=scratch.datasets)
    except UnreadableSnapshot as err:
        raise QueryError(f"{label} version {version}: {err}") from err
    name = f"__asof_{uuid.uuid4().hex[:12]}"
    con.execute(f"CREATE TEMP VIEW {quote(name)} AS {view.wrapper.format(base=f'({base})')}")
    scratch.views.append(name)
    return name


def _drop_athena_catalog(table: exp.Table) -> None:
    if table.catalog.lower() in _ATHENA_CATALOGS:
        table.set("catalog", None)


def _bind(stmt: exp.Expression, con, lake: Lake, as_of: dict, scratch: _Scratch) -> exp.Expression:
    """Check every table reference and swap time-travel references for snapshot views."""
    known, listable = _known_relations(con)
    default = con.execute("SELECT current_schema()").fetchall()[0][0].lower()
    entries = None  # the catalog's views: read only when a table travels in time
    ctes = {c.alias_or_name.lower() for c in stmt.find_all(exp.CTE)}
    pending = {k.lower().removeprefix("awsdatacatalog."): (k, v) for k, v in as_of.items()}
    used: set[str] = set()
    for table in list(stmt.find_all(exp.Table)):
        if not isinstance(table.this, exp.Identifier):
            continue  # table functions: read_parquet(...), unnest(...)
        _drop_athena_catalog(table)
        if not table.db and table.name.lower() in ctes:
            continue
        label = _label(table)
        version = table.args.get("version")
        key = label.lower()
        if version is None and key not in pending:
            if not _exists(table, known, default):
                raise _unknown_table(table, listable)
            continue
        if entries is None:
            if is_tenant_connection(con):
                raise QueryError(
                    f"{label}: time travel is not available on a tenant connection (it holds "
                    "a snapshot of the tenant's rows taken when it opened)"
                )
            entries = catalog_views(con)
        entry = entries.get((table.db.lower(), table.name.lower()))
        if entry is None or table.catalog:
            if not _exists(table, known, default):
                raise _unknown_table(table, listable)
            raise QueryError(f"time travel needs a lake table of the catalog; {label!r} is not one")
        if version is not None:
            if str(version.args.get("kind", "")).upper() != "AS OF":
                raise QueryError(f"{label}: only FOR VERSION|TIMESTAMP AS OF is supported")
            kind = "VERSION" if str(version.this).upper() == "VERSION" else "TIMESTAMP"
            value = _as_of_value(con, label, kind, version.expression)
        else:
            used.add(key)
            raw = pending[key][1]
            kind = "VERSION" if isinstance(raw, int) and not isinstance(raw, bool) else "TIMESTAMP"
            value = _as_of_value(con, label, kind, raw)
        name = _snapshot_view(con, lake, label, entry[0], kind, value, scratch)
        alias = table.args.get("alias") or exp.TableAlias(this=exp.to_identifier(table.name))
        table.replace(exp.Table(this=exp.to_identifier(name), alias=alias))
    unused = set(pending) - used
    if unused:
        raise QueryError(
            f"as_of names tables the query does not read (or reads AS OF already): "
            f"{sorted(pending[k][0] for k in unused)}"
        )
    return stmt


def connect(
    lake: Lake,
    path: str | None = None,
    *,
    tenant: str | None = None,
    project: str = "lakehouse",
    alias_dataset: str | None = "declared",
) -> duckdb.DuckDBPyConnection:
    """A connection for ``run_query``: the whole catalog (``catalog.local.connect``), or with
    ``tenant`` (an id or slug) a tenant connection that sees only that tenant's rows
    (``catalog.tenants.connect_tenant``: one schema, no file access, settings locked)."""
    if tenant is not None:
        if path not in (None, ":memory:"):
            raise ValueError("a tenant connection is in-memory only; do not pass a path")
        return connect_tenant(lake, tenant, project=project)
    return connect_catalog(lake, path, project=project, alias_dataset=alias_dataset)


def run_query(
    sql: str,
    lake: Lake,
    *,
    dialect: str = "athena",
    con: duckdb.DuckDBPyConnection | None = None,
    as_of: dict | None = None,
    tenant: str | None = None,
) -> pl.DataFrame:
    """Run one ``dialect`` statement on the catalog of ``lake``; the result as a Polars frame.

    ``con``: an open connection (``connect``); without it one is opened for this query — the
    refreshed catalog, or with ``tenant`` that tenant's connection — and closed afterwards.
    On a tenant connection unqualified names resolve in the tenant's schema, and any other
    table is unknown.

    An INTERVAL column (or nested field) is a ``Duration("us")`` when none of its values has a
    month part (exact), else text in PostgreSQL's ``iso_8601`` style (``P1M3DT2H``): a month has
    no fixed length, so none is turned into days (``query.intervals``).
    """
    # a SqlSyntaxError before a connection opens
    plain = None if as_of else _plain_duckdb(sql, dialect)  # parsed once per text
    if as_of:
        parse(sql, dialect)
    own = con is None
    if own:
        con = connect(lake, tenant=tenant)
    elif tenant is not None:
        raise ValueError("pass either con or tenant, not both")
    try:
        if plain is not None:
            try:
                rel = con.sql(plain)
            except (duckdb.CatalogException, duckdb.InvalidInputException):
                pass  # an unknown name (or a Python object's): the checked path names it
            else:
                return to_polars(rel) if rel is not None else pl.DataFrame()
        return _checked(sql, dialect, con, lake, dict(as_of or {}))
    finally:
        if own:
            con.close()


@functools.lru_cache(maxsize=512)
def _plain_duckdb(sql: str, dialect: str) -> str | None:
    """The DuckDB text of a query (SELECT, UNION, ...) with no time travel; None for any other
    statement. It is what ``_checked`` runs for it when all its tables exist, so a repeated
    query skips sqlglot; it runs without the check and falls back to ``_checked`` when DuckDB
    cannot bind a name (nothing has run then)."""
    stmt = parse(sql, dialect)
    if not isinstance(stmt, exp.Query):
        return None
    for table in stmt.find_all(exp.Table):
        if table.args.get("version") is not None:
            return None
        if isinstance(table.this, exp.Identifier):
            _drop_athena_catalog(table)
    return stmt.sql(dialect="duckdb")


def _checked(sql: str, dialect: str, con, lake: Lake, as_of: dict) -> pl.DataFrame:
    """Every table checked against the catalog (``UnknownTableError`` names the missing one),
    time travel bound to snapshot views, then run; the snapshot views dropped afterwards."""
    scratch = _Scratch()
    try:
        stmt = _bind(parse(sql, dialect), con, lake, as_of, scratch)
        rel = con.sql(stmt.sql(dialect="duckdb"))
        return to_polars(rel) if rel is not None else pl.DataFrame()
    finally:
        for name in scratch.views:
            con.execute(f"DROP VIEW IF EXISTS temp.main.{quote(name)}")
        for name in scratch.datasets:
            con.unregister(name)


def format_frame(df: pl.DataFrame, output_format: str = "table", *, max_rows: int = 1000) -> str:
    """``df`` as printable text: an aligned table, CSV (with header), or a JSON array of rows.
    Every result prints in every format: a value the format has no type for is written as text
    (``writable``)."""
    if output_format not in OUTPUT_FORMATS:
        raise ValueError(f"output format {output_format!r}: expected one of {OUTPUT_FORMATS}")
    df = writable(df, output_format)
    if output_format == "csv":
        return df.write_csv()
    if output_format == "json":
        return json.dumps(json.loads(df.write_json()), indent=2)
    with pl.Config(
        tbl_rows=max_rows, tbl_cols=-1, fmt_str_lengths=100, tbl_hide_dataframe_shape=True
    ):
        text = str(df)
    return f"{text}\n({df.height} row{'s' if df.height != 1 else ''})"


def writable(frame: pl.DataFrame, output_format: str) -> pl.DataFrame:
    """``frame`` with each column ``output_format`` cannot write as text; the others, and every
    column of a table, unchanged. In CSV a list, array or struct is its JSON text (``[1,2]``,
    ``{"a":1}``: dates and times ISO 8601, decimals their exact text) and a duration ISO 8601
    (``PT5S``); in CSV and JSON a binary value is PostgreSQL's hex text (``\\x00ff``), and a
    nested value holding one is its JSON text (Polars cannot write binary inside JSON)."""
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
    if isinstance(value, (date, time)):  # datetime is a date
        return value.isoformat()
    if isinstance(value, timedelta):
        return pl.Series([value]).dt.to_string()[0]
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, bytes):
        return "\\x" + value.hex()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def query_command(
    sql: str,
    lake: Lake,
    output_format: str = "table",
    *,
    dialect: str = "athena",
    con: duckdb.DuckDBPyConnection | None = None,
    tenant: str | None = None,
) -> str:
    """What ``lakehouse query "<SQL>"`` prints: the result of ``run_query`` formatted
    (``tenant``: as that tenant, ``lakehouse query --tenant``)."""
    if output_format not in OUTPUT_FORMATS:
        raise ValueError(f"output format {output_format!r}: expected one of {OUTPUT_FORMATS}")
    frame = run_query(sql, lake, dialect=dialect, con=con, tenant=tenant)
    return format_frame(frame, output_format)
