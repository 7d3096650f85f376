"""The local stand-in for an AWS DMS full-load-and-CDC task: PostgreSQL → raw zone files.

Flow (as DMS and Debezium do it):
1. Publications for the selected tables (keyed tables: all changes; tables without a primary
   key: inserts only, as DMS captures them, with a warning), publishing a partitioned table's
   changes as its root's (``publish_via_partition_root``) and, on PostgreSQL 18+, stored
   generated columns. Every session uses ``SESSION_OPTIONS`` (UTC, ISO dates, …).
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

import io
import logging
import select
import threading
import time
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import polars as pl

from lakehouse.dms import format as dms_format
from lakehouse.dms.table_mappings import DmsLayout
from lakehouse.registry.model import TableSpec
from lakehouse.replication.pg_text import pg_text_to_dms_text
from lakehouse.replication.pgoutput import (
    PG_EPOCH_OFFSET_US,
    UNCHANGED,
    Begin,
    Change,
    Commit,
    PgOutputDecoder,
    Relation,
    lsn_to_int,
)
from lakehouse.replication.slot_health import SlotLostError, slot_health
from lakehouse.replication.state import PendingBatch, ReplicationState
from lakehouse.replication.task import ReplicationTask, resync_command, table_prefix
from lakehouse.source import discovery
from lakehouse.storage import Lake

log = logging.getLogger(__name__)
#: per task, the undeclared source tables last reported (``Replicator._report_undeclared``)
_UNDECLARED: dict[str, frozenset[str]] = {}

_PG_EPOCH = datetime(2000, 1, 1, tzinfo=UTC)

#: the settings of every session the replicator opens, so the text of each value (COPY and
#: pgoutput alike) is what ``pg_text`` and ``registry.types`` expect, whatever the server's
#: defaults: ISO dates, UTC instants, ``$1,234.50`` money, hex bytea, shortest exact floats
SESSION_OPTIONS = (
    "-c timezone=UTC -c datestyle=ISO -c intervalstyle=postgres -c lc_monetary=C "
    "-c bytea_output=hex -c extra_float_digits=1"
)


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


def _ts_text(pg_us: int) -> str:
    return (_PG_EPOCH + timedelta(microseconds=pg_us)).strftime("%Y-%m-%d %H:%M:%S.%f")


def _ts_datetime(pg_us: int) -> datetime:
    return _PG_EPOCH + timedelta(microseconds=pg_us)


def change_seq(lsn: int, position: int) -> str:
    """A 35-digit, text-sortable change sequence (like DMS ``$AR_H_CHANGE_SEQ``)."""
    return f"{lsn:020d}{position:015d}"


class Replicator:
    """Runs one ``ReplicationTask`` into a ``Lake``. See the module docstring."""

    def __init__(self, task: ReplicationTask, lake: Lake, *, progress: bool = False) -> None:
        self.task = task
        self.lake = lake
        self.settings = task.settings
        self.progress = progress
        self.specs: dict[str, TableSpec] = {}
        self.stats = ReplicationStats()

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

    def _replication_connection(self):
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
        if not specs:
            raise LookupError(
                f"replication task {self.task.name!r}: no table matches the selection rules "
                f"{list(self.task.selection_rules)}"
            )
        return specs

    def _report_undeclared(self, conn) -> None:
        """Warn (once per change of the set, per process) about source tables the declaration's
        include rules match that the task does not capture: they join once declared."""
        from lakehouse.source.catalog import select_tables

        if not self.task.watch_rules:
            return
        found = {f"{s}.{t}" for s, t in select_tables(conn, list(self.task.watch_rules))}
        new = frozenset(found - set(self.specs))
        if new and _UNDECLARED.get(self.task.name) != new:
            msg = (
                f"task {self.task.name!r}: source tables match the include rules but are not"
                f" declared (not captured): {sorted(new)[:20]} — run `lakehouse discover"
                f" {self.task.name}` to declare them; each is then loaded alone"
            )
            log.warning(msg)
            self.stats.warnings.append(msg)
        _UNDECLARED[self.task.name] = new

    def _ensure_publications(self, conn) -> None:
        """Create or update the task's publications; a publication already as wanted is left
        alone (no catalog change, so no WAL the slot would have to skip)."""
        keyed = [s for s in self.specs.values() if s.primary_key]
        keyless = [s for s in self.specs.values() if not s.primary_key]
        # a partitioned table's changes as its root's (the leaves are not tables of the task);
        # stored generated columns in the changes as in the full load (PostgreSQL 18+)
        gencols = conn.info.server_version >= 180000
        common = "publish_via_partition_root = true"
        if gencols:
            common += ", publish_generated_columns = stored"
        for pub, tables, opts in (
            (self.task.publication, keyed, common),
            (self.task.insert_only_publication, keyless, f"publish = 'insert', {common}"),
        ):
            row = conn.execute(
                f"""select p.pubviaroot, {"p.pubgencols = 's'" if gencols else "true"},
                      array(select n.nspname || '.' || c.relname from pg_publication_rel r
                            join pg_class c on c.oid = r.prrelid
                            join pg_namespace n on n.oid = c.relnamespace
                            where r.prpubid = p.oid order by 1)
                    from pg_publication p where p.pubname = %s""",
                (pub,),
            ).fetchone()
            names = ", ".join(f'"{t.schema}"."{t.name}"' for t in tables)
            if not tables:
                if row:
                    conn.execute(f'drop publication "{pub}"')
                continue
            if row is None:
                conn.execute(f'create publication "{pub}" for table {names} with ({opts})')
                continue
            if sorted(row[2]) != sorted(t.qualified_name for t in tables):
                conn.execute(f'alter publication "{pub}" set table {names}')
            if not (row[0] and row[1]):
                conn.execute(f'alter publication "{pub}" set ({opts})')

    def _publication_names(self) -> str:
        pubs = []
        if any(s.primary_key for s in self.specs.values()):
            pubs.append(self.task.publication)
        if any(not s.primary_key for s in self.specs.values()):
            pubs.append(self.task.insert_only_publication)
        return ",".join(pubs)

    def _drop_slot(self, conn) -> None:
        row = conn.execute(
            "select active_pid from pg_replication_slots where slot_name = %s", (self.task.slot,)
        ).fetchone()
        if row is None:
            return
        if row[0] is not None:
            conn.execute("select pg_terminate_backend(%s)", (row[0],))
            time.sleep(0.2)
        conn.execute("select pg_drop_replication_slot(%s)", (self.task.slot,))

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
            self._report_undeclared(conn)
            added = [q for q in self.specs if q not in state.load_files]
            added = added if state.full_load_done else []
            added += [q for q in state.resync if q in self.specs and q not in added]
            # read before the tables join the publication: their streamed changes are all later
            load_ts = conn.execute("select clock_timestamp()").fetchone()[0].astimezone(UTC)
            self._ensure_publications(conn)
            if state.full_load_done:
                health = slot_health(self.task.dsn, self.task.slot)
                if health.lost:
                    raise SlotLostError(
                        f"replication task {self.task.name!r}: {health.cause}; the changes since"
                        " its last run are lost to it — fix: "
                        f"{resync_command(self.task.name)} (or the {self.task.name}_resync job)"
                    )
            if not state.full_load_done:
                self._drop_slot(conn)  # a crashed full load's snapshot is gone: start over
                state = self._full_load(conn, state)
            elif added or set(state.load_files) - set(self.specs):
                self._change_table_set(conn, state, added, load_ts)
            if state.resync:
                state.resync = []
                state.save(self.lake)
        return state

    def _change_table_set(self, conn, state: ReplicationState, added: list[str], load_ts) -> None:
        """Tables that joined a running task are full-loaded alone while the others stream: they
        joined the publication after ``load_ts``, so every change streamed for them commits
        later than their load rows; once every transaction older than that change has ended, a
        new snapshot copies them (a transaction spanning the change is in the copy, not lost).
        A table that left the task is forgotten, so it is loaded again if it comes back."""
        import psycopg

        for qname in set(state.load_files) - set(self.specs):
            del state.load_files[qname]
        if added:
            self._wait_for_older_transactions(conn)
            with psycopg.connect(self.task.dsn, options=SESSION_OPTIONS) as snap:
                snap.execute("begin isolation level repeatable read read only")
                for qname in self._progress(added, "full load of added tables"):
                    spec = self.specs[qname]
                    prefix = table_prefix(spec.schema, spec.name, self.task.bucket_folder)
                    for obj in self.lake.list(prefix):  # an earlier generation's load files
                        if obj.key.rsplit("/", 1)[-1].startswith("LOAD"):
                            self.lake.delete(obj.key)
                    state.load_files[qname] = self._copy_table(snap, spec, load_ts)
                    log.info("%s: added to task %s, loaded alone", qname, self.task.name)
                snap.rollback()
        state.save(self.lake)

    def _wait_for_older_transactions(self, conn, timeout: float = 600.0) -> None:
        mark = int(conn.execute("select pg_current_xact_id()::text").fetchone()[0])
        deadline = time.monotonic() + timeout
        while (
            int(conn.execute("select pg_snapshot_xmin(pg_current_snapshot())::text").fetchone()[0])
            < mark
        ):
            if time.monotonic() > deadline:
                raise RuntimeError(
                    f"replication task {self.task.name!r}: transactions older than the table set"
                    " change are still open; end them (pg_stat_activity.xact_start) and retry"
                )
            time.sleep(0.05)

    def _full_load(self, conn, state: ReplicationState) -> ReplicationState:
        import psycopg

        for keys in state.load_files.values():
            for key in keys:
                self.lake.delete(key)
        # The full-load rows' commit timestamp: read *before* the slot exists. Every change the
        # slot streams commits after its consistent point, so after this instant, and the total
        # order (commit timestamp first) puts it after the snapshot's rows. Read inside the
        # snapshot, now() would be later than changes committed between the slot's creation and
        # the snapshot transaction's start: silver would take those for older and ignore them.
        load_ts = conn.execute("select clock_timestamp()").fetchone()[0].astimezone(UTC)
        repl = self._replication_connection()
        try:
            rcur = repl.cursor()
            rcur.execute(
                f"CREATE_REPLICATION_SLOT \"{self.task.slot}\" LOGICAL pgoutput (SNAPSHOT 'export')"
            )
            _slot, consistent_point, snapshot_name, _plugin = rcur.fetchone()
            load_files: dict[str, list[str]] = {}
            with psycopg.connect(self.task.dsn, options=SESSION_OPTIONS) as snap:
                snap.execute("begin isolation level repeatable read read only")
                snap.execute(f"set transaction snapshot '{snapshot_name}'")
                for qname, spec in self._progress(self.specs.items(), "full load"):
                    load_files[qname] = self._copy_table(snap, spec, load_ts)
                snap.rollback()
        finally:
            repl.close()
        state.full_load_done = True
        state.consistent_lsn = state.checkpoint_lsn = lsn_to_int(consistent_point)
        state.load_files = load_files
        state.pending = None
        state.save(self.lake)
        return state

    def _progress(self, items, desc: str):
        items = list(items)
        if not self.progress:
            return items
        from tqdm import tqdm

        return tqdm(items, desc=f"{self.task.name}: {desc}", unit="table")

    def _without_excluded(self, frame: pl.DataFrame, spec: TableSpec):
        """The frame and spec without the table's excluded columns (never written to a file)."""
        excluded = set(self.task.exclude_columns.get(spec.qualified_name, ()))
        if not excluded:
            return frame, spec
        from dataclasses import replace

        kept = tuple(c for c in spec.columns if c.name not in excluded)
        return frame.drop([c for c in frame.columns if c in excluded]), replace(spec, columns=kept)

    def _copy_table(self, snap, spec: TableSpec, load_ts: datetime) -> list[str]:
        _empty, spec = self._without_excluded(pl.DataFrame(), spec)
        cols = ", ".join(f'"{c}"' for c in spec.column_names)
        buf = io.BytesIO()
        with snap.cursor().copy(
            f'copy (select {cols} from "{spec.schema}"."{spec.name}") to stdout (format csv)'
        ) as copy:
            for chunk in copy:
                buf.write(chunk)
        data = buf.getvalue()
        if data:
            frame = pl.read_csv(
                data, has_header=False, infer_schema=False, new_columns=spec.column_names
            )
        else:
            frame = pl.DataFrame(schema={c: pl.String for c in spec.column_names})
        frame = self._dms_frame(
            frame, spec, op="I", ts=load_ts.strftime("%Y-%m-%d %H:%M:%S.%f"), full_load=True
        )
        self.stats.full_load_rows[spec.qualified_name] += frame.height
        max_bytes = self.settings.MaxFileSize * 1024
        rows_per_file = max(1, int(max_bytes / max(1.0, len(data) / max(1, frame.height))))
        keys = []
        for n, start in enumerate(range(0, max(frame.height, 1), rows_per_file), start=1):
            part = frame.slice(start, rows_per_file)
            key = table_prefix(
                spec.schema, spec.name, self.task.bucket_folder
            ) + dms_format.load_file_name(n, self.settings)
            self.lake.write_bytes(
                key, dms_format.encode_dms_file(part, self.settings, full_load=True)
            )
            keys.append(key)
        self.stats.files.extend(keys)
        return keys

    def _dms_frame(
        self, frame: pl.DataFrame, spec: TableSpec, *, op, ts, full_load: bool, seq=None, bi=None
    ) -> pl.DataFrame:
        """Lay out a frame of PostgreSQL text values as the DMS file rows (see module docstring)."""
        s = self.settings
        frame, spec = self._without_excluded(frame, spec)
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
        return dms_format.layout_rows(
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
        """Replicate: full load if needed, then CDC until caught up (or forever if ``follow``)."""
        state = self.prepare()
        with self._connect() as conn:
            target = lsn_to_int(
                conn.execute("select pg_current_wal_insert_lsn()::text").fetchone()[0]
            )
        stream = _Stream(self, state, target=None if follow else target)
        stream.run(stop=stop, idle_timeout=idle_timeout)
        return self.stats

    def spec_for(self, relation: Relation) -> TableSpec:
        qname = f"{relation.schema}.{relation.name}"
        spec = self.specs.get(qname)
        if spec is None or tuple(spec.column_names) != relation.columns:
            with self._connect() as conn:  # schema evolution: re-read the catalog
                spec = discovery.discover_one(
                    conn, relation.schema, relation.name, self.task.name
                ).spec
            self.specs[qname] = spec
        return spec


class _Stream:
    """One CDC session on the slot; batches at commit boundaries (see the module docstring)."""

    def __init__(self, rep: Replicator, state: ReplicationState, *, target: int | None) -> None:
        self.rep = rep
        self.state = state
        self.target = target  # --once: stop when caught up with this LSN
        self.decoder = PgOutputDecoder()
        self.relations: dict[int, Relation] = {}
        self.batch: dict[str, list] = defaultdict(list)  # qname → [(relation, row), ...]
        self.batch_bytes = 0
        self.batch_first_ts: int | None = None
        self.batch_started = time.monotonic()
        self.batch_end_lsn = 0
        self.txn: list = []
        self.txn_begin: Begin | None = None
        self.skip_txn = False
        self.processed_lsn = state.checkpoint_lsn

    def run(self, *, stop: threading.Event | None, idle_timeout: float) -> None:
        rep = self.rep
        conn = rep._replication_connection()
        try:
            cur = conn.cursor()
            cur.start_replication(
                slot_name=rep.task.slot,
                decode=False,
                start_lsn=self.state.checkpoint_lsn,
                options={"proto_version": "1", "publication_names": rep._publication_names()},
                status_interval=10,
            )
            self.cur = cur
            interval = rep.settings.CdcMaxBatchInterval
            idle_since = time.monotonic()
            while stop is None or not stop.is_set():
                msg = cur.read_message()
                if msg is not None:
                    self._handle(msg.payload)
                    idle_since = time.monotonic()
                    if (
                        self.target is None
                        or self.txn_begin is not None
                        or self.processed_lsn < self.target
                    ):
                        continue
                    # --once and every change up to the target is decoded: finish the batch
                    if self.state.pending is None or not self.batch:
                        self._flush()
                        break
                    continue
                caught_up = (
                    self.target is not None
                    and self.txn_begin is None
                    and max(self.processed_lsn, cur.wal_end) >= self.target
                )
                if (
                    self.batch
                    and self.state.pending is None
                    and (caught_up or time.monotonic() - self.batch_started >= interval)
                ):
                    self._flush()
                if caught_up and not self.batch and time.monotonic() - idle_since >= 0.05:
                    break
                if self.target is not None:
                    cur.send_feedback(reply=True)
                select.select([cur], [], [], idle_timeout if self.target is None else 0.1)
        finally:
            conn.close()

    def _handle(self, payload: bytes) -> None:
        msg = self.decoder.feed(payload)
        if isinstance(msg, Change):
            if not self.skip_txn:
                self.txn.append(msg)
                self.batch_bytes += len(payload)
        elif isinstance(msg, Begin):
            self.txn_begin = msg
            self.txn = []
            self.skip_txn = msg.final_lsn < self.state.checkpoint_lsn
        elif isinstance(msg, Commit):
            if not self.skip_txn and self.txn:
                self._add_transaction(msg)
            self.txn_begin = None
            self.txn = []
            self.processed_lsn = max(self.processed_lsn, msg.end_lsn)
            if not self.skip_txn:
                self.batch_end_lsn = msg.end_lsn
                self._maybe_flush()
        elif isinstance(msg, Relation):
            self.relations[msg.relid] = msg

    def _add_transaction(self, commit: Commit) -> None:
        rep = self.rep
        ts = _ts_text(commit.commit_ts)
        if self.batch_first_ts is None:
            self.batch_first_ts = commit.commit_ts
            self.batch_started = time.monotonic()
        rep.stats.transactions += 1
        for pos, ch in enumerate(self.txn):
            rel = self.relations[ch.relid]
            qname = f"{rel.schema}.{rel.name}"
            seq = (commit.commit_lsn, pos)
            if ch.op == "D":
                values, old = ch.old, ch.old
            else:
                values, old = ch.values, ch.old
                if UNCHANGED in values:
                    values = [
                        (old[i] if old is not None and old[i] is not UNCHANGED else None)
                        if v is UNCHANGED
                        else v
                        for i, v in enumerate(values)
                    ]
                    if old is None:
                        msg = (
                            f"{qname}: an unchanged TOASTed value was written as NULL "
                            "(set REPLICA IDENTITY FULL on this table to capture it)"
                        )
                        if msg not in rep.stats.warnings:
                            log.warning(msg)
                            rep.stats.warnings.append(msg)
            self.batch[qname].append((rel, ch.op, ts, seq, values, old))
            rep.stats.changes[qname] += 1

    def _maybe_flush(self) -> None:
        pending = self.state.pending
        if pending is not None:
            if self.batch_end_lsn >= pending.end_lsn:
                self._flush()
            return
        s = self.rep.settings
        if (
            self.batch_bytes >= s.CdcMinFileSize * 1024
            or time.monotonic() - self.batch_started >= s.CdcMaxBatchInterval
        ):
            self._flush()

    def _flush(self) -> None:
        rep, state = self.rep, self.state
        if not self.batch:
            return
        name_ms = max(
            self.batch_first_ts // 1000 + PG_EPOCH_OFFSET_US // 1000, state.last_name_ms + 1
        )
        if state.pending is not None and state.pending.end_lsn == self.batch_end_lsn:
            name_ms = state.pending.name_ms
        name_dt = datetime.fromtimestamp(name_ms / 1000, tz=UTC)
        frames = {}
        for qname, rows in self.batch.items():
            spec = rep.spec_for(rows[-1][0])
            frames[qname] = (spec, self._frame(spec, rows))
        files = {
            qname: table_prefix(spec.schema, spec.name, rep.task.bucket_folder)
            + dms_format.date_partition_folder(name_dt, rep.settings)
            + dms_format.cdc_file_name(name_dt, rep.settings)
            for qname, (spec, _f) in frames.items()
        }
        stale = (
            []
            if state.pending is None
            else [k for k in state.pending.files if k not in files.values()]
        )
        state.pending = PendingBatch(self.batch_end_lsn, name_ms, sorted(files.values()))
        state.save(rep.lake)
        for qname, (_spec, frame) in frames.items():
            rep.lake.write_bytes(
                files[qname], dms_format.encode_dms_file(frame, rep.settings, full_load=False)
            )
        for key in stale:
            rep.lake.delete(key)
        state.checkpoint_lsn = self.batch_end_lsn
        state.last_name_ms = name_ms
        state.cdc_files_written += len(files)
        state.pending = None
        state.save(rep.lake)
        self.cur.send_feedback(flush_lsn=self.batch_end_lsn, force=True)
        rep.stats.files.extend(sorted(files.values()))
        self.batch = defaultdict(list)
        self.batch_bytes = 0
        self.batch_first_ts = None
        self.batch_started = time.monotonic()

    def _frame(self, spec: TableSpec, rows: list) -> pl.DataFrame:
        """Rows of one table in one batch → a DMS-layout frame (columns may differ by relation)."""
        parts = []
        key_idx = None
        start = 0
        while start < len(rows):
            rel = rows[start][0]
            end = start
            while end < len(rows) and rows[end][0].columns == rel.columns:
                end += 1
            chunk = rows[start:end]
            cols = list(rel.columns)
            key_idx = [cols.index(k) for k in spec.primary_key if k in cols]
            data = []
            for _rel, op, _ts, _seq, values, _old in chunk:
                if op == "D":  # deletes carry only the primary key
                    data.append([values[i] if i in key_idx else None for i in range(len(cols))])
                else:
                    data.append(values)
            columns = list(zip(*data, strict=True)) if data else [() for _ in cols]
            frame = pl.DataFrame(
                {c: pl.Series(c, v, dtype=pl.String) for c, v in zip(cols, columns, strict=True)}
            )
            part_spec = (
                spec if tuple(spec.column_names) == rel.columns else _spec_for_columns(spec, cols)
            )
            bi = {}
            for src in self.rep.layout_for(part_spec).before_images.values():
                i = cols.index(src)
                vals = [
                    (old[i] if old is not None and old[i] is not None else values[i])
                    for _rel, _op, _ts, _seq, values, old in chunk
                ]
                bi[src] = pl.Series(src, vals, dtype=pl.String)
            parts.append(
                self.rep._dms_frame(
                    frame,
                    part_spec,
                    op=[r[1] for r in chunk],
                    ts=[r[2] for r in chunk],
                    full_load=False,
                    seq=_change_seqs([r[3] for r in chunk]),
                    bi=bi,
                )
            )
            start = end
        return parts[0] if len(parts) == 1 else pl.concat(parts, how="diagonal_relaxed")


def _change_seqs(pairs: list[tuple[int, int]]) -> pl.Series:
    """``change_seq`` for many (lsn, position) pairs at once."""
    lsn = pl.Series([p[0] for p in pairs], dtype=pl.UInt64).cast(pl.String).str.pad_start(20, "0")
    pos = pl.Series([p[1] for p in pairs], dtype=pl.UInt64).cast(pl.String).str.pad_start(15, "0")
    return (lsn + pos).alias("seq")


def _spec_for_columns(spec: TableSpec, cols: list[str]) -> TableSpec:
    """The spec restricted to an older relation's columns (rows decoded before an ALTER)."""
    from dataclasses import replace

    by_name = {c.name: c for c in spec.columns}
    from lakehouse.registry.model import Column

    columns = tuple(by_name.get(c, Column(c, "string")) for c in cols)
    return replace(
        spec, columns=columns, primary_key=tuple(k for k in spec.primary_key if k in cols)
    )
