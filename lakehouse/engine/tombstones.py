"""Tombstones: the deletes silver remembers, so a late older change cannot resurrect a key.

Data contract of ``_state/tombstones/<table>`` (Delta): one row per deleted key: the key
columns, ``_sequence`` of its latest delete and ``_deleted_at`` (UTC, when it was recorded).
A change not newer than its key's tombstone is ignored (``filter_tombstoned``, which reads only
the tombstones of the batch's keys; the delete itself, at the same sequence, still applies; the
delete delivered again under another file name is not newer). ``write_tombstones`` MERGEs a
batch's deletes (a newer delete replaces an older one); ``overwrite_tombstones`` writes a full
refresh's; ``gc_tombstones`` removes those older than the retention period.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import polars as pl

from lakehouse.engine.core.keys import tombstone_key
from lakehouse.engine.core.order import SEQUENCE
from lakehouse.engine.delta import open_table
from lakehouse.engine.sequencing import change_id_expr
from lakehouse.registry.model import TableSpec
from lakehouse.storage import Lake


def filter_tombstoned(lake: Lake, spec: TableSpec, batch: pl.DataFrame) -> tuple[pl.DataFrame, int]:
    """Drop changes not newer than a key's tombstone (see the module docstring); returns the rest
    and how many were dropped. ``batch`` may hold several changes per key: ``apply_changes``
    filters all of the batch's changes once, before the history and silver take them."""
    tomb = open_table(lake, tombstone_key(spec.name))
    if tomb is None or batch.height == 0:
        return batch, 0
    keys = list(spec.primary_key)
    tombs = _tombstones_of(lake, tomb, batch, keys).select(*keys, pl.col(SEQUENCE).alias("__tomb"))
    joined = batch.join(tombs, on=keys, how="left", nulls_equal=False)
    keep = (
        pl.col("__tomb").is_null()
        | ((pl.col(SEQUENCE) > pl.col("__tomb")) & (change_id_expr() != change_id_expr("__tomb")))
        | ((pl.col("_op") == "D") & (pl.col(SEQUENCE) == pl.col("__tomb")))
    )
    kept = joined.filter(keep).drop("__tomb")
    return kept, batch.height - kept.height


def _tombstones_of(lake: Lake, tomb, batch: pl.DataFrame, keys: list[str]) -> pl.DataFrame:
    """The tombstones whose key columns each hold one of the batch's values (a superset of the
    batch's keys for a composite key: the join matches exactly), not the whole table: the
    scan skips the row groups whose statistics exclude every value. (A pyarrow dataset filter
    fails on the string-view files a delta-rs MERGE writes.)"""
    scan = pl.scan_delta(tomb, storage_options=lake.storage_options or None)
    schema = scan.collect_schema()
    cond = pl.all_horizontal(
        pl.col(k).is_in(batch.get_column(k).drop_nulls().unique().cast(schema[k]).implode())
        for k in keys
    )
    return scan.filter(cond).select(*keys, SEQUENCE).collect()


def _tombstone_rows(spec: TableSpec, batch: pl.DataFrame, now: datetime) -> pl.DataFrame:
    return batch.filter(pl.col("_op") == "D").select(
        *spec.primary_key, SEQUENCE, pl.lit(now).cast(pl.Datetime("us", "UTC")).alias("_deleted_at")
    )


def write_tombstones(lake: Lake, spec: TableSpec, batch: pl.DataFrame, now: datetime) -> None:
    """Record the deletes of ``batch`` (one change per key): insert, or replace an older one."""
    from deltalake import write_deltalake

    deletes = _tombstone_rows(spec, batch, now)
    if deletes.height == 0:
        return
    key = tombstone_key(spec.name)
    tomb = open_table(lake, key)
    if tomb is None:
        write_deltalake(lake.uri(key), deletes.to_arrow(), storage_options=lake.storage_options)
        return
    pred = " AND ".join(f't."{k}" = s."{k}"' for k in spec.primary_key)
    (
        tomb.merge(
            deletes.to_arrow(),
            predicate=pred,
            source_alias="s",
            target_alias="t",
            streamed_exec=False,
        )
        .when_matched_update_all(predicate=f"s.{SEQUENCE} > t.{SEQUENCE}")
        .when_not_matched_insert_all()
        .execute()
    )


def overwrite_tombstones(lake: Lake, spec: TableSpec, batch: pl.DataFrame, now: datetime) -> None:
    """A full refresh's tombstones: the deletes of ``batch`` replace the table (written when
    there are deletes, or a table to empty)."""
    from deltalake import write_deltalake

    deletes = _tombstone_rows(spec, batch, now)
    key = tombstone_key(spec.name)
    if deletes.height or open_table(lake, key) is not None:
        write_deltalake(
            lake.uri(key),
            deletes.to_arrow(),
            mode="overwrite",
            schema_mode="overwrite",
            storage_options=lake.storage_options,
        )


def gc_tombstones(
    lake: Lake, spec: TableSpec, retention: timedelta, now: datetime | None = None
) -> int:
    """Delete tombstones older than ``retention``; returns how many were removed."""
    tomb = open_table(lake, tombstone_key(spec.name))
    if tomb is None:
        return 0
    cutoff = (now or datetime.now(UTC)) - retention
    metrics = tomb.delete(f"_deleted_at < '{cutoff.strftime('%Y-%m-%dT%H:%M:%S.%fZ')}'")
    return int(metrics.get("num_deleted_rows", 0))
