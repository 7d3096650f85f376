"""Resync: copy a task's tables from the source again, the way AWS DMS reloads a table.

``resync(task, lake)`` re-snapshots the whole task: its slot (if any, e.g. an invalidated one)
is dropped and a new one created with a new full load. ``resync(task, lake, tables=[...])``
copies only those tables again while the task's slot keeps its position. A table with a primary
key and no SCD2 history is copied in key-range chunks with the stream caught up between two
(``replication.table_resync``): every table's changes, its own included, keep flowing, and a
crash resumes after the last chunk copied. Any other table is copied whole in one snapshot while
the others' changes wait in the slot (nothing is lost); its changes that commit after the copy
began stream as usual.

Either way the copy is a new generation of LOAD files with the same names (a DMS reload): bronze
reads them as a reload and silver replaces the table's baseline with it, deleting the rows the
new baseline lacks (SCD2 history closes them) and keeping every change committed after the
reload began. CDC file names keep increasing (``last_name_ms`` is kept).
"""

from __future__ import annotations

import logging

from lakehouse.replication.replicator import ReplicationStats, Replicator
from lakehouse.replication.state import ReplicationState
from lakehouse.replication.task import ReplicationTask
from lakehouse.storage import Lake

log = logging.getLogger(__name__)


def request(task: ReplicationTask, lake: Lake, tables: list[str] | None = None) -> list[str]:
    """Record a resync of ``tables`` (qualified or bare names; all: the whole task) in the task's
    state, for the next replication to perform; the qualified names requested."""
    state = ReplicationState.load(lake, task.name, task.slot)
    if not tables:
        state.full_load_done = False  # the next run drops the slot and loads everything again
        state.load_ts = ""  # a fresh load, even if an earlier one was interrupted
        state.pending = None
        state.resync = []
        state.save(lake)
        return sorted(task.registry or state.load_files)
    known = {*task.registry, *state.load_files}
    by_name = {q.split(".", 1)[1]: q for q in known}
    chosen, unknown = [], []
    for t in tables:
        q = t if t in known else by_name.get(t)
        (chosen if q else unknown).append(q or t)
    if unknown:
        raise ValueError(
            f"replication task {task.name!r} has no table {', '.join(map(repr, unknown))};"
            f" its tables: {', '.join(sorted(by_name))} — fix: name one of them"
        )
    state.resync = sorted({*state.resync, *chosen})
    state.save(lake)
    return chosen


def resync(
    task: ReplicationTask, lake: Lake, tables: list[str] | None = None, *, progress: bool = False
) -> ReplicationStats:
    """Request the resync and replicate now (full load or table copies, then CDC to the WAL end)."""
    chosen = request(task, lake, tables)
    log.info("%s: resyncing %s", task.name, ", ".join(chosen))
    return Replicator(task, lake, progress=progress).run(follow=False)
