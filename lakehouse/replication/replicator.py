"""The local stand-in for an AWS DMS full-load-and-CDC task: PostgreSQL → raw zone files.

``Replicator(task, lake).run()`` prepares the task (tables, publications, full load) and streams
changes until caught up (or until stopped with ``follow``); the steps are modules of their own:
``replication.publications``, ``replication.full_load``, ``replication.cdc`` and
``replication.table_resync`` (a table's resync in chunks between catch-ups of the stream).
Every session uses ``pg_text.SESSION_OPTIONS``.

Flow (as DMS and Debezium do it):
1. Publications for the selected tables (keyed tables: all changes; tables without a primary
   key: inserts only, as DMS captures them, with a warning), publishing a partitioned table's
   changes as its root's (``publish_via_partition_root``) and, on PostgreSQL 18+, stored
   generated columns.
2. A logical slot (pgoutput) created on a replication connection with an *exported snapshot*;
   every table is copied inside that snapshot (``LOAD00000001…`` files, capped at
   ``MaxFileSize``), so the full load is exactly the state at the slot's consistent point.
3. Change data capture from that point: decoded changes are cut into batches at commit
   boundaries (``CdcMaxBatchInterval`` seconds or ``CdcMinFileSize`` KB), one file per table per
   batch, named by the batch's first commit time (``yyyymmdd-hhmmssfff``).

Exactly once: the state (``state.ReplicationState``) records a batch as *pending* before its
files are written and as *checkpointed* after they are durable; only then is the slot confirmed
(``send_feedback(flush_lsn=…)``). A restart replays from the checkpoint and re-cuts the pending
batch at the same LSN, so the same files are rewritten byte for byte.

Row contract of the files: ``Op`` (I/U/D), the timestamp column (commit time, equal for every
row of one transaction; snapshot time for the full load) if ``TimestampColumnName`` is set, the
table's columns in table order, then the columns the table's layout adds, in rule order
(``layout_for``: the task's ``table_mappings`` when given, else ``BI_<key>`` before-images if
``before_image_key`` and the change-sequence column if ``change_seq_column``). The change
sequence has 35 digits: commit LSN, then position in the transaction, sortable as text; a
before-image holds the old value (the new one when the row's key did not change). Deletes carry
only the key columns.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC

import polars as pl

from lakehouse.dms import writer as dms_writer
from lakehouse.dms.table_mappings import DmsLayout
from lakehouse.registry import widened
from lakehouse.registry.model import TableSpec
from lakehouse.replication import schema_history, table_resync
from lakehouse.replication.cdc import CdcStream, change_seq
from lakehouse.replication.full_load import change_table_set, full_load
from lakehouse.replication.pg_text import SESSION_OPTIONS, pg_text_to_dms_text
from lakehouse.replication.pgoutput import Relation, lsn_to_int
from lakehouse.replication.publications import ensure_publications
from lakehouse.replication.slot_health import SlotLostError, slot_health
from lakehouse.replication.state import ReplicationState
from lakehouse.replication.task import ReplicationTask, resync_command
from lakehouse.source import discovery
from lakehouse.storage import Lake

log = logging.getLogger(__name__)
#: per task, the undeclared source tables last reported (``Replicator._undeclared``)
_UNDECLARED: dict[str, frozenset[str]] = {}


#: ``run(follow=True)``: seconds to wait before each reconnect after a lost connection
RECONNECT_DELAYS = (1, 2, 5, 10, 30, 60, 60, 60, 60, 60)
#: ``run(follow=True)``: how often the source is searched for new tables the watch rules match
TABLE_CHECK_SECONDS = 60.0
#: a session that streamed this long before it failed starts the retries afresh
RECONNECT_RESET_SECONDS = 300
FIX_TEXT = " — fix: "


def _transient_errors() -> tuple[type[BaseException], ...]:
    """A lost or refused connection (psycopg2 for the stream, psycopg for the rest)."""
    import psycopg
    import psycopg2

    return (psycopg2.OperationalError, psycopg2.InterfaceError, psycopg.OperationalError,
            psycopg.InterfaceError)  # fmt: skip


_TRANSIENT = _transient_errors()


class ConnectionLostError(RuntimeError):
    """``run(follow=True)`` lost the source connection more often than it retries."""


@dataclass
class ReplicationStats:
    full_load_rows: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    changes: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    transactions: int = 0
    files: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def total_changes(self) -> int:
        return sum(self.changes.values())


def _shown(column) -> str:
    """A column's type as a finding names it: ``string`` with its ``varchar`` limit."""
    n = widened.max_length(column)
    return f"{column.type} (at most {n} characters)" if n is not None else column.type


