"""``SilverResult``: what one bronze → silver apply of a table reports, on either engine.

Counts are of this run: ``changes`` (bronze rows read, rule failures excluded), ``inserted`` /
``updated`` / ``deleted`` (rows of ``silver/<table>``), ``ignored`` (changes that changed
nothing: older, delivered twice, tombstoned, superseded by a reload), ``quarantined``,
``history_rows`` (SCD2 versions added), ``reload_deletes`` (keys the reloads removed);
``bronze_version`` is the bronze version now applied, ``version`` the table's version after the
run (None when there is none, or on Hudi), ``reload_generation`` the latest reload applied.
``metrics`` is the local engine's raw MERGE metrics (empty on Spark).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field


@dataclass
class SilverResult:
    table: str
    table_format: str = "delta"
    bronze_version: int | None = None
    changes: int = 0
    inserted: int = 0
    updated: int = 0
    deleted: int = 0
    ignored: int = 0
    version: int | None = None
    history_rows: int = 0
    quarantined: int = 0
    reload_generation: int | None = None  # the latest reload (full-load generation) applied
    reload_deletes: int = 0  # keys the reloads removed (before the MERGE's sequence check)
    full_refresh: bool = False
    seconds: float = 0.0
    metrics: dict = field(default_factory=dict)

    def absorb(self, later: SilverResult) -> None:
        """Add the counts of ``later``, the next commit of the same run (a big backlog is
        applied in several); versions and metrics become ``later``'s."""
        for name in (
            *("changes", "inserted", "updated", "deleted", "ignored"),
            *("history_rows", "quarantined", "reload_deletes"),
        ):
            setattr(self, name, getattr(self, name) + getattr(later, name))
        if later.reload_generation is not None:
            self.reload_generation = later.reload_generation
        self.bronze_version = later.bronze_version
        self.version = later.version
        self.metrics = later.metrics

    def metadata(self) -> dict:
        """Materialization metadata as a Glue job reports it (the keys the local silver assets
        report, plus the format and the reloads)."""
        return {
            "changes": self.changes,
            "inserted": self.inserted,
            "updated": self.updated,
            "deleted": self.deleted,
            "ignored": self.ignored,
            "quarantined": self.quarantined,
            "bronze_version": -1 if self.bronze_version is None else self.bronze_version,
            "table_format": self.table_format,
            "table_version": -1 if self.version is None else self.version,
            "reload_generation": -1 if self.reload_generation is None else self.reload_generation,
            "reload_deletes": self.reload_deletes,
            "full_refresh": self.full_refresh,
            "duration_s": round(self.seconds, 3),
        }


def describe(result: SilverResult) -> str:
    """The result as one JSON line, without the raw MERGE metrics."""
    return json.dumps({k: v for k, v in result.__dict__.items() if k != "metrics"}, default=str)


class SchemaChangeError(ValueError):
    """An incompatible column type change between bronze and silver (see ``incompatible``)."""


def incompatible(table: str, column: str, old: str, new: str) -> SchemaChangeError:
    """The error both engines raise when ``column`` of ``silver/<table>`` would change type."""
    return SchemaChangeError(
        f"silver/{table}: column {column!r} changed type from {old} to {new}; "
        "this is not a compatible change (rebuild the table with a full refresh after "
        "fixing the registry or the source)"
    )
