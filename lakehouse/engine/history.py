"""SCD type 2 with delta-rs: the versions of ``silver/<table>_history``.

Data contract of ``silver/<table>_history`` (Delta): one version per change of a key (a ``D``
closes the key's version and adds none), with silver's columns, ``__start_at`` (the change's
commit timestamp, its ingestion time when the settings carry none), ``__end_at`` (the next
version's ``__start_at``; null while current) and ``__is_current``; its current versions are
silver's rows. A full-load row (a reload's, a resync's) whose data columns equal the version
before it is no change: it opens no version, that version takes its lineage (``_sequence``,
``_commit_ts``, ``_source_file``) and keeps its start, so a resync adds no version to an
unchanged key and the current versions stay silver's rows. ``apply_history`` adds a batch's versions in one MERGE (closing the current
version of each touched key) and is idempotent by the change's identity, so a re-applied batch
adds none (see its docstring).
"""

from __future__ import annotations

import polars as pl

from lakehouse.engine.core.history import CLOSE_CONDITION, CLOSE_SET
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
    data = _data_columns(ordered, keys)
    current = None
    if hist is not None and ordered.height:
        current = _current_versions(hist, keys, ordered.select(keys).unique(), data)
        ordered = ordered.join(current.select(*keys, "__cur"), on=keys, how="left")
        ordered = ordered.filter(
            pl.col("__cur").is_null()
            | ((pl.col(SEQUENCE) > pl.col("__cur")) & (change_id_expr() != change_id_expr("__cur")))
        ).drop("__cur")
    if ordered.height == 0:
        return 0
    ordered, relineage = _same_as_before(ordered, keys, data, current)
    rows, closers = _versions(ordered, keys)
    if relineage is None:  # typed, null: no current version takes a lineage
        relineage = ordered.head(0).select(
            *keys,
            pl.col(SEQUENCE).alias("__lseq"),
            pl.col("_commit_ts").alias("__lcts"),
            pl.col("_source_file").alias("__lsf"),
        )
    # one closer per key: the lineage rides on it
    closers = closers.join(relineage, on=keys, how="full", coalesce=True)
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


#: a version's start: its change's commit timestamp, else its ingestion time
_START = pl.coalesce(pl.col("_commit_ts"), pl.col("_ingested_at"))

#: the lineage a full-load row identical to the version before it hands on to that version
_LINEAGE = (SEQUENCE, "_commit_ts", "_source_file")


def _data_columns(changes: pl.DataFrame, keys: list[str]) -> list[str]:
    """The columns of a version that are the row's data: not its key, lineage or ``__`` ones."""
    return [
        c
        for c in silver_rows(changes).columns
        if c not in keys and c not in _LINEAGE and not c.startswith("__")
    ]