class Replicator:
    """Runs one ``ReplicationTask`` into a ``Lake``. See the module docstring."""

    def __init__(self, task: ReplicationTask, lake: Lake, *, progress: bool = False) -> None:
        self.task = task
        self.lake = lake
        self.settings = task.settings
        self.progress = progress
        self.specs: dict[str, TableSpec] = {}
        self.stats = ReplicationStats()
        self._resync_meters: dict[str, object] = {}

    def layout_for(self, spec: TableSpec) -> DmsLayout:
        """The layout the files of ``spec`` (its current columns) are written in."""
        if self.task.table_mappings is not None:
            return self.task.table_mappings.layout(
                spec.schema, spec.name, spec.column_names, spec.primary_key
            )
        return DmsLayout.from_settings(self.settings, spec.column_names, spec.primary_key)

    # ------------------------------------------------------------------ setup + full load
    def _connect(self):
        import psycopg

        return psycopg.connect(self.task.dsn, autocommit=True, options=SESSION_OPTIONS)

    def replication_connection(self):
        import psycopg2
        import psycopg2.extras

        return psycopg2.connect(
            self.task.dsn,
            connection_factory=psycopg2.extras.LogicalReplicationConnection,
            options=SESSION_OPTIONS,
        )

    def discover(self, conn) -> dict[str, TableSpec]:
        """The selected tables' specs (one catalog query: ``source.discovery``); a table
        without a primary key, and any discovery note, is warned about."""
        specs = {}
        found = discovery.discover_schema(conn, list(self.task.selection_rules), self.task.name)
        for table in found:
            spec = table.spec
            for note in table.notes:
                msg = f"{spec.qualified_name}: {note}"
                log.warning(msg)
                self.stats.warnings.append(msg)
            specs[spec.qualified_name] = spec
            self.report_drift(spec)
        return specs

    def report_drift(self, source: TableSpec) -> None:
        """Warn where a captured table's source columns differ from its declaration, once per
        finding (``replication.schema_history`` keeps them in the lake, with their time): an
        added column reaches raw, bronze and silver as text until it is declared (then typed);
        a dropped one stays in silver, NULL from then on; a changed type makes the values its
        declared type cannot hold go to quarantine, unless it is a widening (``registry.widened``:
        recorded in the lake and applied by bronze and silver as if declared)."""
        declared = self.task.registry.get(source.qualified_name)
        if declared is None:
            return
        fix = f"run `lakehouse discover {self.task.name}` to update the declaration"
        excluded = set(self.task.exclude_columns.get(source.qualified_name, ()))
        have = {c.name: c for c in source.columns if c.name not in excluded}
        want = {c.name: c for c in declared.columns}
        copy = resync_command(self.task.name, [source.qualified_name])
        found = [
            *(f"source column {n!r} ({have[n].type}) is not declared: it reaches raw, bronze and"
              f" silver as text, its type unchecked; rows the source has not changed since keep"
              f" it NULL (a DEFAULT filling them, or a RENAME, is not streamed) — fix: {fix};"
              f" `{copy}` copies the rows' current values" for n in have if n not in want),
            *(f"declared column {n!r} is gone from the source: silver keeps it, NULL from now"
              f" on — fix: {fix} (or keep it)" for n in want if n not in have),
            *(f"column {n!r} is {have[n].type} at the source but declared {want[n].type}: values"
              f" the declared type cannot hold go to quarantine — fix: {fix}"
              for n in have if n in want and have[n].type != want[n].type
              and not widened.widens(want[n].type, have[n].type)),
        ]  # fmt: skip
        qname = source.qualified_name
        wider = {n: have[n] for n in have if n in want and (
            widened.widens(want[n].type, have[n].type) or widened.longer(want[n], have[n]))}  # fmt: skip
        if wider:  # recorded first: bronze reads the wider type before these rows are written
            widened.record(self.lake, self.task.name, qname, wider)
            found += [
                f"column {n!r} is {_shown(c)} at the source but declared {_shown(want[n])}: a"
                f" widening, applied in place (bronze, silver, its history and tombstones) —"
                f" to pin it: run `lakehouse discover {self.task.name}`"
                for n, c in wider.items()
            ]
        for finding in schema_history.record(self.lake, self.task.name, qname, found):
            msg = f"{qname}: {finding}"
            log.warning(msg)
            self.stats.warnings.append(msg)

    def _undeclared(self, conn) -> None:
        """Source tables the declaration's include rules match that the task does not capture:
        with ``capture_new`` each joins the task (discovered, recorded in ``registry.captured``;
        ``prepare`` then loads it alone), else they are reported (once per change of the set,
        per process) — never silently left out. A table whose lake name a table of this or
        another declared dataset has is reported, not captured."""
        from lakehouse.source.catalog import select_tables

        if not self.task.watch_rules:
            return
        found = {f"{s}.{t}" for s, t in select_tables(conn, list(self.task.watch_rules))}
        new = sorted(found - set(self.specs))
        if new and self.task.capture_new:
            new = self._capture(conn, new)
        if new and _UNDECLARED.get(self.task.name) != frozenset(new):
            fix = f"run `lakehouse discover {self.task.name}` to declare them"
            why = ("not declared (not captured)" if not self.task.capture_new
                   else "named like a table another dataset or this one has (not captured)")  # fmt: skip
            msg = (
                f"task {self.task.name!r}: source tables match the include rules but are {why}:"
                f" {new[:20]} — {fix}; each is then loaded alone"
            )
            log.warning(msg)
            self.stats.warnings.append(msg)
        _UNDECLARED[self.task.name] = frozenset(new)

    def _capture(self, conn, qnames: list[str]) -> list[str]:
        """Discover ``qnames`` and add them to the task; returns those left out (name taken)."""
        from lakehouse.registry import captured

        rules = [{"rule-action": "include", "schema-name": q.split(".", 1)[0],
                  "table-name": q.split(".", 1)[1]} for q in qnames]  # fmt: skip
        found = discovery.discover_schema(conn, rules, self.task.name)
        prefix = self.task.table_prefix  # names below are lake names
        taken = {s.name for s in self.task.registry.values()} | self.task.reserved
        taken |= {prefix + s.source_table for s in self.specs.values()}
        joined, left = [], []
        for table in found:
            spec = table.spec
            if spec.qualified_name not in qnames:  # a LIKE pattern matched more than asked
                continue
            name = prefix + spec.name
            if name in taken or not captured.claim(self.lake, self.task.name, name):
                left.append(spec.qualified_name)
                continue
            taken.add(name)
            self.specs[spec.qualified_name] = spec
            joined.append(spec)
            log.info("%s: not declared, matches the include rules: captured by task %s",
                     spec.qualified_name, self.task.name)  # fmt: skip
        if joined:
            captured.record(self.lake, self.task.name, joined)
        return left

    def prepare(self) -> ReplicationState:
        """Discover tables, and run the full load unless a previous run finished it."""
        state = ReplicationState.load(self.lake, self.task.name, self.task.slot)
        with self._connect() as conn:
            wal_level = conn.execute("show wal_level").fetchone()[0]
            if wal_level != "logical":
                raise RuntimeError(
                    f"source database wal_level is {wal_level!r}; logical decoding needs "
                    "wal_level = logical (set it in postgresql.conf or with "
                    "`ALTER SYSTEM SET wal_level = logical`, then restart PostgreSQL)"
                )
            self.specs = self.discover(conn)
            self._undeclared(conn)
            if not self.specs:
                raise LookupError(
                    f"replication task {self.task.name!r}: no table matches the selection rules "
                    f"{list(self.task.watch_rules or self.task.selection_rules)} — fix: correct"
                    " the rules' schema-name and table-name (% is the wildcard; the names are"
                    " the source's, case included), or create the tables"
                )
            added = [q for q in self.specs if q not in state.load_files]
            added = added if state.full_load_done else []
            for q in state.resync:
                if q in self.specs and table_resync.chunked(self.specs[q], state):
                    table_resync.begin(self.lake, state, q)  # copied by run(), in chunks
                elif q in self.specs and q not in added:
                    added.append(q)
            for q in set(state.resync_progress) - set(self.specs):
                table_resync.forget(self.lake, state, q)
            # read before the tables join the publication: their streamed changes are all later
            load_ts = conn.execute("select clock_timestamp()").fetchone()[0].astimezone(UTC)
            ensure_publications(conn, self.task, self.specs)
            if state.full_load_done:
                health = slot_health(self.task.dsn, self.task.slot)
                if health.lost:
                    raise SlotLostError(
                        f"replication task {self.task.name!r}: {health.cause}; the changes since"
                        " its last run are lost to it — fix: "
                        f"{resync_command(self.task.name)} (or the {self.task.name}_resync job)"
                    )
            if not state.full_load_done:  # fresh, or the rest of an interrupted one
                for q in list(state.resync_progress):  # the whole task is copied again
                    table_resync.forget(self.lake, state, q)
                state = full_load(self, conn, state)
            elif added or set(state.load_files) - set(self.specs):
                change_table_set(self, conn, state, added, load_ts)
            if state.resync:
                state.resync = []
                state.save(self.lake)
        return state

    def progress_over(self, items, desc: str):
        items = list(items)
        if not self.progress:
            return items
        from tqdm import tqdm

        return tqdm(items, desc=f"{self.task.name}: {desc}", unit="table")

    def row_meter(self, spec: TableSpec):
        """A callback counting a table's copied rows: a progress bar (rows/s, ETA against the
        planner's row estimate) when ``progress``, and a log line per batch."""
        name, total = spec.qualified_name, [0]
        started = time.monotonic()
        bar = None
        if self.progress:
            from tqdm import tqdm

            bar = tqdm(desc=f"{self.task.name}: {name}", unit="row", unit_scale=True,
                       total=self.estimated_rows(spec), leave=False)  # fmt: skip

        def count(rows: int) -> None:
            total[0] += rows
            if bar is not None:
                bar.update(rows)
            rate = total[0] / max(1e-6, time.monotonic() - started)
            log.info("%s: %s rows copied (%.0f rows/s)", name, f"{total[0]:,}", rate)

        return count

    def estimated_rows(self, spec: TableSpec) -> int | None:
        """The planner's row estimate of a source table (None when never analyzed)."""
        with self._connect() as conn:
            row = conn.execute(
                "select reltuples::bigint from pg_class where oid = %s::regclass",
                (f'"{spec.schema}"."{spec.name}"',),
            ).fetchone()
        return int(row[0]) if row and row[0] and row[0] > 0 else None

    def without_excluded(self, frame: pl.DataFrame, spec: TableSpec):
        """The frame and spec without the table's excluded columns (never written to a file)."""
        excluded = set(self.task.exclude_columns.get(spec.qualified_name, ()))
        if not excluded:
            return frame, spec
        from dataclasses import replace

        kept = tuple(c for c in spec.columns if c.name not in excluded)
        return frame.drop([c for c in frame.columns if c in excluded]), replace(spec, columns=kept)

    def dms_frame(
        self, frame: pl.DataFrame, spec: TableSpec, *, op, ts, full_load: bool, seq=None, bi=None
    ) -> pl.DataFrame:
        """Lay out a frame of PostgreSQL text values as the DMS file rows (see module docstring)."""
        s = self.settings
        frame, spec = self.without_excluded(frame, spec)
        frame = pg_text_to_dms_text(frame, spec.columns)
        if s.DataFormat == "parquet":
            from lakehouse.registry.casting import cast_to_registry

            typed, rejects = cast_to_registry(frame, list(spec.columns))
            if rejects.height:
                raise ValueError(
                    f"{spec.qualified_name}: source values the lake types cannot hold: "
                    f"{rejects['__reason'].to_list()[:3]}"
                )
            frame = typed.drop("__row").select(frame.columns)
        return dms_writer.layout_rows(
            frame,
            self.layout_for(spec),
            s,
            op=op,
            ts=ts,
            change_seq=change_seq(0, 0) if seq is None else seq,
            before=bi,
        )

    # ------------------------------------------------------------------ change data capture
    def run(
        self,
        *,
        follow: bool = False,
        stop: threading.Event | None = None,
        idle_timeout: float = 0.5,
    ) -> ReplicationStats:
        """Replicate: full load if needed, then CDC until caught up (or forever if ``follow``);
        a table truncated at the source is copied again (``CdcStream``), then CDC goes on.
        With ``follow``, a source table created meanwhile that the watch rules match joins
        within ``TABLE_CHECK_SECONDS`` (captured and loaded alone, or reported: ``_follow``).
        With ``follow``, a lost connection (server restart, failover, network) is retried with
        backoff (``RECONNECT_DELAYS``, logged), the stream restarting from the checkpoint;
        ``ConnectionLostError`` when the retries run out. Other errors are raised at once."""
        attempt = 0
        while True:
            started = time.monotonic()
            try:
                return self._run(follow=follow, stop=stop, idle_timeout=idle_timeout)
            except _TRANSIENT as err:
                if not follow or (stop is not None and stop.is_set()):
                    raise
                if time.monotonic() - started >= RECONNECT_RESET_SECONDS:
                    attempt = 0  # it streamed for a while: a new outage
                if attempt >= len(RECONNECT_DELAYS):
                    first = (str(err).strip().splitlines() or [type(err).__name__])[0]
                    raise ConnectionLostError(
                        f"replication task {self.task.name!r}: the connection to the source was"
                        f" lost {attempt + 1} times in a row ({first}){FIX_TEXT}check that the"
                        " source database is up and reachable, then run `lakehouse replicate"
                        " --follow` again (it resumes from its checkpoint)"
                    ) from err
                delay = RECONNECT_DELAYS[attempt]
                attempt += 1
                log.warning(
                    "task %s: connection to the source lost (%s); reconnecting in %ss"
                    " (attempt %d of %d), from the checkpoint",
                    self.task.name, type(err).__name__, delay, attempt, len(RECONNECT_DELAYS),
                )  # fmt: skip
                if stop is not None:
                    if stop.wait(delay):
                        return self.stats
                else:
                    time.sleep(delay)

    def _run(self, *, follow: bool, stop, idle_timeout: float) -> ReplicationStats:
        while True:
            state = self.prepare()
            while state.resync_progress and not (stop is not None and stop.is_set()):
                self._catch_up(state, stop)  # then a chunk of a table under resync
                table_resync.copy_next_chunk(self, state)
            if state.resync and not (stop is not None and stop.is_set()):
                continue  # a TRUNCATE streamed meanwhile: its table is copied first
            if follow:
                if self._follow(state, stop, idle_timeout):
                    continue  # new source tables: prepare() lets them join, then streams on
            else:
                self._catch_up(state, stop, idle_timeout)
            if not state.resync or (stop is not None and stop.is_set()):
                return self.stats  # else: a TRUNCATE streamed, its table is copied next

    def _follow(self, state: ReplicationState, stop, idle_timeout: float) -> bool:
        """Stream until ``stop``; every ``TABLE_CHECK_SECONDS`` a watcher looks for source
        tables the watch rules match that are neither captured nor already reported. True
        when it found some: the session ended (its unconfirmed batch is replayed from the
        checkpoint) so that ``prepare`` captures or reports them."""
        session, done, found = threading.Event(), threading.Event(), threading.Event()

        def watch() -> None:
            while not done.wait(TABLE_CHECK_SECONDS):
                try:
                    if self._new_tables():
                        found.set()
                        session.set()
                        return
                except Exception as err:  # the stream reports a lost source itself
                    log.warning("task %s: cannot look for new tables: %s", self.task.name, err)

        def relay() -> None:  # the caller's stop ends the session too
            while not done.is_set():
                if stop is not None and stop.wait(0.2):
                    session.set()
                    return
                if stop is None and done.wait(0.2):
                    return

        helpers = [threading.Thread(target=f, daemon=True, name=f"{self.task.name}-{f.__name__}")
                   for f in ((watch, relay) if self.task.watch_rules else (relay,))]  # fmt: skip
        for t in helpers:
            t.start()
        try:
            CdcStream(self, state, target=None).run(stop=session, idle_timeout=idle_timeout)
        finally:
            done.set()
            for t in helpers:
                t.join(timeout=5)
        return found.is_set() and not (stop is not None and stop.is_set())

    def _new_tables(self) -> list[str]:
        """Source tables the watch rules match that the task neither captures nor reported."""
        from lakehouse.source.catalog import select_tables

        with self._connect() as conn:
            matched = {f"{s}.{t}" for s, t in select_tables(conn, list(self.task.watch_rules))}
        known = set(self.specs) | _UNDECLARED.get(self.task.name, frozenset())
        return sorted(matched - known)

    def _catch_up(self, state: ReplicationState, stop, idle_timeout: float = 0.5) -> None:
        """CDC up to the WAL flushed now: every transaction committed so far (an asynchronous
        commit not flushed yet is the next run's). Not the insert position: WAL that no commit
        flushes (pruning or hint-bit records a read wrote) can wait there for seconds, and the
        server sends no position past the flushed one."""
        with self._connect() as conn:
            target = lsn_to_int(
                conn.execute("select pg_current_wal_flush_lsn()::text").fetchone()[0]
            )
        CdcStream(self, state, target=target).run(stop=stop, idle_timeout=idle_timeout)

    def resync_meter(self, spec: TableSpec):
        """The row counter of a table's chunked resync, one across its chunks."""
        qname = spec.qualified_name
        if qname not in self._resync_meters:
            self._resync_meters[qname] = self.row_meter(spec)
        return self._resync_meters[qname]

    def spec_for(self, relation: Relation) -> TableSpec:
        qname = f"{relation.schema}.{relation.name}"
        spec = self.specs.get(qname)
        if spec is None or tuple(spec.column_names) != relation.columns:
            with self._connect() as conn:  # schema evolution: re-read the catalog
                spec = discovery.discover_one(
                    conn, relation.schema, relation.name, self.task.name
                ).spec
            self.specs[qname] = spec
            self.report_drift(spec)  # a column added or changed while CDC runs
        return spec
