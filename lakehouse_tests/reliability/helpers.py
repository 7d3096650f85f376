"""Helpers of the reliability suite: a seeded source, the pipeline applied in-process or in a
worker process that can be SIGKILLed (``lakehouse.inprocess``, shared with ``bench/``), and an
exact comparison of silver with the source.

``compare_with_source`` compares full rows (every registry column of every key), not counts:
values are normalised on both sides the same way (UUID/inet as text, JSON parsed, timestamps
UTC-aware, decimals as ``Decimal``) and the source's PII columns are standardised as silver's
contract says (``engine.pii``: e-mail trimmed and lower-cased, phone reduced to digits, ``+``
and ``x``), written out here independently of the engine.
"""

from __future__ import annotations

import json
import re
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal

from lakehouse import inprocess
from lakehouse.inprocess import rss_kib, subprocess_env  # noqa: F401 (the suite's h.…)


# ------------------------------------------------- the pipeline (lakehouse.inprocess), saas here
def replicate(dsn: str, lake, dataset: str = "saas"):
    return inprocess.replicate(dsn, lake, dataset)


def database_tables(dataset: str = "saas"):
    return inprocess.database_tables(dataset)


def apply_all(lake, dataset: str = "saas", *, on_step=None, tables=None) -> tuple[int, int]:
    return inprocess.apply_all(lake, dataset, on_step=on_step, tables=tables)


def start_worker(mode: str, lake_root, dataset: str = "saas", *extra: str, pycache=None):
    return inprocess.start_worker(mode, lake_root, dataset, *extra, pycache=pycache)


# ----------------------------------------------------------------------------- the source
def new_database(pg_dsn: str) -> str:
    """A new empty database on the session server (for module-scoped fixtures)."""
    import psycopg

    from lakehouse.source import embedded

    name = f"r_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(embedded.with_database(pg_dsn, "postgres"), autocommit=True) as conn:
        conn.execute(f'create database "{name}"')
    return embedded.with_database(pg_dsn, name)


def drop_database(pg_dsn: str, dsn: str) -> None:
    import psycopg

    from lakehouse.source import embedded

    name = psycopg.conninfo.conninfo_to_dict(dsn)["dbname"]
    with psycopg.connect(embedded.with_database(pg_dsn, "postgres"), autocommit=True) as conn:
        for slot, pid in conn.execute(
            "select slot_name, active_pid from pg_replication_slots where database = %s", (name,)
        ).fetchall():
            if pid:
                conn.execute("select pg_terminate_backend(%s)", (pid,))
            conn.execute("select pg_drop_replication_slot(%s)", (slot,))
        conn.execute(f'drop database if exists "{name}" with (force)')


# ----------------------------------------------------------------------------- raw files
def read_csv_records(data: bytes) -> list[list[str]]:
    """A DMS CSV file (RFC 4180, LF row ends) as records of *raw* field texts, quotes kept, so
    ``write_csv_records`` gives the same bytes back and a NULL (empty unquoted field) stays
    distinct from an empty string (``""``)."""
    records, fields, cur, quoted = [], [], [], False
    for ch in data.decode():
        if quoted:
            cur.append(ch)
            quoted = ch != '"'  # a doubled quote closes and reopens
        elif ch == '"':
            cur.append(ch)
            quoted = True
        elif ch == ",":
            fields.append("".join(cur))
            cur = []
        elif ch == "\n":
            fields.append("".join(cur))
            records.append(fields)
            fields, cur = [], []
        else:
            cur.append(ch)
    if cur or fields:
        fields.append("".join(cur))
        records.append(fields)
    return records


def write_csv_records(records: list[list[str]]) -> bytes:
    return "".join(",".join(r) + "\n" for r in records).encode()


def cdc_files(lake, table: str) -> list[str]:
    """Keys of a table's CDC files (not the full load), in name order."""
    from lakehouse.replication.task import table_prefix

    return sorted(o.key for o in lake.list(table_prefix("public", table)) if "/LOAD" not in o.key)


# ----------------------------------------------------------------------------- comparison
def _type(col) -> str:
    from lakehouse.registry.model import parse_type

    return parse_type(col.type)[0]


def _norm(value, base: str):
    if value is None:
        return None
    if base == "json":
        return json.loads(value) if isinstance(value, str) else value
    if base in ("timestamp", "timestamptz"):
        return value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)
    if base in ("decimal", "money"):
        return Decimal(str(value))
    if base in ("string", "uuid", "inet"):
        return str(value)
    return value


def _standardised(value, pii: str | None):
    """The source value as silver must hold it (the ``engine.pii`` contract, restated)."""
    if value is None or pii is None:
        return value
    if pii == "email":
        return value.strip().lower()
    if pii == "phone":
        digits = re.sub(r"[^0-9+x]", "", value.lower())
        return digits[:1] + digits[1:].replace("+", "")
    return value


def source_columns(dsn: str, spec) -> list[str]:
    import psycopg

    with psycopg.connect(dsn) as conn:
        return [
            r[0]
            for r in conn.execute(
                "select column_name from information_schema.columns where table_schema = %s"
                " and table_name = %s order by ordinal_position",
                (spec.schema, spec.name),
            )
        ]


def source_rows(dsn: str, spec) -> dict[tuple, tuple]:
    """The source table: key tuple → tuple of every registry column, normalised."""
    import psycopg

    cols = spec.columns
    names = ", ".join(f'"{c.name}"' for c in cols)
    with psycopg.connect(dsn) as conn:
        conn.execute("set timezone to 'UTC'")
        rows = conn.execute(f'select {names} from "{spec.schema}"."{spec.name}"').fetchall()
    out = {}
    key_idx = [spec.column_names.index(k) for k in spec.primary_key]
    for r in rows:
        vals = tuple(_norm(_standardised(v, c.pii), _type(c)) for v, c in zip(r, cols, strict=True))
        out[tuple(vals[i] for i in key_idx)] = vals
    return out