def _same_as_before(
    ordered: pl.DataFrame, keys: list[str], data: list[str], current: pl.DataFrame | None
) -> tuple[pl.DataFrame, pl.DataFrame | None]:
    """A full-load row (a reload's, a resync's) whose data equals the version before it (the
    key's previous change in ``ordered``, else its current version in the history) opens no
    version: that version takes its lineage (``_LINEAGE``) and keeps its start, so the current
    version is still silver's row. Returns (``ordered`` with such rows folded into the version
    before them; per key whose current version in the history takes a lineage, ``__lseq``,
    ``__lcts``, ``__lsf``, else None)."""
    if "_file_kind" not in ordered.columns or not ordered.height:
        return ordered, None
    prev = [pl.col(c).shift(1).over(keys).alias(f"__prev_{c}") for c in [*data, "_op"]]
    first = (pl.int_range(pl.len()).over(keys) == 0).alias("__first")
    frame = ordered.with_columns(*prev, first)
    if current is not None:  # the first change of a key follows its current version
        cur = current.select(
            *keys,
            *[pl.col(c).alias(f"__curv_{c}") for c in data if c in current.columns],
            pl.lit("I").alias("__curv__op"),
        )
        first = pl.col("__first")
        frame = frame.join(cur, on=keys, how="left").sort(SEQUENCE)
        frame = frame.with_columns(
            *[
                pl.when(first & pl.col("__curv__op").is_not_null())
                .then(pl.col(f"__curv_{c}") if f"__curv_{c}" in frame.columns else pl.lit(None))
                .otherwise(pl.col(f"__prev_{c}"))
                .cast(frame.schema[c], strict=False)
                .alias(f"__prev_{c}")
                for c in data
            ],
            pl.when(first & pl.col("__curv__op").is_not_null())
            .then(pl.col("__curv__op"))
            .otherwise(pl.col("__prev__op"))
            .alias("__prev__op"),
        )
    same = pl.lit(True)
    for c in data:
        same = same & pl.col(c).eq_missing(pl.col(f"__prev_{c}").cast(frame.schema[c]))
    frame = frame.with_columns(
        (
            (pl.col("_file_kind") == "load")
            & (pl.col("_op") != "D")
            & pl.col("__prev__op").is_not_null()
            & (pl.col("__prev__op") != "D")
            & same
        ).alias("__same")
    )
    if not frame["__same"].any():
        return ordered, None
    # a version per run of changes: its first change's data and start, its last one's lineage
    frame = frame.with_columns((~pl.col("__same")).cast(pl.Int64).cum_sum().over(keys).alias("__v"))
    last = frame.group_by(*keys, "__v").agg(
        *[pl.col(c).last().alias(f"__last{c}") for c in _LINEAGE]
    )
    relineage = last.filter(pl.col("__v") == 0).select(
        *keys,
        pl.col(f"__last{SEQUENCE}").alias("__lseq"),
        pl.col("__last_commit_ts").alias("__lcts"),
        pl.col("__last_source_file").alias("__lsf"),
    )
    heads = frame.filter(~pl.col("__same") & (pl.col("__v") > 0))
    heads = heads.with_columns(pl.col(SEQUENCE).alias("__head_seq"), _START.alias("__head_start"))
    heads = heads.join(last, on=[*keys, "__v"]).with_columns(
        *[pl.col(f"__last{c}").alias(c) for c in _LINEAGE]
    )
    out = heads.select(*ordered.columns, "__head_seq", "__head_start").sort(SEQUENCE)
    return out, relineage if relineage.height else None


def _versions(ordered: pl.DataFrame, keys: list[str]) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(the version rows of ``ordered`` changes, one closer per key: ``__close_at`` — its first
    ``__start_at`` — and ``__first_seq``, the sequence of its first change)."""
    folded = "__head_seq" in ordered.columns  # ``_same_as_before``: the first change's
    first = pl.col("__head_seq") if folded else pl.col(SEQUENCE)
    start = pl.col("__head_start") if folded else _START
    versions = ordered.with_columns(start.alias("__start_at"), first.alias("__head_seq"))
    versions = versions.with_columns(
        pl.col("__start_at").shift(-1).over(keys).alias("__end_at"),
    )
    closers = versions.group_by(keys).agg(
        pl.col("__start_at").min().alias("__close_at"),
        pl.col("__head_seq").min().alias("__first_seq"),
    )
    versions = versions.drop("__head_seq", *(["__head_start"] if folded else []))
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
        .when_matched_update(  # closed, or handed an identical full-load row's lineage
            updates=CLOSE_SET, predicate=f"s.__kind = 'close' AND ({CLOSE_CONDITION})"
        )
        .when_not_matched_insert(
            updates={f'"{c}"': f's."{c}"' for c in rows.columns}, predicate="s.__kind = 'version'"
        )
        .execute()
    )
    return int(metrics.get("num_target_rows_inserted", 0))


def _current_versions(
    hist, keys: list[str], batch_keys: pl.DataFrame, data: list[str]
) -> pl.DataFrame:
    """``keys``, ``__cur`` (the ``_sequence`` of the current version) and the ``data`` columns
    the history has, of the batch's keys' current versions."""
    names = set(hist.schema().to_arrow().names)
    cols = [*keys, SEQUENCE, *[c for c in data if c in names]]
    current = pl.from_arrow(
        hist.to_pyarrow_table(columns=cols, filters=[("__is_current", "=", True)])
    ).rename({SEQUENCE: "__cur"})
    return current.join(batch_keys, on=keys, how="semi")
