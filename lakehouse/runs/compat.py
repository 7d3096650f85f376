"""The Dagster internals the warm run launcher and the instance's storage build on, and whether
this Dagster has them.

``runs.launcher`` and ``runs.worker`` use non-public modules (``dagster._core``, ``_grpc``,
``_serdes``, ``_cli``), which may change in any Dagster release. ``REQUIRED`` lists exactly what
they use, with the parameters they pass; ``problems()`` checks it against the installed
Dagster without raising. When it finds a problem, the dagster.yaml ``runs.dagster_yaml``
writes names Dagster's own ``DefaultRunLauncher``, and a ``WarmRunLauncher`` configured anyway
hands every call to a ``DefaultRunLauncher`` (both with a logged warning): runs then start
4-5 s slower (a fresh interpreter each), nothing breaks. Likewise ``runs.storage`` (``STORAGE``,
``storage_problems()``): when this Dagster lacks one of its internals, the dagster.yaml names no
``storage:``, and Dagster's own SQLite storage is used (events ~3x slower to write).

``lakehouse_tests/runs/test_launcher_compat.py`` is the canary: on the pinned version it
imports these internals and checks their signatures, and checks that this list covers every
``dagster._…`` import of the launcher, the worker and the storage. A Dagster upgrade that breaks it says
which internal changed.
"""

from __future__ import annotations

import importlib
import inspect
from dataclasses import dataclass

#: the Dagster version the launcher was written and measured against (pyproject's pin)
PINNED_DAGSTER = "1.13.27"


@dataclass(frozen=True)
class Internal:
    module: str
    name: str
    #: parameters the launcher passes (by name) to it, a callable
    params: tuple[str, ...] = ()
    #: attributes it must have (methods called, abstract methods implemented, enum members)
    attrs: tuple[str, ...] = ()


REQUIRED: tuple[Internal, ...] = (
    Internal(
        "dagster._core.launcher.base",
        "RunLauncher",
        attrs=(
            "launch_run",
            "terminate",
            "check_run_worker_health",
            "supports_check_run_worker_health",
            "register_instance",
            "dispose",
            "_instance",
        ),
    ),
    Internal("dagster._core.launcher.base", "LaunchRunContext", params=("dagster_run",)),
    Internal("dagster._core.launcher.base", "CheckRunHealthResult", params=("status", "msg")),
    Internal(
        "dagster._core.launcher.base",
        "WorkerStatus",
        attrs=("RUNNING", "SUCCESS", "FAILED", "UNKNOWN"),
    ),
    Internal(
        "dagster._serdes",
        "ConfigurableClass",
        attrs=("config_type", "from_config_value", "inst_data"),
    ),
    Internal("dagster._serdes", "ConfigurableClassData"),
    Internal("dagster._serdes", "serialize_value", params=("val",)),
    Internal("dagster._serdes", "deserialize_value", params=("val", "as_type")),
    Internal(
        "dagster._grpc.types",
        "ExecuteRunArgs",
        params=("job_origin", "run_id", "instance_ref"),
        attrs=("get_command_args",),
    ),
    Internal("dagster._cli.api", "api_cli", attrs=("main",)),
    Internal(
        "dagster._core.definitions.reconstruct",
        "ReconstructableJob",
        attrs=("get_definition", "get_repository_definition"),
    ),
    Internal(
        "dagster",
        "DagsterInstance",
        attrs=(
            "get_ref",
            "from_ref",
            "get_run_by_id",
            "add_run_tags",
            "report_engine_event",
            "report_run_canceling",
            "report_run_canceled",
            "report_run_failed",
        ),
    ),
)


#: what ``runs.storage`` builds on: the storages it subclasses, the methods it overrides or calls
STORAGE: tuple[Internal, ...] = (
    Internal("dagster._core.storage.base_storage", "DagsterStorage"),
    Internal(
        "dagster._core.storage.event_log",
        "SqliteEventLogStorage",
        params=("base_dir", "inst_data"),
        attrs=(
            "run_connection",
            "index_connection",
            "conn_string_for_shard",
            "path_for_shard",
            "wipe",
            "dispose",
            "claim_concurrency_slot",
            "has_unassigned_slots",
            "assign_pending_steps",
        ),
    ),
    Internal("dagster._core.storage.event_log.sqlite.sqlite_event_log", "INDEX_SHARD_NAME"),
    Internal(
        "dagster._core.storage.runs",
        "SqliteRunStorage",
        params=("conn_string", "inst_data"),
        attrs=("connect", "from_local", "dispose"),
    ),
    Internal(
        "dagster._core.storage.schedules",
        "SqliteScheduleStorage",
        params=("conn_string", "inst_data"),
        attrs=("connect", "from_local", "dispose"),
    ),
    Internal("dagster._core.storage.sqlite", "SQLITE_BUSY_TIMEOUT_SECONDS"),
    Internal(
        "dagster._serdes",
        "ConfigurableClass",
        attrs=("config_type", "from_config_value", "inst_data"),
    ),
)


def _check(item: Internal) -> str | None:
    where = f"{item.module}.{item.name}"
    try:
        obj = getattr(importlib.import_module(item.module), item.name)
    except (ImportError, AttributeError) as err:
        return f"{where}: {type(err).__name__}: {err}"
    missing = [a for a in item.attrs if not hasattr(obj, a)]
    if missing:
        return f"{where}: no {', '.join(missing)}"
    if item.params:
        try:
            accepted = inspect.signature(obj).parameters
        except (TypeError, ValueError) as err:
            return f"{where}: no signature ({err})"
        gone = [p for p in item.params if p not in accepted]
        if gone:
            return f"{where}: no parameter {', '.join(gone)}"
    return None


def storage_problems() -> list[str]:
    """What the installed Dagster lacks of ``STORAGE`` (empty: ``runs.storage`` can be used)."""
    return [p for p in map(_check, STORAGE) if p]


def problems() -> list[str]:
    """What the installed Dagster lacks of ``REQUIRED`` (empty: the warm launcher can run).
    Never raises; ``dagster._cli.api``'s ``execute_run`` command is checked too."""
    out = [p for p in map(_check, REQUIRED) if p]
    if not out:
        from dagster._cli.api import api_cli

        if "execute_run" not in getattr(api_cli, "commands", {}):
            out.append("dagster._cli.api.api_cli: no execute_run command")
    return out
