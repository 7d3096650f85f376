"""What the Glue entry points (``glue_scripts/``) run: argument parsing and the per-table loops.

Arguments (Glue job arguments are ``--name value`` strings; unknown ones, Glue's own and the
Pipes bootstrap, are ignored):
- ``--dataset`` (required): a declared dataset (``lakehouse.declarations``);
- ``--table`` / ``--metric``: comma-separated registry tables / gold metrics (default: all);
- ``--lake-root``: one root for every zone, or ``--bronze-root``, ``--silver-root``,
  ``--gold-root``: one per zone (one bucket per zone on AWS: ``s3://<bucket>``);
- ``--full-refresh``: ``true`` rebuilds silver from all of bronze;
- ``--hudi-database``: Glue database Hudi tables are synced to (hive sync), optional;
- ``--declarations``: the ``s3://`` prefix of a user's dataset declaration
  (``declarations.shipping``), fetched and registered before the job runs; the datasets the
  package ships need none.

``bronze_to_silver`` / ``silver_to_gold`` return ``[(asset key, metadata)]``, the
materializations the entry point reports through Dagster Pipes; ``run_with_pipes`` is the entry
points' shared body (arguments, the Pipes session over S3, the Spark session, the reports).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable

from lakehouse.engine.spark.tables import ZONES, LakeLocations


def parse_args(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="lakehouse-glue", add_help=False)
    p.add_argument("--dataset", required=True)
    p.add_argument("--table", default="")
    p.add_argument("--metric", default="")
    p.add_argument("--lake-root", default=None)
    for zone in ZONES:
        p.add_argument(f"--{zone}-root", default=None)
    p.add_argument("--full-refresh", default="false")
    p.add_argument("--hudi-database", default=None)
    p.add_argument("--declarations", default=None)
    args, _ = p.parse_known_args(argv)
    args.full_refresh = str(args.full_refresh).strip().lower() in ("1", "true", "yes")
    return args


def locations(args: argparse.Namespace) -> LakeLocations:
    roots = {z: getattr(args, f"{z}_root") or args.lake_root for z in ZONES}
    missing = [z for z in ("bronze", "silver", "gold") if not roots[z]]
    if missing:
        raise SystemExit(f"give --lake-root or --{missing[0]}-root (missing roots: {missing})")
    return LakeLocations({z: r for z, r in roots.items() if r})


def _names(value: str) -> list[str]:
    return [n.strip() for n in value.split(",") if n.strip()]


def bronze_to_silver(
    spark, args: argparse.Namespace, log: Callable[[str], None] = print
) -> list[tuple[str, dict]]:
    from lakehouse.declarations import load_dataset
    from lakehouse.engine.spark.silver import apply_table

    dataset = load_dataset(args.dataset)
    tables = [dataset.table(t) for t in _names(args.table)] or [
        t for t in dataset.tables if t.primary_key
    ]
    out = []
    for spec in tables:
        res = apply_table(
            spark,
            spec,
            locations(args),
            full_refresh=args.full_refresh,
            hudi_database=args.hudi_database,
        )
        reload = (
            ""
            if res.reload_generation is None
            else f", reload (generation {res.reload_generation}) removed {res.reload_deletes} keys"
        )
        log(
            f"silver/{spec.name}: {res.changes} changes from bronze v{res.bronze_version}: "
            f"+{res.inserted} ~{res.updated} -{res.deleted}, {res.ignored} ignored, {res.quarantined} quarantined"
            + reload
        )
        out.append((f"silver/{spec.name}", res.metadata()))
        if spec.scd_type == 2:
            out.append((f"silver/{spec.name}_history", {"versions_added": res.history_rows}))
    return out


def silver_to_gold(
    spark, args: argparse.Namespace, log: Callable[[str], None] = print
) -> list[tuple[str, dict]]:
    from lakehouse.declarations import load_dataset
    from lakehouse.engine.core.metrics import load_metrics
    from lakehouse.engine.spark.gold import metadata, run_metric

    dataset = load_dataset(args.dataset)
    wanted = set(_names(args.metric))
    out = []
    for metric in load_metrics(dataset.name):
        if wanted and metric.name not in wanted and metric.key not in wanted:
            continue
        frame, version = run_metric(spark, locations(args), dataset, metric)
        log(f"{metric.table_key}: {frame.height} rows, Delta version {version}")
        out.append((f"gold/{metric.key}", metadata(frame, version)))
    return out


Job = Callable[..., list[tuple[str, dict]]]


def run_with_pipes(
    job: Job,
    app_name: str,
    argv: list[str] | None = None,
    *,
    s3_client=None,
    spark=None,
) -> int:
    """A Glue entry point's body: parse ``argv`` (default ``sys.argv[1:]``), open Dagster Pipes
    (context and messages through S3, bootstrap from the CLI arguments), build the Glue Spark
    session ``app_name`` unless ``spark`` is given, run ``job`` (``bronze_to_silver`` or
    ``silver_to_gold``) and report each of its materializations. Returns the exit code."""
    import boto3
    from dagster_pipes import (
        PipesCliArgsParamsLoader,
        PipesS3ContextLoader,
        PipesS3MessageWriter,
        open_dagster_pipes,
    )

    from lakehouse.engine.spark.session import build_session

    args = parse_args(sys.argv[1:] if argv is None else argv)
    s3 = s3_client or boto3.client("s3")
    if args.declarations:  # a user's dataset: not in the wheel
        from lakehouse.declarations.shipping import fetch

        fetch(s3, args.declarations)
    with open_dagster_pipes(
        context_loader=PipesS3ContextLoader(s3),
        message_writer=PipesS3MessageWriter(s3),
        params_loader=PipesCliArgsParamsLoader(),
    ) as pipes:
        spark = spark or build_session(app_name, glue=True)
        for asset_key, metadata in job(spark, args, log=pipes.log.info):
            pipes.report_asset_materialization(asset_key=asset_key, metadata=metadata)
    return 0
