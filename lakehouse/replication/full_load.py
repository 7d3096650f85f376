"""The full load: every table of the task copied inside the slot's exported snapshot.

- ``full_load(rep, conn, state)``: create the logical slot with an exported snapshot and copy
  each table inside it (``LOAD00000001…`` files, capped at ``MaxFileSize``), so the full load is
  exactly the state at the slot's consistent point; its rows carry a timestamp read *before*
  the slot exists (every streamed change is later). The state records the files and the LSN.
- ``change_table_set(rep, conn, state, added, load_ts)``: tables that joined a running task are
  loaded alone while the others stream; a table that left is forgotten.
- ``snapshot_start(rep, snap, keyless)``: the exact start of a copy of keyless tables in a
  snapshot the slot did not export (their rows carry it, so the inserts streamed from before
  it are superseded by the copy: a keyless table's copy is a baseline, ``engine.silver``).
- ``copy_table(rep, snap, spec, load_ts)``: one table's ``COPY`` as DMS load files, streamed in
  batches of at most ``LOAD_BATCH_BYTES`` (memory does not grow with the table); their keys.
"""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import polars as pl

from lakehouse.dms import names as dms_names
from lakehouse.dms import writer as dms_writer
from lakehouse.registry.model import TableSpec
from lakehouse.replication import parallel_load
from lakehouse.replication.dms_copy import dms_select, key_of
from lakehouse.replication.pg_text import SESSION_OPTIONS
from lakehouse.replication.pgoutput import lsn_to_int
from lakehouse.replication.state import ReplicationState
from lakehouse.replication.task import table_prefix

if TYPE_CHECKING:
    from lakehouse.replication.replicator import Replicator

log = logging.getLogger(__name__)


def full_load(rep: Replicator, conn, state: ReplicationState) -> ReplicationState:
    """The task's full load: a fresh one, or the rest of one a crash interrupted (see
    ``resumable``); the state with ``full_load_done``."""

    if not _interrupted(conn, rep, state):
        _start(rep, conn, state)
        repl = rep.replication_connection()
        try:
            rcur = repl.cursor()
            rcur.execute(
                f"CREATE_REPLICATION_SLOT \"{rep.task.slot}\" LOGICAL pgoutput (SNAPSHOT 'export')"
            )
            _slot, consistent_point, snapshot_name, _plugin = rcur.fetchone()
            state.consistent_lsn = state.checkpoint_lsn = lsn_to_int(consistent_point)
            state.save(rep.lake)  # the slot exists from here: a crash resumes
            _copy_all(rep, state, snapshot_name)
        finally:
            repl.close()
    else:
        log.info("%s: resuming the interrupted full load", rep.task.name)
        _copy_all(rep, state, None)
    state.full_load_done = True
    state.load_files = {q: list(p["files"]) for q, p in state.load_progress.items()}
    state.load_progress, state.load_ts = {}, ""
    state.pending = None
    state.save(rep.lake)
    return state


def _interrupted(conn, rep: Replicator, state: ReplicationState) -> bool:
    """A full load began (its slot created, ``load_ts`` recorded) and did not finish."""
    if state.full_load_done or not state.load_ts:
        return False
    slot = conn.execute(
        "select 1 from pg_replication_slots where slot_name = %s", (rep.task.slot,)
    ).fetchone()
    return slot is not None


def _start(rep: Replicator, conn, state: ReplicationState) -> None:
    """Forget an earlier load (its files, its slot) and record the new load's timestamp."""
    from lakehouse.replication.publications import drop_slot

    for keys in [*state.load_files.values(), *map(load_files_of, state.load_progress.values())]:
        for key in keys:
            rep.lake.delete(key)
    parallel_load.forget(rep.lake, rep.task.name)
    drop_slot(conn, rep.task.slot)
    # The full-load rows' commit timestamp: read *before* the slot exists. Every change the
    # slot streams commits after its consistent point, so after this instant, and the total
    # order (commit timestamp first) puts it after the snapshot's rows. Read inside the
    # snapshot, now() would be later than changes committed between the slot's creation and
    # the snapshot transaction's start: silver would take those for older and ignore them.
    load_ts = conn.execute("select clock_timestamp()").fetchone()[0].astimezone(UTC)
    state.load_ts = load_ts.isoformat()
    state.load_files, state.load_progress, state.pending = {}, {}, None


