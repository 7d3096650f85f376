"""The ``dagster.yaml`` of the Dagster instance lakehouse runs on, and its merge into a user's own.

What lakehouse needs of the instance (``ours()``): a storage that writes a run's events without
an fsync each (``runs.storage``; a user's own ``storage:`` or per-part storages are kept); one
run at a time merges into a table (pools ``bronze_<t>``, ``silver_<t>``, … with a default limit
of 1), different tables run in parallel;
queued runs start within a second; sensors are evaluated in parallel threads (freshness: every
hop between a commit and silver is a sensor tick or a queued run); runs start in a process that
imported the stack beforehand (``runs.launcher.WarmRunLauncher``, or Dagster's
``DefaultRunLauncher`` when ``runs.compat`` finds this Dagster lacks an internal it uses); and
``run_monitoring``: the run of a worker that died is marked failed within ``poll_interval``
(the launcher's health check), a run stuck starting or canceling within the timeouts.

``write(home)``:

- no ``dagster.yaml``, or one lakehouse wrote (its first line is ``HEADER``): ours is written;
- a user's own: merged. Their keys are kept, ours are added where theirs has none (nested
  mappings key by key; a ``module``/``class`` entry such as ``run_launcher`` whole, never
  mixed, and ``storage:`` whole, none added beside per-part storages); every key of theirs
  that differs from ours is logged as kept, every key added is logged. The file is rewritten
  only when something is added, after a copy of it is saved as ``dagster.yaml.orig`` (the
  first time; comments are in the copy, not in the merged file).
"""

from __future__ import annotations

import logging
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import yaml

log = logging.getLogger("lakehouse.runs")

HEADER = "# written by lakehouse"
MERGED_HEADER = "# merged by lakehouse into your dagster.yaml"

#: seconds: how often the monitoring daemon checks in-progress runs' processes
MONITOR_POLL_S = 15
#: seconds a run may stay STARTING (its process never started) or CANCELING
START_TIMEOUT_S = 180
CANCEL_TIMEOUT_S = 180

_COMMENT = f"""\
{HEADER}: the storage is Dagster's SQLite files, written without an fsync per event
# (lakehouse.runs.storage); one run at a time merges into a table (pools bronze_<t>, silver_<t>, …),
# different tables run in parallel; queued runs start within a second and sensors are evaluated
# in parallel threads (freshness: every hop between a commit and silver is a sensor tick or a
# queued run). Runs start in a process that imported the stack beforehand (lakehouse.runs.launcher);
# run_monitoring fails the run of a dead run process within {MONITOR_POLL_S} s.
"""


def launcher_entry() -> dict:
    """``run_launcher:`` the warm launcher, or Dagster's default when this Dagster lacks an
    internal the warm one uses (a warning says which)."""
    from lakehouse.runs import compat

    found = compat.problems()
    if not found:
        return {"module": "lakehouse.runs.launcher", "class": "WarmRunLauncher"}
    log.warning(
        "dagster.yaml: Dagster's DefaultRunLauncher instead of lakehouse's WarmRunLauncher "
        "(this Dagster lacks: %s)",
        "; ".join(found),
    )
    return {"module": "dagster.core.launcher", "class": "DefaultRunLauncher"}


#: Dagster refuses ``storage:`` beside any of these (the per-part storages of older files)
_PER_PART_STORAGE = ("run_storage", "event_log_storage", "schedule_storage")


def storage_entry(home: str | os.PathLike | None) -> dict:
    """``storage:`` ``runs.storage.SqliteStorage`` in ``home`` (``DAGSTER_HOME`` when None), or
    none (Dagster's own) when this Dagster lacks an internal ``runs.storage`` uses (a warning
    says which)."""
    from lakehouse.runs import compat

    found = compat.storage_problems()
    if not found:
        base = str(home) if home is not None else {"env": "DAGSTER_HOME"}
        return {
            "storage": {
                "custom": {
                    "module": "lakehouse.runs.storage",
                    "class": "SqliteStorage",
                    "config": {"base_dir": base},
                }
            }
        }
    log.warning(
        "dagster.yaml: Dagster's own SQLite storage instead of lakehouse's (this Dagster lacks: %s)",
        "; ".join(found),
    )
    return {}


