"""Every common PostgreSQL type survives replicate → bronze → silver exactly, on the embedded
PostgreSQL, in DMS CSV and DMS Parquet: full load, then inserts, updates (a TOASTed value left
unchanged, a partition-moving update), key updates and deletes (cascading ones included).

The registry comes from ``discover_schema`` (no hand-written specs). Silver is compared with
the source as PostgreSQL holds it, normalised one way (``source_rows`` / ``silver_rows``): a
column the lake stores as text is read as PostgreSQL's output text (``format('%s', col)``, in
the replicator's session settings), every other column as psycopg's Python value of the lake's
type (``money`` as numeric, ``real`` widened to float8: both exact); timestamps are compared as
UTC instants (a ``timestamp`` is its wall time in UTC) and a NaN float as the text ``NaN``.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from decimal import Decimal

import polars as pl
import psycopg
import pytest

from lakehouse.engine import silver
from lakehouse.registry.model import TableSpec
from lakehouse.registry.types import polars_dtype
from lakehouse.replication.pg_text import SESSION_OPTIONS
from lakehouse.replication.replicator import Replicator
from lakehouse_tests.replication.round_trip import SETTINGS, discovered_task, ingest_and_apply
from lakehouse_tests.source.all_types import CHANGES, ROWS, SCHEMA

pytestmark = pytest.mark.integration


def _normal(value):
    if isinstance(value, float) and math.isnan(value):
        return "NaN"
    if isinstance(value, datetime):
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    return value


def _order(spec: TableSpec, rows: list[tuple]) -> list[tuple]:
    names = spec.column_names
    idx = [names.index(k) for k in spec.primary_key] or list(range(len(names)))
    return sorted(rows, key=lambda r: tuple(repr(r[i]) for i in idx))


def source_rows(conn, spec: TableSpec) -> list[tuple]:
    exprs = []
    for c in spec.columns:
        col = f'"{c.name}"'
        if polars_dtype(c.type) == pl.String():
            exprs.append(f"case when {col} is null then null else format('%s', {col}) end")
        elif c.type == "money":
            exprs.append(f"{col}::numeric")
        elif c.type == "real":
            exprs.append(f"{col}::float8")
        else:
            exprs.append(col)
    rows = conn.execute(f'select {", ".join(exprs)} from "{spec.schema}"."{spec.name}"').fetchall()
    return _order(spec, [tuple(_normal(v) for v in r) for r in rows])


def silver_rows(lake, spec: TableSpec) -> list[tuple]:
    frame = silver.read_silver(lake, spec).select(spec.column_names)
    assert frame.schema == {c.name: polars_dtype(c.type) for c in spec.columns}
    return _order(spec, [tuple(_normal(v) for v in r) for r in frame.rows()])


def _assert_silver_equals_source(dsn, lake, specs) -> None:
    with psycopg.connect(dsn, options=SESSION_OPTIONS) as conn:
        for spec in specs.values():
            expected = source_rows(conn, spec)
            got = silver_rows(lake, spec)
            assert len(got) == len(expected), spec.name
            for want, have in zip(expected, got, strict=True):
                diff = {
                    n: (w, h)
                    for n, w, h in zip(spec.column_names, want, have, strict=True)
                    if w != h
                }
                assert not diff, f"{spec.name}: {diff}"


@pytest.mark.parametrize("data_format", ["csv", "parquet"])
def test_every_type_round_trips_through_silver(fresh_db, tmp_path, data_format):
    setup = discovered_task(fresh_db, tmp_path, "types", (SCHEMA, ROWS), data_format)
    task, lake, specs = setup.task, setup.lake, setup.specs
    assert list(specs) == [
        "public.event_log",
        "public.everything",
        "public.line",
        "public.measurement",
    ]

    stats = Replicator(task, lake).run()
    assert dict(stats.full_load_rows) == {
        "public.event_log": 3,
        "public.everything": 3,
        "public.line": 3,
        "public.measurement": 3,
    }
    assert ingest_and_apply(lake, specs, SETTINGS) == {
        "event_log": (3, 3),
        "everything": (3, 3),
        "line": (3, 3),
        "measurement": (3, 3),
    }
    _assert_silver_equals_source(fresh_db, lake, specs)
    # the awkward values, spelled out (the comparison above cannot be fooled by both sides)
    rows = {r["id"]: r for r in silver.read_silver(lake, specs["public.everything"]).to_dicts()}
    one, two, three = rows[1], rows[2], rows[3]
    assert one["c_num38"] == Decimal("123456789012345678901234567890.12345678")
    assert one["c_num_free"] == "-0.000000000000000000000000000001"
    assert two["c_num_free"] == "NaN"
    assert one["c_money"] == Decimal("-92233720368547758.08")
    assert math.isnan(one["c_double"]) and two["c_double"] == math.inf
    assert two["c_real"] == -math.inf
    assert one["c_text"] == 'quote " comma , newline \n and \r\n crlf; tab \t backslash \\ end'
    assert len(two["c_text"]) == 9000 + len(" — ünïcödé")
    assert (one["c_char"], two["c_char"], two["c_varchar"]) == ("ab   ", "     ", "")
    assert one["c_ints"] == "{1,NULL,-3}"
    assert one["c_texts"] == '{"a,b","c\\"d",NULL,"","NULL"}'
    assert one["c_ts"] == datetime(1900, 1, 1, 0, 0, 0, 1, tzinfo=UTC)
    assert one["c_tstz"] == datetime(1950, 6, 15, 19, 30, tzinfo=UTC)
    assert (one["c_time"], one["c_timetz"]) == ("23:59:59.999999", "12:00:00+05:30")
    assert one["c_interval"] == "1 year 2 mons 3 days 04:05:06.789"
    assert (one["c_bytea"], two["c_bytea"]) == (b"\x00\xff\x10", b"")
    assert (one["c_mood"], one["c_double_num"]) == ("happy 'quoted'", Decimal("2469135780.24"))
    assert all(
        v is None
        for k, v in three.items()
        if k not in ("id", "c_pos", "_sequence", "_commit_ts", "_source_file")
    )

    with psycopg.connect(fresh_db, autocommit=True) as conn:
        for statement in CHANGES:
            conn.execute(statement)
    stats = Replicator(task, lake).run()
    assert not [w for w in stats.warnings if "TOAST" in w], stats.warnings
    assert dict(stats.changes) == {
        "public.everything": 5,  # insert, 2 updates, key update, delete
        "public.line": 6,  # insert, 2 updates, key update, delete, cascaded delete
        "public.event_log": 1,
        "public.measurement": 5,  # insert, update, moving update (D + I), delete
    }
    ingest_and_apply(lake, specs, SETTINGS)
    _assert_silver_equals_source(fresh_db, lake, specs)

    # a rebuild from bronze gives the same table
    for spec in specs.values():
        silver.apply_changes(lake, spec, full_refresh=True)
    _assert_silver_equals_source(fresh_db, lake, specs)
