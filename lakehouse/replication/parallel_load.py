"""The full load's big tables copied by worker processes, all inside the slot's exported snapshot.

As DMS loads up to ``MaxFullLoadSubTasks`` tables at once, a full load copies its big tables in
parallel: one COPY is bound by one PostgreSQL backend and by the Python loop that reads it.

- ``split(task, conn, specs)`` -> ``(far, near)``: with ``task.max_full_load_subtasks`` > 1,
  the tables of at least ``PARALLEL_MIN_BYTES`` (``pg_table_size``) go to workers (``far``)
  when two or more do, a worker costing a process start (~0.35 s) and ~290 MiB; ``near``
  are the caller's.
- ``Workers(rep, state, snapshot_name, far)``: a pool of at most ``max_full_load_subtasks``
  processes (and CPUs). Each opens its own connection, imports the exported snapshot (a resumed
  load, ``snapshot_name`` None, takes a new snapshot per table, as ``full_load.resumable``
  allows) and copies one table with ``full_load.copy_table``. A worker records its table's
  progress (the ``load_progress`` entry) after each file in ``progress_key(task, table)``, never
  in the task's state, which only the caller writes; it exits at a file boundary when the
  caller is gone.
- ``Workers.finish(state)``: waits (the caller's ``row_meter`` shows the rows copied), folds
  each finished table's progress into ``state`` and removes its file; a failed table is raised
  (``FullLoadError`` naming it) once the others have finished or stopped.
- ``absorb(lake, state, qnames)``: the progress files a crash left, folded into ``state``
  before a resumed load decides what is left; ``forget(lake, task)`` removes them all.
"""

from __future__ import annotations

import json
import logging
import os
import threading
from datetime import datetime
from typing import TYPE_CHECKING

from lakehouse.registry.model import TableSpec
from lakehouse.replication.pg_text import SESSION_OPTIONS

if TYPE_CHECKING:
    from lakehouse.replication.replicator import Replicator
    from lakehouse.replication.state import ReplicationState
    from lakehouse.replication.task import ReplicationTask
    from lakehouse.storage import Lake

log = logging.getLogger(__name__)

#: the smallest table a worker process copies (smaller ones are copied by the caller)
PARALLEL_MIN_BYTES = 64 * 1024 * 1024


class FullLoadError(RuntimeError):
    """A table's copy failed in a worker process; the message names the table."""


def progress_folder(task: str) -> str:
    return f"_state/replication/{task}.load/"


def progress_key(task: str, qname: str) -> str:
    """Where a worker records the progress of table ``qname`` (``schema.table``)."""
    return f"{progress_folder(task)}{qname}.json"


def split(task: ReplicationTask, conn, specs: dict[str, TableSpec]) -> tuple[list, list]:
    """``(far, near)``: the tables (``schema.table``) for worker processes, biggest first, and
    the caller's."""
    qnames = list(specs)
    if task.max_full_load_subtasks < 2 or len(qnames) < 2:
        return [], qnames
    sizes = {}
    for qname, spec in specs.items():
        ident = ".".join('"' + p.replace('"', '""') + '"' for p in (spec.schema, spec.name))
        row = conn.execute("select pg_table_size(%s::regclass)", (ident,)).fetchone()
        sizes[qname] = int(row[0] or 0)
    far = sorted((q for q in qnames if sizes[q] >= PARALLEL_MIN_BYTES), key=lambda q: -sizes[q])
    if len(far) < 2:
        return [], qnames
    return far, [q for q in qnames if q not in far]


def absorb(lake: Lake, state: ReplicationState, qnames) -> None:
    """Fold the progress files of ``qnames`` a crash left into ``state`` (not saved here)."""
    for qname in qnames:
        key = progress_key(state.task, qname)
        if lake.exists(key):
            state.load_progress[qname] = json.loads(lake.read_text(key))


def forget(lake: Lake, task: str) -> None:
    for obj in lake.list(progress_folder(task)):
        lake.delete(obj.key)


