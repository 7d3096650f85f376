"""What the events' lake layers share: the Polars types of their columns, the result of one
layer run, and reading a Delta table as a frame.

``UTC_TS`` is the timestamp type of every time column (microseconds, UTC); ``POLARS_TYPES`` maps
a declared field type (``string``, ``number``, ``integer``, ``boolean``, ``timestamp``) to its
Polars type. ``LayerResult`` is what ``bronze.ingest_bronze`` and ``silver.apply_silver`` report.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import polars as pl

from lakehouse.engine.delta import open_table
from lakehouse.storage import Lake

UTC_TS = pl.Datetime("us", "UTC")
POLARS_TYPES = {
    "string": pl.String,
    "number": pl.Float64,
    "integer": pl.Int64,
    "boolean": pl.Boolean,
    "timestamp": UTC_TS,
}


@dataclass
class LayerResult:
    table: str
    files: list[str] = field(default_factory=list)
    rows: int = 0
    inserted: int = 0
    duplicates: int = 0
    quarantined: int = 0
    bronze_version: int | None = None
    version: int | None = None
    seconds: float = 0.0


def read_table(lake: Lake, key: str) -> pl.DataFrame:
    """The Delta table at ``key`` as a frame (empty when it does not exist)."""
    dt = open_table(lake, key)
    return pl.DataFrame() if dt is None else pl.from_arrow(dt.to_pyarrow_table())
