"""A run process started *before* its run, and kept for the runs after it: it imports Dagster, the
code location and the data stack while nothing waits for it, then executes runs read from stdin
exactly as ``dagster api execute_run`` would (the same CLI command, in this interpreter), one
after the other.

Contract (with ``runs.launcher.WarmRunLauncher``):

- stdin carries one line per run, the serialized ``ExecuteRunArgs``; an empty stdin (the
  launcher went away, or retires this process) ends the process without running anything;
- when it is ready for a run (imports done, or the previous run over) it writes one byte to the
  status file descriptor given as its argument; it writes none when it is about to end;
- it ends, instead of taking another run, after ``MAX_RUNS`` runs, when its resident memory is
  over ``MAX_RSS`` after a run, or when a run did not end in success or failure (canceled: a
  terminate's SIGTERM is for the process too);
- if any source file of the ``lakehouse`` package changed after this process started, the run
  is executed by a fresh interpreter instead (``os.execv``), so a warm process never runs stale
  code; each run loads the definitions anew (``forget_definitions``), as a new process would.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path


def _source_files() -> list[Path]:
    import lakehouse

    root = Path(lakehouse.__file__).parent
    return [p for p in root.rglob("*") if p.suffix in (".py", ".yaml", ".yml", ".sql")]


def changed_since(started: float) -> list[Path]:
    """Source files of the ``lakehouse`` package modified after ``started`` (epoch seconds)."""
    return [p for p in _source_files() if p.stat().st_mtime > started]


def preload() -> None:
    """Import what every run needs: Dagster's run command, the instance's storage (SQLAlchemy,
    alembic: opening the instance once), the definitions and the data stack."""
    import dagster._cli.api  # noqa: F401
    import deltalake  # noqa: F401
    import polars  # noqa: F401
    import pyarrow.dataset  # noqa: F401
    from dagster import DagsterInstance

    from lakehouse.definitions import build_definitions

    if os.environ.get("DAGSTER_HOME"):
        with DagsterInstance.get() as instance:
            instance.get_run_records(limit=1)
    build_definitions().resolve_implicit_global_asset_job_def()


#: runs a process executes before it ends (a fresh one takes over)
MAX_RUNS = 100
#: resident bytes after a run above which the process ends
MAX_RSS = 1536 * 2**20


def _rss() -> int:
    try:
        with open("/proc/self/statm") as fh:
            return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        import resource

        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # the peak, in KiB


def forget_definitions() -> None:
    """Dagster keeps the last job it reconstructed in each process (``lru_cache``): a run loads
    the definitions as a fresh process would (a declaration edited since the last run counts)."""
    from dagster._core.definitions.reconstruct import ReconstructableJob

    ReconstructableJob.get_definition.cache_clear()
    ReconstructableJob.get_repository_definition.cache_clear()


def _execute(line: str) -> None:
    from dagster._cli.api import api_cli

    forget_definitions()
    try:
        api_cli.main(["execute_run", line], prog_name="dagster api", standalone_mode=False)
    except SystemExit:
        pass  # a failed run: it is in the run's events


class _Runs:
    """The instance the runs are in (opened on the first run), to read how a run ended."""

    def __init__(self) -> None:
        self._instance = None

    def ended_plainly(self, line: str) -> bool:
        from dagster import DagsterInstance, DagsterRunStatus
        from dagster._grpc.types import ExecuteRunArgs
        from dagster._serdes import deserialize_value

        args = deserialize_value(line, ExecuteRunArgs)
        if self._instance is None:
            self._instance = DagsterInstance.from_ref(args.instance_ref)
        run = self._instance.get_run_by_id(args.run_id)
        return run is not None and run.status in (
            DagsterRunStatus.SUCCESS,
            DagsterRunStatus.FAILURE,
        )


def main(argv: list[str]) -> int:
    started = time.time()
    status = int(argv[1]) if len(argv) > 1 else None
    preload()
    runs, served = _Runs(), 0
    try:
        while True:
            if status is not None:
                os.write(status, b"r")
            line = sys.stdin.readline().strip()
            if not line:
                return 0
            if changed_since(started):
                os.execv(
                    sys.executable, [sys.executable, "-m", "dagster", "api", "execute_run", line]
                )
            _execute(line)
            served += 1
            if served >= MAX_RUNS or _rss() > MAX_RSS or not runs.ended_plainly(line):
                return 0
    except KeyboardInterrupt:  # SIGTERM while waiting (Dagster's run command leaves it so)
        return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
