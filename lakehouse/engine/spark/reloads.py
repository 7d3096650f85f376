"""DMS full-load reloads (``reload-target``) on Spark: the local engine's semantics, on DataFrames.

Same contract as ``engine.silver`` (module docstring, "full loads and reloads") and
``engine.bronze`` ("The load log"):

- ``read_load_log(spark, bronze_uri)``: every full-load file ingestion of a bronze table, with its
  generation (``core.reloads.load_generations``). Read where the local engine reads it: the bronze
  writer's cache (``<lake root>/_state/bronze/<table>.json``, beside ``bronze/``) when present,
  then the ``lakehouse.loads`` commit metadata of the Delta commits after the cache's version
  (``_delta_log/<version>.json``, read as text: no Delta JARs needed). ``up_to`` ignores the
  commits after a bronze version (what the log held when that version was current).
- the reload plan of that log is ``engine.core.reloads.plan_reloads``, the local engine's;
- ``reload_deletes(changes, spec, reloads, state)``: the ``D`` changes at each reload's start for
  the keys live just before it and absent from its baseline (its valid LOAD rows), with the
  lineage of the reload's first file; ``state`` is the silver table (None: no table yet or a full
  refresh). A silver row ordered at or after the start stays (changed after the reload began).
"""

from __future__ import annotations

import json

from lakehouse.engine.core.order import sequence_commit_ts
from lakehouse.engine.core.reloads import (
    LOADS_METADATA_KEY,
    LoadIngestion,
    Reload,
    load_generations,
)
from lakehouse.engine.spark.sequencing import SEQUENCE
from lakehouse.registry.model import TableSpec


def _fs(spark, uri: str):
    jvm = spark.sparkContext._jvm
    path = jvm.org.apache.hadoop.fs.Path(uri)
    return path.getFileSystem(spark.sparkContext._jsc.hadoopConfiguration()), path


def _cache_uri(bronze_uri: str) -> str | None:
    root, sep, name = bronze_uri.rstrip("/").rpartition("/bronze/")
    return f"{root}/_state/bronze/{name}.json" if sep and root else None


def _read_cache(spark, bronze_uri: str) -> tuple[int, list[LoadIngestion]]:
    """(cached bronze version, its load entries); (-1, []) without a usable cache."""
    uri = _cache_uri(bronze_uri)
    if uri is None:
        return -1, []
    fs, path = _fs(spark, uri)
    if not fs.exists(path):
        return -1, []
    text = "".join(r[0] for r in spark.read.text(uri, wholetext=True).collect())
    cache = json.loads(text) if text.strip() else {}
    if "loads" not in cache:  # written before the load log existed: read the history
        return -1, []
    loads = [LoadIngestion.from_json(e, e["version"]) for e in cache["loads"]]
    return int(cache["version"]), loads


def read_load_log(spark, bronze_uri: str, *, up_to: int | None = None) -> list[LoadIngestion]:
    """The load log of the bronze table at ``bronze_uri`` (see the module docstring)."""
    log_uri = f"{bronze_uri.rstrip('/')}/_delta_log"
    fs, path = _fs(spark, log_uri)
    if not fs.exists(path):
        return []
    cached, loads = _read_cache(spark, bronze_uri)
    commits = {}
    for status in fs.listStatus(path):
        name = status.getPath().getName()
        if len(name) == 25 and name.endswith(".json") and name[:20].isdigit():
            version = int(name[:20])
            if version > cached and (up_to is None or version <= up_to):
                commits[status.getPath().toString()] = version
    if commits:
        from pyspark.sql import functions as F

        lines = (
            spark.read.text(sorted(commits))
            .where(F.col("value").contains(f'"{LOADS_METADATA_KEY}"'))
            .select("value", F.input_file_name().alias("file"))
            .collect()
        )
        by_name = {p.rsplit("/", 1)[-1]: v for p, v in commits.items()}
        for value, file in lines:
            info = json.loads(value).get("commitInfo") or {}
            if info.get(LOADS_METADATA_KEY):
                version = by_name[file.rsplit("/", 1)[-1]]
                loads += [
                    LoadIngestion.from_json(e, version)
                    for e in json.loads(info[LOADS_METADATA_KEY])
                ]
    if up_to is not None:
        loads = [e for e in loads if e.version <= up_to]
    return load_generations(sorted(loads, key=lambda e: (e.version, e.key)))


def _latest_live(frame, spec: TableSpec):
    """Keys whose latest change (greatest ``_sequence``; ties: greatest ``__src``) is not a ``D``."""
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    w = Window.partitionBy(*spec.primary_key).orderBy(
        F.col(SEQUENCE).desc_nulls_last(), F.col("__src").desc()
    )
    latest = frame.withColumn("__rn", F.row_number().over(w)).filter("__rn = 1")
    return latest.filter(F.col("_op") != "D").select(*spec.primary_key)


def reload_deletes(changes, spec: TableSpec, reloads: list[Reload], state=None):
    """The reloads' ``D`` changes (see the module docstring); ``changes`` are the prepared,
    validated bronze rows of the batch (before key-change explosion)."""
    from functools import reduce

    from pyspark.sql import functions as F

    spark = changes.sparkSession
    keys = list(spec.primary_key)
    cols = [*keys, SEQUENCE, "_op"]
    # the local engine concatenates silver, the batch, then earlier reloads' deletes and keeps
    # the last of equal sequences: __src orders those sources
    prior = changes.select(*cols, F.lit(1).alias("__src"))
    current = None
    if state is not None:
        current = state.select(
            *[F.col(k).cast(changes.schema[k].dataType).alias(k) for k in keys], SEQUENCE
        )
        prior = current.select(*keys, SEQUENCE, F.lit("I").alias("_op"), F.lit(0).alias("__src"))
        prior = prior.unionByName(changes.select(*cols, F.lit(1).alias("__src")))
    loads = changes.filter(F.col("_file_kind") == "load")
    out = []
    for r in reloads:
        members = spark.createDataFrame(
            list(r.files), "_source_file string, _ingested_at timestamp"
        ).distinct()
        baseline = loads.join(members, on=["_source_file", "_ingested_at"], how="left_semi")
        before = prior.filter(F.col(SEQUENCE) < F.lit(r.start))
        for o in out:
            before = before.unionByName(o.select(*cols, F.lit(2).alias("__src")))
        live = _latest_live(before, spec)
        if current is not None:  # a silver row older than the reload goes even when the batch
            # deletes it before the reload: that delete is superseded by the reload's
            older = current.filter(F.col(SEQUENCE) < F.lit(r.start)).select(*keys)
            live = live.unionByName(older).distinct()
            changed = current.filter(F.col(SEQUENCE) >= F.lit(r.start)).select(*keys)
            live = live.join(changed, on=keys, how="left_anti")
        gone = live.join(baseline.select(*keys), on=keys, how="left_anti")
        commit_ts = sequence_commit_ts(r.start)
        out.append(
            gone.select(
                *keys,
                F.lit("D").alias("_op"),
                F.lit(r.start).alias(SEQUENCE),
                (F.lit(None) if commit_ts is None else F.lit(commit_ts))
                .cast("timestamp")
                .alias("_commit_ts"),
                F.lit(r.source_file).alias("_source_file"),
                F.lit(r.ingested_at).cast("timestamp").alias("_ingested_at"),
                F.lit("load").alias("_file_kind"),
            )
        )
    return reduce(lambda a, b: a.unionByName(b), out) if out else None
