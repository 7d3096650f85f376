"""A declaration's dataset-wide policies as the registry's.

Contract: ``freshness_and_maintenance`` and ``slot_policy`` turn the ``freshness``,
``maintenance`` and ``replication_slot`` blocks into ``FreshnessPolicy``, ``MaintenancePolicy``
and ``SlotPolicy`` (durations and sizes parsed, crons checked, vacuum retention in whole hours,
each warning threshold at or below its error). A problem is appended to ``problems`` as one line
naming the file, the key and the fix, and the policy's default stands in for the bad value.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from lakehouse.declarations.model import DatasetDecl
from lakehouse.registry.durations import DURATION_FIX, parse_duration
from lakehouse.registry.model import FreshnessPolicy, MaintenancePolicy, SlotPolicy, is_cron
from lakehouse.registry.sizes import SIZE_FIX, parse_size


def freshness_and_maintenance(
    decl: DatasetDecl, path: Path, problems: list[str]
) -> tuple[FreshnessPolicy, MaintenancePolicy]:
    """The dataset's ``freshness`` and ``maintenance`` blocks as registry policies."""

    def duration(block: str, key: str, value) -> timedelta | None:
        try:
            return parse_duration(value)
        except ValueError as err:
            problems.append(f"{path}: {block}.{key}: {err} — fix: {DURATION_FIX}")
            return None

    def cron(block: str, value: str) -> None:
        if not is_cron(value):
            problems.append(
                f"{path}: {block}.cron: {value!r} is not a cron schedule — fix: five fields,"
                " minute hour day-of-month month day-of-week, e.g. '0 3 * * *'"
            )

    f, m = decl.freshness, decl.maintenance
    cron("freshness", f.cron)
    cron("maintenance", m.cron)
    max_lag = duration("freshness", "max_lag", f.max_lag)
    vacuum = duration("maintenance", "vacuum_retention", m.vacuum_retention)
    tombstones = duration("maintenance", "tombstone_retention", m.tombstone_retention)
    if vacuum is not None and vacuum.total_seconds() % 3600:
        problems.append(
            f"{path}: maintenance.vacuum_retention: {m.vacuum_retention!r} is not whole hours"
            " (Delta's vacuum counts hours) — fix: e.g. 168h or 7d"
        )
    freshness = FreshnessPolicy(max_lag=max_lag or FreshnessPolicy.max_lag, cron=f.cron)
    maintenance = MaintenancePolicy(
        cron=m.cron,
        enabled=m.enabled,
        vacuum_retention=vacuum or MaintenancePolicy.vacuum_retention,
        tombstone_retention=tombstones or MaintenancePolicy.tombstone_retention,
    )
    return freshness, maintenance


def slot_policy(decl: DatasetDecl, path: Path, problems: list[str]) -> SlotPolicy:
    """The ``replication_slot`` block as a registry policy (warn below error)."""
    d, out = decl.replication_slot, {}
    for key, parse, fix in (("lag_warn", parse_size, SIZE_FIX), ("lag_error", parse_size, SIZE_FIX),
                            ("age_warn", parse_duration, DURATION_FIX),
                            ("age_error", parse_duration, DURATION_FIX)):  # fmt: skip
        try:
            out[key] = parse(getattr(d, key))
        except ValueError as err:
            problems.append(f"{path}: replication_slot.{key}: {err} — fix: {fix}")
            out[key] = getattr(SlotPolicy, key)
    for warn, error in (("lag_warn", "lag_error"), ("age_warn", "age_error")):
        if out[warn] > out[error]:
            problems.append(
                f"{path}: replication_slot.{warn}: {getattr(d, warn)!r} is above {error}"
                f" ({getattr(d, error)!r}) — fix: a warning comes before the error"
            )
    return SlotPolicy(**out)
