"""Materialize assets in-process on the persistent Dagster instance (``lakehouse materialize``,
``lakehouse demo``, tests).

``materialize(selection, settings)`` builds the Definitions for ``settings`` (default: the
environment's), resolves ``selection`` (an asset selection string; None: every asset) and runs
the implicit asset job in this process on ``runs.instance.open_instance``; it returns Dagster's
``ExecuteInProcessResult`` (``RunResults`` when a run of every asset made tables appear: a
second run materializes them) and never raises for a failed step (``result.success`` says).
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
    """Materialize the selected assets in-process on the persistent Dagster instance. With no
    selection, assets that appeared during the run (a source table the replication captured,
    ``declarations.captured``) are materialized by a second run, and both runs are returned as
    one ``RunResults``."""
    from lakehouse.definitions import build_definitions

    s = settings or Settings.from_env()
    tables = _tables(s)
    defs = build_definitions(s)
    result = _execute(defs, selection, s, quiet)
    if selection is not None or not result.success or _tables(s) == tables:
        return result
    before = set(defs.resolve_asset_graph().executable_asset_keys)
    grown = build_definitions(s)
    new = set(grown.resolve_asset_graph().executable_asset_keys) - before
    if not new:
        return result
    added = ", ".join(sorted(k.to_user_string() for k in new))
    return RunResults([result, _execute(grown, new, s, quiet)], added)


def _tables(s: Settings) -> set[tuple[str, str]]:
    from lakehouse.declarations import all_datasets, served

    return {(d.name, t.name) for d in all_datasets(served(s), s) for t in d.tables}


def _execute(defs, selection, s: Settings, quiet: bool):
    """One in-process run of ``selection``: a selection string, a set of asset keys, or None
    (every asset)."""
    import dagster as dg

    job = defs.resolve_implicit_global_asset_job_def()
    config = QUIET_LOGS if quiet else None
    with open_instance(s) as instance:
        if selection is None:
            return job.execute_in_process(
                instance=instance, run_config=config, raise_on_error=False
            )
        chosen = (
            dg.AssetSelection.from_string(selection)
            if isinstance(selection, str)  # keys: with the multi-asset they belong to (replication)
            else dg.AssetSelection.assets(*selection).required_multi_asset_neighbors()
        )
        selection = chosen.resolve(defs.resolve_asset_graph())
        return job.execute_in_process(
            instance=instance, asset_selection=list(selection), run_config=config,
            raise_on_error=False,
        )  # fmt: skip


class RunResults:
    """Several in-process runs read as one: success when all succeeded, their events in order."""

    def __init__(self, results: list, added: str = "") -> None:
        self.results = results
        self.added = added  # the assets the later runs materialized because they appeared

    @property
    def success(self) -> bool:
        return all(r.success for r in self.results)

    @property
    def all_events(self) -> list:
        return [e for r in self.results for e in r.all_events]

    def get_asset_materialization_events(self) -> list:
        return [e for r in self.results for e in r.get_asset_materialization_events()]

    def get_asset_check_evaluations(self) -> list:
        return [e for r in self.results for e in r.get_asset_check_evaluations()]


def _why(metadata) -> str:
    """What a failed check found, in a few words: its failures per column and rule, with a
    failing value (``quality.validate.failure_summary``), else its metadata's own values."""
    values = {k: getattr(v, "value", v) for k, v in (metadata or {}).items()}
    details = values.get("details")
    if isinstance(details, dict) and details.get("by_check"):
        sample: dict = {}
        for c in details.get("sample", []):  # the first failing value of each
            sample.setdefault(f"{c['column']}: {c['check']}", c["failure_case"])
        parts = [
            f"{name} ×{n}" + (f" (e.g. {sample[name]!r})" if name in sample else "")
            for name, n in list(details["by_check"].items())[:3]
        ]
        return ": " + "; ".join(parts)
    shown = [f"{k}={v}" for k, v in values.items() if isinstance(v, int | float | str)][:4]
    return f": {', '.join(shown)}" if shown else ""


def run_lines(result) -> list[str]:
    """One line per materialized asset and per failed step or check, then the outcome."""
    lines = []
    for ev in result.get_asset_materialization_events():
        mat = ev.event_specific_data.materialization
        meta = {k: v.value for k, v in mat.metadata.items() if k in _SHOWN_METADATA}
        lines.append(f"  materialized {mat.asset_key.to_user_string():<40} {meta}")
    for ev in result.all_events:
        if ev.event_type_value == "STEP_FAILURE":
            error = ev.event_specific_data.error
            while error.cause is not None and "Error occurred while executing" in error.message:
                error = error.cause  # Dagster's wrapper: the error the step raised
            lines.append(f"  FAILED step {ev.step_key}: {error.message.strip()}")
        if ev.event_type_value == "ASSET_CHECK_EVALUATION" and not ev.event_specific_data.passed:
            data = ev.event_specific_data
            lines.append(
                f"  check failed: {data.asset_key.to_user_string()} {data.check_name}"
                f" ({data.severity.value}){_why(data.metadata)}"
            )
    lines.append("run succeeded" if result.success else "run FAILED")
    return lines
