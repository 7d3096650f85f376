"""The persistent Dagster instance of a lakehouse process (``DAGSTER_HOME`` and its dagster.yaml).

- ``dagster_home(settings)``: ``DAGSTER_HOME`` (default ``<state dir>/dagster``), created, with
  the project's ``dagster.yaml`` written when missing or when an older lakehouse wrote it (a
  user's own file is never touched); it also sets ``DAGSTER_HOME`` for this process.
- ``open_instance(settings)``: ``DagsterInstance.get()`` on that home.
"""

from __future__ import annotations

import os

from lakehouse.profiles import Settings

DAGSTER_YAML = """\
# written by lakehouse: one run at a time merges into a table (pools bronze_<t>, silver_<t>, …),
# different tables run in parallel; queued runs start within a second and sensors are evaluated
# in parallel threads (freshness: every hop between a commit and silver is a sensor tick or a
# queued run). Runs start in a process that imported the stack beforehand (lakehouse.runs.launcher).
run_coordinator:
  module: dagster.core.run_coordinator
  class: QueuedRunCoordinator
  config:
    dequeue_interval_seconds: 1
run_launcher:
  module: lakehouse.runs.launcher
  class: WarmRunLauncher
concurrency:
  pools:
    default_limit: 1
sensors:
  use_threads: true
  num_workers: 4
telemetry:
  enabled: false
"""
_OURS = "# written by lakehouse"


def _ours_but_outdated(cfg: str) -> bool:
    """A dagster.yaml an older lakehouse wrote (a user's own file is never touched)."""
    with open(cfg) as fh:
        text = fh.read()
    return text.startswith(_OURS) and text != DAGSTER_YAML


def dagster_home(s: Settings) -> str:
    """DAGSTER_HOME (default ``<state>/dagster``) with the project's dagster.yaml in it."""
    home = os.environ.get("DAGSTER_HOME") or str(s.state_dir / "dagster")
    os.makedirs(home, exist_ok=True)
    cfg = os.path.join(home, "dagster.yaml")
    if not os.path.exists(cfg) or _ours_but_outdated(cfg):
        with open(cfg, "w") as fh:
            fh.write(DAGSTER_YAML)
    os.environ["DAGSTER_HOME"] = home
    return home


def open_instance(s: Settings):
    """The persistent Dagster instance at ``dagster_home(s)``."""
    from dagster import DagsterInstance

    dagster_home(s)
    return DagsterInstance.get()
