"""The canary of the warm launcher's Dagster internals (``runs.compat``), and the fallback to
Dagster's ``DefaultRunLauncher`` when one of them is missing.

On the pinned Dagster, the internals the launcher and the worker use are imported here by name
and their signatures checked: a Dagster upgrade that changes one fails here, saying which (and
the launcher, meanwhile, falls back instead of breaking)."""

from __future__ import annotations

import ast
import inspect
import logging
import re
from pathlib import Path

import dagster as dg
import pytest

from lakehouse.runs import compat, dagster_yaml
from lakehouse.runs.launcher import WarmRunLauncher

REPO = Path(__file__).absolute().parents[2]
USERS = [REPO / "lakehouse" / "runs" / "launcher.py", REPO / "lakehouse" / "runs" / "worker.py"]


def test_the_pinned_dagster_is_the_one_installed_and_checked():
    pin = re.search(r'"dagster==([^"]+)"', (REPO / "pyproject.toml").read_text()).group(1)
    assert compat.PINNED_DAGSTER == pin == dg.__version__


def test_the_internals_the_launcher_uses_are_there_with_their_signatures():
    from dagster._cli.api import api_cli
    from dagster._core.launcher.base import (
        CheckRunHealthResult,
        LaunchRunContext,
        RunLauncher,
        WorkerStatus,
    )
    from dagster._grpc.types import ExecuteRunArgs
    from dagster._serdes import ConfigurableClass, ConfigurableClassData, serialize_value

    def params(obj) -> list[str]:
        return list(inspect.signature(obj).parameters)

    assert params(ExecuteRunArgs)[:3] == ["job_origin", "run_id", "instance_ref"]
    assert params(ExecuteRunArgs.get_command_args) == ["self"]
    assert params(CheckRunHealthResult)[:2] == ["status", "msg"]
    assert params(LaunchRunContext)[:1] == ["dagster_run"]
    assert {"RUNNING", "SUCCESS", "FAILED", "UNKNOWN"} <= {s.name for s in WorkerStatus}
    assert RunLauncher.__abstractmethods__ == {"launch_run", "terminate"}
    assert ConfigurableClass.__abstractmethods__ == {
        "config_type",
        "from_config_value",
        "inst_data",
    }
    assert params(ConfigurableClassData) == ["module_name", "class_name", "config_yaml"]
    assert params(serialize_value)[0] == "val"
    assert "execute_run" in api_cli.commands
    assert compat.problems() == []
    assert compat.storage_problems() == []


def _dagster_internal_imports(path: Path) -> set[tuple[str, str]]:
    out = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("dagster._"):
            out |= {(node.module, a.name) for a in node.names}
        elif isinstance(node, ast.Import):
            out |= {(a.name, "") for a in node.names if a.name.startswith("dagster._")}
    return out


@pytest.mark.parametrize(
    "required, users",
    [(compat.REQUIRED, USERS), (compat.STORAGE, [REPO / "lakehouse" / "runs" / "storage.py"])],
    ids=["launcher", "storage"],
)
def test_the_canary_list_covers_every_internal_import_of_the_launcher_and_worker(required, users):
    listed = {(i.module, i.name) for i in required}
    listed_modules = {i.module for i in required}
    for path in users:
        for module, name in _dagster_internal_imports(path):
            if name:
                assert (module, name) in listed, f"{path.name}: {module}.{name} not in REQUIRED"
            else:
                assert module in listed_modules, f"{path.name}: import {module} not in REQUIRED"


@pytest.fixture
def without_execute_run_args(monkeypatch):
    """This Dagster, as if a release had moved ``ExecuteRunArgs``."""
    import dagster._grpc.types

    monkeypatch.delattr(dagster._grpc.types, "ExecuteRunArgs")
    assert any("ExecuteRunArgs" in p for p in compat.problems())


def test_a_missing_internal_falls_back_to_dagsters_default_launcher(
    without_execute_run_args, caplog
):
    with caplog.at_level(logging.WARNING, logger="lakehouse.runs"):
        launcher = WarmRunLauncher(prewarm=False)
    assert isinstance(launcher._fallback, dg.DefaultRunLauncher)
    assert "ExecuteRunArgs" in caplog.text and "DefaultRunLauncher" in caplog.text
    assert (
        launcher.supports_check_run_worker_health
        == dg.DefaultRunLauncher().supports_check_run_worker_health
    )
    with dg.instance_for_test() as instance:
        launcher.register_instance(instance)
        assert launcher._fallback._instance is instance  # every call goes to the default


def test_a_missing_internal_makes_the_dagster_yaml_name_the_default_launcher(
    without_execute_run_args, tmp_path, caplog
):
    with caplog.at_level(logging.WARNING, logger="lakehouse.runs"):
        dagster_yaml.write(tmp_path)
    assert "ExecuteRunArgs" in caplog.text
    instance = dg.DagsterInstance.from_config(str(tmp_path))
    try:
        assert type(instance.run_launcher) is dg.DefaultRunLauncher
    finally:
        instance.dispose()


def test_with_every_internal_there_the_warm_launcher_is_used():
    assert WarmRunLauncher(prewarm=False)._fallback is None
    assert dagster_yaml.ours()["run_launcher"]["class"] == "WarmRunLauncher"
