"""A bounded load: the saas dataset churned at a fixed rate while the replicator follows (the real
``lakehouse replicate --follow`` process) and one long-lived process applies bronze and silver in
rounds. Asserted: the lag stays bounded (a probe committed every second is visible in silver
within a generous bound; after the churn stops silver catches up within a few rounds and then
equals the source exactly) and the applying process's memory stays flat (its RSS, read from
/proc, does not grow across rounds). The measured rates are printed.

CI size: ``LAKEHOUSE_LOAD_RATE`` changes/s (default 200) for ``LAKEHOUSE_LOAD_SECONDS`` (default
30) on the small scale. The issue's full size (1,000 changes/s for minutes at medium) is
``bench/bench_soak.py``.
"""

from __future__ import annotations

import json
import os
import signal
import statistics
import subprocess
import sys
import threading
import time

import polars as pl
import psycopg
import pytest
from deltalake import DeltaTable

from lakehouse.source.churn import run_churn
from lakehouse.source.seed import seed
from lakehouse.storage import LocalLake
from lakehouse_tests.reliability import helpers as h

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.xdist_group("reliability")]

RATE = float(os.environ.get("LAKEHOUSE_LOAD_RATE", "200"))
SECONDS = float(os.environ.get("LAKEHOUSE_LOAD_SECONDS", "30"))
#: generous bounds: the machines are shared and noisy; these catch a stall, not a slowdown
MAX_LAG_S = 90.0
CATCH_UP_ROUNDS = 6
#: RSS of the applying process: the late rounds may not exceed the early ones by more than this.
#: A one-off step of ~100 MiB (allocator/arrow pools growing with a bigger batch) is seen at a
#: random round in healthy runs; a leak of 8 MiB per round gives ~+200 MiB over a run and fails.
RSS_GROWTH_MIB = 150


class Soak:
    """The moving parts of a soak run: replicator process, applier process, probe, churn."""

    def __init__(self, dsn: str, lake: LocalLake, tmp, pycache=None) -> None:
        self.dsn, self.lake, self.tmp, self.pycache = dsn, lake, tmp, pycache
        self.rounds: list[tuple[float, int, float, int, int, int]] = []  # t, n, s, rows, chg, rss
        self.lags: list[float] = []
        self.probes: dict[int, float] = {}
        self.stop_file = tmp / "stop"
        with psycopg.connect(dsn) as conn:
            (self.tenant,) = conn.execute("select min(id::text)::uuid from core_tenant").fetchone()

    def start(self) -> None:
        env = h.subprocess_env(
            self.pycache,
            LAKEHOUSE_ROOT=str(self.lake.path),
            LAKEHOUSE_SOURCE_DSN=self.dsn,
            LAKEHOUSE_DATASETS="saas",
            LAKEHOUSE_PROFILE="local",
        )
        self.replicator = subprocess.Popen(
            [sys.executable, "-m", "lakehouse", "-q", "replicate", "--follow", "--dataset", "saas"],
            env=env, stdout=subprocess.DEVNULL, stderr=open(self.tmp / "replicator.log", "w"),
        )  # fmt: skip
        self.applier = h.start_worker(
            "loop", self.lake.path, "saas", str(self.stop_file), pycache=self.pycache
        )
        assert self.applier.stdout.readline().startswith("ready")
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        for line in self.applier.stdout:
            w = line.split()
            if w and w[0] == "round":
                self.rounds.append(
                    (time.monotonic(), int(w[1]), float(w[2]), int(w[3]), int(w[4]), int(w[5]))
                )

    def probe(self, n: int) -> None:
        """Commit probe ``n`` at the source (core_tenant: the churn never touches it)."""
        with psycopg.connect(self.dsn) as conn:
            conn.execute(
                "update core_tenant set settings = settings || jsonb_build_object('probe', %s::int),"
                " updated_at = now() where id = %s",
                (n, self.tenant),
            )
        self.probes[n] = time.monotonic()

    def visible_probe(self) -> int:
        """The newest probe silver shows (0 before the first)."""
        try:
            frame = pl.from_arrow(
                DeltaTable(self.lake.uri("silver/core_tenant")).to_pyarrow_table()
            )
        except Exception:
            return 0
        row = frame.filter(pl.col("id") == str(self.tenant))["settings"]
        return int(json.loads(row[0]).get("probe", 0)) if row.len() else 0

    def stop(self) -> None:
        self.stop_file.touch()
        for proc, sig in ((self.replicator, signal.SIGINT), (self.applier, None)):
            if proc.poll() is None and sig:
                proc.send_signal(sig)
        for proc in (self.replicator, self.applier):
            try:
                proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def _pct(values: list[float], p: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))] if values else 0.0


