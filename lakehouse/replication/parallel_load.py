"""The full load's big tables copied by worker processes, all inside the slot's exported snapshot.

As DMS loads up to ``MaxFullLoadSubTasks`` tables at once (and a table's key ranges with
``parallel-load``), a full load copies its big tables, and the key ranges of a very big one, in
parallel: one COPY is bound by one PostgreSQL backend and by the Python loop that reads it.

- ``split(task, conn, specs, progress)`` -> ``(far, near)``: with two ``processes`` or more
  (``max_full_load_subtasks``, one per ``STREAM_CPUS`` cores), the *parts* for workers
  (``far``): tables of at least ``PARALLEL_MIN_BYTES`` (``pg_table_size``), when two or more
  parts do, a worker costing a process start (~0.35 s) and ~290 MiB; a table of twice that
  whose copy is resumable (``full_load.resumable``) is cut into chunks by primary-key range
  (``schema.table#k``: ``lo`` < key <= ``hi``, bounds from a page sample inside the snapshot,
  recorded in its ``progress["chunks"]`` before any file, its files numbered from
  ``1 + k * CHUNK_FILES``). ``near`` are the caller's tables.
- ``Workers(rep, state, snapshot_name, far)``: a pool of ``processes`` (at least one: a resumed
  load's open chunks are always a worker's). Each part opens its own connection, imports the exported snapshot (a
  resumed load, ``snapshot_name`` None, takes a new snapshot per part, as
  ``full_load.resumable`` allows) and copies with ``full_load.copy_table``. A worker records its
  part's progress after each file in ``progress_key(task, part)``, never in the task's state,
  which only the caller writes; it exits within a second when the caller is gone (``_watch_parent``;
  the resumed load waits for that, ``absorb``).
- ``Workers.finish(state)``: waits (the caller's ``row_meter`` shows the rows copied), folds
  each finished part's progress into ``state`` (a table whose chunks are all done is done,
  ``fold_chunks``) and removes its file; a failed part is raised (``FullLoadError`` naming its
  table) once the others have finished or stopped.
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

#: the smallest table a worker process copies (smaller ones are copied by the caller); a table
#: of twice this and more is cut into chunks of about this size (at most the task's subtasks)
PARALLEL_MIN_BYTES = 64 * 1024 * 1024
#: the cores one COPY stream keeps busy where the source shares the machine (its backend and
#: our reader): on 2 cores one stream is as fast as two (measured, bench/README.md)
STREAM_CPUS = 2
#: the pages sampled per chunk to find the chunks' key bounds
SAMPLE_PAGES = 64
#: file numbers between two chunks' first files (``LOAD`` names are 8 hex digits)
CHUNK_FILES = 1 << 20


class FullLoadError(RuntimeError):
    """A table's copy failed in a worker process; the message names the table."""


def progress_folder(task: str) -> str:
    return f"_state/replication/{task}.load/"


def progress_key(task: str, part: str) -> str:
    """Where a worker records the progress of ``part``: a table (``schema.table``) or one of its
    chunks (``schema.table#k``)."""
    return f"{progress_folder(task)}{part}.json"


