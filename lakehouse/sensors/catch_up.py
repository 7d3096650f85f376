"""CDC catch-ups inside a sensor tick (local profile): the replicator runs where the sensor runs.

A run costs a queue hop and a process start before any work; a CDC catch-up of a few seconds of
changes takes about a second. So the sensor does it itself, in the long-lived code server, and
the same tick sees the new files and requests the bronze + silver run (bench/README.md: where
the seconds go). What runs as a Dagster run (``<dataset>_replication``, visible, alerting on
failure):

- the first full load (no slot yet, or the full load is not finished): potentially big;
- a large backlog (the slot more than ``max_bytes`` of WAL behind, e.g. after a pause;
  ``LAKEHOUSE_CATCH_UP_MAX_BYTES``, default 64 MiB);
- a catch-up that failed in the sensor (the failed run is what the alert sensor reports), and
  the case of a lost slot (the run fails with the replicator's explanation).

Decision contract of ``plan``: ``Plan.action`` is ``"none"`` (nothing to replicate, or a
replicator holds the slot or a replication run is in progress, which will replicate it; a slot
``IDLE_ADVANCE_BYTES`` behind with no change of its tables is advanced, freeing WAL),
``"inline"`` (replicate now, in the tick), or ``"run"`` (request a replication run, with
``Plan.run_key`` naming the WAL position so the same backlog is requested once; a lost slot is
one run, which fails naming the cause and the resync command).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

from lakehouse.profiles import DEFAULT_CATCH_UP_MAX_BYTES, DEFAULT_CATCH_UP_MAX_SECONDS

#: a slot this far behind with no change of its tables is advanced (one WAL segment)
IDLE_ADVANCE_BYTES = 16 * 1024 * 1024


@dataclass(frozen=True)
class Plan:
    action: str  # "none" | "inline" | "run"
    reason: str
    run_key: str | None = None


def plan(
    task, lake, *, replication_in_progress: bool, max_bytes: int = DEFAULT_CATCH_UP_MAX_BYTES
) -> Plan:
    """What to do about the source's changes for the replication ``task`` (a dataset's,
    ``replication.task.dataset_task``) right now (see the module docstring): more than
    ``max_bytes`` of WAL behind the slot and the catch-up is a run, not a sensor tick's work."""
    from lakehouse.replication.lag import slot_lag
    from lakehouse.replication.state import ReplicationState

    if replication_in_progress:
        return Plan("none", "a replication run is in progress: it replicates up to the WAL end")
    dataset = task.name
    pubs = f"{task.publication},{task.insert_only_publication}"
    lag = slot_lag(task.dsn, task.slot, pubs)
    if not lag.slot_exists or not ReplicationState.load(lake, task.name, task.slot).full_load_done:
        return Plan("run", "the full load is due", run_key=f"{dataset}:full-load:{lag.current}")
    if lag.lost:  # one run, which fails naming the cause and the resync (and alerts)
        return Plan("run", "the slot is lost", run_key=f"{dataset}:lost:{lag.confirmed}")
    if lag.active:
        return Plan("none", "a replicator is streaming from the slot right now")
    if not lag.has_changes:
        if lag.bytes >= IDLE_ADVANCE_BYTES:  # busy database, quiet tables: free the WAL
            from lakehouse.replication.slot_health import advance_idle_slot

            moved = advance_idle_slot(task.dsn, task.slot, pubs)
            if moved:
                return Plan("none", f"no change of a replicated table: slot advanced to {moved}")
        return Plan("none", f"slot at {lag.confirmed}: no change of a replicated table")
    if lag.bytes > max_bytes:
        return Plan("run", f"{lag.bytes} bytes of WAL behind: a replication run catches up",
                    run_key=f"{dataset}:{lag.current}")  # fmt: skip
    return Plan("inline", f"{lag.bytes} bytes of WAL behind", run_key=f"{dataset}:{lag.current}")


def replicate_inline(task, lake, *, max_seconds: float = DEFAULT_CATCH_UP_MAX_SECONDS):
    """One CDC catch-up (never a full load: ``plan`` sends those to a run); the replicator's
    ``ReplicationStats``. Stopped after ``max_seconds`` (``LAKEHOUSE_CATCH_UP_MAX_SECONDS``):
    what is not flushed by then stays in the slot (the replicator confirms only durable
    batches) for the next tick."""
    from lakehouse.replication.replicator import Replicator

    stop = threading.Event()
    timer = threading.Timer(max_seconds, stop.set)
    timer.daemon = True
    timer.start()
    try:
        return Replicator(task, lake).run(follow=False, stop=stop)
    finally:
        timer.cancel()
