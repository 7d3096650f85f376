"""SCD type 2 with delta-rs: the versions of ``silver/<table>_history``.

Data contract of ``silver/<table>_history`` (Delta): one version per change of a key (a ``D``
closes the key's version and adds none), with silver's columns, ``__start_at`` (the change's
commit timestamp, its ingestion time when the settings carry none), ``__end_at`` (the next
version's ``__start_at``; null while current) and ``__is_current``; its current versions are
silver's rows. ``apply_history`` adds a batch's versions in one MERGE (closing the current
version of each touched key) and is idempotent by the change's identity, so a re-applied batch
adds none (see its docstring).
"""

from __future__ import annotations

import polars as pl

from lakehouse.engine.core.keys import history_key
from lakehouse.engine.core.order import SEQUENCE
from lakehouse.engine.delta import open_table
from lakehouse.engine.increments import commit_props
from lakehouse.engine.sequencing import SAME_CHANGE_SQL, change_id_expr, same_change_bounds
from lakehouse.engine.silver_writes import silver_rows
from lakehouse.registry.model import TableSpec
from lakehouse.storage import Lake


def apply_history(
    lake: Lake, spec: TableSpec, changes: pl.DataFrame, bronze_version, full_refresh: bool
) -> int:
    """SCD type 2: every change newer than the key's current version, and not yet a version of
    the key, becomes a version row; returns how many versions were added.

    ``changes`` are already without the changes silver ignores for good (``apply_changes``: not
    newer than the key's tombstone, or ordered before a reload applied by an earlier run), so a
    key without a current version (deleted) gets none from a late older change; a change ordered
    before a reload of this batch is closed by the reload's delete or baseline row of its key.

    ``changes`` holds one row per key and change identity (``unique_changes``). Idempotent by the
    change's identity, not by "is there a current version": the history commits before the silver
    MERGE, so a crash in between re-applies the batch, and a key whose last change of the batch
    is a delete has no current version left to compare with; the MERGE inserts a version only if
    the key holds no version of the same change (``SAME_CHANGE_SQL``), which also keeps a change
    delivered again under another file name from adding a version."""
    from deltalake import write_deltalake

    keys = list(spec.primary_key)
    hist = None if full_refresh else open_table(lake, history_key(spec.name))
    ordered = changes.sort(SEQUENCE)
    if hist is not None and ordered.height:
        current = _current_versions(hist, keys, ordered.select(keys).unique())
        ordered = ordered.join(current, on=keys, how="left")
        ordered = ordered.filter(
            pl.col("__cur").is_null()
            | ((pl.col(SEQUENCE) > pl.col("__cur")) & (change_id_expr() != change_id_expr("__cur")))
        ).drop("__cur")
    if ordered.height == 0:
        return 0
    rows, closers = _versions(ordered, keys)
    if hist is None:
        write_deltalake(
            lake.uri(history_key(spec.name)),
            rows.to_arrow(),
            mode="overwrite",
            schema_mode="overwrite",
            storage_options=lake.storage_options,
            commit_properties=commit_props(bronze_version),
        )
        return rows.height
    return _merge_versions(hist, keys, rows, closers, bronze_version)


def _versions(ordered: pl.DataFrame, keys: list[str]) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(the version rows of ``ordered`` changes, one closer per key: ``__close_at`` — its first
    ``__start_at`` — and ``__first_seq``)."""
    start = pl.coalesce(pl.col("_commit_ts"), pl.col("_ingested_at"))
    versions = ordered.with_columns(start.alias("__start_at")).with_columns(
        pl.col("__start_at").shift(-1).over(keys).alias("__end_at"),
    )
    closers = versions.group_by(keys).agg(
        pl.col("__start_at").min().alias("__close_at"), pl.col(SEQUENCE).min().alias("__first_seq")
    )
    rows = versions.filter(pl.col("_op") != "D").with_columns(
        pl.col("__end_at").is_null().alias("__is_current")
    )
    return silver_rows(rows), closers


def _merge_versions(hist, keys: list[str], rows, closers, bronze_version) -> int:
    """One atomic MERGE: close the current version of touched keys (closers), insert the versions
    the key does not hold yet (matched by the change's identity, so a re-applied batch adds
    none); returns how many versions were inserted."""
    inserts = rows.with_columns(pl.lit("version").alias("__kind"), *same_change_bounds())
    source = pl.concat(
        [inserts, closers.with_columns(pl.lit("close").alias("__kind"))], how="diagonal_relaxed"
    )
    pred = " AND ".join(f't."{k}" = s."{k}"' for k in keys) + (
        f" AND ((s.__kind = 'close' AND t.__is_current)"
        f" OR (s.__kind = 'version' AND {SAME_CHANGE_SQL}))"
    )
    metrics = (
        hist.merge(
            source.to_arrow(),
            predicate=pred,
            source_alias="s",
            target_alias="t",
            merge_schema=True,
            streamed_exec=False,
            commit_properties=commit_props(bronze_version),
        )
        .when_matched_update(
            updates={"__end_at": "s.__close_at", "__is_current": "false"},
            predicate=f"s.__kind = 'close' AND s.__first_seq > t.{SEQUENCE}",
        )
        .when_not_matched_insert(
            updates={f'"{c}"': f's."{c}"' for c in rows.columns}, predicate="s.__kind = 'version'"
        )
        .execute()
    )
    return int(metrics.get("num_target_rows_inserted", 0))


def _current_versions(hist, keys: list[str], batch_keys: pl.DataFrame) -> pl.DataFrame:
    """``keys`` and ``__cur`` (the ``_sequence`` of the current version) of the batch's keys."""
    current = pl.from_arrow(
        hist.to_pyarrow_table(columns=[*keys, SEQUENCE], filters=[("__is_current", "=", True)])
    ).select(*keys, pl.col(SEQUENCE).alias("__cur"))
    return current.join(batch_keys, on=keys, how="semi")