def split(
    task: ReplicationTask, conn, specs: dict[str, TableSpec], progress: dict[str, dict]
) -> tuple[list[str], list[str]]:
    """``(far, near)``: the parts (tables, or ``table#k`` chunks) for worker processes, biggest
    table first, and the caller's tables. A table of at least two ``PARALLEL_MIN_BYTES`` with a
    resumable copy is cut into chunks by key range (``_chunk``, recorded in its ``progress``;
    a resumed load keeps the chunks it recorded)."""
    from lakehouse.replication.full_load import resumable

    qnames, parallel = list(specs), processes(task) >= 2
    parts: dict[str, list[str]] = {}
    sizes: dict[str, int] = {}
    for qname, spec in specs.items():
        if progress[qname].get("chunks"):  # a resumed load: its open chunks, whatever the size
            parts[qname], sizes[qname] = _open_chunks(qname, progress[qname]), 2**62
            continue
        if not parallel:
            continue
        row = conn.execute("select pg_table_size(%s::regclass)", (_table(spec),)).fetchone()
        sizes[qname] = size = int(row[0] or 0)
        if size < PARALLEL_MIN_BYTES:
            continue
        n = min(task.max_full_load_subtasks, size // PARALLEL_MIN_BYTES)
        if n >= 2 and resumable(spec) and not progress[qname]["files"]:
            progress[qname]["chunks"] = _chunk(conn, spec, n, size)
            if progress[qname]["chunks"]:
                parts[qname] = _open_chunks(qname, progress[qname])
                continue
            del progress[qname]["chunks"]
        parts[qname] = [qname]
    far = [p for q in sorted(parts, key=lambda q: -sizes[q]) for p in parts[q]]
    chunked = any(p != _part(p)[0] for p in far)
    if len(far) < 2 and not chunked:
        return [], qnames
    return far, [q for q in qnames if q not in parts]


def processes(task: ReplicationTask) -> int:
    """The worker processes a full load may run: its subtasks, and one per ``STREAM_CPUS``."""
    return min(task.max_full_load_subtasks, (os.cpu_count() or 1) // STREAM_CPUS)


def _quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _table(spec: TableSpec) -> str:
    """The source table's quoted ``schema.table``."""
    return f"{_quoted(spec.schema)}.{_quoted(spec.source_table)}"


def _open_chunks(qname: str, progress: dict) -> list[str]:
    return [f"{qname}#{k}" for k, c in enumerate(progress["chunks"]) if not c["done"]]


def _chunk(conn, spec: TableSpec, n: int, size: int) -> list[dict]:
    """``n`` chunks of about equal rows by primary-key range (from a sample of the table's
    pages, at the snapshot of ``conn``), each a ``copy_table`` progress with its bounds and its
    own file numbers (``CHUNK_FILES`` apart); [] when the sample cannot tell ``n`` ranges."""
    from lakehouse.replication.full_load import new_progress

    pages = max(1, size // 8192)
    percent = min(100.0, 100.0 * SAMPLE_PAGES * n / pages)
    key = ", ".join(f"src.{_quoted(k)}" for k in spec.primary_key)
    text = ", ".join(f"src.{_quoted(k)}::text" for k in spec.primary_key)
    ident = _table(spec)
    sample = conn.execute(  # ordered by the columns (an output name would order the text)
        f"select {text} from {ident} as src tablesample system ({percent}) order by {key}"
    ).fetchall()
    cuts: list[list[str]] = []
    for k in range(1, n):
        cut = list(sample[len(sample) * k // n]) if sample else None
        if cut and (not cuts or cut != cuts[-1]):
            cuts.append(cut)
    if not cuts:
        return []
    bounds = [None, *cuts, None]
    return [
        {**new_progress(), "lo": lo, "hi": hi, "first": 1 + k * CHUNK_FILES}
        for k, (lo, hi) in enumerate(zip(bounds, bounds[1:], strict=False))
    ]


def fold_chunks(progress: dict) -> None:
    """A chunked table whose chunks are all done is done: its files are theirs, in key order."""
    chunks = progress.get("chunks")
    if chunks and all(c["done"] for c in chunks):
        progress["files"] = [k for c in chunks for k in c["files"]]
        progress["rows"] = sum(c.get("rows", 0) for c in chunks)
        progress["done"] = True
        del progress["chunks"]


def _part(part: str) -> tuple[str, int | None]:
    """``(table, chunk index or None)`` of a part's name."""
    qname, _, k = part.partition("#")
    return qname, int(k) if k else None


def absorb(lake: Lake, state: ReplicationState, qnames) -> None:
    """Fold the progress files of ``qnames`` (and of their chunks) a crash left into ``state``
    (not saved here)."""

    def read(part: str) -> dict | None:
        """The part's progress, once the worker that wrote it has exited (read again then:
        it may have recorded one more file)."""
        key = progress_key(state.task, part)
        if not lake.exists(key):
            return None
        _wait_for_exit(json.loads(lake.read_text(key)).get("worker"), state.task, part)
        got = json.loads(lake.read_text(key))
        got.pop("worker", None)
        return got

    for qname in qnames:
        if got := read(qname):
            state.load_progress[qname] = got
        progress = state.load_progress.get(qname)
        for k, _chunk_progress in enumerate((progress or {}).get("chunks", ())):
            if got := read(f"{qname}#{k}"):
                progress["chunks"][k] = got
        if progress:
            fold_chunks(progress)


def _wait_for_exit(pid: int | None, task: str, part: str, timeout: float = 120.0) -> None:
    """Return once the worker process ``pid`` of a crashed load has exited: orphaned, it stops
    at its next file boundary (``_copy_in_worker``), and may finish writing one file first; a
    resumed copy must not start before, or both would write that file."""
    import time

    deadline = time.monotonic() + timeout
    while pid and pid != os.getpid() and _alive(pid):
        if time.monotonic() > deadline:
            raise FullLoadError(
                f"replication task {task!r}: the worker process {pid} of the interrupted load"
                f" of {part} is still running; stop it (kill {pid}) and retry"
            )
        time.sleep(0.1)


def _alive(pid: int) -> bool:
    """Whether process ``pid`` runs (a zombie, exited but not reaped, does not)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process: alive
        return True
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            return fh.read().rsplit(b")", 1)[1].split()[0] != b"Z"
    except OSError:  # no /proc: trust the signal
        return True


def forget(lake: Lake, task: str) -> None:
    for obj in lake.list(progress_folder(task)):
        lake.delete(obj.key)


def _progress_of(state: ReplicationState, part: str) -> dict:
    qname, k = _part(part)
    progress = state.load_progress[qname]
    return progress if k is None else progress["chunks"][k]


class Workers:
    """The worker processes copying ``far`` (see the module docstring)."""

    def __init__(
        self, rep: Replicator, state: ReplicationState, snapshot_name: str | None, far: list[str]
    ) -> None:
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        self.rep = rep
        n = max(1, min(processes(rep.task), len(far)))
        tables = len({_part(p)[0] for p in far})
        log.info("%s: full load of %d tables (%d parts) in %d worker processes",
                 rep.task.name, tables, len(far), n)  # fmt: skip
        self.pool = ProcessPoolExecutor(
            n,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=_watch_parent,
            initargs=(os.getpid(),),
        )
        self.futures = {
            part: self.pool.submit(
                _copy_in_worker,
                rep.task,
                rep.lake,
                rep.specs[_part(part)[0]],
                part,
                _progress_of(state, part),
                snapshot_name,
                state.load_ts,
                os.getpid(),
            )
            for part in far
        }
        self._done = threading.Event()
        self._meter = threading.Thread(target=self._show_rows, daemon=True)
        self._meter.start()

    def _show_rows(self) -> None:
        """Feed each table's ``row_meter`` with the rows its parts recorded, every second."""
        meters, shown = {}, {}
        while not self._done.wait(1.0):
            for part, future in self.futures.items():
                key = progress_key(self.rep.task.name, part)
                if future.done() or not self.rep.lake.exists(key):
                    continue
                try:
                    rows = json.loads(self.rep.lake.read_text(key)).get("rows", 0)
                except (OSError, ValueError):  # being written
                    continue
                qname = _part(part)[0]
                if qname not in meters:
                    meters[qname] = self.rep.row_meter(self.rep.specs[qname])
                if rows > shown.get(part, 0):
                    meters[qname](rows - shown.get(part, 0))
                    shown[part] = rows

    def finish(self, state: ReplicationState) -> None:
        """Wait for every part; fold the finished ones into ``state`` (saved); raise the first
        failure."""
        from concurrent.futures import wait

        failed: list[tuple[str, BaseException]] = []
        try:
            wait(list(self.futures.values()))
        finally:
            self._done.set()
            self.pool.shutdown(wait=True, cancel_futures=True)
        for part, future in self.futures.items():
            err = future.exception() if not future.cancelled() else None
            if future.cancelled() or err is not None:
                failed.append((part, err))
                continue
            got = future.result()
            qname, k = _part(part)
            if k is None:
                state.load_progress[qname] = got["progress"]
            else:
                state.load_progress[qname]["chunks"][k] = got["progress"]
            self.rep.stats.full_load_rows[qname] += got["rows"]
            self.rep.stats.files.extend(got["files"])
        for qname in {_part(p)[0] for p in self.futures}:
            fold_chunks(state.load_progress[qname])
        state.save(self.rep.lake)
        for part in set(self.futures) - {p for p, _ in failed}:
            self.rep.lake.delete(progress_key(state.task, part))
        if failed:
            part, err = failed[0]
            qname, k = _part(part)
            where = qname if k is None else f"{qname} (its key range {k + 1})"
            raise FullLoadError(
                f"replication task {state.task!r}: the full load of {where} failed in its worker"
                f" process: {err}; the next run resumes it"
            ) from err


def _watch_parent(parent: int) -> None:
    """In a worker process: exit within a second of the caller's end (a killed caller leaves
    its idle workers waiting for work that never comes, and a busy one copying for no one)."""
    import time

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(1.0)
        os._exit(1)

    threading.Thread(target=watch, daemon=True, name="parent-watch").start()


def _copy_in_worker(
    task: ReplicationTask,
    lake: Lake,
    spec: TableSpec,
    part: str,
    progress: dict,
    snapshot_name: str | None,
    load_ts: str,
    parent: int,
) -> dict:
    """In a worker process: copy one part (``copy_table``), its progress in its own file."""
    import psycopg

    from lakehouse.replication.full_load import copy_table
    from lakehouse.replication.replicator import Replicator

    rep = Replicator(task, lake)
    key = progress_key(task.name, part)

    def save() -> None:
        if os.getppid() != parent:  # the caller is gone: a resumed load owns this part now
            os._exit(1)
        lake.write_text(key, json.dumps({**progress, "worker": os.getpid()}))

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
