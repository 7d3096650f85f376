"""The instance's dagster.yaml (``runs.dagster_yaml``): ours where there is none, run monitoring
on, and a user's own file merged into (their keys kept and logged, ours added), not skipped."""

from __future__ import annotations

import logging

import dagster as dg
import yaml

from lakehouse.runs import dagster_yaml
from lakehouse.runs.launcher import WarmRunLauncher


def _instance(home):
    return dg.DagsterInstance.from_config(str(home))


def test_ours_is_written_and_dagster_accepts_it(tmp_path):
    dagster_yaml.write(tmp_path)
    text = (tmp_path / "dagster.yaml").read_text()
    assert text.startswith(dagster_yaml.HEADER)
    instance = _instance(tmp_path)
    try:
        assert isinstance(instance.run_launcher, WarmRunLauncher)
        assert instance.run_monitoring_enabled
        assert instance.run_monitoring_settings["poll_interval_seconds"] == 15
        assert instance.run_monitoring_max_resume_run_attempts == 0
        assert instance.run_coordinator.__class__.__name__ == "QueuedRunCoordinator"
    finally:
        instance.dispose()


def test_an_older_file_of_ours_is_replaced(tmp_path):
    cfg = tmp_path / "dagster.yaml"
    cfg.write_text(dagster_yaml.HEADER + ": an old one\ntelemetry:\n  enabled: false\n")
    dagster_yaml.write(tmp_path)
    assert "run_monitoring" in yaml.safe_load(cfg.read_text())
    assert not (tmp_path / "dagster.yaml.orig").exists()


USERS = """\
# my instance
run_launcher:
  module: dagster.core.launcher
  class: DefaultRunLauncher
concurrency:
  runs:
    max_concurrent_runs: 4
  pools:
    default_limit: 3
telemetry:
  enabled: true
"""


def test_a_users_file_keeps_their_keys_gets_ours_added_and_says_so(tmp_path, caplog):
    cfg = tmp_path / "dagster.yaml"
    cfg.write_text(USERS)
    with caplog.at_level(logging.WARNING, logger="lakehouse.runs"):
        result = dagster_yaml.write(tmp_path)
    merged = yaml.safe_load(cfg.read_text())
    # theirs, untouched (the launcher whole: never their module with our class)
    assert merged["run_launcher"] == {
        "module": "dagster.core.launcher",
        "class": "DefaultRunLauncher",
    }
    assert merged["concurrency"]["runs"] == {"max_concurrent_runs": 4}
    assert merged["concurrency"]["pools"] == {"default_limit": 3}
    assert merged["telemetry"] == {"enabled": True}
    # ours, where they had nothing
    assert merged["run_monitoring"]["enabled"] is True
    assert merged["run_coordinator"]["class"] == "QueuedRunCoordinator"
    assert merged["sensors"] == {"use_threads": True, "num_workers": 4}
    assert merged["storage"]["custom"]["class"] == "SqliteStorage"
    assert set(result.added) == {"storage", "run_coordinator", "run_monitoring", "sensors"}
    kept = {k.split(":")[0] for k in result.kept}
    assert kept == {"run_launcher", "concurrency.pools.default_limit", "telemetry.enabled"}
    for key in kept | set(result.added):
        assert key in caplog.text  # nothing kept or added silently
    assert (tmp_path / "dagster.yaml.orig").read_text() == USERS  # their comments, saved
    instance = _instance(tmp_path)
    try:
        assert (
            type(instance.run_launcher) is dg.DefaultRunLauncher and instance.run_monitoring_enabled
        )
    finally:
        instance.dispose()
    # again: nothing to add, the file is left as it is
    before = cfg.read_text()
    assert dagster_yaml.write(tmp_path).added == []
    assert cfg.read_text() == before


def test_a_users_file_with_everything_is_not_rewritten(tmp_path):
    cfg = tmp_path / "dagster.yaml"
    full = "# mine\n" + yaml.safe_dump(dagster_yaml.ours(tmp_path))
    cfg.write_text(full)
    result = dagster_yaml.write(tmp_path)
    assert result.added == [] and result.kept == []
    assert cfg.read_text() == full and not (tmp_path / "dagster.yaml.orig").exists()


def test_a_users_own_storage_is_kept_and_ours_is_not_added_beside_it(tmp_path, caplog):
    """``storage:`` of theirs is kept whole; beside per-part storages (``run_storage:``, …)
    Dagster refuses a ``storage:``, so none is added, and the log says so."""
    cfg = tmp_path / "dagster.yaml"
    runs = tmp_path / "elsewhere"
    theirs = {
        "run_storage": {
            "module": "dagster._core.storage.runs",
            "class": "SqliteRunStorage",
            "config": {"base_dir": str(runs)},
        }
    }
    cfg.write_text(yaml.safe_dump(theirs))
    with caplog.at_level(logging.WARNING, logger="lakehouse.runs"):
        result = dagster_yaml.write(tmp_path)
    merged = yaml.safe_load(cfg.read_text())
    assert "storage" not in merged and "storage" not in result.added
    assert "run_storage" in caplog.text and "kept" in caplog.text
    instance = _instance(tmp_path)
    try:
        assert type(instance.run_storage).__name__ == "SqliteRunStorage"
    finally:
        instance.dispose()
    assert (runs / "runs.db").exists()

    cfg.write_text("storage:\n  sqlite:\n    base_dir: /somewhere/else\n")
    merged = yaml.safe_load(cfg.read_text() if dagster_yaml.write(tmp_path) else "")
    assert merged["storage"] == {"sqlite": {"base_dir": "/somewhere/else"}}


def test_dagster_home_defaults_under_the_state_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("DAGSTER_HOME", "")  # unset for dagster_home, restored afterwards
    home = dagster_yaml.dagster_home(tmp_path)
    assert home == str(tmp_path / "dagster") and (tmp_path / "dagster" / "dagster.yaml").exists()
    import os

    assert os.environ["DAGSTER_HOME"] == home
