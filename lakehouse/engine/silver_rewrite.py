"""The MERGE of a batch that touches most of a silver table, done as a copy-on-write in Polars.

Contract: ``rewrite_batch(lake, spec, target, source, bronze_version)`` leaves ``target`` with
the rows ``silver_writes.merge_batch``'s MERGE would, in one commit recording
``bronze_version``, and returns the MERGE's row metrics (``num_target_rows_inserted``,
``_updated``, ``_deleted``, plus ``num_target_files_removed`` / ``_added``); or None, having
changed nothing, where the MERGE must do it. The files whose key range holds a key of the batch
are read, the batch applied to their rows (a row whose key has a change with
``t._sequence < s.__newer_than`` is deleted by a ``D``, else replaced; a key in none of them is
inserted unless its change is a ``D``; a column the batch lacks keeps the row's value, or null
for an insert), and the rows written as new files (``delta_write``) in one commit that also
removes the files read.

None where: the lake is not a local folder; the table is partitioned, has deletion vectors,
column mapping, constraints or a change data feed; the batch has a column the table lacks
(schema evolution: the MERGE adds it); the batch's keys leave out at least half of the files
(the MERGE prunes them, ``silver_writes.prunes``); the files to read hold more than
``MAX_BYTES`` (the MERGE streams them); nothing would be left; the writer cannot
keep the table's schema. ``StaleTableError`` (nothing written) where another commit (a
compaction) came after the version read: the caller merges into the latest version.

Why: the MERGE rewrites every file it touches on one core, and a batch of keys spread over the
table touches them all (bench/README.md: "our own MERGE").
"""

from __future__ import annotations

from urllib.parse import unquote

import polars as pl
import pyarrow as pa

from lakehouse.engine.core.keys import silver_key
from lakehouse.engine.core.order import SEQUENCE
from lakehouse.engine.delta import open_table
from lakehouse.engine.delta_write import blocks_fast_write, write_frame, writes_type
from lakehouse.engine.increments import commit_props
from lakehouse.engine.silver_writes import check_types, prunes
from lakehouse.registry.model import TableSpec
from lakehouse.storage import Lake, LocalLake

#: key types whose file statistics are exact (text statistics may be truncated prefixes)
_EXACT_STATS = (pl.Int8, pl.Int16, pl.Int32, pl.Int64, pl.UInt32, pl.UInt64, pl.Date)
_MARKS = ("__op", "__newer_than")
#: the most Parquet bytes a rewrite reads (its rows are in memory, ~4x, before and after)
MAX_BYTES = 128 * 1024 * 1024


def rewrite_batch(
    lake: Lake, spec: TableSpec, target, source: pl.DataFrame, bronze_version, *, pruned=None
) -> dict | None:
    """The batch ``source`` (``merge_source``: one change per key) into ``target``, rewritten
    (see the module); its metrics, or None: the MERGE's to do. ``pruned``: ``prunes`` of the
    batch on ``target``, when the caller has it."""
    if not isinstance(lake, LocalLake) or not spec.primary_key or not _plain_table(target):
        return None
    schema = pa.schema(target.schema().to_arrow())
    check_types(spec, source.head(0).to_arrow().schema, schema)  # as the MERGE: raises
    data_cols = [c for c in source.columns if c not in _MARKS]
    if any(c not in schema.names for c in data_cols):
        return None  # schema evolution: the MERGE adds the column
    if pruned is None:
        pruned = prunes(target, source, spec.primary_key[0])
    if pruned:  # the MERGE prunes by the statistics, exact or not
        return None
    files = _files(target)
    touched = _touched(files, source, list(spec.primary_key))
    if touched is None or touched.height * 2 <= files.height:
        return None  # the MERGE's pruning reads only the files it needs
    if touched["size_bytes"].sum() > MAX_BYTES:
        return None  # held in memory whole: a bigger rewrite is the MERGE's (it streams)
    key = silver_key(spec.name)
    types = pl.from_arrow(schema.empty_table()).schema
    if not all(writes_type(t) for t in types.values()):
        return None  # the writer would refuse the rows: not read them for nothing
    rows = _read(lake.path / key, touched["path"].to_list(), types)
    out, metrics = apply_to_rows(rows, source, list(spec.primary_key), types)
    if not out.height:
        return None
    removed = touched["path"].to_list()
    props = commit_props(bronze_version, retries=0)  # at the version read, or not at all
    if not write_frame(lake, key, out, commit_properties=props, replaces=(target, removed)):
        latest = open_table(lake, key)
        if latest is not None and latest.version() != target.version():
            raise StaleTableError(
                f"{key}: version {latest.version()} came after {target.version()}"
            )
        return None
    return {**metrics, "num_target_files_removed": len(removed), "rewritten": True}


