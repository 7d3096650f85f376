"""A streaming table's resync in key-range chunks, interleaved with the stream.

A table of a running task that ``replication.resync`` copies again, and that has a primary key
and no SCD2 history (``full_load.resumable``), is copied ``CHUNK_ROWS`` rows at a time in key
order. Between two chunks the replicator catches the stream up (``Replicator.run``): every
table's changes, this one's included, reach raw and the slot is confirmed, so a big table's
resync holds neither the others' changes nor the slot's WAL. Other tables (keyless, SCD2, or
joining the task) are copied whole in one snapshot (``full_load.change_table_set``).

- Each chunk is read in its own snapshot, taken once every transaction older than the chunk's
  timestamp (read first) has ended; its rows carry that timestamp. A change committed before
  it is in the chunk; one committed after is ordered after the chunk's rows. Whatever order
  silver meets them in, its sequence guard keeps the newest.
- Chunks are staged as ``LOAD…`` files, numbered in order, under ``staging_prefix``, each one
  recorded in the state before and after it is written, as a resumable full load does: a crash
  resumes after the last staged chunk. Once the last chunk is staged, the table's earlier
  ``LOAD`` files are deleted and the staged ones moved in. Bronze sees the new generation whole
  (a reload: silver replaces the baseline, ``engine.silver``), never a part of it.
"""

from __future__ import annotations

import logging
from datetime import UTC
from typing import TYPE_CHECKING

from lakehouse.replication.full_load import (
    copy_table,
    delete_load_files,
    new_progress,
    resumable,
    wait_for_older_transactions,
)
from lakehouse.replication.pg_text import SESSION_OPTIONS
from lakehouse.replication.state import ReplicationState
from lakehouse.replication.task import table_prefix
from lakehouse.storage import Lake

if TYPE_CHECKING:
    from lakehouse.registry.model import TableSpec
    from lakehouse.replication.replicator import Replicator

log = logging.getLogger(__name__)

#: rows per chunk: the stream catches up between two chunks
CHUNK_ROWS = 100_000


def staging_prefix(task: str, qname: str) -> str:
    """Where a table's chunks wait until the last one is copied."""
    return f"_state/replication/resync/{task}/{qname}/"


def chunked(spec: TableSpec, state: ReplicationState) -> bool:
    """Whether a resync of ``spec`` goes in chunks: it streams already and is resumable."""
    return state.full_load_done and spec.qualified_name in state.load_files and resumable(spec)


def begin(lake: Lake, state: ReplicationState, qname: str) -> None:
    """Start the table's chunked resync afresh (staged chunks of an earlier one deleted)."""
    forget(lake, state, qname)
    state.resync_progress[qname] = new_progress()


def forget(lake: Lake, state: ReplicationState, qname: str) -> None:
    """Drop the table's resync under way, if any, with its staged chunks."""
    state.resync_progress.pop(qname, None)
    for obj in lake.list(staging_prefix(state.task, qname)):
        lake.delete(obj.key)


def copy_next_chunk(rep: Replicator, state: ReplicationState) -> None:
    """Copy the next chunk of the first table under resync; publish the table after its last."""
    import psycopg

    qname = min(state.resync_progress)
    progress = state.resync_progress[qname]
    spec = rep.specs.get(qname)
    if spec is None:  # left the task meanwhile
        forget(rep.lake, state, qname)
        state.save(rep.lake)
        return
    if not progress["done"]:
        with rep._connect() as conn:
            load_ts = conn.execute("select clock_timestamp()").fetchone()[0].astimezone(UTC)
            wait_for_older_transactions(conn, rep.task.name)
        before = progress["rows"]
        with psycopg.connect(rep.task.dsn, options=SESSION_OPTIONS) as snap:
            snap.execute("begin isolation level repeatable read read only")
            copy_table(rep, snap, spec, load_ts, progress=progress,
                       on_file=lambda: state.save(rep.lake),
                       prefix=staging_prefix(state.task, qname), limit=CHUNK_ROWS,
                       meter=rep.resync_meter(spec))  # fmt: skip
            snap.rollback()
        progress["done"] = progress["rows"] - before < CHUNK_ROWS
        state.save(rep.lake)
    if progress["done"]:
        _publish(rep, state, spec)


def _publish(rep: Replicator, state: ReplicationState, spec: TableSpec) -> None:
    """Replace the table's ``LOAD`` files with the staged ones (resumable: ``cleared``)."""
    qname = spec.qualified_name
    progress = state.resync_progress[qname]
    folder = table_prefix(spec.schema, spec.name, rep.task.bucket_folder)
    if not progress.get("cleared"):
        delete_load_files(rep.lake, folder)
        progress["cleared"] = True
        state.save(rep.lake)
    files = []
    for key in progress["files"]:
        dest = folder + key.rsplit("/", 1)[-1]
        if rep.lake.exists(key):
            rep.lake.move(key, dest)
        files.append(dest)
    state.load_files[qname] = files
    del state.resync_progress[qname]
    state.save(rep.lake)
    staged = set(progress["files"])
    rep.stats.files = [f for f in rep.stats.files if f not in staged] + files
    log.info("%s: resynced in %d file(s), %s rows", qname, len(files), f"{progress['rows']:,}")
