"""Delta snapshots as DuckDB SQL: the catalog's building blocks (no catalog state here).

DuckDB's ``delta`` and ``httpfs`` extensions cannot be downloaded here, so a snapshot is read
from delta-rs: ``snapshot_sql`` returns a SELECT of exactly the snapshot's rows with its Delta
schema — ``read_parquet`` over the snapshot's files (``DeltaTable.file_uris()``; columns missing
from older files are NULL, a column a file names in another case — ``id`` for the schema's
``ID`` — is read under the schema's name, hive partition columns typed by the Delta schema), or
for an S3 lake (``is_remote``) an Arrow dataset registered on the connection
(``registered_datasets`` lists them). ``discover_tables`` finds the Delta tables of each zone;
``unsupported_reason`` says why a table cannot be read as plain Parquet (deletion vectors,
column mapping).

SQL names are case-insensitive (DuckDB's and Athena's alike): a schema with columns that differ
only in case (``id`` and ``ID``: a PostgreSQL table may have both; delta-rs 1.6 refuses such a
log, other writers may not) has no SQL form that keeps both — DuckDB renames one (``ID_1``),
``"ID"`` then reads ``id``, and ``read_parquet``'s union by name mixes their values.
``case_collisions`` names them; ``snapshot_sql`` refuses such a snapshot
(``UnreadableSnapshot``) rather than return wrong or NULL values.
"""

from __future__ import annotations

import uuid

import duckdb

from lakehouse.storage import Lake

ZONES = ("bronze", "silver", "gold")
_UNSUPPORTED_READER_FEATURES = {"deletionVectors", "columnMapping"}


class UnreadableSnapshot(ValueError):
    """A snapshot SQL cannot read as its Delta schema says (the message names the columns)."""


def case_collisions(columns: list[str]) -> str | None:
    """Why SQL cannot tell some of ``columns`` apart, or None: the names that differ only in
    case, each group named (``'id' and 'ID'``)."""
    groups: dict[str, list[str]] = {}
    for name in columns:
        groups.setdefault(name.casefold(), []).append(name)
    clashes = [g for g in groups.values() if len(g) > 1]
    if not clashes:
        return None
    named = "; ".join(" and ".join(repr(n) for n in g) for g in clashes)
    return (
        f"columns {named} differ only in case, which SQL (DuckDB, Athena) cannot tell apart — "
        "fix: rename one of them (in the source, or exclude it in the declaration) and rebuild "
        "the table"
    )


def quote(name: str) -> str:
    """A DuckDB identifier, always quoted."""
    return '"' + name.replace('"', '""') + '"'


def literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def is_remote(lake: Lake) -> bool:
    """True for an object-store root (``s3://``): no Parquet views in a database file."""
    return "://" in lake.root and not lake.root.startswith("file://")


def discover_tables(lake: Lake) -> dict[str, list[str]]:
    """Delta tables per zone: ``{"bronze": ["core_order", ...], ...}`` (sorted)."""
    found: dict[str, list[str]] = {}
    for zone in ZONES:
        names = set()
        for obj in lake.list(f"{zone}/"):
            parts = obj.key.split("/")
            if len(parts) >= 4 and parts[2] == "_delta_log":
                names.add(parts[1])
        found[zone] = sorted(names)
    return found


def open_delta(lake: Lake, zone: str, table: str, version: int | None = None):
    """The delta-rs table ``<zone>/<table>`` (at ``version`` when given)."""
    from deltalake import DeltaTable

    uri = lake.table_uri(zone, table)
    if version is None:
        return DeltaTable(uri, storage_options=lake.storage_options or None)
    return DeltaTable(uri, version=version, storage_options=lake.storage_options or None)


def unsupported_reason(dt) -> str | None:
    """Why a snapshot cannot be read as plain Parquet files, or None."""
    proto = dt.protocol()
    features = set(proto.reader_features or []) & _UNSUPPORTED_READER_FEATURES
    if features:
        return f"reader features {sorted(features)}"
    mode = dt.metadata().configuration.get("delta.columnMapping.mode", "none")
    if mode not in ("none", None):
        return f"column mapping mode {mode!r}"
    return None


def row_count(dt) -> int:
    """Rows of the snapshot from the Delta log's file statistics (-1 when a file has none)."""
    import pyarrow as pa

    actions = pa.table(dt.get_add_actions(flatten=True))
    if actions.num_rows == 0:
        return 0
    counts = actions.column("num_records").to_pylist()
    return -1 if any(c is None for c in counts) else int(sum(counts))


def snapshot_sql(
    con: duckdb.DuckDBPyConnection,
    dt,
    *,
    in_process: bool = False,
    registered: list[str] | None = None,
) -> str:
    """A SELECT returning exactly the rows of the snapshot ``dt`` with its Delta schema.

    Local: ``read_parquet`` over the snapshot's files (no state outside the SQL). In-process:
    registers ``dt.to_pyarrow_dataset()`` on ``con`` under a fresh name (appended to
    ``registered`` when given) and selects from it. ``UnreadableSnapshot`` for a schema whose
    columns differ only in case (``case_collisions``).
    """
    import pyarrow as pa

    clash = case_collisions(arrow_schema(dt).names)
    if clash:
        raise UnreadableSnapshot(clash)

    if in_process:
        name = f"__delta_{uuid.uuid4().hex[:12]}"
        con.register(name, dt.to_pyarrow_dataset())
        if registered is not None:
            registered.append(name)
        return f"SELECT * FROM {quote(name)}"
    schema = pa.schema(dt.schema().to_arrow())
    types = [str(t) for t in con.from_arrow(schema.empty_table()).types]
    wanted = dict(zip(schema.names, types, strict=True))
    files = [f.removeprefix("file://") for f in dt.file_uris()]
    if not files:
        cols = ", ".join(f"CAST(NULL AS {t}) AS {quote(c)}" for c, t in wanted.items())
        return f"SELECT {cols} WHERE false"
    partitions = list(dt.metadata().partition_columns)
    if partitions:
        hive = ", ".join(f"{literal(c)}: {literal(wanted[c])}" for c in partitions)
        opts = f"union_by_name=true, hive_partitioning=true, hive_types={{{hive}}}"
    else:
        opts = "union_by_name=true, hive_partitioning=false"
    source = f"read_parquet([{', '.join(literal(f) for f in files)}], {opts})"
    # DuckDB matches names case-insensitively (a file's ``id`` is the schema's ``ID``) and names
    # a column as the first file does: look each column up the same way
    present = {
        r[0].casefold(): r for r in con.execute(f"DESCRIBE SELECT * FROM {source}").fetchall()
    }
    cols = []
    for c, t in wanted.items():
        found = present.get(c.casefold())
        if found is None:  # in no file (added after them): NULL
            cols.append(f"CAST(NULL AS {t}) AS {quote(c)}")
        elif found[1] != t or found[0] != c:
            cols.append(f"CAST({quote(found[0])} AS {t}) AS {quote(c)}")
        else:
            cols.append(quote(c))
    return f"SELECT {', '.join(cols)} FROM {source}"


def arrow_schema(dt):
    import pyarrow as pa

    return pa.schema(dt.schema().to_arrow())


def registered_datasets(con: duckdb.DuckDBPyConnection) -> list[str]:
    """Names of the Arrow datasets ``snapshot_sql(in_process=True)`` registered on ``con``."""
    rows = con.execute(
        "SELECT view_name FROM duckdb_views() WHERE temporary AND starts_with(view_name, '__delta_')"
    ).fetchall()
    return [r[0] for r in rows]