def test_bounded_load_keeps_up_with_flat_memory(fresh_db, tmp_path, tmp_path_factory):
    seed(fresh_db, "saas", "small")
    lake = LocalLake(tmp_path / "lake")
    h.replicate(fresh_db, lake)
    h.apply_all(lake)  # the baseline: every round of the applier is incremental
    soak = Soak(fresh_db, lake, tmp_path, tmp_path_factory.getbasetemp() / "pycache")
    soak.start()
    churn_stats = {}
    try:
        churn = threading.Thread(
            target=lambda: churn_stats.update(
                stats=run_churn(fresh_db, "saas", rate=RATE, duration=SECONDS, seed=77)
            )
        )
        t0 = time.monotonic()
        churn.start()
        n, seen = 0, 0
        while churn.is_alive():
            n += 1
            soak.probe(n)
            deadline = time.monotonic() + 1.0
            while time.monotonic() < deadline:
                now_seen = soak.visible_probe()
                for k in range(seen + 1, now_seen + 1):
                    soak.lags.append(time.monotonic() - soak.probes[k])
                seen = max(seen, now_seen)
                time.sleep(0.25)
        churn.join()
        churn_s = time.monotonic() - t0
        stop_round = soak.rounds[-1][1] if soak.rounds else 0
        # after the churn: a last probe; caught up = it is visible and a later round was idle
        n += 1
        soak.probe(n)
        t_stop = time.monotonic()
        caught_up = t_seen = None
        while time.monotonic() - t_stop < 300 and caught_up is None:
            now_seen = soak.visible_probe()
            for k in range(seen + 1, now_seen + 1):
                soak.lags.append(time.monotonic() - soak.probes[k])
            seen = max(seen, now_seen)
            if seen == n and t_seen is None:
                t_seen = time.monotonic()
            if t_seen is not None:  # a whole round after that found nothing new
                idle = [r for r in soak.rounds if r[0] - r[2] > t_seen and r[3] == r[4] == 0]
                caught_up = idle[0] if idle else None
            time.sleep(0.25)
        assert soak.replicator.poll() is None and soak.applier.poll() is None, "a process died"
    finally:
        soak.stop()
    stats = churn_stats["stats"]
    rounds = soak.rounds
    apply_s = sum(r[2] for r in rounds)
    rows, changes = sum(r[3] for r in rounds), sum(r[4] for r in rounds)
    # memory: the rounds under churn, the first one aside (it warms the caches up)
    rss = [r[5] / 1024 for r in rounds if r[0] <= t_stop]
    third = max(1, len(rss) // 3)
    early, late = max(rss[1 : 1 + third], default=0), max(rss[-third:], default=0)
    lag = f"p50 {_pct(soak.lags, 50):.1f}s p95 {_pct(soak.lags, 95):.1f}s"
    after = (
        f"{caught_up[1] - stop_round} rounds, {caught_up[0] - t_stop:.1f}s" if caught_up else "NOT"
    )
    print(
        f"\nload: churn {stats.changes:,} committed changes in {churn_s:.0f}s = "
        f"{stats.changes / churn_s:.0f}/s (target {RATE:.0f}/s; {stats.transactions} transactions, "
        f"{stats.rolled_back} rolled back, {stats.failed} failed)\n"
        f"  applier: {len(rounds)} rounds, bronze {rows:,} rows, silver {changes:,} changes, "
        f"{rows / apply_s if apply_s else 0:.0f} rows/s of apply time; round median "
        f"{statistics.median(r[2] for r in rounds) if rounds else 0:.2f}s, max "
        f"{max((r[2] for r in rounds), default=0):.2f}s\n"
        f"  lag commit→silver over {len(soak.lags)} probes: {lag} max {max(soak.lags, default=0):.1f}s"
        f"; caught up {after} after the churn stopped\n"
        f"  applier RSS MiB over {len(rss)} rounds under churn: first {rss[0] if rss else 0:.0f}, "
        f"early max {early:.0f}, late max {late:.0f} ({' '.join(f'{x:.0f}' for x in rss)})"
    )
    assert stats.changes >= RATE * SECONDS * 0.3, "the churn did not produce the load"
    assert len(rss) >= 6, f"too few apply rounds to judge: {len(rss)}"
    assert caught_up is not None, "silver did not catch up after the churn stopped"
    assert caught_up[1] - stop_round <= CATCH_UP_ROUNDS, (caught_up, stop_round)
    assert len(soak.lags) >= SECONDS * 0.5 and max(soak.lags) <= MAX_LAG_S, soak.lags
    assert late <= early + RSS_GROWTH_MIB, f"the applier's memory grows: {[round(x) for x in rss]}"
    h.assert_silver_equals_source(lake, fresh_db)