def _copy_all(rep: Replicator, state: ReplicationState, snapshot_name: str | None) -> None:
    """Copy every table not finished yet, inside the exported snapshot of a fresh load, or a new
    snapshot when resuming (see ``resumable``); the big tables in worker processes
    (``parallel_load``) while this process copies the others."""
    import psycopg

    load_ts = datetime.fromisoformat(state.load_ts)
    parallel_load.absorb(rep.lake, state, rep.specs)
    todo = {}
    for qname, spec in rep.specs.items():
        progress = state.load_progress.get(qname)
        if progress and progress.get("done"):
            continue
        if progress and not resumable(spec):  # copied again from its start
            for key in load_files_of(progress):
                rep.lake.delete(key)
            progress = None
        state.load_progress[qname] = progress or new_progress()
        todo[qname] = spec
    state.save(rep.lake)
    # resuming: the keyless tables are copied again from their start in this new snapshot, not
    # in the slot's; their rows carry the snapshot's own start (``snapshot_start``), so the
    # inserts the slot streams from before it are superseded by the copy, not appended twice
    restarted = {} if snapshot_name else {q: s for q, s in todo.items() if not s.primary_key}
    with psycopg.connect(rep.task.dsn, options=SESSION_OPTIONS) as snap:
        snap.execute("begin isolation level repeatable read read only")
        if snapshot_name:
            snap.execute(f"set transaction snapshot '{snapshot_name}'")
        starts = dict.fromkeys(restarted, snapshot_start(rep, snap, list(restarted.values())))
        parts = {q: s for q, s in todo.items() if q not in restarted}
        far, near = parallel_load.split(rep.task, snap, parts, state.load_progress)
        near = [*restarted, *near]  # copied here, in this snapshot
        state.save(rep.lake)  # chunk bounds are durable before a chunk's first file
        workers = parallel_load.Workers(rep, state, snapshot_name, far) if far else None
        try:
            for qname in rep.progress_over(near, "full load"):
                progress = state.load_progress[qname]
                copy_table(rep, snap, todo[qname], starts.get(qname, load_ts), progress=progress,
                           on_file=lambda: state.save(rep.lake))  # fmt: skip
                progress["done"] = True
                state.save(rep.lake)
        finally:
            if workers is not None:
                workers.finish(state)
        snap.rollback()


def new_progress() -> dict:
    """The progress of a copy not begun (see ``copy_table``)."""
    return {"files": [], "after": None, "pending": None, "done": False, "rows": 0}


def load_files_of(progress: dict) -> list[str]:
    """Every file a table's copy wrote: its own, and its chunks' (``parallel_load``)."""
    return [*progress["files"], *(k for c in progress.get("chunks", ()) for k in c["files"])]


def resumable(spec: TableSpec) -> bool:
    """Whether an interrupted copy of ``spec`` continues after its last durable file: a table
    with a primary key (copied in key order) that keeps no SCD2 history. The rest of the copy
    then reads a newer snapshot; the slot, created before the first file, holds every change
    since, and silver orders those after the load's rows, so the table still ends equal to the
    source. A keyless table, or an SCD2 one (whose history would show the newer rows as versions
    from the load's start), is copied again from its start; a keyless one's rows then carry the
    new snapshot's start (``snapshot_start``), not the load's."""
    return bool(spec.primary_key) and spec.scd_type != 2


