"""Soak: the saas dataset churned at a fixed rate for minutes; does the platform keep up, with a
bounded lag and flat memory? (The CI-size version is ``lakehouse_tests/reliability/test_load.py``.)

Setup (temp dir, removed at the end): an embedded PostgreSQL 18, ``saas`` seeded at ``--scale``
(medium: 8 tenants × 800 customers, ~0.5M rows), full-loaded and applied to bronze and silver
(not timed). Then, for ``--duration`` seconds, ``--churners`` threads run the churn workload
(``lakehouse.source.churn``) at ``--rate`` committed-or-attempted changes/s in total, while:

- the real ``lakehouse replicate --follow`` process writes the raw zone;
- one long-lived process applies bronze and silver for every table in rounds (the reliability
  suite's worker, ``python -m lakehouse.inprocess loop``), reporting each
  round's changes and its RSS (``/proc/self/status``);
- a probe commits a change at the source every second (``core_tenant.settings.probe``: the churn
  never touches that table) and a poller records when silver shows it: commit→silver lag.

When the churn stops, a last probe is committed; *caught up* = that probe is visible in silver
and a whole apply round after it found nothing new.

``RESULT soak: <ours> changes/s vs source <baseline> changes/s = <ratio> (goal >= 0.95)``:
baseline = the rate the source committed changes during the churn (its offered load, measured
in this run); ours = the same changes over the wall time until silver held all of them (churn
duration + catch-up). 0.95 means silver caught up within 5 % of the churn's duration after it
stopped. ``RESULT soak lag`` (goal p95 <= 15 s) and ``RESULT soak memory and WAL`` (the
applier's RSS and the WAL the slot retains, sampled every 5 s: max and trend over the second
half of the churn; flat is the goal) complete the issue's four figures. The note gives the lag p50/p95/max, the catch-up time and the applier's RSS (first,
max, last, growth per minute over the second half). The run fails (non-zero exit) if silver's
key set differs from the source's afterwards.

``--big-rows N`` adds the issue's big table: ``public.big`` (``bench_full_load.py``'s shape, N
rows) in the source, captured by the saas task (its rules take ``public.%``), loaded before the
churn, then changed at ``--big-rate`` changes/s on a connection of its own (recent rows more
often); it counts in the committed changes, and afterwards silver's row count and sums must
equal the source's.

Run: ``.venv/bin/python bench/bench_soak.py [--scale medium] [--rate 1000] [--duration 180]
[--big-rows 10000000 --big-rate 100]`` (takes about duration + 2 minutes, + ~3 with the big
table).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import result_line, temp_dir  # noqa: E402
from bench_full_load import _setup as create_big  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
GOAL = 0.95
LAG_GOAL_S = 15.0


def _parse() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--scale", default="medium", choices=["small", "medium", "large"])
    p.add_argument("--rate", type=float, default=1000.0, help="churn, changes/s in total")
    p.add_argument("--duration", type=float, default=180.0, help="seconds of churn")
    p.add_argument("--churners", type=int, default=2, help="churn threads (connections)")
    p.add_argument(
        "--big-rows",
        type=int,
        default=0,
        help="rows of a table `big` beside saas (the issue's 10M-row table: 10000000)",
    )
    p.add_argument(
        "--big-rate",
        type=float,
        default=100.0,
        help="changes/s offered on `big` (one more connection) when --big-rows",
    )
    return p.parse_args()


def _pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(round(q / 100 * (len(values) - 1))))] if values else 0.0


class Probe:
    """Commits probe n at the source; reads the newest probe silver shows."""

    def __init__(self, dsn: str, lake) -> None:
        import psycopg

        self.dsn, self.lake, self.committed, self.lags, self.seen = dsn, lake, {}, [], 0
        with psycopg.connect(dsn) as conn:
            (self.tenant,) = conn.execute("select min(id::text)::uuid from core_tenant").fetchone()

    def commit(self, n: int) -> None:
        import psycopg

        with psycopg.connect(self.dsn) as conn:
            conn.execute(
                "update core_tenant set settings = settings || jsonb_build_object('probe', %s::int),"
                " updated_at = now() where id = %s",
                (n, self.tenant),
            )
        self.committed[n] = time.monotonic()

    def poll(self) -> int:
        import polars as pl
        from deltalake import DeltaTable

        try:
            frame = pl.from_arrow(
                DeltaTable(self.lake.uri("silver/core_tenant")).to_pyarrow_table()
            )
            row = frame.filter(pl.col("id") == str(self.tenant))["settings"]
            now_seen = int(json.loads(row[0]).get("probe", 0)) if row.len() else 0
        except Exception:
            return self.seen
        for k in range(self.seen + 1, now_seen + 1):
            self.lags.append(time.monotonic() - self.committed[k])
        self.seen = max(self.seen, now_seen)
        return self.seen


class WalSampler:
    """Every 5 s: the WAL the replication slot retains (``pg_current_wal_lsn() - restart_lsn``)."""

    def __init__(self, dsn: str) -> None:
        self.dsn, self.samples, self.stop = dsn, [], threading.Event()

    def run(self) -> None:
        import psycopg

        with psycopg.connect(self.dsn, autocommit=True) as conn:
            while not self.stop.wait(5.0):
                row = conn.execute(
                    "select max(pg_current_wal_lsn() - restart_lsn) from pg_replication_slots"
                ).fetchone()
                if row and row[0] is not None:
                    self.samples.append((time.monotonic(), int(row[0]) / 2**20))


def _trend(points: list[tuple[float, float]]) -> float:
    """Least-squares slope of (seconds, value) points, per minute (0 for fewer than two)."""
    if len(points) < 2:
        return 0.0
    xs, ys = [t for t, _ in points], [v for _, v in points]
    mx, my = statistics.fmean(xs), statistics.fmean(ys)
    den = sum((x - mx) ** 2 for x in xs)
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / den * 60 if den else 0


BIG = "big"


class BigChurn:
    """``rate`` changes/s on ``big`` in transactions of 10: 70 % updates and 10 % deletes of
    keys whose distance from the newest key is exponential (mean 20,000: recent rows change
    more, as in ``bench_silver_apply``'s scaling batches), 20 % inserts above the newest key."""

    def __init__(self, dsn: str, rate: float, duration: float, top: int) -> None:
        self.dsn, self.rate, self.duration, self.top = dsn, rate, duration, top
        self.changes = 0

    def run(self) -> None:
        import random

        import psycopg

        rng, per_tx = random.Random(5), 10
        deleted: set[int] = set()
        with psycopg.connect(self.dsn, autocommit=True) as conn:
            start = time.monotonic()
            while (elapsed := time.monotonic() - start) < self.duration:
                ahead = self.changes / self.rate - elapsed
                if ahead > 0:
                    time.sleep(ahead)
                with conn.transaction():
                    for _ in range(per_tx):
                        u = rng.random()
                        if u < 0.2:
                            self.top += 1
                            conn.execute(
                                f"insert into {BIG} values (%s, 'new', 1.00, now(), 'n')",
                                (self.top,),
                            )
                            continue
                        key = max(1, self.top - int(rng.expovariate(1 / 20_000)))
                        if key in deleted:
                            continue
                        if u < 0.3:
                            deleted.add(key)
                            conn.execute(f"delete from {BIG} where id = %s", (key,))
                        else:
                            conn.execute(
                                f"update {BIG} set amount = amount + 1, at = now() where id = %s",
                                (key,),
                            )
                self.changes += per_tx


def _big_equal(lake, dsn: str) -> list[str]:
    """``big`` in silver against the source: row count and the sums of ``id`` and ``amount``."""
    import polars as pl
    import psycopg

    with psycopg.connect(dsn) as conn:
        want = conn.execute(f"select count(*), sum(id), sum(amount) from {BIG}").fetchone()
    frame = (
        pl.scan_delta(lake.uri(f"silver/{BIG}"))
        .select(pl.len(), pl.col("id").sum(), pl.col("amount").cast(pl.Float64).sum())
        .collect()
    )
    got = frame.row(0)
    if (got[0], got[1]) != (want[0], int(want[1])) or abs(got[2] - float(want[2])) > 0.01:
        return [f"{BIG}: source {want}, silver {got}"]
    return []


def _key_sets_equal(lake, dsn: str) -> list[str]:
    """Tables whose silver key set differs from the source's (empty: all equal)."""
    import polars as pl
    import psycopg

    from lakehouse import inprocess as h
    from lakehouse.engine.silver import read_silver

    bad = []
    with psycopg.connect(dsn) as conn:
        for spec in h.database_tables("saas"):
            if spec.name == BIG:  # 10M keys: compared by count and sums (_big_equal)
                continue
            src = {r[0] for r in conn.execute(f"select id::text from {spec.name}")}
            frame = read_silver(lake, spec)
            got = frame["id"].cast(pl.String).to_list() if frame.height else []
            if len(got) != len(set(got)) or set(got) != src:
                bad.append(
                    f"{spec.name}: source {len(src)}, silver {len(got)} ({len(set(got))} keys)"
                )
    return bad


def main() -> int:
    args = _parse()
    import psycopg

    from lakehouse import inprocess as h
    from lakehouse.source import embedded
    from lakehouse.source.churn import run_churn
    from lakehouse.source.seed import seed
    from lakehouse.storage import LocalLake

    with temp_dir("bench_soak_") as tmp:
        base = embedded.start(tmp / "pg")
        try:
            with psycopg.connect(embedded.with_database(base, "postgres"), autocommit=True) as c:
                c.execute("create database soak")
            dsn = embedded.with_database(base, "soak")
            t0 = time.perf_counter()
            counts = seed(dsn, "saas", args.scale)
            lake = LocalLake(tmp / "lake")
            if args.big_rows:  # captured by the saas task (its rules take public.%)
                create_big(dsn, args.big_rows, 1)  # bench_full_load's table
                counts[BIG] = args.big_rows
                os.environ.update(LAKEHOUSE_ROOT=str(lake.path), LAKEHOUSE_PROFILE="local")
            h.replicate(dsn, lake, "saas")
            if args.big_rows:  # the run that found it recorded it; this one loads it
                h.replicate(dsn, lake, "saas")
                assert BIG in {t.name for t in h.database_tables("saas")}, "big not captured"
            h.apply_all(lake, "saas")
            print(
                f"setup: saas {args.scale} ({sum(counts.values()):,} rows) seeded, full-loaded and "
                f"applied in {time.perf_counter() - t0:.0f}s"
            )
            env = h.subprocess_env(
                tmp / "pycache",
                LAKEHOUSE_ROOT=str(lake.path),
                LAKEHOUSE_SOURCE_DSN=dsn,
                LAKEHOUSE_DATASETS="saas",
                LAKEHOUSE_PROFILE="local",
            )
            replicator = subprocess.Popen(
                [sys.executable, "-m", "lakehouse", "-q", "replicate", "--follow", "--dataset", "saas"],
                env=env, stdout=subprocess.DEVNULL,
            )  # fmt: skip
            stop_file = tmp / "stop"
            applier = h.start_worker(
                "loop", lake.path, "saas", str(stop_file), pycache=tmp / "pycache"
            )
            applier.stdout.readline()  # ready
            rounds = []

            def read() -> None:
                for line in applier.stdout:
                    w = line.split()
                    if w and w[0] == "round":
                        rounds.append(
                            (time.monotonic(), float(w[2]), int(w[3]), int(w[4]), int(w[5]))
                        )

            threading.Thread(target=read, daemon=True).start()
            probe = Probe(dsn, lake)
            wal = WalSampler(dsn)
            threading.Thread(target=wal.run, daemon=True).start()
            stats = []
            churners = [
                threading.Thread(
                    target=lambda i=i: stats.append(
                        run_churn(dsn, "saas", rate=args.rate / args.churners,
                                  duration=args.duration, seed=1000 + i)
                    )
                )
                for i in range(args.churners)
            ]  # fmt: skip
            big = None
            if args.big_rows:
                big = BigChurn(dsn, args.big_rate, args.duration, args.big_rows)
                churners.append(threading.Thread(target=big.run))
            try:
                t_start = time.monotonic()
                for th in churners:
                    th.start()
                n = 0
                while any(th.is_alive() for th in churners):
                    n += 1
                    probe.commit(n)
                    until = time.monotonic() + 1.0
                    while time.monotonic() < until:
                        probe.poll()
                        time.sleep(0.25)
                for th in churners:
                    th.join()
                t_stop = time.monotonic()
                n += 1
                probe.commit(n)
                t_seen = caught_up = None
                while caught_up is None and time.monotonic() - t_stop < max(600, args.duration):
                    if probe.poll() == n and t_seen is None:
                        t_seen = time.monotonic()
                    if t_seen is not None:
                        idle = [r for r in rounds if r[0] - r[1] > t_seen and r[2] == r[3] == 0]
                        caught_up = idle[0][0] if idle else None
                    time.sleep(0.25)
            finally:
                wal.stop.set()
                stop_file.touch()
                replicator.send_signal(signal.SIGINT)
                for proc in (replicator, applier):
                    try:
                        proc.wait(timeout=120)
                    except subprocess.TimeoutExpired:
                        proc.kill()
            if caught_up is None:
                print("silver did not catch up after the churn stopped", file=sys.stderr)
                return 1
            bad = _key_sets_equal(lake, dsn) + (_big_equal(lake, dsn) if big else [])
            if bad:
                print("silver differs from the source: " + "; ".join(bad), file=sys.stderr)
                return 1
        finally:
            embedded.stop(tmp / "pg")

    committed = sum(s.changes for s in stats) + (big.changes if big else 0)
    churn_s, total_s = t_stop - t_start, caught_up - t_start
    source_rate, ours = committed / churn_s, committed / total_s
    under = [r for r in rounds if r[0] <= t_stop]
    rss = [r[4] / 1024 for r in under]
    slope = _trend([(r[0], r[4] / 1024) for r in under[len(under) // 2 :]])
    wal_under = [w for w in wal.samples if w[0] <= t_stop]
    wal_mib = [m for _, m in wal_under]
    wal_slope = _trend(wal_under[len(wal_under) // 2 :])
    print(
        f"churn: {committed:,} committed changes in {churn_s:.0f}s = {source_rate:.0f}/s "
        f"(target {args.rate:.0f}/s, {args.churners} connections; "
        f"{sum(s.rolled_back for s in stats)} rolled back, {sum(s.failed for s in stats)} failed)"
        + (
            f"; of them {big.changes:,} on {BIG} ({args.big_rows:,} rows at the start)"
            if big
            else ""
        )
    )
    print(
        f"applier: {len(rounds)} rounds ({len(under)} under churn), median "
        f"{statistics.median(r[1] for r in under) if under else 0:.1f}s, max "
        f"{max((r[1] for r in under), default=0):.1f}s; bronze {sum(r[2] for r in rounds):,} rows, "
        f"silver {sum(r[3] for r in rounds):,} changes"
    )
    print(
        f"lag commit→silver over {len(probe.lags)} probes: p50 {_pct(probe.lags, 50):.1f}s, "
        f"p95 {_pct(probe.lags, 95):.1f}s, max {max(probe.lags, default=0):.1f}s; caught up "
        f"{caught_up - t_stop:.1f}s after the churn stopped"
    )
    print(
        f"applier RSS MiB: first {rss[0] if rss else 0:.0f}, max {max(rss, default=0):.0f}, last "
        f"{rss[-1] if rss else 0:.0f}; second-half trend {slope:+.1f} MiB/min"
    )
    print(
        f"WAL retained by the slot MiB: max {max(wal_mib, default=0):.0f}, last "
        f"{wal_mib[-1] if wal_mib else 0:.0f} ({len(wal_mib)} samples); second-half trend "
        f"{wal_slope:+.1f} MiB/min"
    )
    p95 = _pct(probe.lags, 95)
    verdict = "OK" if probe.lags and p95 <= LAG_GOAL_S else "MISSED"
    print(f"RESULT soak lag: commit -> silver p95 {p95:.1f} s (goal p95 <= {LAG_GOAL_S:.0f} s)"
          f" {verdict}")  # fmt: skip
    print(
        f"RESULT soak memory and WAL: applier RSS trend {slope:+.1f} MiB/min, WAL retained max "
        f"{max(wal_mib, default=0):.0f} MiB, trend {wal_slope:+.1f} MiB/min (second half)"
    )
    print(
        result_line(
            "soak", ours, source_rate, unit="changes/s", baseline_name="source",
            goal=GOAL, note=f"[lag p95 {_pct(probe.lags, 95):.1f}s, RSS max {max(rss, default=0):.0f} MiB]",
        )
    )  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
