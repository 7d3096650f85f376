"""Table maintenance: compact small files, vacuum unreferenced files, collect tombstones.

Contract: ``maintain(lake, key)`` compacts the Delta table at ``key`` (``optimize.compact``, one
commit that changes no data), then vacuums files no longer referenced and older than
``vacuum_hours`` (default 7 days, so readers and time travel within a week keep working).
``maintain_dataset`` takes both retentions from the dataset's ``maintenance`` policy (declared
in its ``defs.yaml``; ``registry.model.MaintenancePolicy`` holds the defaults).
Bronze is left alone by default: silver reads bronze incrementally by data file, and a
compaction there would make the next silver run re-read the whole change log (correct, but slow).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from lakehouse.engine.delta import open_table
from lakehouse.registry.model import MaintenancePolicy
from lakehouse.storage import Lake

DEFAULT_VACUUM_HOURS = MaintenancePolicy().vacuum_hours  # 168


@dataclass
class MaintenanceResult:
    key: str
    files_removed_by_compaction: int = 0
    files_added_by_compaction: int = 0
    files_vacuumed: int = 0
    tombstones_collected: int = 0
    version: int | None = None


def maintain(
    lake: Lake, key: str, *, vacuum_hours: int = DEFAULT_VACUUM_HOURS
) -> MaintenanceResult:
    """Compact then vacuum the Delta table at ``key`` (FileNotFoundError when there is none)."""
    dt = open_table(lake, key)
    if dt is None:
        raise FileNotFoundError(f"no Delta table at {key!r} to maintain")
    metrics = dt.optimize.compact()
    vacuumed = dt.vacuum(
        retention_hours=vacuum_hours, dry_run=False, enforce_retention_duration=False
    )
    return MaintenanceResult(
        key=key,
        files_removed_by_compaction=int(metrics.get("numFilesRemoved", 0)),
        files_added_by_compaction=int(metrics.get("numFilesAdded", 0)),
        files_vacuumed=len(vacuumed),
        version=dt.version(),
    )


def maintain_dataset(
    lake: Lake,
    dataset,
    *,
    vacuum_hours: int | None = None,
    tombstone_retention: timedelta | None = None,
) -> list[MaintenanceResult]:
    """Maintain every silver (and history), gold and quarantine table of a dataset that exists;
    retentions not given are the dataset's (``DatasetSpec.maintenance``)."""
    from lakehouse.engine.tombstones import gc_tombstones

    if vacuum_hours is None:
        vacuum_hours = dataset.maintenance.vacuum_hours
    if tombstone_retention is None:
        tombstone_retention = dataset.maintenance.tombstone_retention

    out = []
    keys = []
    for t in dataset.tables:
        keys += [f"silver/{t.name}", f"quarantine/{t.name}"]
        if t.scd_type == 2:
            keys.append(f"silver/{t.name}_history")
    # a gold table is a folder holding a _delta_log (its first commit file may be cleaned up)
    keys += sorted(
        {
            o.key.split("/_delta_log/", 1)[0]
            for o in lake.list(f"gold/{dataset.name}_")
            if "/_delta_log/" in o.key
        }
    )
    for key in keys:
        if open_table(lake, key) is not None:
            out.append(maintain(lake, key, vacuum_hours=vacuum_hours))
    for t in dataset.tables:
        if t.primary_key:
            n = gc_tombstones(lake, t, tombstone_retention)
            if n:
                out.append(
                    MaintenanceResult(key=f"_state/tombstones/{t.name}", tombstones_collected=n)
                )
    return out
