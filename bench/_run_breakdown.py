"""Where a Dagster instance's runs spent their time: per trigger tag, the medians of
queue wait (created → started), process start (started → first step), steps, and whole run.

Used by ``bench_freshness.py`` after ``dagster dev`` stops (reads ``DAGSTER_HOME``'s storage).
"""

from __future__ import annotations

import statistics
from collections import defaultdict


def _med(values: list[float]) -> str:
    return f"{statistics.median(values):.1f}s" if values else "-"


def _instance(dagster_home: str):
    import os

    import dagster as dg

    os.environ["DAGSTER_HOME"] = dagster_home
    return dg.DagsterInstance.get()


def _lifecycle(instance, run_id: str) -> dict[str, float]:
    """Timestamps of a run's enqueue/dequeue/starting/start events."""
    import dagster as dg

    kinds = {dg.DagsterEventType.RUN_ENQUEUED, dg.DagsterEventType.RUN_DEQUEUED,
             dg.DagsterEventType.RUN_STARTING, dg.DagsterEventType.RUN_START}  # fmt: skip
    return {e.dagster_event.event_type_value: e.timestamp
            for e in instance.all_logs(run_id, of_type=kinds)}  # fmt: skip


def breakdown(dagster_home: str) -> list[str]:
    """One line per trigger (``lakehouse/trigger`` tag, or the automation sensor)."""
    instance = _instance(dagster_home)
    groups: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    steps: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    for rec in instance.get_run_records(limit=2000):
        run = rec.dagster_run
        if rec.start_time is None or rec.end_time is None:
            continue
        trigger = run.tags.get("lakehouse/trigger") or (
            "automation" if "dagster/from_automation_condition" in run.tags
            or run.tags.get("dagster/sensor_name") == "automation" else "other")  # fmt: skip
        g = groups[trigger]
        at = _lifecycle(instance, run.run_id)
        created = rec.create_timestamp.timestamp()
        g["queue"].append(at.get("RUN_DEQUEUED", created) - created)
        g["launch"].append(rec.start_time - at.get("RUN_DEQUEUED", created))
        g["run"].append(rec.end_time - rec.start_time)
        stats = [s for s in instance.get_run_step_stats(run.run_id) if s.start_time and s.end_time]
        if stats:
            g["process start"].append(min(s.start_time for s in stats) - rec.start_time)
            g["after last step"].append(rec.end_time - max(s.end_time for s in stats))
            g["steps"].append(float(len(stats)))
            for s in stats:
                kind = (
                    s.step_key.split("__")[0].split("_")[0]
                    if "check" not in s.step_key
                    else "check"
                )
                steps[trigger][kind].append(s.end_time - s.start_time)
    lines = []
    for trigger, g in sorted(groups.items()):
        per_step = ", ".join(
            f"{k} {_med(v)}×{len(v) // max(1, len(g['run']))}"
            for k, v in sorted(steps[trigger].items())
        )
        lines.append(
            f"{trigger}: {len(g['run'])} runs, medians: queue {_med(g['queue'])}, "
            f"launch (dequeued → run process up) {_med(g['launch'])}, first step after {_med(g['process start'])}, run {_med(g['run'])} "
            f"({_med(g['steps']).rstrip('s')} steps; {per_step}), after last step {_med(g['after last step'])}"
        )
    return lines


def event_gaps(dagster_home: str, trigger: str, top: int = 8) -> str:
    """For runs with ``lakehouse/trigger=<trigger>``: the time before each event, summed per event
    type and averaged per run (what a run's wall time is spent waiting for)."""
    instance = _instance(dagster_home)
    totals: dict[str, float] = defaultdict(float)
    runs = [r for r in instance.get_runs(limit=2000) if r.tags.get("lakehouse/trigger") == trigger]
    for run in runs:
        events = instance.all_logs(run.run_id)
        start = next((i for i, e in enumerate(events) if e.dagster_event
                      and e.dagster_event.event_type_value == "PIPELINE_START"), None)  # fmt: skip
        if start is None:
            continue
        for prev, ev in zip(events[start:], events[start + 1 :], strict=False):
            kind = ev.dagster_event.event_type_value if ev.dagster_event else "log message"
            totals[kind] += ev.timestamp - prev.timestamp
    if not runs:
        return f"{trigger}: no runs"
    parts = sorted(totals.items(), key=lambda kv: -kv[1])[:top]
    return f"{trigger} run time by next event (s/run): " + ", ".join(
        f"{k} {v / len(runs):.1f}" for k, v in parts
    )
