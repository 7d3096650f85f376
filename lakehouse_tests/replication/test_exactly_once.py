"""Exactly once: crashes at every write point, and SIGKILL at random points, lose and double nothing.

A reference task (its own slot and lake, never interrupted) reads the same WAL; the crashed
task's raw zone must hold exactly the reference's changes.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import textwrap
import threading
import time
from collections import Counter

import polars as pl
import psycopg
import pytest

from lakehouse.dms.settings import DmsS3Settings
from lakehouse.replication.replicator import Replicator
from lakehouse.replication.task import ReplicationTask
from lakehouse.storage import LocalLake
from lakehouse_tests.replication.helpers import read_table_files, replay

pytestmark = pytest.mark.integration

SETTINGS = DmsS3Settings(
    AddColumnName=True,
    IncludeOpForFullLoad=True,
    TimestampColumnName="ts",
    before_image_key=True,
    change_seq_column="seq",
    CdcMaxBatchInterval=3600,  # cut batches by size only: deterministic
    CdcMinFileSize=1,  # 1 KB
)
TABLES = ("accounts", "ledger")


def _task(dsn: str, name: str, settings: DmsS3Settings = SETTINGS) -> ReplicationTask:
    rules = tuple(
        {"rule-action": "include", "schema-name": "public", "table-name": t} for t in TABLES
    )
    return ReplicationTask(name, dsn, settings, selection_rules=rules)


def _schema(dsn: str) -> None:
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(
            "create table accounts (id int primary key, owner text, balance numeric(12,2))"
        )
        conn.execute(
            "create table ledger (id bigserial primary key, account int, amount numeric(12,2), memo text)"
        )
        conn.execute(
            "insert into accounts select g, 'owner ' || g, 100 from generate_series(1, 50) g"
        )


def _random_transactions(
    dsn: str, n: int, seed: int, stop: threading.Event | None = None
) -> Counter:
    """Random multi-statement transactions: inserts, updates, deletes, key updates, rollbacks."""
    rng = random.Random(seed)
    done = Counter()
    next_id = 1000
    with psycopg.connect(dsn, autocommit=True) as conn:
        for _ in range(n):
            if stop is not None and stop.is_set():
                break
            rollback = rng.random() < 0.1
            try:
                with conn.transaction():
                    for _ in range(rng.randint(1, 6)):
                        r = rng.random()
                        ids = [
                            x[0]
                            for x in conn.execute(
                                "select id from accounts order by id desc limit 20"
                            )
                        ]
                        if r < 0.3 or not ids:
                            next_id += 1
                            conn.execute(
                                "insert into accounts values (%s, %s, 0)",
                                (next_id, f'o,"{next_id}"\n'),
                            )
                        elif r < 0.55:
                            a = rng.choice(ids)
                            conn.execute(
                                "update accounts set balance = balance + 1 where id = %s", (a,)
                            )
                            conn.execute(
                                "insert into ledger (account, amount, memo) values (%s, 1, 'credit')",
                                (a,),
                            )
                        elif r < 0.7:
                            conn.execute("delete from accounts where id = %s", (rng.choice(ids),))
                        elif r < 0.8:
                            next_id += 1
                            conn.execute(
                                "update accounts set id = %s where id = %s",
                                (next_id, rng.choice(ids)),
                            )
                        else:
                            conn.execute(
                                "update ledger set memo = 'edited' where id = (select max(id) from ledger)"
                            )
                    if rollback:
                        raise _Rollback
                done["committed"] += 1
            except _Rollback:
                done["rolled_back"] += 1
    return done


class _Rollback(Exception):
    pass


class _Crash(BaseException):
    """Raised by the faulty lake: the process 'dies' before the write."""


class _CrashingLake(LocalLake):
    def __init__(self, root, crash_at: int):
        super().__init__(root)
        self.crash_at = crash_at
        self.writes = 0

    def write_bytes(self, key: str, data: bytes) -> None:
        self.writes += 1
        if self.writes == self.crash_at:
            raise _Crash(key)
        super().write_bytes(key, data)


def _files(lake: LocalLake, cdc: bool = True) -> dict[str, bytes]:
    """CDC files (or full-load files when ``cdc`` is false) by key."""
    objs = lake.list("raw/")
    return {o.key: lake.read_bytes(o.key) for o in objs if ("/LOAD" in o.key) != cdc}


def test_crash_before_every_write_gives_the_same_files_byte_for_byte(fresh_db, tmp_path):
    _schema(fresh_db)
    ref_lake, lake_root = LocalLake(tmp_path / "ref"), tmp_path / "crashy"
    Replicator(_task(fresh_db, "ref"), ref_lake).run()
    crash_task = _task(fresh_db, "crashy")
    Replicator(crash_task, LocalLake(lake_root)).run()
    load_files = _files(LocalLake(lake_root), cdc=False)
    _random_transactions(fresh_db, 150, seed=7)
    Replicator(_task(fresh_db, "ref"), ref_lake).run()

    crash_at, crashes = 1, 0
    while True:  # crash before write 1, then (after a restart) before write 2, …
        try:
            Replicator(crash_task, _CrashingLake(lake_root, crash_at)).run()
            break
        except _Crash:
            crashes += 1
            crash_at += 1
    assert crashes >= 10, "the workload must span many batches for this test to mean something"
    ref, got = _files(ref_lake), _files(LocalLake(lake_root))
    assert sorted(got) == sorted(ref)
    assert all(got[k] == ref[k] for k in ref), "a replayed batch differs from the uninterrupted run"
    assert _files(LocalLake(lake_root), cdc=False) == load_files  # the full load is not redone


WORKER = textwrap.dedent(
    """
    import sys
    from lakehouse.replication.replicator import Replicator
    from lakehouse.storage import LocalLake
    from lakehouse_tests.replication.test_exactly_once import _task, SETTINGS
    settings = SETTINGS.with_(CdcMaxBatchInterval=0.2, CdcMinFileSize=4)
    Replicator(_task(sys.argv[1], "killed", settings), LocalLake(sys.argv[2])).run(follow=True, idle_timeout=0.05)
    """
)


def _cdc_rows(lake: LocalLake) -> pl.DataFrame:
    frames = []
    for t in TABLES:
        _, cdc = read_table_files(lake, "public", t, SETTINGS)
        if cdc.height:
            frames.append(cdc.drop("_file").with_columns(pl.lit(t).alias("table")))
    return pl.concat(frames, how="diagonal_relaxed")


def test_sigkill_at_random_points_loses_and_doubles_nothing(fresh_db, tmp_path):
    _schema(fresh_db)
    ref_lake, killed_lake = LocalLake(tmp_path / "ref"), LocalLake(tmp_path / "killed")
    Replicator(_task(fresh_db, "ref"), ref_lake).run()
    Replicator(_task(fresh_db, "killed"), killed_lake).run()
    stop = threading.Event()
    churn = threading.Thread(target=_random_transactions, args=(fresh_db, 10**9, 11, stop))
    churn.start()
    rng = random.Random(3)
    rounds, outcomes = int(os.environ.get("LAKEHOUSE_KILL_ROUNDS", "12")), Counter()
    env = {**os.environ, "PYTHONPATH": os.getcwd()}
    try:
        for _ in range(rounds):
            proc = subprocess.Popen(
                [sys.executable, "-c", WORKER, fresh_db, str(killed_lake.path)], env=env
            )
            time.sleep(rng.uniform(1.0, 3.0))  # import ~1 s, then replicate until killed
            if proc.poll() is None:
                proc.send_signal(signal.SIGKILL)
                outcomes["killed"] += 1
            else:
                outcomes[f"exited {proc.returncode}"] += 1
            proc.wait()
    finally:
        stop.set()
        churn.join()
    assert outcomes["killed"] == rounds, outcomes
    Replicator(_task(fresh_db, "ref"), ref_lake).run()
    Replicator(_task(fresh_db, "killed"), killed_lake).run()

    ref, got = _cdc_rows(ref_lake), _cdc_rows(killed_lake)
    assert ref.height > 100, "the churn must have produced changes"
    assert got["seq"].is_unique().all(), "a change was written twice"
    cols = [
        "table",
        "seq",
        "Op",
        "id",
        "BI_id",
        "owner",
        "balance",
        "account",
        "amount",
        "memo",
        "ts",
    ]
    assert got.select(cols).sort("table", "seq").equals(ref.select(cols).sort("table", "seq")), (
        "changes lost"
    )
    with psycopg.connect(fresh_db) as conn:
        source = {r[0]: r[1] for r in conn.execute("select id::text, balance::text from accounts")}
    load, cdc = read_table_files(killed_lake, "public", "accounts", SETTINGS)
    state = replay(load, cdc, "id", "seq")
    assert {k: v["balance"] for k, v in state.items()} == source
