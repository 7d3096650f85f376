"""Quarantine: rows (or whole files) set aside with the reason, so the rest can flow.

``quarantine/<table>`` (Delta, append-only): ``_stage`` (bronze: parsing/casting; silver:
registry rules), ``_source_file``, ``_source_row`` (1-based record in the file, header
included; null for a whole file), ``_column``, ``_reason``, ``_raw`` (the row as JSON or text),
``_quarantined_at``.
"""

from __future__ import annotations

import json
from datetime import datetime

import polars as pl

from lakehouse.registry.model import TableSpec
from lakehouse.storage import Lake

SCHEMA = {
    "_stage": pl.String,
    "_source_file": pl.String,
    "_source_row": pl.Int64,
    "_column": pl.String,
    "_reason": pl.String,
    "_raw": pl.String,
}


def quarantine_key(spec: TableSpec) -> str:
    return f"quarantine/{spec.name}"


def write_quarantine(
    lake: Lake, spec: TableSpec, rows: list[dict], stage: str, now: datetime
) -> int:
    """Append ``rows`` (dicts with the SCHEMA's keys but ``_stage``); returns how many."""
    from deltalake import write_deltalake

    if not rows:
        return 0
    frame = pl.DataFrame([{**r, "_stage": stage} for r in rows], schema=SCHEMA).with_columns(
        pl.lit(now).cast(pl.Datetime("us", "UTC")).alias("_quarantined_at")
    )
    write_deltalake(
        lake.uri(quarantine_key(spec)),
        frame.to_arrow(),
        mode="append",
        schema_mode="merge",
        storage_options=lake.storage_options,
    )
    return frame.height


def rows_from_frame(bad: pl.DataFrame) -> list[dict]:
    """Quarantine rows from a frame with lineage plus ``__column`` / ``__reason``."""
    data_cols = [c for c in bad.columns if not c.startswith("_")]
    out = []
    for r in bad.iter_rows(named=True):
        out.append(
            dict(
                _source_file=r.get("_source_file"),
                _source_row=r.get("_source_row"),
                _column=r["__column"],
                _reason=r["__reason"],
                _raw=json.dumps({c: None if r[c] is None else str(r[c]) for c in data_cols}),
            )
        )
    return out
