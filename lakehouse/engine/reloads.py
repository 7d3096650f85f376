"""DMS full-load reloads on Polars: the reload plan of a run and the deletes a reload makes.

Contract (``engine.silver``, "full loads and reloads"): ``reload_plan(lake, spec, after,
bronze_version)`` is ``engine.core.reloads.plan_reloads`` over bronze's load log
(``bronze.load_log``; not read for a table without bronze). A keyless table's plan is acted on
by ``engine.silver`` alone (no deletes by key: its rows ordered before the start go).
``reload_deletes(spec, changes, reloads, target)`` gives, for each reload, a ``D`` change at the
reload's start (``_sequence``, its commit timestamp, the lineage of the reload's first file,
``_file_kind`` load) for every key live just before the start and absent from the reload's
baseline (its valid LOAD rows in ``changes``); ``target`` is the silver table (None: none yet,
or a full refresh). A silver row ordered at or after the start stays (changed after the reload
began). The Spark engine's counterpart is ``engine.spark.reloads.reload_deletes``.
"""

from __future__ import annotations

import polars as pl

from lakehouse.engine.core.order import SEQUENCE, sequence_commit_ts
from lakehouse.engine.core.reloads import Reload, ReloadPlan, plan_reloads
from lakehouse.engine.sequencing import last_per_key
from lakehouse.registry.model import TableSpec
from lakehouse.storage import Lake

UTC_TS = pl.Datetime("us", "UTC")


def reload_plan(lake: Lake, spec: TableSpec, after: int | None, bronze_version: int | None):
    """The ``ReloadPlan`` of a run applying bronze up to ``bronze_version`` after ``after``."""
    from lakehouse.engine.bronze import load_log

    if bronze_version is None:
        return ReloadPlan([], None, None)
    return plan_reloads(load_log(lake, spec), spec, after, bronze_version)


def reload_rows_after(
    lake: Lake, spec: TableSpec, reloads: list[Reload], version: int | None
) -> dict[int, pl.DataFrame]:
    """Per generation of ``reloads``: the keys of its LOAD rows in bronze after ``version`` (a
    batch that cuts a reload in two)."""
    from lakehouse.engine.bronze import load_log
    from lakehouse.engine.core.keys import bronze_key

    gens = {r.generation for r in reloads}
    later = [e for e in load_log(lake, spec) if e.generation in gens and e.version > version]
    if not later:
        return {}
    members = pl.DataFrame(
        {
            "_source_file": [e.key for e in later],
            "_ingested_at": [e.ingested_at for e in later],
            "_generation": [e.generation for e in later],
        },
        schema={"_source_file": pl.String, "_ingested_at": UTC_TS, "_generation": pl.Int64},
    )
    scan = pl.scan_delta(lake.uri(bronze_key(spec.name)), storage_options=lake.storage_options)
    files = sorted({e.key for e in later})  # the statistics of _source_file prune the rest
    rows = (
        scan.filter((pl.col("_file_kind") == "load") & pl.col("_source_file").is_in(files))
        .select(*spec.primary_key, "_source_file", "_ingested_at")
        .join(members.lazy(), on=["_source_file", "_ingested_at"])
        .collect()
    )
    return {
        g: f.select(spec.primary_key)
        for (g,), f in rows.partition_by("_generation", as_dict=True).items()
    }


def reload_deletes(
    spec: TableSpec,
    changes: pl.DataFrame,
    reloads: list[Reload],
    target,
    ahead: dict[int, pl.DataFrame] | None = None,
) -> pl.DataFrame:
    """The reloads' ``D`` changes (see the module docstring). Live: every silver row older than
    the start, and the keys whose latest change of the batch before the start is not a delete.
    ``ahead`` (``reload_rows_after``): the reloads' LOAD rows after the batch, in the baseline
    too (their row rules are checked when their batch comes: a bad one is deleted then)."""
    keys = list(spec.primary_key)
    cols = [*keys, SEQUENCE, "_op"]
    prior = changes.select(cols) if changes.width else pl.DataFrame()
    current = None
    if target is not None:
        current = pl.from_arrow(target.to_pyarrow_table(columns=[*keys, SEQUENCE]))
        current = current.with_columns(pl.lit("I").alias("_op")).select(cols)
        prior = pl.concat([current, prior], how="vertical_relaxed") if prior.width else current
    if prior.height == 0:
        return pl.DataFrame()
    loads = changes.filter(pl.col("_file_kind") == "load") if changes.height else changes.clear()
    out: list[pl.DataFrame] = []
    for r in reloads:
        before = pl.concat(
            [prior.filter(pl.col(SEQUENCE) < r.start), *[o.select(cols) for o in out]]
        )
        live = last_per_key(before, spec).filter(pl.col("_op") != "D").select(keys)
        if current is not None:  # a silver row older than the reload goes even when the batch
            # deletes it before the reload: that delete is superseded by the reload's
            older = current.filter(pl.col(SEQUENCE) < r.start).select(keys)
            live = pl.concat([live, older], how="vertical_relaxed").unique()
            changed = current.filter(pl.col(SEQUENCE) >= r.start).select(keys)
            live = live.join(changed, on=keys, how="anti")
        baseline = _baseline(r, loads, prior, keys)
        if ahead and r.generation in ahead:
            baseline = pl.concat([baseline, ahead[r.generation]], how="vertical_relaxed")
        gone = live.join(baseline, on=keys, how="anti")
        out.append(_deletes_at_start(gone, r))
    return pl.concat(out, how="vertical") if out else pl.DataFrame()


def _baseline(r: Reload, loads: pl.DataFrame, prior: pl.DataFrame, keys: list[str]):
    """The keys of the reload's valid LOAD rows (its files, matched by key and ingestion)."""
    if not loads.height:
        return prior.clear().select(keys)
    members = pl.DataFrame(
        {"_source_file": [f for f, _ in r.files], "_ingested_at": [t for _, t in r.files]},
        schema={"_source_file": pl.String, "_ingested_at": UTC_TS},
    )
    return loads.join(members, on=["_source_file", "_ingested_at"], how="semi").select(keys)


def _deletes_at_start(gone: pl.DataFrame, r: Reload) -> pl.DataFrame:
    return gone.with_columns(
        pl.lit("D").alias("_op"),
        pl.lit(r.start).alias(SEQUENCE),
        pl.lit(sequence_commit_ts(r.start), UTC_TS).alias("_commit_ts"),
        pl.lit(r.source_file).alias("_source_file"),
        pl.lit(r.ingested_at, UTC_TS).alias("_ingested_at"),
        pl.lit("load").alias("_file_kind"),
    )
