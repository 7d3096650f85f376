"""A full load's big tables are copied by worker processes (``replication.parallel_load``), all
inside the slot's exported snapshot: rows committed after the slot exists reach the lake as
changes, never as load rows; a table that fails in its worker is named, the others are kept,
and the next run copies only what is left."""

from __future__ import annotations

import os

import psycopg
import pytest

from lakehouse.replication import parallel_load
from lakehouse.replication.full_load import new_progress
from lakehouse.replication.replicator import Replicator
from lakehouse.replication.state import ReplicationState
from lakehouse.storage import LocalLake
from lakehouse_tests.replication.test_table_set import _silver_equals_source, _task

TABLES = ("a", "b", "c")


@pytest.fixture(autouse=True)
def _two_streams_on_two_cores(monkeypatch):
    """One COPY stream per core, so this 2-core machine runs two workers (by default a stream
    counts two cores: the source's backend and our reader)."""
    monkeypatch.setattr(parallel_load, "STREAM_CPUS", 1)
    monkeypatch.setattr(parallel_load.os, "cpu_count", lambda: 2)


def _create(dsn: str, rows: int = 3000) -> None:
    with psycopg.connect(dsn, autocommit=True) as conn:
        for name in TABLES:
            conn.execute(f"create table {name} (id int primary key, v text)")
            conn.execute(
                f"insert into {name} select g, '{name}' || g from generate_series(1, {rows}) g"
            )
        conn.execute("create table small (id int primary key, v text)")  # one page: ours
        conn.execute("insert into small select g, 's' || g from generate_series(1, 10) g")


def _load_rows(lake, name: str) -> int:
    """Rows of a table's LOAD files (without their header lines)."""
    keys = [o.key for o in lake.list(f"raw/database/public/{name}/") if "LOAD" in o.key]
    return sum(lake.read_text(k).count("\n") - 1 for k in keys)


class _Split:
    """``parallel_load.split`` that records what went to workers, after writers committed rows
    the exported snapshot must not show."""

    def __init__(self, dsn: str) -> None:
        self.dsn, self.far, self.real = dsn, None, parallel_load.split

    def __call__(self, task, conn, specs, progress):
        with psycopg.connect(self.dsn, autocommit=True) as writer:
            for name in specs:
                name = name.split(".")[1]
                writer.execute(f"insert into {name} values (100000, 'after the slot')")
                writer.execute(f"update {name} set v = 'changed' where id = 1")
        self.far, near = self.real(task, conn, specs, progress)
        return self.far, near