def change_table_set(
    rep: Replicator, conn, state: ReplicationState, added: list[str], load_ts
) -> None:
    """Tables that joined a running task are full-loaded alone while the others stream: they
    joined the publication after ``load_ts``, so every change streamed for them commits
    later than their load rows; once every transaction older than that change has ended, a
    new snapshot copies them (a transaction spanning the change is in the copy, not lost).
    A table that left the task is forgotten, so it is loaded again if it comes back."""
    import psycopg

    for qname in set(state.load_files) - set(rep.specs):
        del state.load_files[qname]
    if added:
        wait_for_older_transactions(conn, rep.task.name)
        with psycopg.connect(rep.task.dsn, options=SESSION_OPTIONS) as snap:
            snap.execute("begin isolation level repeatable read read only")
            keyless = [rep.specs[q] for q in added if not rep.specs[q].primary_key]
            start = snapshot_start(rep, snap, keyless)  # theirs: see ``snapshot_start``
            for qname in rep.progress_over(added, "full load of added tables"):
                spec = rep.specs[qname]
                # an earlier generation's load files
                delete_load_files(
                    rep.lake, table_prefix(spec.schema, spec.name, rep.task.bucket_folder)
                )
                ts = load_ts if spec.primary_key else start
                state.load_files[qname] = copy_table(rep, snap, spec, ts)
                log.info("%s: added to task %s, loaded alone", qname, rep.task.name)
            snap.rollback()
    state.save(rep.lake)


def delete_load_files(lake, folder: str) -> None:
    """Delete the full-load (``LOAD…``) files in a table's raw ``folder``."""
    for obj in lake.list(folder):
        if obj.key.rsplit("/", 1)[-1].startswith("LOAD"):
            lake.delete(obj.key)


def snapshot_start(rep: Replicator, snap, keyless: list[TableSpec]) -> datetime | None:
    """The place in the total order of a copy of the ``keyless`` tables in a snapshot the slot
    did not export (a resumed full load, a resync, a table joining the task), taken here: ``snap``
    has begun its repeatable-read transaction and run no query yet. Their changes are inserts
    only, with no key to tell a row copied from the same row streamed, so the snapshot must
    split them exactly at its timestamp: every insert committed before it is in the copy (and
    superseded by it, ``engine.silver``), every one committed after is not. Another session
    holds a SHARE lock on the tables (waiting for the transactions writing them, holding back
    new writes) while the snapshot is taken and its timestamp read, a moment only. Without the
    privilege to lock (UPDATE, DELETE, TRUNCATE or MAINTAIN on the table) the timestamp is read
    with the snapshot, unguarded: an insert committing at that very moment may be lost. None
    when there is no keyless table (the snapshot is taken by the first query, as before)."""
    import psycopg

    if not keyless:
        return None
    names = ", ".join(f'"{s.schema}"."{s.name}"' for s in keyless)
    with psycopg.connect(rep.task.dsn, options=SESSION_OPTIONS) as guard:
        try:
            guard.execute(f"lock table {names} in share mode")
        except psycopg.errors.InsufficientPrivilege:
            guard.rollback()
            log.warning(
                "%s: no privilege to lock %s while its snapshot is taken: an insert committed"
                " at that moment may be missing",
                rep.task.name,
                names,
            )
        start = snap.execute("select clock_timestamp()").fetchone()[0].astimezone(UTC)
        guard.rollback()
    return start


def wait_for_older_transactions(conn, task_name: str, timeout: float = 600.0) -> None:
    """Return once every transaction that had an id before this call has ended: a snapshot
    taken next sees every change committed before the call (timestamps read before it)."""
    mark = int(conn.execute("select pg_current_xact_id()::text").fetchone()[0])
    deadline = time.monotonic() + timeout
    while (
        int(conn.execute("select pg_snapshot_xmin(pg_current_snapshot())::text").fetchone()[0])
        < mark
    ):
        if time.monotonic() > deadline:
            raise RuntimeError(
                f"replication task {task_name!r}: transactions older than the table set"
                " change are still open; end them (pg_stat_activity.xact_start) and retry"
            )
        time.sleep(0.05)


