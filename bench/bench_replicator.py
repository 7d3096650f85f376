"""Replicator throughput: changes/s from WAL to raw DMS files vs decoding the same slot alone.

Goal (issue): the replicator keeps >= 50 % of the raw pgoutput decoding rate of the same changes.

Setup (all in a temp dir, removed at the end): an embedded PostgreSQL 18 (wal_level=logical),
table ``public.bench_item (id bigint pk, name text, amount numeric(12,2), updated_at
timestamptz)`` with M initial rows; one replication task per measured run (each with its own lake,
publication and slot) is full-loaded by a first ``Replicator.run()``, then ``repeats`` baseline
slots are created with ``pg_create_logical_replication_slot(.., 'pgoutput')``, and the workload
runs: N changes (default 300,000) in transactions of 100 (50 inserts, 35 updates, 15 deletes),
server-side (a procedure with ``generate_series`` and COMMIT in a loop).

Measured, interleaved (baseline i, replicator i):
- baseline "decode-only": psycopg2 ``LogicalReplicationConnection`` on a baseline slot,
  ``start_replication(decode=False, proto_version 1, publication lakehouse_<task>)``, counting
  I/U/D payloads until caught up with the LSN after the workload (same stop rule as the
  replicator: the last commit or a requested keepalive at/after the target LSN);
- ours: ``Replicator(task, lake).run()`` end to end (state, catalog, decoding, batching, DMS CSV
  files written and fsynced) over the same changes. Settings: the saas declaration's ``dms`` (header,
  Op, commit timestamp, BI_ key, change sequence) without gzip, CdcMaxBatchInterval=3600,
  CdcMinFileSize=32000 KB, so few files are written.
Extra lines (one run each): the same with gzip CSV and with Parquet.

Run: ``.venv/bin/python bench/bench_replicator.py [--changes N] [--repeats R] [--profile]``.
"""

from __future__ import annotations

import argparse
import select
import statistics
import struct
import sys
import time

from _common import fmt_int, fmt_times, profile, result_line, temp_dir

GOAL = 0.50
TABLE = "bench_item"
UPDATE_RANGE = 20_000  # updates cycle over ids 1..UPDATE_RANGE
PER_TXN = (50, 35, 15)  # inserts, updates, deletes per transaction
BUDGET_S = 150.0  # keep the whole script under 3 minutes


def _parse() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--changes", type=int, default=300_000, help="changes in the workload")
    p.add_argument("--repeats", type=int, default=3, help="runs of baseline and replicator")
    p.add_argument("--profile", action="store_true", help="cProfile one more replicator run")
    return p.parse_args()


def _setup_table(dsn: str, initial_rows: int, ntx: int) -> None:
    import psycopg

    ins, upd, dele = PER_TXN
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(
            f"create table {TABLE} (id bigint primary key, name text not null, "
            "amount numeric(12,2), updated_at timestamptz not null default now())"
        )
        conn.execute(
            f"insert into {TABLE} select g, 'item ' || g, (g %% 10000) * 1.25, "
            "timestamptz '2024-01-01 00:00:00+00' + g * interval '1 second' "
            "from generate_series(1, %s) g",
            (initial_rows,),
        )
        conn.execute(f"vacuum analyze {TABLE}")
        # ntx transactions of ins + upd + dele changes; new ids above m, deletes walk down from m
        conn.execute(
            f"""
            create procedure bench_workload(ntx int, m bigint) language plpgsql as $$
            declare lo bigint;
            begin
              for k in 0 .. ntx - 1 loop
                insert into {TABLE}(id, name, amount, updated_at)
                  select m + k * {ins} + g, 'new item ' || (m + k * {ins} + g), g * 3.5,
                         clock_timestamp()
                  from generate_series(1, {ins}) g;
                lo := (k * {upd}) % ({UPDATE_RANGE} - {upd}) + 1;
                update {TABLE} set amount = amount + 1, updated_at = clock_timestamp()
                  where id between lo and lo + {upd} - 1;
                delete from {TABLE} where id between m - k * {dele} - {dele} + 1 and m - k * {dele};
                commit;
              end loop;
            end $$"""
        )