@pytest.mark.integration
def test_big_tables_are_copied_by_workers_inside_the_exported_snapshot(
    fresh_db, tmp_path, monkeypatch
):
    _create(fresh_db)
    with psycopg.connect(fresh_db) as conn:
        size = conn.execute("select pg_table_size('a')").fetchone()[0]
    # a b c (not small) go to workers, whole: each is below two PARALLEL_MIN_BYTES
    monkeypatch.setattr(parallel_load, "PARALLEL_MIN_BYTES", size * 2 // 3)
    spy = _Split(fresh_db)
    monkeypatch.setattr(parallel_load, "split", spy)
    lake = LocalLake(tmp_path / "lake")
    task = _task(fresh_db, (*TABLES, "small"))
    stats = Replicator(task, lake).run()
    assert sorted(spy.far) == [f"public.{t}" for t in TABLES]
    for name in TABLES:  # the snapshot's rows only; the later ones came as changes
        assert _load_rows(lake, name) == 3000
        assert stats.full_load_rows[f"public.{name}"] == 3000
        assert stats.changes[f"public.{name}"] == 2
    assert _load_rows(lake, "small") == 10
    state = ReplicationState.load(lake, task.name, task.slot)
    assert state.full_load_done
    assert sorted(state.load_files) == [f"public.{t}" for t in (*TABLES, "small")]
    assert not list(lake.list(parallel_load.progress_folder(state.task)))
    _silver_equals_source(fresh_db, lake, (*TABLES, "small"))


class FailingLake(LocalLake):
    """A lake whose LOAD files of table ``b`` cannot be written in a worker process."""

    def __init__(self, root, parent: int) -> None:
        super().__init__(root)
        self.parent = parent

    def write_bytes(self, key, data):
        if "/public/b/LOAD" in key and os.getpid() != self.parent:
            raise OSError(f"disk full writing {key}")
        return super().write_bytes(key, data)


@pytest.mark.integration
def test_a_table_failing_in_its_worker_is_named_and_the_next_run_copies_only_it(
    fresh_db, tmp_path, monkeypatch
):
    _create(fresh_db)
    monkeypatch.setattr(parallel_load, "PARALLEL_MIN_BYTES", 32 * 1024)
    task = _task(fresh_db, (*TABLES, "small"))
    failing = FailingLake(tmp_path / "lake", os.getpid())
    with pytest.raises(parallel_load.FullLoadError, match=r"public\.b .*disk full"):
        Replicator(task, failing).run()
    lake = LocalLake(tmp_path / "lake")
    state = ReplicationState.load(lake, task.name, task.slot)
    assert not state.full_load_done
    assert {q for q, p in state.load_progress.items() if p["done"]} == {
        "public.a", "public.c", "public.small"
    }  # fmt: skip
    kept = {o.key: o.mtime for o in lake.list("raw/database/public/") if "LOAD" in o.key}
    assert not [k for k in kept if "/b/" in k]
    with psycopg.connect(fresh_db, autocommit=True) as conn:
        conn.execute("update b set v = 'while down' where id <= 5")
    stats = Replicator(task, lake).run()
    assert dict(stats.full_load_rows) == {"public.b": 3000}
    after = {o.key: o.mtime for o in lake.list("raw/database/public/") if "LOAD" in o.key}
    assert {k: after[k] for k in kept} == kept  # a, c and small were not copied again
    _silver_equals_source(fresh_db, lake, (*TABLES, "small"))


def test_one_subtask_or_small_tables_stay_in_this_process(monkeypatch):
    from dataclasses import replace

    from lakehouse.replication.task import ReplicationTask

    class _Conn:
        def execute(self, sql, params):
            return self

        def fetchone(self):
            return (10 * 2**20,)  # 10 MiB each

    task = ReplicationTask("t", "dsn", None)
    specs = {"public.a": _Spec("a"), "public.b": _Spec("b")}

    def split(task, conn):
        return parallel_load.split(task, conn, specs, {q: new_progress() for q in specs})

    assert split(task, _Conn()) == ([], ["public.a", "public.b"])
    big = type("_Big", (_Conn,), {"fetchone": lambda self: (2**30,)})()
    assert split(task, big) == (["public.a", "public.b"], [])  # keyless: whole tables
    one = replace(task, max_full_load_subtasks=1)
    assert split(one, big) == ([], ["public.a", "public.b"])
    monkeypatch.setattr(parallel_load, "STREAM_CPUS", 2)  # 2 cores: one stream
    assert split(task, big) == ([], ["public.a", "public.b"])
    monkeypatch.setattr(parallel_load.os, "cpu_count", lambda: 4)
    assert split(task, big) == (["public.a", "public.b"], [])


class _Spec:
    def __init__(self, name: str) -> None:
        self.schema, self.name, self.primary_key, self.scd_type = "public", name, [], 1
        self.source_table = name


def test_the_declared_subtasks_reach_the_task_and_a_value_dms_refuses_is_an_error(
    tmp_path, monkeypatch
):
    import yaml

    from lakehouse.declarations import DeclarationError
    from lakehouse.replication.task import dataset_task
    from lakehouse_tests.declared import declare_items

    path = declare_items(tmp_path, "shop", "SHOP_DSN")
    monkeypatch.setenv("LAKEHOUSE_DEFS", str(tmp_path))
    assert dataset_task("shop", "dsn").max_full_load_subtasks == 8  # DMS's default
    doc = yaml.safe_load(path.read_text())
    doc["attributes"]["sources"][0]["max_full_load_subtasks"] = 3
    path.write_text(yaml.safe_dump(doc))
    assert dataset_task("shop", "dsn").max_full_load_subtasks == 3
    doc["attributes"]["sources"][0]["max_full_load_subtasks"] = 0
    path.write_text(yaml.safe_dump(doc))
    with pytest.raises(DeclarationError, match="max_full_load_subtasks must be 1 to 49, got 0"):
        dataset_task("shop", "dsn")


def _chunked(dsn: str, rows: int = 20000) -> None:
    """One table, a composite key of text (commas, quotes, non-ASCII) and int."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("create table big (k text, n int, v text, primary key (k, n))")
        conn.execute(
            f"""insert into big select 'k,"' || (g % 97) || 'é', g, repeat('x', 40) || g
                from generate_series(1, {rows}) g"""
        )


def _big_equals_source(dsn: str, lake) -> None:
    from lakehouse.engine.silver import apply_changes, read_silver
    from lakehouse.source.discovery import discover_one
    from lakehouse_tests.replication.test_table_set import SETTINGS, ingest

    with psycopg.connect(dsn) as conn:
        spec = discover_one(conn, "public", "big", "t").spec
        ingest(lake, spec, SETTINGS)
        apply_changes(lake, spec)
        source = sorted(conn.execute("select k, n, v from big").fetchall())
    assert sorted(read_silver(lake, spec).select("k", "n", "v").iter_rows()) == source


class _SplitBig(_Split):
    """``_Split`` for ``big``: a row inserted and one updated after the slot exists."""

    def __call__(self, task, conn, specs, progress):
        with psycopg.connect(self.dsn, autocommit=True) as writer:
            writer.execute("insert into big values ('zz', 1, 'after the slot')")
            writer.execute("update big set v = 'changed' where n = 2")
        self.far, near = self.real(task, conn, specs, progress)
        return self.far, near


@pytest.mark.integration
def test_a_big_table_is_copied_in_key_ranges_by_workers_inside_the_exported_snapshot(
    fresh_db, tmp_path, monkeypatch
):
    """Cut into chunks (about one per ``PARALLEL_MIN_BYTES``), each copied by a worker: every
    row of the snapshot is in exactly one LOAD file, no name twice, later rows are changes."""
    _chunked(fresh_db)
    monkeypatch.setattr(parallel_load, "PARALLEL_MIN_BYTES", 400 * 1024)
    spy = _SplitBig(fresh_db)
    monkeypatch.setattr(parallel_load, "split", spy)
    lake = LocalLake(tmp_path / "lake")
    task = _task(fresh_db, ("big",))
    stats = Replicator(task, lake).run()
    assert len(spy.far) >= 3 and {p.split("#")[0] for p in spy.far} == {"public.big"}
    assert stats.full_load_rows["public.big"] == 20000
    assert stats.changes["public.big"] == 2
    loads = [o.key for o in lake.list("raw/database/public/big/") if "/LOAD" in o.key]
    numbers = [int(k.rsplit("/LOAD", 1)[1][:8], 16) for k in loads]
    assert len(set(numbers)) == len(loads) >= len(spy.far)
    assert {n // parallel_load.CHUNK_FILES for n in numbers} == set(range(len(spy.far)))
    assert _load_rows(lake, "big") == 20000
    state = ReplicationState.load(lake, task.name, task.slot)
    assert state.full_load_done and sorted(state.load_files["public.big"]) == sorted(loads)
    assert not list(lake.list(parallel_load.progress_folder(state.task)))
    _big_equals_source(fresh_db, lake)


class ChunkFailingLake(LocalLake):
    """A lake whose LOAD files of ``big``'s second key range cannot be written in a worker."""

    def __init__(self, root, parent: int) -> None:
        super().__init__(root)
        self.parent = parent

    def write_bytes(self, key, data):
        number = int(key.rsplit("/LOAD", 1)[1][:8], 16) if "/big/LOAD" in key else 0
        if number // parallel_load.CHUNK_FILES == 1 and os.getpid() != self.parent:
            raise OSError(f"disk full writing {key}")
        return super().write_bytes(key, data)


@pytest.mark.integration
def test_a_key_range_failing_is_named_and_the_next_run_copies_only_that_range(
    fresh_db, tmp_path, monkeypatch
):
    """The other ranges' files are kept (not copied again); the failed range is copied by the
    next run from a new snapshot (writers changed rows in it and elsewhere meanwhile); silver =
    source."""
    _chunked(fresh_db)
    monkeypatch.setattr(parallel_load, "PARALLEL_MIN_BYTES", 400 * 1024)
    task = _task(fresh_db, ("big",))
    with pytest.raises(parallel_load.FullLoadError, match=r"public\.big \(its key range 2\)"):
        Replicator(task, ChunkFailingLake(tmp_path / "lake", os.getpid())).run()
    lake = LocalLake(tmp_path / "lake")
    state = ReplicationState.load(lake, task.name, task.slot)
    chunks = state.load_progress["public.big"]["chunks"]
    assert [c["done"] for c in chunks] == [True, False] + [True] * (len(chunks) - 2)
    kept = {o.key: o.mtime for o in lake.list("raw/database/public/big/") if "LOAD" in o.key}
    second = chunks[1]
    with psycopg.connect(fresh_db, autocommit=True) as conn:
        conn.execute("update big set v = 'while down' where n % 500 = 0")
        conn.execute("delete from big where n % 777 = 0")
        count = conn.execute(
            "select count(*) from big where (k, n) > (%s, %s) and (k, n) <= (%s, %s)",
            (*second["lo"], *second["hi"]),
        ).fetchone()[0]
    stats = Replicator(task, lake).run()
    assert dict(stats.full_load_rows) == {"public.big": count}
    after = {o.key: o.mtime for o in lake.list("raw/database/public/big/") if "LOAD" in o.key}
    assert {k: after[k] for k in kept} == kept
    state = ReplicationState.load(lake, task.name, task.slot)
    assert state.full_load_done and sorted(state.load_files["public.big"]) == sorted(after)
    _big_equals_source(fresh_db, lake)


def _caller(out) -> None:
    """A replicator's stand-in: a pool of workers watching it (``_watch_parent``), one of them
    idle; it sends the workers' pids and waits to be killed."""
    import multiprocessing
    import time
    from concurrent.futures import ProcessPoolExecutor

    pool = ProcessPoolExecutor(
        2,
        mp_context=multiprocessing.get_context("spawn"),
        initializer=parallel_load._watch_parent,
        initargs=(os.getpid(),),
    )
    pids = {pool.submit(os.getpid).result() for _ in range(4)}
    out.send(sorted(pids))
    time.sleep(600)


def test_workers_exit_when_their_replicator_is_killed():
    """Idle pool workers would wait for work forever once their caller is SIGKILLed."""
    import multiprocessing
    import signal
    import time

    ctx = multiprocessing.get_context("spawn")
    recv, send = ctx.Pipe(duplex=False)
    caller = ctx.Process(target=_caller, args=(send,))
    caller.start()
    assert recv.poll(60), "the caller's workers did not start"
    workers = recv.recv()
    assert workers and all(parallel_load._alive(p) for p in workers)
    os.kill(caller.pid, signal.SIGKILL)
    caller.join()
    deadline = time.monotonic() + 15
    while any(parallel_load._alive(p) for p in workers) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not [p for p in workers if parallel_load._alive(p)]