#: the most CSV a full load holds in memory at once: files are cut at this size too (or at
#: ``MaxFileSize`` when smaller), so memory stays bounded whatever the table's size
LOAD_BATCH_BYTES = 64 * 1024 * 1024


def record_end(buf: bytes | bytearray) -> int:
    """The end of the last complete CSV record in ``buf`` (which starts at a record): after the
    last newline outside quotes (a quoted value may hold newlines; ``""`` is two quotes); 0
    when there is none."""
    i = buf.rfind(b"\n")
    while i >= 0:
        if buf.count(b'"', 0, i) % 2 == 0:
            return i + 1
        i = buf.rfind(b"\n", 0, i)
    return 0


def copy_table(
    rep: Replicator,
    snap,
    spec: TableSpec,
    load_ts: datetime,
    *,
    progress: dict | None = None,
    on_file=None,
    prefix: str | None = None,
    limit: int | None = None,
    meter=None,
) -> list[str]:
    """``COPY`` the table as DMS load files, cut at record ends every ``LOAD_BATCH_BYTES`` (or
    ``MaxFileSize``) of CSV: one batch in memory at a time; at least one file. With
    ``progress`` (a resumable full load): in key order after ``progress["after"]``, numbering on
    from its ``files`` (``rows`` counts the rows copied); a chunk's progress (``parallel_load``)
    also bounds the keys (``lo`` < key <= ``hi``, None: open) and numbers its files from
    ``first``; each file is recorded as ``pending``
    (name and last key) before it is written and as done after, ``on_file`` saving the state
    each time — so a crash never leaves a file that is not recorded, and a resumed copy never
    writes a name twice. ``prefix``: the folder written (default: the table's raw folder);
    ``limit``: at most that many rows (one chunk of a resumable table); ``meter``: the row
    counter (default ``rep.row_meter``)."""
    _empty, spec = rep.without_excluded(pl.DataFrame(), spec)
    progress = progress if progress is not None else new_progress()
    _settle_pending(rep, progress)
    cut = max(1, min(rep.settings.MaxFileSize * 1024, LOAD_BATCH_BYTES))
    ts = load_ts.strftime("%Y-%m-%d %H:%M:%S.%f")
    if prefix is None:
        prefix = table_prefix(spec.schema, spec.name, rep.task.bucket_folder)
    keys: list[str] = progress["files"]
    meter = meter or rep.row_meter(spec)
    ordered = resumable(spec)
    after0 = progress["after"] if progress["after"] is not None else progress.get("lo")
    bounds = (after0 if ordered else None, progress.get("hi") if ordered else None)
    limit = limit if ordered else None
    first = progress.get("first", 1)

    def emit(data: bytes, rows: int, after) -> None:
        key = prefix + dms_names.load_file_name(first + len(keys), rep.settings)
        progress["pending"] = {"key": key, "after": after, "rows": rows}
        if on_file:
            on_file()
        rep.lake.write_bytes(key, data)
        _settle_pending(rep, progress)
        if on_file:
            on_file()
        rep.stats.full_load_rows[spec.qualified_name] += rows
        rep.stats.files.append(key)
        meter(rows)

    fast = dms_select(spec, rep.layout_for(spec), rep.settings, ts)
    if fast is not None:  # the COPY writes the DMS rows: cut them into files
        query = _copy_query(spec, bounds, limit, fast.select, rep.settings.CsvDelimiter)
        _copy_dms_rows(rep, snap, query, fast, cut, ordered, emit, progress)
        return keys

    def write(data: bytes | bytearray) -> None:
        if data:
            frame = pl.read_csv(
                bytes(data), has_header=False, infer_schema=False, new_columns=spec.column_names
            )
        else:
            frame = pl.DataFrame(schema={c: pl.String for c in spec.column_names})
        after = list(frame.select(spec.primary_key).row(-1)) if ordered and frame.height else None
        out = rep.dms_frame(frame, spec, op="I", ts=ts, full_load=True)
        emit(dms_writer.encode_dms_file(out, rep.settings, full_load=True), out.height, after)

    buf = bytearray()
    with snap.cursor().copy(*_copy_query(spec, bounds, limit)) as copy:
        for chunk in copy:
            buf += chunk
            if len(buf) >= cut:
                end = record_end(buf)
                if end:
                    write(buf[:end])
                    del buf[:end]
    if buf or not keys:
        write(buf)
    return keys


