"""Change data capture: one session on the slot, cut into batches at commit boundaries.

``CdcStream(rep, state, target=…).run(stop=…, idle_timeout=…)`` decodes pgoutput from the
state's checkpoint; decoded changes are cut into batches at commit boundaries
(``CdcMaxBatchInterval`` seconds or ``CdcMinFileSize`` KB), one file per table per batch, named
by the batch's first commit time (``yyyymmdd-hhmmssfff``). Exactly once: a batch is recorded as
*pending* before its files are written and as *checkpointed* after they are durable; only then
is the slot confirmed (``send_feedback``: write, flush and apply positions), so a replay rewrites the same files.
With a ``target`` LSN (``--once``) it stops when caught up. A TRUNCATE of a task's table (which
DMS does not capture) is a resync of that table (``state.resync``), recorded with the checkpoint
of the batch that holds it; the stream then stops (``resync_requested``) so the replicator
copies the table again: its changes before the TRUNCATE are in the batch, the ones after it in
the copy or streamed later. ``change_seq(lsn, position)``: the 35-digit, text-sortable change
sequence (like DMS ``$AR_H_CHANGE_SEQ``).
"""

from __future__ import annotations

import json
import logging
import select
import threading
import time
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

import polars as pl

from lakehouse.dms import names as dms_names
from lakehouse.dms import writer as dms_writer
from lakehouse.dms.format import UNCHANGED_COLUMN
from lakehouse.registry.model import TableSpec
from lakehouse.replication.pgoutput import (
    PG_EPOCH_OFFSET_US,
    UNCHANGED,
    Begin,
    Change,
    Commit,
    PgOutputDecoder,
    Relation,
    Truncate,
)
from lakehouse.replication.publications import publication_names
from lakehouse.replication.state import PendingBatch, ReplicationState
from lakehouse.replication.task import table_prefix

if TYPE_CHECKING:
    from lakehouse.replication.replicator import Replicator

log = logging.getLogger(__name__)
_PG_EPOCH = datetime(2000, 1, 1, tzinfo=UTC)


def change_seq(lsn: int, position: int) -> str:
    """A 35-digit, text-sortable change sequence (like DMS ``$AR_H_CHANGE_SEQ``)."""
    return f"{lsn:020d}{position:015d}"


def _ts_text(pg_us: int) -> str:
    return (_PG_EPOCH + timedelta(microseconds=pg_us)).strftime("%Y-%m-%d %H:%M:%S.%f")


