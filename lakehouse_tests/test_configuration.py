"""Configuration in one place: every variable ``Settings.from_env`` reads and every per-dataset
key is in README's Configuration tables (and the variables in ``profiles``' docstring), with the
defaults the code has."""

from __future__ import annotations

import inspect
import re
from pathlib import Path

from lakehouse import profiles
from lakehouse.declarations.model import FreshnessDecl, MaintenanceDecl, SlotDecl
from lakehouse.profiles import Settings
from lakehouse.registry import FreshnessPolicy, MaintenancePolicy
from lakehouse.registry.durations import format_duration
from lakehouse.registry.model import SlotPolicy
from lakehouse.registry.sizes import format_size

README = Path(__file__).resolve().parent.parent / "README.md"


def _section() -> str:
    text = README.read_text()
    return text.split("\n## Configuration\n", 1)[1].split("\n## ", 1)[0]


def _rows(section: str) -> dict[str, str]:
    """``{name: default}`` of the section's table rows (``| `name` | default | meaning |``)."""
    return {
        m[1]: m[2].strip()
        for m in re.finditer(r"^\| `([A-Za-z0-9_.]+)` \| ([^|]*) \|", section, re.MULTILINE)
    }


def test_every_process_variable_is_documented_in_both_places():
    read = set(
        re.findall(r'"((?:LAKEHOUSE|AWS)_[A-Z0-9_]+)"', inspect.getsource(Settings.from_env))
    )
    documented = {n for n in _rows(_section()) if n.isupper()}
    docstring = set(re.findall(r"``((?:LAKEHOUSE|AWS)_[A-Z0-9_]+)``", profiles.__doc__))
    assert read == documented == docstring


def test_the_documented_process_defaults_are_the_settings_defaults():
    rows, defaults = _rows(_section()), Settings()
    fields = {
        "LAKEHOUSE_API_MAX_BODY_BYTES": defaults.api_max_body_bytes,
        "LAKEHOUSE_API_MAX_BATCH": defaults.api_max_batch,
        "LAKEHOUSE_API_RATE": defaults.api_rate_per_s,
        "LAKEHOUSE_API_BURST": defaults.api_burst,
        "LAKEHOUSE_TICK_SECONDS": defaults.tick_seconds,
        "LAKEHOUSE_AWS_OBSERVER_SECONDS": defaults.aws_observer_seconds,
        "LAKEHOUSE_CATCH_UP_MAX_BYTES": defaults.catch_up_max_bytes,
        "LAKEHOUSE_CATCH_UP_MAX_SECONDS": defaults.catch_up_max_seconds,
        "LAKEHOUSE_EVENTS_GRACE_SECONDS": defaults.events_grace_seconds,
    }
    assert {n: float(rows[n].split("`")[1]) for n in fields} == fields
    assert (defaults.tick_seconds, defaults.aws_observer_seconds) == (2, 300)
    assert (defaults.catch_up_max_bytes, defaults.catch_up_max_seconds) == (64 << 20, 30.0)
    assert defaults.events_grace_seconds == 120.0


def test_every_dataset_key_is_documented_with_its_default():
    rows = {n: d for n, d in _rows(_section()).items() if "." in n}
    declared = (
        {f"freshness.{k}" for k in FreshnessDecl.model_fields}
        | {f"maintenance.{k}" for k in MaintenanceDecl.model_fields}
        | {f"replication_slot.{k}" for k in SlotDecl.model_fields}
    )
    assert set(rows) == declared
    f, m, slot = FreshnessPolicy(), MaintenancePolicy(), SlotPolicy()
    assert rows == {
        "freshness.max_lag": f"`{format_duration(f.max_lag)}`",
        "freshness.cron": f"`{f.cron}`",
        "maintenance.cron": f"`{m.cron}`",
        "maintenance.enabled": f"`{str(m.enabled).lower()}`",
        "maintenance.vacuum_retention": f"`{format_duration(m.vacuum_retention)}`",
        "maintenance.tombstone_retention": f"`{format_duration(m.tombstone_retention)}`",
        "replication_slot.lag_warn": f"`{format_size(slot.lag_warn)}`",
        "replication_slot.lag_error": f"`{format_size(slot.lag_error)}`",
        "replication_slot.age_warn": f"`{format_duration(slot.age_warn)}`",
        "replication_slot.age_error": f"`{format_duration(slot.age_error)}`",
    }
    assert rows["freshness.max_lag"] == "`2m`" and rows["maintenance.cron"] == "`0 3 * * *`"
