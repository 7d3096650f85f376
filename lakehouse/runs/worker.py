"""A run process started *before* its run: it imports Dagster, the code location and the data
stack while nothing waits for it, then reads one run from stdin and executes it exactly as
``dagster api execute_run`` would (the same CLI command, in this interpreter).

Contract (with ``runs.launcher.WarmRunLauncher``): stdin carries one line, the serialized
``ExecuteRunArgs`` of the run; an empty stdin (the launcher went away) ends the process without
running anything. If any source file of the ``lakehouse`` package changed after this process
started, the run is executed by a fresh interpreter instead (``os.execv``), so a warm process never
runs stale code.
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


def main() -> int:
    started = time.time()
    preload()
    line = sys.stdin.readline().strip()
    if not line:
        return 0
    if changed_since(started):
        os.execv(sys.executable, [sys.executable, "-m", "dagster", "api", "execute_run", line])
    from dagster._cli.api import api_cli

    api_cli.main(["execute_run", line], prog_name="dagster api")  # exits with the run's code
    return 0


if __name__ == "__main__":
    sys.exit(main())
