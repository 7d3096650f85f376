"""Full load of one big table: the replicator's throughput vs ``COPY … TO STDOUT``, and its memory.

Goals (issue): the full load keeps >= 0.5 of the rate of ``COPY (SELECT * FROM big) TO STDOUT``
of the same table in the same run, and its peak RSS stays <= 1 GiB whatever the table's size.

Setup (a temp dir, removed at the end): an embedded PostgreSQL 18; ``public.big (id bigint
primary key, name text, amount numeric(12,2), at timestamptz, pad text)`` with N rows (default
2,000,000, ~400 MB; ``--rows 10000000`` is the issue's ~2 GB table), ``pad`` 96 bytes.

Measured, interleaved (baseline i, ours i):
- baseline: ``COPY (SELECT * FROM big) TO STDOUT`` read to the end by psycopg, data discarded;
- ours: a fresh replication task's first ``Replicator.run()`` (slot with exported snapshot,
  COPY, DMS text, CSV LOAD files of the saas declaration's settings without gzip written to a
  local lake), in a child process whose peak RSS (``ru_maxrss``) is reported.
Then the last load goes to bronze and to silver, each in a child process of its own (time, rows/s,
peak RSS; both consume the load in batches: ``engine.bronze.BATCH_BYTES`` of files per bronze
commit, ``engine.silver.BATCH_ROWS`` bronze rows per silver commit).
Then a kill at 50 %: a full load (fresh lake and slot) in a child process, SIGKILLed after half
the median uninterrupted load's time, then run again; time lost = time until the kill + the
resumed run − the median uninterrupted load, against one chunk (a LOAD file's share of the
load: files hold ``replication.full_load.LOAD_BATCH_BYTES`` of CSV), beyond what any restart
costs (a run with nothing left to copy: process start, imports, state, slot check, catch-up).

``--tables N`` spreads the rows over N tables (``big``, ``big_2``, …) of equal size: the full
load copies the big ones in worker processes (``replication.parallel_load``), the baseline
COPYs them one after the other; bronze and silver are then not run. A table of 128 MiB and more
is copied in key ranges by worker processes too; ``--subtasks 1`` copies it in one stream
(the task's ``max_full_load_subtasks``; DMS's default, 8, otherwise).

Run: ``.venv/bin/python bench/bench_full_load.py [--rows N] [--tables N] [--subtasks N]
[--repeats R]``.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import resource
import statistics
import sys
import time

from _common import fmt_int, fmt_times, result_line, temp_dir

GOAL = 0.50
SUBTASKS = "BENCH_FULL_LOAD_SUBTASKS"
RSS_GOAL_MIB = 1024


def _parse() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--rows", type=int, default=2_000_000, help="rows of the table")
    p.add_argument("--tables", type=int, default=1, help="tables sharing the rows (big, big_2…)")
    p.add_argument("--repeats", type=int, default=2, help="runs of baseline and ours")
    p.add_argument("--subtasks", type=int, default=8, help="the task's max_full_load_subtasks")
    args = p.parse_args()
    os.environ[SUBTASKS] = str(args.subtasks)  # read by the steps' child processes too
    return args


def _names(tables: int) -> list[str]:
    return ["big"] + [f"big_{i}" for i in range(2, tables + 1)]


def _setup(dsn: str, rows: int, tables: int) -> None:
    import psycopg

    with psycopg.connect(dsn, autocommit=True) as conn:
        for name in _names(tables):
            conn.execute(
                f"create table {name} (id bigint primary key, name text, amount numeric(12,2),"
                " at timestamptz, pad text)"
            )
            conn.execute(
                f"""insert into {name} select g, 'name ' || g, (g %% 100000) / 100.0,
                       timestamptz '2024-01-01' + g * interval '1 second', repeat('p', 96)
                   from generate_series(1, %s) g""",
                (rows // tables,),
            )
            conn.execute(f"vacuum analyze {name}")


def _copy_baseline(dsn: str, tables: int) -> float:
    """``COPY (SELECT * FROM t) TO STDOUT`` of each table, one after the other."""
    import psycopg

    t0 = time.perf_counter()
    with psycopg.connect(dsn) as conn:
        for name in _names(tables):
            with conn.cursor().copy(f"copy (select * from {name}) to stdout") as copy:
                for _chunk in copy:
                    pass
    return time.perf_counter() - t0


def _task(dsn: str, name: str, tables: int = 1):
    from lakehouse.declarations.dms import settings_for
    from lakehouse.replication.task import ReplicationTask

    settings = settings_for("saas").with_(CompressionType="NONE")
    rules = tuple(
        {"rule-action": "include", "schema-name": "public", "table-name": t} for t in _names(tables)
    )
    subtasks = int(os.environ.get(SUBTASKS, "8"))
    return ReplicationTask(
        name, dsn, settings, selection_rules=rules, max_full_load_subtasks=subtasks
    )


def _step(step: str, dsn: str, root: str, name: str, tables: int = 1) -> tuple[int, str]:
    """Run one step in this process: (rows, detail); bronze and silver of ``big`` only."""
    from lakehouse.storage import LocalLake

    lake, task = LocalLake(root), _task(dsn, name, tables)
    if step == "load":
        from lakehouse.replication.replicator import Replicator

        stats = Replicator(task, lake).run()
        return sum(stats.full_load_rows.values()), f"{len(stats.files)} files"
    import psycopg

    from lakehouse.source.catalog import discover_table

    with psycopg.connect(dsn) as conn:
        spec = discover_table(conn, "public", "big", "bench")
    if step == "bronze":
        from lakehouse.engine.bronze import ingest

        res = ingest(lake, spec, task.settings)
        return res.rows, f"bronze v{res.version}"
    from lakehouse.engine.silver import apply_changes

    res = apply_changes(lake, spec)
    return res.inserted, f"silver v{res.version} (bronze v{res.bronze_version})"


def _child(step: str, dsn: str, root: str, name: str, tables: int, out) -> None:
    t0 = time.perf_counter()
    rows, detail = _step(step, dsn, root, name, tables)
    workers = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    if workers:  # the full load's worker processes (parallel_load)
        detail += f", largest worker {workers / 1024:.0f} MiB"
    seconds = time.perf_counter() - t0
    out.send((seconds, rows, detail, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss))


def _ours(
    step: str, dsn: str, root: str, name: str, tables: int = 1
) -> tuple[float, int, str, int]:
    """(seconds, rows, detail, peak RSS KiB: the child's, not its workers') of one step in a
    child process of its own."""
    ctx = multiprocessing.get_context("spawn")
    recv, send = ctx.Pipe(duplex=False)
    child = ctx.Process(target=_child, args=(step, dsn, root, name, tables, send))
    child.start()
    got = recv.recv()
    child.join()
    return got


def _killed_at_half(
    dsn: str, root: str, name: str, tables: int, after: float
) -> tuple[int, float, int, float]:
    """A full load SIGKILLed ``after`` seconds (half an uninterrupted load), then run again:
    (rows in durable files at the kill, seconds of the resumed run, rows it copied, seconds of
    one more run with nothing left to do: what any restart costs)."""
    import signal

    from lakehouse.replication import parallel_load
    from lakehouse.replication.state import ReplicationState
    from lakehouse.storage import LocalLake

    ctx = multiprocessing.get_context("spawn")
    _recv, send = ctx.Pipe(duplex=False)
    child = ctx.Process(target=_child, args=("load", dsn, root, name, tables, send))
    child.start()
    time.sleep(after)
    os.kill(child.pid, signal.SIGKILL)
    child.join()
    lake = LocalLake(root)
    state = ReplicationState.load(lake, name, "")
    parallel_load.absorb(lake, state, list(state.load_progress))  # workers' files, once exited
    durable = sum(
        p.get("rows", 0) + sum(c.get("rows", 0) for c in p.get("chunks", ()))
        for p in state.load_progress.values()
    )
    seconds, copied, _detail, _peak = _ours("load", dsn, root, name, tables)
    idle, _rows, _detail, _peak = _ours("load", dsn, root, name, tables)  # nothing left to do
    return durable, seconds, copied, idle


def main() -> int:
    args = _parse()
    from lakehouse.source import embedded

    with temp_dir("bench_full_load_") as tmp:
        pgdata = tmp / "pgdata"
        dsn = embedded.start(pgdata, databases=("bench",))
        dsn = embedded.with_database(dsn, "bench")
        try:
            t0 = time.perf_counter()
            _setup(dsn, args.rows, args.tables)
            print(f"{args.tables} table(s): {fmt_int(args.rows)} rows in"
                  f" {time.perf_counter() - t0:.1f}s")  # fmt: skip
            base, ours, rss = [], [], []
            for i in range(args.repeats):
                base.append(_copy_baseline(dsn, args.tables))
                seconds, rows, files, peak = _ours(
                    "load", dsn, str(tmp / f"lake{i}"), f"b{i}", args.tables
                )
                assert rows == args.rows // args.tables * args.tables, (rows, args.rows)
                ours.append(seconds)
                rss.append(peak)
                print(f"run {i}: COPY {base[-1]:.2f}s, full load {seconds:.2f}s ({files}),"
                      f" peak RSS {peak / 1024:.0f} MiB")  # fmt: skip
            killed = statistics.median(ours) / 2
            durable, resumed, copied, restart = _killed_at_half(
                dsn, str(tmp / "lake_killed"), "killed", args.tables, killed
            )
            last = args.repeats - 1
            for step in ("bronze", "silver") if args.tables == 1 else ():  # the last load
                seconds, rows, detail, peak = _ours(step, dsn, str(tmp / f"lake{last}"), f"b{last}")
                assert rows == args.rows, (step, rows, args.rows)
                print(f"RESULT full load then {step}: {seconds:.2f}s, {fmt_int(rows)} rows"
                      f" ({args.rows / seconds:,.0f} rows/s, {detail}), peak RSS"
                      f" {peak / 1024:.0f} MiB")  # fmt: skip
        finally:
            embedded.stop(pgdata)
    b, o = statistics.median(base), statistics.median(ours)
    print(f"COPY {fmt_times(base)}; full load {fmt_times(ours)}")
    print(result_line("full load rows/s", args.rows / o, args.rows / b, unit="rows/s",
                      baseline_name="COPY TO STDOUT", goal=GOAL))  # fmt: skip
    peak_mib = max(rss) / 1024
    verdict = "OK" if peak_mib <= RSS_GOAL_MIB else "MISSED"
    print(f"RESULT full load peak RSS: {peak_mib:.0f} MiB (goal <= {RSS_GOAL_MIB} MiB) {verdict}")
    # one chunk: a LOAD file's share of an uninterrupted load (files of 64 MiB of CSV)
    n_files = int(files.split()[0])
    chunk = o / n_files
    lost = killed + resumed - o
    verdict = "OK" if lost - restart <= chunk else "MISSED"
    print(f"RESULT full load kill at 50 %: {lost:.2f}s lost, {lost - restart:.2f}s beyond a"
          f" restart's {restart:.2f}s (killed after {killed:.2f}s with {fmt_int(durable)} rows in"
          f" durable files; the resumed run {resumed:.2f}s, {fmt_int(copied)} rows) vs one chunk"
          f" {chunk:.2f}s (a load file's share of {o:.2f}s, {n_files} files) (goal beyond the"
          f" restart <= one chunk) {verdict}")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
