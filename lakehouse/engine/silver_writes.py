"""Writing ``silver/<table>`` with delta-rs: the resolved change set in, one commit out.

Contract: a row of ``silver/<table>`` is a change without bronze's lineage-only columns
(``silver_rows``: ``engine.core.lineage.BRONZE_ONLY``), written in key order (``clustered``) in
files of about ``TARGET_FILE_BYTES`` (``TABLE_CONFIG``), so a MERGE rewrites few files. Every
commit records the bronze version it applies (``increments.commit_props``).

- ``append_rows``: a keyless (append-only) table's inserts (overwrite on a full refresh);
- ``overwrite_rows``: a full refresh's current rows, or the first write of a table;
- ``merge_batch``: THE incremental MERGE of a batch (one change per key, ``_op`` kept as
  ``__op``): delete / update when the change is newer than the row and not the same change
  delivered again, insert when the key is absent and the change is not a delete; new columns are
  added (schema evolution), an incompatible type change raises ``SchemaChangeError``
  (``check_types``).
"""

from __future__ import annotations

import polars as pl
import pyarrow as pa

from lakehouse.engine.core.keys import silver_key
from lakehouse.engine.core.lineage import BRONZE_ONLY
from lakehouse.engine.core.results import incompatible
from lakehouse.engine.delta_write import write_frame
from lakehouse.engine.increments import commit_props
from lakehouse.engine.sequencing import NEWER_SQL, fixed_layout, newer_bound
from lakehouse.registry.model import TableSpec
from lakehouse.storage import Lake

#: bounded files (MERGE rewrites keep this size), so a batch rewrites few files: cost follows the
#: change, not the table
TARGET_FILE_BYTES = 8 * 1024 * 1024
TABLE_CONFIG = {"delta.targetFileSize": str(TARGET_FILE_BYTES)}


def silver_rows(changes: pl.DataFrame) -> pl.DataFrame:
    """``changes`` without bronze's lineage-only columns."""
    return changes.drop([c for c in BRONZE_ONLY if c in changes.columns])


def clustered(frame: pl.DataFrame, spec: TableSpec) -> pl.DataFrame:
    """Rows in key order, so files cover key ranges and MERGE can skip most of them."""
    keys = list(spec.primary_key)
    if not keys or not frame.height or (len(keys) == 1 and frame[keys[0]].is_sorted()):
        return frame
    return frame.sort(keys)


def check_types(spec: TableSpec, source: pa.Schema, target: pa.Schema) -> None:
    """Raise ``SchemaChangeError`` for a column of ``source`` whose type is incompatible with
    its type in ``target`` (null, a wider integer, another timestamp unit or text/binary layout
    are compatible)."""
    for f in source:
        if f.name in target.names:
            old = target.field(f.name).type
            if old != f.type and not (pa.types.is_null(f.type) or _widening(old, f.type)):
                raise incompatible(spec.name, f.name, str(old), str(f.type))


def _widening(old: pa.DataType, new: pa.DataType) -> bool:
    ints = [pa.int8(), pa.int16(), pa.int32(), pa.int64()]
    if old in ints and new in ints:
        return ints.index(new) >= ints.index(old)
    if pa.types.is_timestamp(old) and pa.types.is_timestamp(new):
        return True
    # the same Delta type ("string" / "binary") in another Arrow layout
    texts = (pa.types.is_string, pa.types.is_large_string, pa.types.is_string_view)
    binaries = (pa.types.is_binary, pa.types.is_large_binary, pa.types.is_binary_view)
    for kind in (texts, binaries):
        if any(t(old) for t in kind) and any(t(new) for t in kind):
            return True
    return False


