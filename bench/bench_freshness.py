"""Freshness: commit in PostgreSQL → visible in silver, per change, under a steady churn workload.

Setup (temp dir, removed at the end): an embedded PostgreSQL 18 with the ``saas`` dataset seeded
at ``--scale`` (small), churned at ``--rate`` changes/s (``lakehouse.source.churn``) for the
whole measurement. Every ``--every`` seconds a *probe* commits one new ``core_customer`` row with
a unique e-mail (``probe-<n>@freshness.bench``) and the wall time of its commit; a poller reads
``silver/core_customer`` once a second and records when each probe first appears. A probe's
freshness = appearance − commit.

Two ways to keep silver fresh are measured in the same run, one after the other, each with its own
lake and replication slot:

- **ours** — the platform as ``make dev`` runs it: ``lakehouse dev`` (dagster dev: webserver +
  daemon), the ``saas_dms_files`` sensor replicates in its tick and requests a bronze + silver
  run for the tables that got files, the automation sensor moves gold; runs start in the warm
  processes of ``lakehouse.runs.launcher``. After it stops, a breakdown of its runs is printed
  (``_run_breakdown.py``: queue, launch, run, per-event time).
- **baseline (engine loop)** — the same engine calls in one process, in a tight loop: replicator
  catch-up, bronze ingest of every table, silver apply of ``core_customer``. This is the floor the
  engine itself sets; the ratio says how much of it the orchestration keeps.

``RESULT freshness: p95 <ours> s vs engine loop p95 <base> s = <base/ours> (goal p95 <= 8 s) OK|MISSED``
plus p50/p95/max for both. The goal is on ours' p95: ≤ 8 s at 20 changes/s locally, ≤ 12 s at
200 changes/s and more (it was 30 s until 2026-12-05; AWS DMS alone flushes its CDC files every
60 s). This benchmark takes several minutes (dagster dev starts, full-loads, then the probes run
for ``--duration`` seconds). Afterwards, with the churn
stopped, the CPU ``lakehouse dev`` uses while idle is printed (``--idle`` seconds): the price of
its sensor ticks.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import temp_dir  # noqa: E402
from _run_breakdown import breakdown, event_gaps  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
PROBE = "probe-{n}@freshness.bench"


def _parse() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--scale", default="small")
    p.add_argument("--rate", type=float, default=20.0, help="background churn, changes/s")
    p.add_argument("--every", type=float, default=4.0, help="seconds between probes")
    p.add_argument("--duration", type=float, default=150.0, help="seconds of probes per mode")
    p.add_argument("--goal", type=float, default=None,
                   help="p95 goal, seconds (default: 8, or 12 at 200 changes/s and more)")  # fmt: skip
    p.add_argument("--skip-baseline", action="store_true")
    p.add_argument("--idle", type=float, default=60.0,
                   help="seconds of idle CPU measured after the probes (0: none)")  # fmt: skip
    args = p.parse_args()
    if args.goal is None:
        args.goal = 12.0 if args.rate >= 200 else 8.0
    return args


class Probes:
    """Commits probe rows and records when each one becomes visible in silver."""

    def __init__(self, dsn: str, silver_uri: str) -> None:
        self.dsn, self.silver_uri = dsn, silver_uri
        self.committed: dict[str, float] = {}
        self.seen: dict[str, float] = {}
        self._n = 0

    def commit_one(self, tenant_id) -> None:
        import psycopg

        email = PROBE.format(n=f"{os.getpid()}-{self._n}-{time.time_ns()}")
        self._n += 1
        with psycopg.connect(self.dsn, autocommit=True) as conn:
            conn.execute(
                "insert into core_customer (tenant_id, email, first_name, last_name, is_active)"
                " values (%s, %s, 'Probe', 'Freshness', true)",
                (tenant_id, email),
            )
            self.committed[email] = time.time()

    def poll(self) -> None:
        from deltalake import DeltaTable

        try:
            emails = DeltaTable(self.silver_uri).to_pyarrow_table(columns=["email"])["email"]
        except Exception:  # noqa: BLE001 (the table does not exist yet / is being committed)
            return
        now = time.time()
        for email in emails.to_pylist():  # only this mode's probes: the source keeps the others'
            if email in self.committed and email not in self.seen:
                self.seen[email] = now

    def latencies(self) -> tuple[list[float], int]:
        lat = [self.seen[e] - t for e, t in self.committed.items() if e in self.seen]
        return sorted(lat), len(self.committed) - len(lat)


def _pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    return (
        statistics.quantiles(values, n=100, method="inclusive")[q - 1]
        if len(values) > 1
        else values[0]
    )


def _measure(probes: Probes, dsn: str, args, label: str) -> dict:
    import psycopg

    from lakehouse.source.churn import run_churn

    with psycopg.connect(dsn) as conn:
        tenant = conn.execute("select id from core_tenant order by name limit 1").fetchone()[0]
    churn = threading.Thread(
        target=lambda: run_churn(dsn, "saas", rate=args.rate, duration=args.duration, seed=7),
        daemon=True,
    )
    churn.start()
    end = time.time() + args.duration
    next_probe = time.time()
    while time.time() < end:
        if time.time() >= next_probe:
            probes.commit_one(tenant)
            next_probe += args.every
        probes.poll()
        time.sleep(1.0)
    # let the last probes arrive (bounded)
    drain = time.time() + 120
    while time.time() < drain and len(probes.seen) < len(probes.committed):
        probes.poll()
        time.sleep(1.0)
    churn.join()
    lat, missing = probes.latencies()
    out = {
        "p50": _pct(lat, 50),
        "p95": _pct(lat, 95),
        "max": max(lat, default=float("nan")),
        "n": len(lat),
        "missing": missing,
    }
    print(f"{label}: {out['n']} probes, p50 {out['p50']:.1f}s p95 {out['p95']:.1f}s "
          f"max {out['max']:.1f}s, not seen {missing}", flush=True)  # fmt: skip
    return out


def _engine_loop(dsn: str, lake_root: Path, stop: threading.Event) -> None:
    from dataclasses import replace

    from lakehouse.declarations import load_dataset
    from lakehouse.declarations.dms import settings_for
    from lakehouse.engine import bronze, silver
    from lakehouse.replication.replicator import Replicator
    from lakehouse.replication.task import dataset_task
    from lakehouse.storage import LocalLake

    lake = LocalLake(lake_root)
    spec = load_dataset("saas")
    task = replace(dataset_task("saas", dsn), name="bench_engine_loop")
    settings = settings_for("saas")
    customer = next(t for t in spec.tables if t.name == "core_customer")
    while not stop.is_set():
        Replicator(task, lake).run(follow=False)
        for t in spec.tables:
            bronze.ingest(lake, t, settings)
        silver.apply_changes(lake, customer)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _baseline(dsn: str, root: Path, args) -> dict:
    stop = threading.Event()
    worker = threading.Thread(
        target=_engine_loop, args=(dsn, root / "engine-lake", stop), daemon=True
    )
    worker.start()
    probes = Probes(dsn, str(root / "engine-lake" / "silver" / "core_customer"))
    _wait_for_table(probes, worker.is_alive, "the engine loop's first silver/core_customer")
    out = _measure(probes, dsn, args, "engine loop")
    stop.set()
    worker.join(timeout=300)
    return out


def _wait_for_table(probes: Probes, alive, what: str, timeout: float = 900) -> None:
    from deltalake import DeltaTable

    deadline = time.time() + timeout
    while time.time() < deadline:
        if not alive():
            raise SystemExit(f"error: stopped before {what}")
        try:
            DeltaTable(probes.silver_uri)
            return
        except Exception:  # noqa: BLE001 (not there yet)
            time.sleep(2)
    raise SystemExit(f"error: timed out waiting for {what}")


def _dagster(dsn: str, root: Path, args) -> dict:
    env = {**os.environ, "LAKEHOUSE_ROOT": str(root / "dagster-lake"), "LAKEHOUSE_SOURCE_DSN": dsn,
           "LAKEHOUSE_DATASETS": "saas", "DAGSTER_HOME": str(root / "dagster-home")}  # fmt: skip
    log = open(root / "dagster-dev.log", "w")  # noqa: SIM115 (closed below)
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "lakehouse", "dev", "--port", str(port),
         "--workspace", str(REPO / "workspace.yaml")],
        cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )  # fmt: skip
    try:
        probes = Probes(dsn, str(root / "dagster-lake" / "silver" / "core_customer"))
        t0 = time.time()
        _wait_for_table(
            probes, lambda: proc.poll() is None, "dagster dev's first silver/core_customer"
        )
        print(f"dagster dev: first silver/core_customer after {time.time() - t0:.0f}s", flush=True)
        out = _measure(probes, dsn, args, "dagster dev")
        if args.idle > 0:
            _idle_cpu(proc.pid, args.idle)
        return out
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=90)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()
        for line in breakdown(str(root / "dagster-home")):
            print(f"runs: {line}", flush=True)
        print(f"runs: {event_gaps(str(root / 'dagster-home'), 'raw_files')}", flush=True)
        kept = Path(tempfile.gettempdir()) / "bench_freshness_dagster_dev.log"
        shutil.copyfile(root / "dagster-dev.log", kept)
        print(f"dagster dev's log: {kept}", flush=True)


def _idle_cpu(pid: int, seconds: float) -> None:
    """Print the CPU ``lakehouse dev`` (its whole process tree) uses with no change to move: the
    cost of its sensor ticks (``LAKEHOUSE_TICK_SECONDS``), in % of one core."""
    import psutil

    def used() -> float:
        total = 0.0
        root = psutil.Process(pid)
        for p in [root, *root.children(recursive=True)]:
            try:
                t = p.cpu_times()
                total += t.user + t.system
            except psutil.NoSuchProcess:
                pass
        return total

    time.sleep(10)  # the last runs end
    before, t0 = used(), time.monotonic()
    time.sleep(seconds)
    share = (used() - before) / (time.monotonic() - t0) * 100
    from lakehouse.profiles import Settings

    tick = Settings.from_env().tick_seconds
    print(f"dagster dev idle: {share:.0f}% of one core over {seconds:.0f}s (tick {tick} s)",
          flush=True)  # fmt: skip


def main() -> int:
    args = _parse()
    from lakehouse.source import embedded
    from lakehouse.source.seed import seed

    with temp_dir("bench-freshness-") as root:
        pgdata = root / "pgdata"
        dsn = embedded.with_database(embedded.start(pgdata, databases=("saas",)), "saas")
        try:
            seed(dsn, "saas", args.scale)
            base = None if args.skip_baseline else _baseline(dsn, root, args)
            ours = _dagster(dsn, root, args)
        finally:
            embedded.stop(pgdata)
    if ours["missing"] or (base and base["missing"]):
        print("note: some probes were not seen within the drain time (counted as missing)")
    verdict = "OK" if ours["p95"] <= args.goal else "MISSED"
    base_p95 = base["p95"] if base else float("nan")
    ratio = base_p95 / ours["p95"] if base else float("nan")
    print(
        f"RESULT freshness: p95 {ours['p95']:.1f} s (p50 {ours['p50']:.1f} s, max {ours['max']:.1f} s, "
        f"{ours['n']} probes) vs engine loop p95 {base_p95:.1f} s = {ratio:.2f} "
        f"(goal p95 <= {args.goal:.0f} s) {verdict}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
