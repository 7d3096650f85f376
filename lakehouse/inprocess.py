"""The pipeline without Dagster: one replication run, bronze then silver for every database table
in-process, and a worker process running it that a test or a benchmark can SIGKILL or let loop.

Shared by the reliability suite (``lakehouse_tests/reliability``) and the soak benchmark
(``bench/bench_soak.py``), which must not import the test package.

Run as a module it is the worker process (``python -m lakehouse.inprocess``):

    apply <lake> <dataset>          bronze then silver for every database table, once
    loop <lake> <dataset> <stop>    apply in rounds until the file <stop> exists

It prints one line per step, flushed, so the parent knows where it is when it kills it:
``ready <rss_kib>``, ``start <phase> <table>``, ``done <phase> <table> <seconds> <n>``
(n: rows appended to bronze, or changes applied to silver) and in loop mode
``round <n> <seconds> <bronze_rows> <silver_changes> <rss_kib>``.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

#: the checkout this package is in, first on a worker's path (not resolved: a symlinked checkout
#: runs its own code)
REPO = Path(__file__).absolute().parents[1]


def replicate(dsn: str, lake, dataset: str):
    """One replication run (full load the first time, then CDC until caught up)."""
    from lakehouse.replication.replicator import Replicator
    from lakehouse.replication.task import dataset_task

    return Replicator(dataset_task(dataset, dsn), lake).run()


def database_tables(dataset: str):
    from lakehouse.declarations import load_dataset

    return list(load_dataset(dataset).database_tables)


def apply_all(lake, dataset: str, *, on_step=None, tables=None) -> tuple[int, int]:
    """Bronze then silver for every database table (or those named in ``tables``), in-process;
    (bronze rows, silver changes). ``on_step(phase, table, event, seconds, n)`` is called at
    each step's start and end."""
    from lakehouse.declarations.dms import settings_for
    from lakehouse.engine.bronze import ingest
    from lakehouse.engine.silver import apply_changes

    settings = settings_for(dataset)
    rows = changes = 0
    specs = [s for s in database_tables(dataset) if tables is None or s.name in tables]
    for phase in ("bronze", "silver"):
        for spec in specs:
            if on_step:
                on_step(phase, spec.name, "start", 0.0, 0)
            t0 = time.perf_counter()
            if phase == "bronze":
                n = ingest(lake, spec, settings).rows
                rows += n
            else:
                n = apply_changes(lake, spec).changes
                changes += n
            if on_step:
                on_step(phase, spec.name, "done", time.perf_counter() - t0, n)
    return rows, changes


def rss_kib(pid: int | str = "self") -> int:
    """Resident set size of a process in KiB, from /proc/<pid>/status (VmRSS)."""
    with open(f"/proc/{pid}/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError(f"no VmRSS in /proc/{pid}/status")


def subprocess_env(pycache: Path | str | None = None, **extra: str) -> dict[str, str]:
    """The environment of a child Python: this checkout first on the path; with ``pycache``,
    bytecode is cached in that folder (``PYTHONPYCACHEPREFIX``) even where the environment
    forbids writing it (``PYTHONDONTWRITEBYTECODE``), so the children after the first import
    pandas, pandera and polars in ~2 s instead of compiling them again (~6 s)."""
    env = {**os.environ, "PYTHONPATH": str(REPO), "PYTHONUNBUFFERED": "1", **extra}
    if pycache is not None:
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        env["PYTHONPYCACHEPREFIX"] = str(pycache)
    return env


def start_worker(mode: str, lake_root: Path | str, dataset: str, *extra: str, pycache=None):
    """The worker (``apply`` or ``loop``) as a subprocess with line-buffered stdout."""
    cmd = [
        sys.executable,
        "-m",
        "lakehouse.inprocess",
        mode,
        str(lake_root),
        dataset,
        *extra,
    ]
    return subprocess.Popen(
        cmd, env=subprocess_env(pycache), cwd=REPO, stdout=subprocess.PIPE, text=True, bufsize=1
    )


def _worker_main(argv: list[str]) -> int:
    import warnings

    warnings.filterwarnings("ignore")
    from lakehouse.storage import LocalLake

    mode, lake_root, dataset = argv[:3]
    lake = LocalLake(lake_root)
    database_tables(dataset)  # imports and registry loaded before "ready"
    import lakehouse.engine.bronze  # noqa: F401
    import lakehouse.engine.silver  # noqa: F401
    import lakehouse.quality.validate  # noqa: F401

    def say(*parts) -> None:
        print(*parts, flush=True)

    def step(phase, table, event, seconds, n):
        say(event, phase, table, *((f"{seconds:.4f}", n) if event == "done" else ()))

    say("ready", rss_kib())
    if mode == "apply":
        apply_all(lake, dataset, on_step=step)
        return 0
    stop = Path(argv[3])
    n = 0
    while not stop.exists():
        n += 1
        t0 = time.perf_counter()
        rows, changes = apply_all(lake, dataset)
        say("round", n, f"{time.perf_counter() - t0:.4f}", rows, changes, rss_kib())
        if rows == 0 and changes == 0:
            time.sleep(0.2)  # idle: poll again shortly
    return 0


if __name__ == "__main__":
    sys.exit(_worker_main(sys.argv[1:]))
