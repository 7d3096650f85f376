"""The total order of changes and the resolution of a change batch, on Spark DataFrames.

Same contract as ``engine.sequencing`` (the local engine), value for value:

- ``sequence_col()`` builds ``_sequence`` = ``<commit ts, UTC, microseconds>|<change seq padded
  to 35>|<0 load/csv, 1 cdc>|<file>|<row padded to 12>``; a null commit timestamp is the
  row's ``_ingested_at`` (its arrival); a null one then, or a null change sequence, sorts first
  (zeros), a null source file makes the whole value null (as Polars'
  ``concat_str``). ``<file>`` is a DMS file's name token, ``:`` and its source file (kind
  ``load``/``cdc`` and a DMS name; ``engine.core.order.file_order``), else the source file.
  Padding never truncates (Spark's ``lpad`` would).
- ``explode_key_changes`` turns a ``U`` whose before-image key (``_before_key``, JSON of text
  values) differs from its key into a ``D`` of the old key (data columns null) plus the ``U``,
  both at the same ``_sequence``.
- ``last_per_key`` keeps the change with the greatest ``_sequence`` per primary key.
- ``filter_tombstoned`` drops changes not newer than the key's tombstone (a delete at exactly the
  tombstone's sequence still passes, as in ``engine.silver``).
"""

from __future__ import annotations

from lakehouse.engine.core.order import (
    DMS_KINDS,
    DMS_NAME_PATTERN,
    FILE_TOKEN_SEP,
    NULL_SEQ,
    NULL_TS,
    SEQUENCE,
)
from lakehouse.registry.model import TableSpec

_TS_PATTERN = "yyyy-MM-dd'T'HH:mm:ss.SSSSSS"


def _pad(col, width: int):
    from pyspark.sql import functions as F

    return F.when(F.length(col) >= width, col).otherwise(F.lpad(col, width, "0"))


def file_order_col():
    """``<file>`` of ``_sequence`` (see the module docstring)."""
    from pyspark.sql import functions as F

    src = F.col("_source_file")
    load, day, time = (F.regexp_extract(src, DMS_NAME_PATTERN, i) for i in (1, 2, 3))
    token = F.when(load != "", load).when(
        day != "", F.concat(day, F.lit("-"), F.rpad(time, 10, "0"))
    )
    dms = F.coalesce(F.col("_file_kind").isin(*DMS_KINDS), F.lit(False)) & token.isNotNull()
    return F.when(dms, F.concat(token, F.lit(FILE_TOKEN_SEP), src)).otherwise(src)


def sequence_col(session_time_zone: str = "UTC"):
    """The ``_sequence`` Column (see the module docstring); renders timestamps in UTC."""
    from pyspark.sql import functions as F

    ts_col = F.coalesce(F.col("_commit_ts"), F.col("_ingested_at"))  # arrival, when unknown
    if session_time_zone.upper() not in ("UTC", "Z", "ETC/UTC", "GMT", "+00:00"):
        ts_col = F.to_utc_timestamp(ts_col, session_time_zone)  # shift so UTC wall time renders
    ts = F.coalesce(F.date_format(ts_col, _TS_PATTERN), F.lit(NULL_TS))
    seq = _pad(F.coalesce(F.col("_change_seq"), F.lit(NULL_SEQ)), 35)
    rank = F.when(F.col("_file_kind") == "cdc", F.lit("1")).otherwise(F.lit("0"))
    row = _pad(F.coalesce(F.col("_source_row"), F.lit(0)).cast("string"), 12)
    sep = F.lit("|")
    return F.concat(ts, sep, seq, sep, rank, sep, file_order_col(), sep, row).alias(SEQUENCE)


def with_sequence(changes):
    tz = changes.sparkSession.conf.get("spark.sql.session.timeZone", "UTC")
    return changes.withColumn(SEQUENCE, sequence_col(tz))


def explode_key_changes(changes, spec: TableSpec):
    """Split primary-key updates into (delete old key, update new key); see module docstring."""
    from pyspark.sql import functions as F
    from pyspark.sql import types as T

    from lakehouse.engine.spark.types import cast_text

    keys = list(spec.primary_key)
    if not keys or "_before_key" not in changes.columns:
        return changes
    bk_schema = T.StructType([T.StructField(k, T.StringType()) for k in keys])
    parsed = F.from_json(F.col("_before_key"), bk_schema)
    old = {
        k: cast_text(parsed.getField(k), spec.column(k).type).cast(changes.schema[k].dataType)
        for k in keys
    }
    moved = None
    for k in keys:
        differs = old[k].isNotNull() & (old[k] != F.col(k))
        moved = differs if moved is None else (moved | differs)
    moved = F.coalesce(moved & (F.col("_op") == "U"), F.lit(False))
    flagged = changes.withColumn("__moved", moved)
    for k in keys:
        flagged = flagged.withColumn(f"__old_{k}", old[k])
    data_cols = [c for c in changes.columns if c not in keys and not c.startswith("_")]
    deletes = flagged.filter(F.col("__moved")).select(
        *[
            F.col(f"__old_{c}").alias(c)
            if c in keys
            else F.lit("D").alias(c)
            if c == "_op"
            else F.lit(None).cast(changes.schema[c].dataType).alias(c)
            if c in data_cols
            else F.col(c)
            for c in changes.columns
        ]
    )
    return changes.unionByName(deletes)


def last_per_key(changes, spec: TableSpec):
    """One row per key: the change with the greatest ``_sequence``."""
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    order = [F.col(SEQUENCE).desc_nulls_last()]
    if "_ingested_at" in changes.columns:  # only ties are a replayed file: identical rows
        order.append(F.col("_ingested_at").desc_nulls_last())
    w = Window.partitionBy(*spec.primary_key).orderBy(*order)
    return changes.withColumn("__rn", F.row_number().over(w)).filter("__rn = 1").drop("__rn")


def filter_tombstoned(batch, tombstones, spec: TableSpec):
    """Drop changes not newer than the key's tombstone; ``tombstones`` holds key + ``_sequence``."""
    from pyspark.sql import functions as F

    if tombstones is None:
        return batch
    keys = list(spec.primary_key)
    tomb = tombstones.select(*keys, F.col(SEQUENCE).alias("__tomb"))
    joined = batch.join(tomb, on=keys, how="left")
    keep = (
        F.col("__tomb").isNull()
        | (F.col(SEQUENCE) > F.col("__tomb"))
        | ((F.col("_op") == "D") & (F.col(SEQUENCE) == F.col("__tomb")))
    )
    return joined.filter(keep).select(*batch.columns)