class Workers:
    """The worker processes copying ``far`` (see the module docstring)."""

    def __init__(
        self, rep: Replicator, state: ReplicationState, snapshot_name: str | None, far: list[str]
    ) -> None:
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        self.rep = rep
        n = min(rep.task.max_full_load_subtasks, os.cpu_count() or 1, len(far))
        log.info("%s: full load of %d tables in %d worker processes", rep.task.name, len(far), n)
        self.pool = ProcessPoolExecutor(n, mp_context=multiprocessing.get_context("spawn"))
        self.futures = {
            qname: self.pool.submit(
                _copy_in_worker,
                rep.task,
                rep.lake,
                rep.specs[qname],
                state.load_progress[qname],
                snapshot_name,
                state.load_ts,
                os.getpid(),
            )
            for qname in far
        }
        self._done = threading.Event()
        self._meter = threading.Thread(target=self._show_rows, daemon=True)
        self._meter.start()

    def _show_rows(self) -> None:
        """Feed each table's ``row_meter`` with the rows its worker recorded, every second."""
        meters, shown = {}, {}
        while not self._done.wait(1.0):
            for qname, future in self.futures.items():
                key = progress_key(self.rep.task.name, qname)
                if future.done() or not self.rep.lake.exists(key):
                    continue
                try:
                    rows = json.loads(self.rep.lake.read_text(key)).get("rows", 0)
                except (OSError, ValueError):  # being written
                    continue
                if qname not in meters:
                    meters[qname] = self.rep.row_meter(self.rep.specs[qname])
                if rows > shown.get(qname, 0):
                    meters[qname](rows - shown.get(qname, 0))
                    shown[qname] = rows

    def finish(self, state: ReplicationState) -> None:
        """Wait for every table; fold the finished ones into ``state`` (saved); raise the first
        failure."""
        from concurrent.futures import wait

        failed: list[tuple[str, BaseException]] = []
        try:
            wait(list(self.futures.values()))
        finally:
            self._done.set()
            self.pool.shutdown(wait=True, cancel_futures=True)
        for qname, future in self.futures.items():
            err = future.exception() if not future.cancelled() else None
            if future.cancelled() or err is not None:
                failed.append((qname, err))
                continue
            got = future.result()
            state.load_progress[qname] = got["progress"]
            self.rep.stats.full_load_rows[qname] += got["rows"]
            self.rep.stats.files.extend(got["files"])
        state.save(self.rep.lake)
        for qname in set(self.futures) - {q for q, _ in failed}:
            self.rep.lake.delete(progress_key(state.task, qname))
        if failed:
            qname, err = failed[0]
            raise FullLoadError(
                f"replication task {state.task!r}: the full load of {qname} failed in its worker"
                f" process: {err}; the next run resumes it"
            ) from err


def _copy_in_worker(
    task: ReplicationTask,
    lake: Lake,
    spec: TableSpec,
    progress: dict,
    snapshot_name: str | None,
    load_ts: str,
    parent: int,
) -> dict:
    """In a worker process: copy one table (``copy_table``), its progress in its own file."""
    import psycopg

    from lakehouse.replication.full_load import copy_table
    from lakehouse.replication.replicator import Replicator

    rep = Replicator(task, lake)
    key = progress_key(task.name, spec.qualified_name)

    def save() -> None:
        if os.getppid() != parent:  # the caller is gone: a resumed load owns this table now
            os._exit(1)
        lake.write_text(key, json.dumps(progress))

    with psycopg.connect(task.dsn, options=SESSION_OPTIONS) as snap:
        snap.execute("begin isolation level repeatable read read only")
        if snapshot_name:
            snap.execute(f"set transaction snapshot '{snapshot_name}'")
        copy_table(rep, snap, spec, datetime.fromisoformat(load_ts), progress=progress,
                   on_file=save, meter=lambda rows: None)  # fmt: skip
        snap.rollback()
    progress["done"] = True
    save()
    return {
        "progress": progress,
        "rows": rep.stats.full_load_rows[spec.qualified_name],
        "files": rep.stats.files,
    }