def silver_rows(lake, spec) -> tuple[dict[tuple, tuple], int, list[str]]:
    """(key tuple → normalised row, number of rows whose key was already seen, data columns —
    lineage ``_…`` aside) of silver."""
    from lakehouse.engine.silver import read_silver

    frame = read_silver(lake, spec)
    columns = [c for c in frame.columns if not c.startswith("_")]
    if frame.height == 0:
        return {}, 0, columns
    cols = spec.columns
    bases = [_type(c) for c in cols]
    key_idx = [spec.column_names.index(k) for k in spec.primary_key]
    out, dupes = {}, 0
    for r in frame.select([c.name for c in cols]).iter_rows():
        vals = tuple(_norm(v, b) for v, b in zip(r, bases, strict=True))
        key = tuple(vals[i] for i in key_idx)
        dupes += key in out
        out[key] = vals
    return out, dupes, columns


@dataclass
class TableDiff:
    table: str
    source: int
    silver: int
    lost: list = field(default_factory=list)  # keys in the source, not in silver
    ghosts: list = field(default_factory=list)  # keys in silver, not in the source
    changed: list = field(default_factory=list)  # (key, {column: (source, silver)})
    duplicated: int = 0  # silver rows with a key seen before
    extra_columns: list = field(default_factory=list)  # in silver, not in the source table
    missing_columns: list = field(default_factory=list)  # in the source table, not in silver

    @property
    def ok(self) -> bool:
        return not (
            self.lost or self.ghosts or self.changed or self.duplicated
            or self.extra_columns or self.missing_columns
        )  # fmt: skip

    def __str__(self) -> str:
        return (
            f"{self.table}: source {self.source}, silver {self.silver}, lost {len(self.lost)}, "
            f"ghosts {len(self.ghosts)}, changed {len(self.changed)}, duplicated {self.duplicated}"
            + (f"; e.g. lost {self.lost[:2]}" if self.lost else "")
            + (f"; e.g. ghosts {self.ghosts[:2]}" if self.ghosts else "")
            + (f"; e.g. changed {self.changed[:2]}" if self.changed else "")
            + (f"; columns not in the source {self.extra_columns}" if self.extra_columns else "")
            + (f"; source columns missing {self.missing_columns}" if self.missing_columns else "")
        )


def compare_with_source(lake, dsn: str, dataset: str = "saas", tables=None) -> list[TableDiff]:
    """Silver against the source, table by table (or those named in ``tables``): full rows
    (see the module docstring) and the set of columns."""
    diffs = []
    for spec in database_tables(dataset):
        if tables is not None and spec.name not in tables:
            continue
        src = source_rows(dsn, spec)
        got, dupes, columns = silver_rows(lake, spec)
        d = TableDiff(spec.name, len(src), len(got) + dupes, duplicated=dupes)
        src_columns = source_columns(dsn, spec)
        d.extra_columns = [c for c in columns if c not in src_columns]
        d.missing_columns = [c for c in src_columns if c not in columns] if columns else []
        d.lost = sorted(k for k in src if k not in got)
        d.ghosts = sorted(k for k in got if k not in src)
        for k in src.keys() & got.keys():
            if src[k] != got[k]:
                cols = {
                    c: (a, b)
                    for c, a, b in zip(spec.column_names, src[k], got[k], strict=True)
                    if a != b
                }
                d.changed.append((k, cols))
        diffs.append(d)
    return diffs


def assert_silver_equals_source(
    lake, dsn: str, dataset: str = "saas", tables=None
) -> list[TableDiff]:
    diffs = compare_with_source(lake, dsn, dataset, tables)
    bad = [str(d) for d in diffs if not d.ok]
    assert not bad, "silver differs from the source:\n" + "\n".join(bad)
    assert sum(d.source for d in diffs) > 0
    return diffs


def bronze_duplicates(lake, dataset: str = "saas") -> dict[str, int]:
    """Per table: bronze rows whose (source file, row) was already appended (0 = exactly once)."""
    import polars as pl
    from deltalake import DeltaTable

    out = {}
    for spec in database_tables(dataset):
        frame = pl.from_arrow(
            DeltaTable(lake.uri(f"bronze/{spec.name}")).to_pyarrow_table(
                columns=["_source_file", "_source_row"]
            )
        )
        out[spec.name] = frame.height - frame.unique().height
    return out


def raw_file_rows(lake, dataset: str = "saas") -> dict[str, int]:
    """Per table: data rows in its raw files (what bronze must hold exactly once)."""
    from lakehouse.declarations.dms import settings_for
    from lakehouse.dms import reader as dms_reader
    from lakehouse.engine.bronze import raw_files

    settings = settings_for(dataset)
    out = Counter()
    for spec in database_tables(dataset):
        for obj in raw_files(lake, spec):
            f = dms_reader.read_dms_file(lake.read_bytes(obj.key), obj.key, settings)
            out[spec.name] += f.frame.height
    return dict(out)


def bronze_rows(lake, dataset: str = "saas") -> dict[str, int]:
    from deltalake import DeltaTable

    return {
        s.name: DeltaTable(lake.uri(f"bronze/{s.name}")).count() for s in database_tables(dataset)
    }


def now() -> datetime:
    return datetime.now(UTC)