def append_rows(
    lake: Lake, spec: TableSpec, rows: pl.DataFrame, bronze_version, *, full_refresh: bool
) -> None:
    """Append ``rows`` to a keyless table (replace it on a full refresh)."""
    from deltalake import write_deltalake

    key, props = silver_key(spec.name), commit_props(bronze_version)
    if not full_refresh and write_frame(lake, key, rows, commit_properties=props):
        return
    write_deltalake(
        lake.uri(key),
        rows.to_arrow(),
        mode="overwrite" if full_refresh else "append",
        schema_mode="overwrite" if full_refresh else "merge",
        storage_options=lake.storage_options,
        commit_properties=props,
    )


def overwrite_rows(
    lake: Lake, spec: TableSpec, rows: pl.DataFrame, bronze_version, *, create: bool = False
) -> None:
    """Write ``rows`` as the whole table: a full refresh (``create``: the table's first write)."""
    from deltalake import write_deltalake

    rows = clustered(rows, spec)
    props = commit_props(bronze_version)
    key = silver_key(spec.name)
    if create and write_frame(
        lake, key, rows, commit_properties=props, configuration=TABLE_CONFIG, create_only=True
    ):
        return
    replace = {} if create else {"mode": "overwrite", "schema_mode": "overwrite"}
    write_deltalake(
        lake.uri(key),
        rows.to_arrow(),
        **replace,
        configuration=TABLE_CONFIG,
        storage_options=lake.storage_options,
        commit_properties=props,
    )


def merge_source(batch: pl.DataFrame) -> pl.DataFrame:
    """The MERGE source of a batch: silver rows with ``__op`` and ``__newer_than``."""
    bound = newer_bound(fixed=fixed_layout(batch))
    return silver_rows(batch.with_columns(pl.col("_op").alias("__op"), bound))


def merge_batch(
    lake: Lake, spec: TableSpec, target, source: pl.DataFrame, bronze_version, *, pruned=None
) -> dict:
    """MERGE ``source`` (``merge_source``) into the silver table ``target``; its metrics.
    ``pruned``: ``prunes`` of the batch on ``target``, when the caller has it."""
    src_arrow = source.to_arrow()
    check_types(spec, src_arrow.schema, pa.schema(target.schema().to_arrow()))
    pred = " AND ".join(f't."{k}" = s."{k}"' for k in spec.primary_key)
    # newer, and not the same change delivered again under a greater file name: NEWER_SQL
    data_cols = [c for c in source.columns if c not in ("__op", "__newer_than")]
    updates = {f'"{c}"': f's."{c}"' for c in data_cols}
    return (
        target.merge(
            src_arrow,
            predicate=pred,
            source_alias="s",
            target_alias="t",
            merge_schema=True,
            streamed_exec=not (
                prunes(target, source, spec.primary_key[0]) if pruned is None else pruned
            ),
            commit_properties=commit_props(bronze_version),
        )
        .when_matched_delete(predicate=f"{NEWER_SQL} AND s.__op = 'D'")
        .when_matched_update(updates=updates, predicate=f"{NEWER_SQL} AND s.__op <> 'D'")
        .when_not_matched_insert(updates=updates, predicate="s.__op <> 'D'")
        .execute()
    )


def prunes(target, source: pl.DataFrame, key: str) -> bool:
    """Whether the source's range of ``key`` leaves out at least half of the target's files.
    delta-rs prunes files by that range only when it does not stream the source
    (``streamed_exec=False``), which costs more where nothing is pruned (a batch of keys
    spread over the whole table: ~0.1 s per 100k changes into 1.2M rows); True when the files
    have no statistics for ``key``."""
    actions = pa.table(target.get_add_actions(flatten=True))
    lo, hi = f"min.{key}", f"max.{key}"
    if actions.num_rows == 0 or lo not in actions.column_names or not source.height:
        return True
    files = pl.from_arrow(actions.select([lo, hi]))
    if files[lo].null_count() or files[hi].null_count():
        return True
    keys = source.get_column(key)
    try:
        touched = files.filter((pl.col(hi) >= keys.min()) & (pl.col(lo) <= keys.max())).height
    except (pl.exceptions.PolarsError, TypeError, ValueError):  # statistics of another type
        return True
    return touched * 2 <= files.height