def _run_workload(dsn: str, ntx: int, initial_rows: int) -> tuple[str, int, float]:
    """Run the workload; (LSN after it, WAL bytes it wrote, seconds)."""
    import psycopg

    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("set synchronous_commit = off")  # same WAL, no fsync wait per commit
        start = conn.execute("select pg_current_wal_lsn()").fetchone()[0]
        t0 = time.perf_counter()
        conn.execute("call bench_workload(%s, %s)", (ntx, initial_rows))
        secs = time.perf_counter() - t0
        # with synchronous_commit off, pg_current_wal_lsn() (the write position) can lag the
        # last commits: use the insert position, then flush it (and avoid a checkpoint mid-run)
        end, nbytes = conn.execute(
            "select pg_current_wal_insert_lsn()::text, "
            "pg_wal_lsn_diff(pg_current_wal_insert_lsn(), %s)",
            (start,),
        ).fetchone()
        conn.execute("checkpoint")
    return end, int(nbytes), secs


def decode_only(dsn: str, slot: str, publication: str, target_lsn: int) -> dict[str, int]:
    """Consume a pgoutput slot until caught up with ``target_lsn``; counts of I/U/D messages."""
    import psycopg2
    import psycopg2.extras

    commit = struct.Struct(">bQQq")
    conn = psycopg2.connect(
        dsn,
        connection_factory=psycopg2.extras.LogicalReplicationConnection,
        options="-c timezone=UTC",
    )
    counts = {73: 0, 85: 0, 68: 0}  # I, U, D
    try:
        cur = conn.cursor()
        cur.start_replication(
            slot_name=slot,
            decode=False,
            options={"proto_version": "1", "publication_names": publication},
            status_interval=10,
        )
        processed = 0
        in_txn = False
        while True:
            msg = cur.read_message()
            if msg is not None:
                payload = msg.payload
                tag = payload[0]
                if tag in counts:
                    counts[tag] += 1
                elif tag == 66:  # B
                    in_txn = True
                elif tag == 67:  # C
                    processed = max(processed, commit.unpack_from(payload, 1)[2])
                    in_txn = False
                    if processed >= target_lsn:
                        break
                continue
            if not in_txn and max(processed, cur.wal_end) >= target_lsn:
                break
            cur.send_feedback(reply=True)  # never confirms: the slot is not advanced
            select.select([cur], [], [], 0.1)
    finally:
        conn.close()
    return {"I": counts[73], "U": counts[85], "D": counts[68]}


