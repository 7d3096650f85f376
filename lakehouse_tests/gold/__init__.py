"""Gold tests: metrics computed from source tables loaded as silver would hold them, checked
against independent SQL on the same PostgreSQL. Shared helpers live here."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import polars as pl
import psycopg

from lakehouse.declarations import load_dataset
from lakehouse.registry.model import parse_type
from lakehouse.registry.types import table_polars_schema


def _select_expr(name: str, type_: str) -> str:
    base, _, _ = parse_type(type_)
    col = f'"{name}"'
    if base in ("uuid", "json", "inet", "string"):
        return f"{col}::text"
    if base == "money":
        return f"{col}::numeric"
    if base == "timestamp":  # naive in the source, UTC-aware in the lake
        return f"{col} at time zone 'UTC'"
    return col


def load_source_frames(dsn: str, dataset: str) -> dict[str, pl.DataFrame]:
    """Every database table of ``dataset`` as a Polars frame typed like its silver table."""
    spec = load_dataset(dataset)
    frames = {}
    with psycopg.connect(dsn) as conn:
        conn.execute("set timezone = 'UTC'")
        for t in spec.database_tables:
            cols = ", ".join(_select_expr(c.name, c.type) for c in t.columns)
            rows = conn.execute(f'select {cols} from "{t.schema}"."{t.name}"').fetchall()
            frames[t.name] = pl.DataFrame(rows, schema=table_polars_schema(t), orient="row")
    return frames


def query(dsn: str, sql: str) -> list[dict]:
    """Rows of ``sql`` as dicts (session time zone UTC)."""
    with psycopg.connect(dsn) as conn:
        conn.execute("set timezone = 'UTC'")
        cur = conn.execute(sql)
        names = [d.name for d in cur.description]
        return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]


def execute(dsn: str, sql: str) -> None:
    """Run statements that return no rows (committed)."""
    with psycopg.connect(dsn) as conn:
        conn.execute(sql)


def assert_frame_matches_sql(
    frame: pl.DataFrame, expected: list[dict], key: tuple[str, ...]
) -> None:
    """``frame`` has exactly the SQL result's columns and rows (matched on ``key``), value for
    value: counts and decimals exactly, floats exactly (both are the same IEEE division)."""
    assert expected, "the SQL returned no rows: the comparison would be vacuous"
    assert set(frame.columns) == set(expected[0]), (frame.columns, list(expected[0]))
    got = {tuple(r[k] for k in key): r for r in frame.iter_rows(named=True)}
    want = {tuple(r[k] for k in key): r for r in expected}
    assert len(got) == frame.height, f"key {key} is not unique in the gold frame"
    assert got.keys() == want.keys()
    for k, row in want.items():
        for col, value in row.items():
            assert got[k][col] == value, f"{k} {col}: gold {got[k][col]!r} != SQL {value!r}"


def assert_metrics_equal_sql(
    dsn: str,
    dataset: str,
    metrics: Iterable,
    sql: Mapping[str, str],
    keys: Mapping[str, tuple[str, ...]],
) -> None:
    """Every gold metric of ``dataset``, computed from the source tables loaded as silver would
    hold them, equals its independent SQL ``sql[name]`` on the same database (rows matched on
    ``keys[name]``); ``sql`` must cover exactly the metrics."""
    frames = load_source_frames(dsn, dataset)
    by_name = {m.name: m for m in metrics}
    assert set(by_name) == set(sql)
    for name, metric in by_name.items():
        out = metric.compute({t: frames[t] for t in metric.deps})
        assert_frame_matches_sql(out, query(dsn, sql[name]), keys[name])


def assert_metrics_keep_columns_on_empty_inputs(dsn: str, dataset: str, metrics: Iterable) -> None:
    """Every metric computed from empty inputs has no rows and the schema of the full result."""
    frames = load_source_frames(dsn, dataset)
    for metric in metrics:
        full = metric.compute(frames)
        empty = metric.compute({t: frames[t].clear() for t in metric.deps})
        assert empty.height == 0 and empty.schema == full.schema, metric.name
