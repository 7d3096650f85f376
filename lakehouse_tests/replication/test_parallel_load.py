"""A full load's big tables are copied by worker processes (``replication.parallel_load``), all
inside the slot's exported snapshot: rows committed after the slot exists reach the lake as
changes, never as load rows; a table that fails in its worker is named, the others are kept,
and the next run copies only what is left."""

from __future__ import annotations

import os

import psycopg
import pytest

from lakehouse.replication import parallel_load
from lakehouse.replication.replicator import Replicator
from lakehouse.replication.state import ReplicationState
from lakehouse.storage import LocalLake
from lakehouse_tests.replication.test_table_set import _silver_equals_source, _task

TABLES = ("a", "b", "c")


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

    def __call__(self, task, conn, specs):
        with psycopg.connect(self.dsn, autocommit=True) as writer:
            for name in TABLES:
                writer.execute(f"insert into {name} values (100000, 'after the slot')")
                writer.execute(f"update {name} set v = 'changed' where id = 1")
        self.far, near = self.real(task, conn, specs)
        return self.far, near


@pytest.mark.integration
def test_big_tables_are_copied_by_workers_inside_the_exported_snapshot(
    fresh_db, tmp_path, monkeypatch
):
    _create(fresh_db)
    monkeypatch.setattr(parallel_load, "PARALLEL_MIN_BYTES", 32 * 1024)  # a b c, not small
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


def test_one_subtask_or_small_tables_stay_in_this_process():
    from dataclasses import replace

    from lakehouse.replication.task import ReplicationTask

    class _Conn:
        def execute(self, sql, params):
            return self

        def fetchone(self):
            return (10 * 2**20,)  # 10 MiB each

    task = ReplicationTask("t", "dsn", None)
    specs = {"public.a": _Spec("a"), "public.b": _Spec("b")}
    assert parallel_load.split(task, _Conn(), specs) == ([], ["public.a", "public.b"])
    big = type("_Big", (_Conn,), {"fetchone": lambda self: (2**30,)})()
    assert parallel_load.split(task, big, specs) == (["public.a", "public.b"], [])
    one = replace(task, max_full_load_subtasks=1)
    assert parallel_load.split(one, big, specs) == ([], ["public.a", "public.b"])


class _Spec:
    def __init__(self, name: str) -> None:
        self.schema, self.name = "public", name


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
