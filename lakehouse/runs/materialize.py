"""Materialize assets in-process on the persistent Dagster instance (``lakehouse materialize``,
``lakehouse demo``, tests).

``materialize(selection, settings)`` builds the Definitions for ``settings`` (default: the
environment's), resolves ``selection`` (an asset selection string; None: every asset) and runs
the implicit asset job in this process on ``runs.instance.open_instance``; it returns Dagster's
``ExecuteInProcessResult`` and never raises for a failed step (``result.success`` says).
``run_lines(result)``: one printable line per materialized asset, failed step or failed check.
"""

from __future__ import annotations

from lakehouse.profiles import Settings
from lakehouse.runs.instance import open_instance

QUIET_LOGS = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}
_SHOWN_METADATA = ("rows", "files", "inserted", "updated", "deleted", "quarantined", "changes")


def materialize(
    selection: str | None = None, settings: Settings | None = None, *, quiet: bool = True
):
    """Materialize the selected assets in-process on the persistent Dagster instance."""
    import dagster as dg

    from lakehouse.definitions import build_definitions

    s = settings or Settings.from_env()
    defs = build_definitions(s)
    job = defs.resolve_implicit_global_asset_job_def()
    sel = dg.AssetSelection.from_string(selection) if selection else None
    with open_instance(s) as instance:
        if sel is not None:
            keys = sel.resolve(defs.resolve_asset_graph())
            return job.execute_in_process(
                instance=instance,
                asset_selection=list(keys),
                run_config=QUIET_LOGS if quiet else None,
                raise_on_error=False,
            )
        return job.execute_in_process(
            instance=instance, run_config=QUIET_LOGS if quiet else None, raise_on_error=False
        )


def run_lines(result) -> list[str]:
    """One line per materialized asset and per failed step or check, then the outcome."""
    lines = []
    for ev in result.get_asset_materialization_events():
        mat = ev.event_specific_data.materialization
        meta = {k: v.value for k, v in mat.metadata.items() if k in _SHOWN_METADATA}
        lines.append(f"  materialized {mat.asset_key.to_user_string():<40} {meta}")
    for ev in result.all_events:
        if ev.event_type_value == "STEP_FAILURE":
            lines.append(
                f"  FAILED step {ev.step_key}: {ev.event_specific_data.error.message.strip()}"
            )
        if ev.event_type_value == "ASSET_CHECK_EVALUATION" and not ev.event_specific_data.passed:
            data = ev.event_specific_data
            lines.append(
                f"  check failed: {data.asset_key.to_user_string()} {data.check_name}"
                f" ({data.severity.value})"
            )
    lines.append("run succeeded" if result.success else "run FAILED")
    return lines
