"""Test helpers: read a raw zone back and replay it into table state; writers at the source; a
replicator following in a thread (the lake's writer) and waiting for what it writes."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import polars as pl
import psycopg

from lakehouse.dms import reader as dms_reader
from lakehouse.dms.settings import DmsS3Settings
from lakehouse.replication.replicator import Replicator
from lakehouse.replication.task import ReplicationTask
from lakehouse.storage import Lake


def read_table_files(
    lake: Lake, schema: str, table: str, settings: DmsS3Settings, columns: list[str] | None = None
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(full-load rows, CDC rows) of one table, each with a ``_file`` column, in file order."""
    loads, cdcs = [], []
    for obj in lake.list(f"raw/database/{schema}/{table}/"):
        f = dms_reader.read_dms_file(lake.read_bytes(obj.key), obj.key, settings, columns)
        assert not f.rejected, f.rejected
        frame = f.frame.with_columns(pl.lit(obj.key).alias("_file"))
        (loads if f.kind == "load" else cdcs).append(frame)
    empty = pl.DataFrame()
    return (
        pl.concat(loads, how="diagonal_relaxed") if loads else empty,
        pl.concat(cdcs, how="diagonal_relaxed") if cdcs else empty,
    )


def replay(load: pl.DataFrame, cdc: pl.DataFrame, key: str, seq_col: str) -> dict[str, dict]:
    """Apply the full load then the CDC rows in change-sequence order; key → row (as text)."""
    state: dict[str, dict] = {}
    for row in load.iter_rows(named=True):
        state[row[key]] = row
    if cdc.height:
        for row in cdc.sort(seq_col).iter_rows(named=True):
            old = row.get(f"BI_{key}") or row[key]
            if row["Op"] == "D":
                state.pop(row[key], None)
            else:
                if old != row[key]:
                    state.pop(old, None)
                state[row[key]] = row
    return state


def source_rows(conn, table: str, key: str, columns: list[str]) -> dict[str, tuple]:
    """The source table as key → tuple of text values (PostgreSQL text output)."""
    cols = ", ".join(f"{c}::text" for c in columns)
    return {r[0]: r for r in conn.execute(f"select {key}::text, {cols} from {table}").fetchall()}


@contextmanager
def writing(
    dsn: str, statements: Callable[[int], list[tuple]], *, start: int, pause: float
) -> Iterator[dict]:
    """Writers at the source while the block runs: for n = ``start`` + 1, + 2, …, one
    transaction of ``statements(n)`` (``(sql, params)`` pairs), then ``pause`` seconds; yields
    ``{"n": transactions committed}``."""
    stop = threading.Event()
    written = {"n": 0}

    def writer():
        with psycopg.connect(dsn, autocommit=True) as conn:
            n = start
            while not stop.is_set():
                n += 1
                with conn.transaction():
                    for sql, params in statements(n):
                        conn.execute(sql, params)
                written["n"] += 1
                time.sleep(pause)

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        yield written
    finally:
        stop.set()
        thread.join()


@dataclass
class Follower:
    """A replicator running ``run(follow=True)`` in ``thread``; what it raised in ``failed``."""

    thread: threading.Thread
    failed: list[BaseException]


@contextmanager
def following(task: ReplicationTask, lake: Lake) -> Iterator[Follower]:
    """``Replicator(task, lake).run(follow=True)`` in a thread while the block runs; stopped and
    joined (60 s at most) when it ends."""
    stop = threading.Event()
    failed: list[BaseException] = []

    def follow() -> None:
        try:
            Replicator(task, lake).run(follow=True, stop=stop)
        except BaseException as err:
            failed.append(err)

    follower = Follower(threading.Thread(target=follow), failed)
    follower.thread.start()
    try:
        yield follower
    finally:
        stop.set()
        follower.thread.join(timeout=60)


def wait_until(condition: Callable[[], bool], seconds: float = 60) -> bool:
    """Whether ``condition()`` came true within ``seconds`` (checked every 0.2 s)."""
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.2)
    return True