def _copy_dms_rows(rep, snap, query, fast, cut: int, ordered: bool, emit, progress) -> None:
    """Cut the rows of the DMS ``COPY`` (``dms_copy``; one row per message) into files of
    ``cut`` bytes, each written by ``emit`` in a writer thread while the next one is read
    (two in memory at most; one file at a time, in order, as the state's ``pending`` needs)."""
    from concurrent.futures import ThreadPoolExecutor

    delimiter, settings = rep.settings.CsvDelimiter, rep.settings
    head = fast.header.encode()
    writing = None

    def send(buf: bytearray, rows: int, last: bytes) -> None:
        nonlocal writing
        after = key_of(last, fast, delimiter) if ordered and rows else None
        if writing is not None:
            writing.result()
        writing = pool.submit(lambda: emit(dms_writer.compressed(head + buf, settings), rows,
                                           after))  # fmt: skip

    with ThreadPoolExecutor(1, thread_name_prefix="load-writer") as pool:
        buf, rows, row = bytearray(), 0, b""
        with snap.cursor().copy(*query) as copy:
            for row in copy:
                buf += row
                rows += 1
                if len(buf) >= cut:
                    send(buf, rows, bytes(row))
                    buf, rows = bytearray(), 0
        if writing is not None:
            writing.result()
        if buf or not progress["files"]:  # the rest, or the empty table's one file
            send(buf, rows, bytes(row))
        if writing is not None:
            writing.result()


def _copy_query(
    spec: TableSpec,
    bounds: tuple[list | None, list | None] = (None, None),
    limit: int | None = None,
    select: str | None = None,
    delimiter: str = ",",
) -> tuple[str, tuple]:
    """The COPY statement (CSV with ``delimiter``) of ``select`` (default: the table's columns)
    over the table, in key order for a resumable table (keys above ``bounds[0]`` and up to
    ``bounds[1]``, where given; at most ``limit`` rows), and its parameters. Key columns are
    qualified: an output column may repeat a key's name."""
    cols = select or ", ".join(f'"{c}"' for c in spec.column_names)
    sql = f'select {cols} from "{spec.schema}"."{spec.name}" as src'
    params: list = []
    if resumable(spec):
        key = ", ".join(f'src."{k}"' for k in spec.primary_key)
        marks = ", ".join("%s" for _ in spec.primary_key)
        where = []
        for op, bound in zip((">", "<="), bounds, strict=True):
            if bound is not None:
                where.append(f"({key}) {op} ({marks})")
                params.extend(bound)
        if where:
            sql += " where " + " and ".join(where)
        sql += f" order by {key}"
        if limit is not None:
            sql += f" limit {int(limit)}"
    options = "format csv" if delimiter == "," else f"format csv, delimiter '{delimiter}'"
    return f"copy ({sql}) to stdout ({options})", tuple(params)


def _settle_pending(rep: Replicator, progress: dict) -> None:
    """A pending file that exists (written, then the state not saved: a crash) is done."""
    pending = progress.get("pending")
    if pending and rep.lake.exists(pending["key"]):
        progress["files"].append(pending["key"])
        progress["after"] = pending["after"]
        progress["rows"] = progress.get("rows", 0) + pending.get("rows", 0)
    progress["pending"] = None