class StaleTableError(Exception):
    """Another commit came after the version the batch was rewritten from; nothing written."""


def _plain_table(target) -> bool:
    """No partitions, deletion vectors, column mapping, constraints or change data feed."""
    meta = target.metadata()
    config = dict(meta.configuration)
    if meta.partition_columns or any(blocks_fast_write(k) for k in config):
        return False
    if str(config.get("delta.enableChangeDataFeed", "")).lower() == "true":
        return False
    features = target.protocol().reader_features or []
    return "deletionVectors" not in features and "columnMapping" not in features


def _files(target) -> pl.DataFrame:
    """The table's data files: ``path`` and the flattened statistics (``min.<col>``…)."""
    return pl.from_arrow(pa.table(target.get_add_actions(flatten=True)))


def _touched(files: pl.DataFrame, source: pl.DataFrame, keys: list[str]) -> pl.DataFrame | None:
    """The files whose range of the first key holds a key of ``source`` (every file where the
    statistics are missing or may be inexact); None for a path that is not a plain relative
    one."""
    paths = files.get_column("path")
    if paths.str.contains(r"^[a-zA-Z][a-zA-Z0-9+.-]*:|^/|\.\.").any():
        return None
    key = keys[0]
    lo, hi = f"min.{key}", f"max.{key}"
    dtype = source.schema[key]
    if (
        lo not in files.columns
        or files[lo].null_count()
        or files[hi].null_count()
        or not any(dtype == t for t in _EXACT_STATS)
    ):
        return files.select("path", "size_bytes")
    wanted = source.get_column(key).sort()
    try:
        # a file is touched when a key lies in [min, max]: the first key >= min is <= max
        at = wanted.search_sorted(files[lo].cast(dtype), side="left")
    except (pl.exceptions.PolarsError, TypeError):
        return files.select("path", "size_bytes")
    first = wanted.gather(at.clip(0, max(len(wanted) - 1, 0))) if len(wanted) else None
    if first is None:
        return files.select("path", "size_bytes").head(0)
    hit = (at < len(wanted)) & (first <= files[hi].cast(dtype))
    return files.filter(hit).select("path", "size_bytes")


def _read(table_dir, paths: list[str], types: pl.Schema) -> pl.DataFrame:
    """The rows of the data files ``paths`` (relative to ``table_dir``), in the table's
    column order and types (a column added after a file was written is null there)."""
    frame = pl.read_parquet([str(table_dir / unquote(p)) for p in paths], missing_columns="insert")
    return _typed(frame, types)


def apply_to_rows(
    rows: pl.DataFrame, source: pl.DataFrame, keys: list[str], types: pl.Schema
) -> tuple[pl.DataFrame, dict]:
    """The MERGE's clauses on ``rows`` (see the module): the rows after, in the table's types
    and key order, and the row metrics."""
    source = source.with_columns(pl.col(k).cast(types[k]) for k in keys)
    # the rows the batch has a change for: deleted or replaced where the change is newer
    held = rows.select(*keys, SEQUENCE).filter(_among(keys, source))
    matched = held.join(source.select(*keys, *_MARKS), on=keys)
    changed = matched.filter((pl.col(SEQUENCE) < pl.col("__newer_than")).fill_null(False))
    deleted = int((changed["__op"] == "D").sum())
    replaced = changed.filter(pl.col("__op") != "D").select(keys)
    stay = rows.filter(~_among(keys, changed))
    updates = source.join(replaced, on=keys, how="semi")
    lacking = [c for c in types.names() if c not in source.columns]
    if lacking:  # columns the batch does not carry keep the row's values
        updates = updates.join(rows.select(*keys, *lacking), on=keys, how="left")
    inserts = source.filter(pl.col("__op") != "D").join(matched.select(keys), on=keys, how="anti")
    out = pl.concat(
        [stay, *(_typed(f, types) for f in (updates, inserts) if f.height)], how="vertical"
    )
    metrics = {
        "num_target_rows_inserted": inserts.height,
        "num_target_rows_updated": updates.height,
        "num_target_rows_deleted": deleted,
    }
    return out.sort(keys), metrics


def _among(keys: list[str], frame: pl.DataFrame) -> pl.Expr:
    """Whether a row's key is one of ``frame``'s (a hash set of its keys: several times faster
    than a join's probe over a big table)."""
    if len(keys) == 1:
        return pl.col(keys[0]).is_in(frame.get_column(keys[0]).implode())
    return pl.struct(keys).is_in(frame.select(pl.struct(keys)).to_series().implode())


def _typed(frame: pl.DataFrame, types: pl.Schema) -> pl.DataFrame:
    """``frame`` with the table's columns in its order and types (null where it has none)."""
    return frame.select(
        pl.col(c).cast(t) if c in frame.columns else pl.lit(None, t).alias(c)
        for c, t in types.items()
    )