def main() -> int:
    args = _parse()
    from lakehouse.declarations.dms import settings_for
    from lakehouse.replication.pgoutput import lsn_to_int
    from lakehouse.replication.replicator import Replicator
    from lakehouse.replication.task import ReplicationTask
    from lakehouse.source import embedded
    from lakehouse.storage.lake import LocalLake

    ntx = max(1, args.changes // sum(PER_TXN))
    expected = ntx * sum(PER_TXN)
    initial_rows = UPDATE_RANGE + PER_TXN[2] * ntx + 1_000
    repeats = max(1, args.repeats)

    csv = settings_for("saas").with_(
        CompressionType="NONE", CdcMaxBatchInterval=3600, CdcMinFileSize=32000
    )
    variants = [(f"csv{i}", csv) for i in range(repeats)]
    variants += [
        ("gzip", csv.with_(CompressionType="GZIP")),
        ("parquet", csv.with_(DataFormat="parquet")),
    ]
    if args.profile:
        variants.append(("profile", csv))

    with temp_dir("bench_replicator_") as tmp:
        pgdata = tmp / "pg"
        t_setup = time.perf_counter()
        dsn = embedded.start(pgdata, databases=("bench",))
        try:
            _setup_table(dsn, initial_rows, ntx)
            tasks = {}
            for name, settings in variants:
                task = ReplicationTask(name=f"bench_{name}", dsn=dsn, settings=settings)
                lake = LocalLake(tmp / f"lake_{name}")
                stats = Replicator(task, lake).run()  # full load: publication + slot
                loaded = sum(stats.full_load_rows.values())
                if loaded != initial_rows:
                    raise RuntimeError(
                        f"full load of {name}: {loaded} rows, expected {initial_rows}"
                    )
                tasks[name] = (task, lake)
            publication = tasks["csv0"][0].publication
            import psycopg

            with psycopg.connect(dsn, autocommit=True) as conn:
                for i in range(repeats):
                    conn.execute(
                        "select pg_create_logical_replication_slot(%s, 'pgoutput')",
                        (f"bench_decode_{i}",),
                    )
            end_lsn, wal_bytes, wl_secs = _run_workload(dsn, ntx, initial_rows)
            target = lsn_to_int(end_lsn)
            print(
                f"setup: {initial_rows:,} rows full-loaded by {len(variants)} tasks, workload "
                f"{expected:,} changes in {ntx:,} transactions ({wal_bytes / 1e6:.0f} MB WAL, "
                f"{wl_secs:.1f}s); setup total {time.perf_counter() - t_setup:.1f}s"
            )

            base_times, ours_times, files = [], [], 0
            t_loop = time.perf_counter()
            for i in range(repeats):
                t0 = time.perf_counter()
                counts = decode_only(dsn, f"bench_decode_{i}", publication, target)
                base_times.append(time.perf_counter() - t0)
                if sum(counts.values()) != expected:
                    raise RuntimeError(f"decode-only saw {counts}, expected {expected} changes")
                task, lake = tasks[f"csv{i}"]
                t0 = time.perf_counter()
                stats = Replicator(task, lake).run()
                ours_times.append(time.perf_counter() - t0)
                if stats.total_changes != expected:
                    raise RuntimeError(
                        f"replicator wrote {stats.total_changes} changes, expected {expected}"
                    )
                files = len(stats.files)
                print(
                    f"run {i + 1}: decode-only {base_times[-1]:.2f}s {counts}, replicator "
                    f"{ours_times[-1]:.2f}s ({files} file(s))"
                )
                # still to run: one more repeat, gzip + parquet, maybe a profiled run (~2x)
                per_repeat = (time.perf_counter() - t_loop) / (i + 1)
                need = per_repeat + (2 + 2 * args.profile) * ours_times[-1] * 1.2
                left = BUDGET_S - (time.perf_counter() - t_setup)
                if i + 1 < repeats and left < need:
                    print(f"note: time budget: stopping after {i + 1} repeat(s)")
                    break
            n = len(ours_times)
            base_rate = expected / statistics.median(base_times)
            ours_rate = expected / statistics.median(ours_times)
            print(
                f"decode-only: {fmt_int(base_rate)} changes/s, times {fmt_times(base_times)}; "
                f"replicator (csv): {fmt_int(ours_rate)} changes/s, times {fmt_times(ours_times)}; "
                f"median of {n}"
            )
            for name in ("gzip", "parquet"):
                task, lake = tasks[name]
                t0 = time.perf_counter()
                stats = Replicator(task, lake).run()
                secs = time.perf_counter() - t0
                if stats.total_changes != expected:
                    raise RuntimeError(
                        f"{name}: {stats.total_changes} changes, expected {expected}"
                    )
                rate = expected / secs
                print(
                    f"EXTRA replicator ({task.settings.extension}): {fmt_int(rate)} changes/s "
                    f"({secs:.2f}s, 1 run, {len(stats.files)} file(s)) = "
                    f"{rate / base_rate:.2f} of decode-only"
                )
            if args.profile:
                task, lake = tasks["profile"]
                profile(lambda: Replicator(task, lake).run(), title="Replicator.run (csv)")
        finally:
            embedded.stop(pgdata)
    print(
        result_line(
            "replicator",
            ours_rate,
            base_rate,
            unit="changes/s",
            baseline_name="decode-only",
            goal=GOAL,
            note=f"[median of {n}, {expected:,} changes, csv]",
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
