"""Reconciliation (``quality.reconcile``) against a real PostgreSQL: key texts read with one COPY
are the ones ``::text`` gives, however awkward (commas, quotes, newlines, pipes, backslashes,
the empty string, non-ASCII); lost and ghost keys are found and sampled; the checksum is the one
its docstring gives in SQL; and the Dagster check reports it."""

from __future__ import annotations

import hashlib

import polars as pl
import psycopg
import pytest

from lakehouse.defs.checks import reconciliation_result
from lakehouse.quality import reconcile
from lakehouse.registry import Column, TableSpec

pytestmark = pytest.mark.integration

AWKWARD = ["plain", "a,b", 'say "hi"', "two\nlines", "pi|pe", "back\\slash", "", "ünï", " pad "]

TEXT = TableSpec(
    dataset="d", name="words", columns=(Column("w", "string", nullable=False),),
    primary_key=("w",),
)  # fmt: skip
PAIR = TableSpec(
    dataset="d", name="pairs", schema="app", source_name="pair_src",
    columns=(Column("tenant", "bigint", nullable=False), Column("code", "string", nullable=False)),
    primary_key=("tenant", "code"),
)  # fmt: skip


@pytest.fixture
def source(fresh_db):
    with psycopg.connect(fresh_db, autocommit=True) as conn:
        conn.execute("create table words (w text primary key)")
        with conn.cursor() as cur:
            cur.executemany("insert into words values (%s)", [(w,) for w in AWKWARD])
        conn.execute("create schema app")
        conn.execute(
            "create table app.pair_src (tenant bigint, code text, primary key (tenant, code))"
        )
        conn.execute(
            "insert into app.pair_src select t, 'c' || n from generate_series(1, 3) t,"
            " generate_series(1, 1000) n"
        )
    return fresh_db


def _lake(table: TableSpec, frame: pl.DataFrame) -> pl.DataFrame:
    return reconcile.lake_keys(frame, table)


WORDS = pl.DataFrame({"w": AWKWARD})
PAIRS = pl.DataFrame(
    {"tenant": [t for t in (1, 2, 3, 4) for _ in range(1000)],
     "code": [f"c{n}" for _ in (1, 2, 3, 4) for n in range(1, 1001)]},
    schema={"tenant": pl.Int64, "code": pl.String},
)  # fmt: skip


def test_source_keys_are_the_texts_postgres_gives_integers_as_integers(source):
    keys = reconcile.source_keys(source, TEXT, _lake(TEXT, WORDS))
    assert sorted(keys["w"].to_list()) == sorted(AWKWARD)
    pairs = reconcile.source_keys(source, PAIR, _lake(PAIR, PAIRS))
    assert pairs.schema == {"tenant": pl.Int64, "code": pl.String} and pairs.height == 3000
    assert "2|c17" in set(reconcile.texts(pairs).to_list())


def test_equal_sides_pass_with_the_sql_checksum(source):
    lake = _lake(TEXT, pl.DataFrame({"w": AWKWARD[::-1]}))
    found = reconcile.compare(reconcile.source_keys(source, TEXT, lake), lake)
    assert found.passed and (found.source_rows, found.silver_rows) == (9, 9)
    with psycopg.connect(source) as conn:
        in_sql = conn.execute(
            "select md5(string_agg(w || E'\\n', '' order by w collate \"C\")) from words"
        ).fetchone()[0]
    by_hand = hashlib.md5("".join(k + "\n" for k in sorted(AWKWARD)).encode()).hexdigest()
    assert found.source_checksum == found.silver_checksum == in_sql == by_hand


def test_lost_and_ghost_keys_are_counted_and_sampled(source):
    gone = (pl.col("tenant") == 2) & pl.col("code").is_in(["c5", "c50"])
    lake = _lake(PAIR, PAIRS.filter(~gone))
    found = reconcile.compare(reconcile.source_keys(source, PAIR, lake), lake)
    assert not found.passed
    assert (found.missing, found.ghosts) == (2, 1000)
    assert found.missing_sample == ["2|c5", "2|c50"]
    assert found.ghost_sample == sorted(f"4|c{n}" for n in range(1, 1001))[: reconcile.SAMPLE]
    assert found.source_checksum != found.silver_checksum


def test_the_check_reports_the_comparison(source):
    lake = pl.DataFrame({"w": [w for w in AWKWARD if w != "two\nlines"] + ["ghost"]})
    result = reconciliation_result(TEXT, lake, source)
    assert not result.passed
    meta = {k: v.value for k, v in result.metadata.items()}
    assert (meta["source_rows"], meta["silver_rows"]) == (9, 9)
    assert (meta["missing_in_silver"], meta["ghost_rows"]) == (1, 1)
    assert meta["sample"] == {"missing": ["two\nlines"], "ghosts": ["ghost"]}


def test_an_empty_source_and_silver_pass(fresh_db):
    with psycopg.connect(fresh_db, autocommit=True) as conn:
        conn.execute("create table words (w text primary key)")
    empty = pl.DataFrame({"w": []}, schema={"w": pl.String})
    result = reconciliation_result(TEXT, empty, fresh_db)
    assert result.passed and result.metadata["source_rows"].value == 0


def test_duplicated_silver_keys_are_no_match():
    """Silver's keys may repeat (a broken table): a repeated key is a row too many, whether or
    not a source key is missing beside it; the same keys in another order match."""
    src = pl.DataFrame({"k": [1, 2, 3]})
    found = reconcile.compare(src, pl.DataFrame({"k": [1, 1, 2, 3]}))
    assert not found.passed and (found.missing, found.ghosts, found.silver_rows) == (0, 0, 4)
    assert found.silver_checksum != found.source_checksum
    found = reconcile.compare(src, pl.DataFrame({"k": [1, 1, 2]}))
    assert not found.passed and (found.missing, found.ghosts) == (1, 0)
    found = reconcile.compare(src, pl.DataFrame({"k": [3, 1, 2]}))
    assert found.passed and found.silver_checksum == found.source_checksum


def test_the_budget(tmp_path):
    from lakehouse.storage import LocalLake

    lake = LocalLake(tmp_path)
    assert reconcile.due(lake, TEXT, 1000.0) == (True, "")  # never reconciled
    reconcile.record(lake, TEXT, 1000.0, 0.4)  # cheap: every time
    assert reconcile.due(lake, TEXT, 1000.5)[0]
    reconcile.record(lake, TEXT, 1000.0, 8.0)  # costly: after 10x its time
    go, why = reconcile.due(lake, TEXT, 1079.0)
    assert not go and why == "reconciled 79 s ago in 8.0 s; next after 80 s (10x its time)"
    assert reconcile.due(lake, TEXT, 1080.0)[0]