class CdcStream:
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
        self.txn_truncated: set[str] = set()  # the task's tables the open transaction truncated
        self.truncated: set[str] = set()  # … and the committed ones not in a durable batch yet
        self.resync_requested = False  # a batch recorded a truncated table's resync

    def run(self, *, stop: threading.Event | None, idle_timeout: float) -> None:
        rep = self.rep
        conn = rep.replication_connection()
        try:
            cur = conn.cursor()
            cur.start_replication(
                slot_name=rep.task.slot,
                decode=False,
                start_lsn=self.state.checkpoint_lsn,
                options={
                    "proto_version": "1",
                    "publication_names": publication_names(rep.task, rep.specs),
                },
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
                    if self.resync_requested:
                        break
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
            self.txn_truncated = set()
            self.skip_txn = msg.final_lsn < self.state.checkpoint_lsn
        elif isinstance(msg, Commit):
            if not self.skip_txn and self.txn:
                self._add_transaction(msg)
            self.txn_begin = None
            self.txn = []
            self.processed_lsn = max(self.processed_lsn, msg.end_lsn)
            if not self.skip_txn:
                self.batch_end_lsn = msg.end_lsn
                self.truncated |= self.txn_truncated
                if self.txn_truncated and self.state.pending is None:
                    self._flush()  # now: its resync must not wait for the batch to fill
                else:
                    self._maybe_flush()
        elif isinstance(msg, Relation):
            self.relations[msg.relid] = msg
        elif isinstance(msg, Truncate) and not self.skip_txn:
            for relid in msg.relids:  # pgoutput sends each one's Relation before
                rel = self.relations.get(relid)
                qname = rel and f"{rel.schema}.{rel.name}"
                if qname in self.rep.specs:
                    self.txn_truncated.add(qname)

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
            unsent = None
            if ch.op == "D":
                values, old = ch.old, ch.old
            else:
                values, old = ch.values, ch.old
                if UNCHANGED in values:
                    values, unsent = self._unsent(qname, rel, values, old)
            self.batch[qname].append((rel, ch.op, ts, seq, values, old, unsent))
            rep.stats.changes[qname] += 1

    def _unsent(self, qname: str, rel, values: list, old: list | None):
        """An update's values with the unchanged TOASTed ones (``UNCHANGED``) taken from the
        old tuple (REPLICA IDENTITY FULL), else NULL, and the names of those left unsent: marked
        in the file (``UNCHANGED_COLUMN``) when it names its columns, so silver keeps them; a
        CSV file without header cannot carry the mark: NULL, as DMS writes it, with a warning."""
        names = [
            c
            for i, (c, v) in enumerate(zip(rel.columns, values, strict=True))
            if v is UNCHANGED and (old is None or old[i] is UNCHANGED)
        ]
        values = [
            (old[i] if old is not None and old[i] is not UNCHANGED else None)
            if v is UNCHANGED
            else v
            for i, v in enumerate(values)
        ]
        s = self.rep.settings
        if names and not (s.AddColumnName or s.DataFormat == "parquet"):
            msg = (
                f"{qname}: an unchanged TOASTed value was written as NULL: the CSV files have no"
                " header to mark it (set AddColumnName, or REPLICA IDENTITY FULL on this table)"
            )
            if msg not in self.rep.stats.warnings:
                log.warning(msg)
                self.rep.stats.warnings.append(msg)
            return values, None
        return values, names or None

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

    def _confirm(self, lsn: int) -> None:
        """Tell the server everything up to ``lsn`` is durable: written, flushed and applied
        (a flush position alone leaves ``pg_stat_replication.replay_lsn`` unset and its
        ``replay_lag`` growing from the connection's start)."""
        self.cur.send_feedback(write_lsn=lsn, flush_lsn=lsn, apply_lsn=lsn, force=True)

    def _flush(self) -> None:
        rep, state = self.rep, self.state
        if not self.batch:
            if self.truncated:  # a TRUNCATE alone: its resync, with the checkpoint past it
                self._record_truncated()
                state.checkpoint_lsn = self.batch_end_lsn
                state.save(rep.lake)
                self._confirm(self.batch_end_lsn)
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
            + dms_names.date_partition_folder(name_dt, rep.settings)
            + dms_names.cdc_file_name(name_dt, rep.settings)
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
                files[qname], dms_writer.encode_dms_file(frame, rep.settings, full_load=False)
            )
        for key in stale:
            rep.lake.delete(key)
        state.checkpoint_lsn = self.batch_end_lsn
        state.last_name_ms = name_ms
        state.cdc_files_written += len(files)
        state.pending = None
        self._record_truncated()
        state.save(rep.lake)
        self._confirm(self.batch_end_lsn)
        rep.stats.files.extend(sorted(files.values()))
        self.batch = defaultdict(list)
        self.batch_bytes = 0
        self.batch_first_ts = None
        self.batch_started = time.monotonic()

    def _record_truncated(self) -> None:
        """The truncated tables' resync, in the state saved next (with the checkpoint)."""
        if not self.truncated:
            return
        names = sorted(self.truncated)
        self.state.resync = sorted({*self.state.resync, *names})
        self.truncated = set()
        self.resync_requested = True
        msg = (
            f"task {self.rep.task.name!r}: {', '.join(names)} truncated at the source:"
            " copied again (a reload), so silver drops the rows the TRUNCATE removed"
        )
        log.warning(msg)
        self.rep.stats.warnings.append(msg)

    def _dropped_declared(self, spec: TableSpec, cols: list[str]) -> list:
        """Declared columns of the table (not excluded) that the source relation no longer has:
        dropped at the source, they stay in the files as NULL, so silver keeps them (NULL from
        then on) and a file's header still holds every declared column beside an added one."""
        declared = self.rep.task.registry.get(spec.qualified_name)
        if declared is None:
            return []
        excluded = set(self.rep.task.exclude_columns.get(spec.qualified_name, ()))
        return [c for c in declared.columns if c.name not in cols and c.name not in excluded]

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
            for _rel, op, _ts, _seq, values, _old, _unsent in chunk:
                if op == "D":  # deletes carry only the primary key
                    data.append([values[i] if i in key_idx else None for i in range(len(cols))])
                else:
                    data.append(values)
            columns = list(zip(*data, strict=True)) if data else [() for _ in cols]
            frame = pl.DataFrame(
                {c: pl.Series(c, v, dtype=pl.String) for c, v in zip(cols, columns, strict=True)}
            )
            gone = self._dropped_declared(spec, cols)
            if gone:  # still written, NULL: the file keeps the table's declared shape
                frame = frame.with_columns(pl.lit(None, pl.String).alias(c.name) for c in gone)
                cols = [*cols, *(c.name for c in gone)]
            part_spec = (
                spec
                if tuple(spec.column_names) == tuple(cols)
                else _spec_for_columns(spec, cols, gone)
            )
            bi = {}
            for src in self.rep.layout_for(part_spec).before_images.values():
                i = cols.index(src)
                vals = [
                    (old[i] if old is not None and old[i] is not None else values[i])
                    for _rel, _op, _ts, _seq, values, old, _unsent in chunk
                ]
                bi[src] = pl.Series(src, vals, dtype=pl.String)
            part = self.rep.dms_frame(
                frame,
                part_spec,
                op=[r[1] for r in chunk],
                ts=[r[2] for r in chunk],
                full_load=False,
                seq=_change_seqs([r[3] for r in chunk]),
                bi=bi,
            )
            kept = set(part.columns)
            marks = [[c for c in r[6] if c in kept] if r[6] else None for r in chunk]
            if any(marks):  # the lakehouse's extension of the format (dms.format)
                marks = [json.dumps(m) if m else None for m in marks]
                part = part.with_columns(pl.Series(UNCHANGED_COLUMN, marks, dtype=pl.String))
            parts.append(part)
            start = end
        return parts[0] if len(parts) == 1 else pl.concat(parts, how="diagonal_relaxed")


def _change_seqs(pairs: list[tuple[int, int]]) -> pl.Series:
    """``change_seq`` for many (lsn, position) pairs at once."""
    lsn = pl.Series([p[0] for p in pairs], dtype=pl.UInt64).cast(pl.String).str.pad_start(20, "0")
    pos = pl.Series([p[1] for p in pairs], dtype=pl.UInt64).cast(pl.String).str.pad_start(15, "0")
    return (lsn + pos).alias("seq")


def _spec_for_columns(spec: TableSpec, cols: list[str], extra=()) -> TableSpec:
    """The spec restricted to an older relation's columns (rows decoded before an ALTER), plus
    ``extra`` columns (declared ones dropped at the source)."""
    from dataclasses import replace

    from lakehouse.registry.model import Column

    by_name = {c.name: c for c in (*extra, *spec.columns)}

    columns = tuple(by_name.get(c, Column(c, "string")) for c in cols)
    return replace(
        spec, columns=columns, primary_key=tuple(k for k in spec.primary_key if k in cols)
    )