def ours(home: str | os.PathLike | None = None) -> dict:
    """lakehouse's dagster.yaml for the instance at ``home``."""
    return {
        **storage_entry(home),
        "run_coordinator": {
            "module": "dagster.core.run_coordinator",
            "class": "QueuedRunCoordinator",
            "config": {"dequeue_interval_seconds": 1},
        },
        "run_launcher": launcher_entry(),
        "run_monitoring": {
            "enabled": True,
            "poll_interval_seconds": MONITOR_POLL_S,
            "start_timeout_seconds": START_TIMEOUT_S,
            "cancel_timeout_seconds": CANCEL_TIMEOUT_S,
            "max_resume_run_attempts": 0,  # the warm launcher does not resume runs
        },
        "concurrency": {"pools": {"default_limit": 1}},
        "sensors": {"use_threads": True, "num_workers": 4},
        "telemetry": {"enabled": False},
    }


def render(config: dict, header: str = _COMMENT) -> str:
    return header + yaml.safe_dump(config, sort_keys=False, default_flow_style=False)


@dataclass
class Merge:
    config: dict
    kept: list[str] = field(default_factory=list)  # "path: theirs (lakehouse's: ours)"
    added: list[str] = field(default_factory=list)  # paths


def _atomic(value) -> bool:
    """A configurable-class entry (``module``/``class``): theirs or ours whole, never mixed."""
    return isinstance(value, dict) and ("module" in value or "class" in value)


def merge(theirs: dict, mine: dict, path: str = "") -> Merge:
    """``theirs`` with ``mine``'s keys added where ``theirs`` has none (see the module doc)."""
    out = Merge(dict(theirs))
    for key, value in mine.items():
        where = f"{path}{key}"
        if where == "storage" and any(k in theirs for k in _PER_PART_STORAGE):
            parts = ", ".join(k for k in _PER_PART_STORAGE if k in theirs)
            out.kept.append(f"{parts} (lakehouse's: storage: {value!r})")
            continue
        if key not in theirs:
            out.config[key] = value
            out.added.append(where)
            continue
        have = theirs[key]
        if (
            isinstance(have, dict)
            and isinstance(value, dict)
            and where != "storage"  # one of sqlite/postgres/mysql/custom: theirs whole
            and not _atomic(have)
            and not _atomic(value)
        ):
            inner = merge(have, value, f"{where}.")
            out.config[key] = inner.config
            out.kept += inner.kept
            out.added += inner.added
        elif have != value:
            out.kept.append(f"{where}: {have!r} (lakehouse's: {value!r})")
    return out


def write(home: str | os.PathLike) -> Merge:
    """Write or merge ``<home>/dagster.yaml`` (see the module doc); returns what was done."""
    cfg = Path(home) / "dagster.yaml"
    mine = ours(os.path.abspath(home))
    text = cfg.read_text() if cfg.exists() else None
    if text is None or text.startswith(HEADER):
        wanted = render(mine)
        if text != wanted:
            cfg.write_text(wanted)
        return Merge(mine, added=list(mine))
    theirs = yaml.safe_load(text) or {}
    if not isinstance(theirs, dict):
        log.warning("%s is not a mapping: left as it is", cfg)
        return Merge(theirs)
    result = merge(theirs, mine)
    for kept in result.kept:
        log.warning("%s: kept your %s", cfg, kept)
    if result.added:
        backup = cfg.with_name("dagster.yaml.orig")
        if not backup.exists():
            shutil.copyfile(cfg, backup)
        header = f"{MERGED_HEADER} (your original: {backup.name}); lakehouse added: "
        cfg.write_text(render(result.config, header + ", ".join(result.added) + "\n"))
        log.warning("%s: added lakehouse's %s (yours kept)", cfg, ", ".join(result.added))
    return result


def dagster_home(state_dir: str | os.PathLike) -> str:
    """DAGSTER_HOME (default ``<state_dir>/dagster``) with the dagster.yaml written or merged
    into, exported to the environment."""
    home = os.environ.get("DAGSTER_HOME") or str(Path(state_dir) / "dagster")
    os.makedirs(home, exist_ok=True)
    write(home)
    os.environ["DAGSTER_HOME"] = home
    return home
