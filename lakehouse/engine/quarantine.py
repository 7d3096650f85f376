"""Quarantine with Polars and delta-rs: rows (or whole files) set aside with the reason, so the
rest can flow; used by bronze, CSV drops, silver and the events engine.

``quarantine/<table>`` (Delta, append-only): the columns of ``engine.core.quarantine``
(``_stage`` bronze: parsing/casting, silver: registry rules; ``_source_file``; ``_source_row``,
1-based record in the file, header included, null for a whole file; ``_column``; ``_reason``;
``_raw``, the row as JSON or text), then ``_quarantined_at``.

Idempotent: an entry already in the table with the same identity (``_stage``, ``_source_file``,
``_source_row``, ``_column`` and ``_reason``: ``engine.core.quarantine.IDENTITY``) is not
written again. A stage appends its entries
before its own commit (bronze: the commit that records the files; silver: the one that records
the bronze version), so a run that dies in between re-reads the same rows on the next run and
quarantines the same entries: those are skipped (the first ``_quarantined_at`` stays). Found by
reading only those columns of the entries of the batch's files. (A rewritten full-load file
whose same row fails for the same reason is therefore recorded once.)
"""

from __future__ import annotations

import json
from datetime import datetime

import polars as pl

from lakehouse.engine.core.keys import quarantine_key
from lakehouse.engine.core.quarantine import COLUMNS, IDENTITY
from lakehouse.engine.delta import open_table
from lakehouse.registry.model import TableSpec
from lakehouse.storage import Lake

_TYPES = {"string": pl.String, "int64": pl.Int64}
SCHEMA = {name: _TYPES[logical] for name, logical in COLUMNS.items()}


def write_quarantine(lake: Lake, table: str, rows: list[dict], stage: str, now: datetime) -> int:
    """Append ``rows`` (dicts with the SCHEMA's keys but ``_stage``) to ``quarantine/<table>``
    but those already recorded (see the module docstring); returns ``len(rows)``, the batch's
    entries, written now or by an earlier attempt of the same batch."""
    from deltalake import write_deltalake

    if not rows:
        return 0
    frame = pl.DataFrame([{**r, "_stage": stage} for r in rows], schema=SCHEMA).with_columns(
        pl.lit(now).cast(pl.Datetime("us", "UTC")).alias("_quarantined_at")
    )
    new = frame
    recorded = _recorded(lake, table, stage, frame["_source_file"].unique().to_list())
    if recorded is not None and recorded.height:
        new = frame.join(recorded, on=list(IDENTITY), how="anti", nulls_equal=True)
    if new.height:
        write_deltalake(
            lake.uri(quarantine_key(table)),
            new.to_arrow(),
            mode="append",
            schema_mode="merge",
            storage_options=lake.storage_options,
        )
    return frame.height


def _recorded(lake: Lake, table: str, stage: str, files: list) -> pl.DataFrame | None:
    """The identity columns of the entries of ``stage`` for ``files`` already in quarantine."""
    import pyarrow.compute as pc

    dt = open_table(lake, quarantine_key(table))
    if dt is None:
        return None
    names = [f for f in files if f is not None]
    where = pc.field("_source_file").isin(names)
    if len(names) < len(files):
        where = where | pc.field("_source_file").is_null()
    where = (pc.field("_stage") == stage) & where
    table = dt.to_pyarrow_dataset().to_table(columns=list(IDENTITY), filter=where)
    return pl.from_arrow(table).cast({c: SCHEMA[c] for c in IDENTITY})


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


def rows_from_rejects(rejects: pl.DataFrame, file: str) -> list[dict]:
    """Quarantine rows from ``cast_to_registry``'s rejects (``__row``/``__column``/``__reason``
    beside the original text values) of one raw ``file``."""
    return [
        dict(
            _source_file=file,
            _source_row=r["__row"],
            _column=r["__column"],
            _reason=r["__reason"],
            _raw=json.dumps({k: v for k, v in r.items() if not k.startswith("__")}),
        )
        for r in rejects.iter_rows(named=True)
    ]


def split_null_keys(
    typed: pl.DataFrame, spec: TableSpec, file: str
) -> tuple[pl.DataFrame, list[dict]]:
    """``typed`` (cast rows with ``__row``) without the rows whose key has a null, and those
    rows as quarantine rows: a change without its key cannot be applied."""
    if not spec.primary_key:
        return typed, []
    null_key = pl.any_horizontal([pl.col(k).is_null() for k in spec.primary_key])
    bad = typed.filter(null_key)
    if not bad.height:
        return typed, []
    out = []
    for r in bad.iter_rows(named=True):
        col = next(k for k in spec.primary_key if r[k] is None)
        out.append(
            dict(
                _source_file=file,
                _source_row=r["__row"],
                _column=col,
                _reason=f"primary key column {col!r} is null (expected a value)",
                _raw=json.dumps(
                    {
                        k: None if v is None else str(v)
                        for k, v in r.items()
                        if not k.startswith("__")
                    }
                ),
            )
        )
    return typed.filter(~null_key), out


def quarantine_rule_failures(
    lake: Lake, spec: TableSpec, changes: pl.DataFrame, now: datetime, *, write: bool
) -> tuple[pl.DataFrame, int]:
    """Silver's row rules: non-deletes breaking the registry's row-level rules go to quarantine
    (stage ``silver``; written only when ``write``); deletes (key only) pass. Returns the kept
    changes and how many were set aside."""
    from lakehouse.quality.validate import split_valid

    deletes = changes.filter(pl.col("_op") == "D")
    good, bad = split_valid(changes.filter(pl.col("_op") != "D"), spec)
    if bad.height == 0:
        return changes, 0
    if write:  # a full refresh re-reads rows quarantined before: do not record them twice
        write_quarantine(lake, spec.name, rows_from_frame(bad), "silver", now)
    return pl.concat([good, deletes], how="vertical"), bad.height
