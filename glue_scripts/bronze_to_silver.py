"""AWS Glue entry point: bronze → silver with the Spark engine, reported to Dagster through Pipes.

Launched by ``PipesGlueClient`` (``lakehouse.defs.aws``) with ``--dataset``, ``--table`` and the
zone roots (``lakehouse.engine.spark.jobs.parse_args``) plus the Pipes bootstrap arguments
(``--dagster-pipes-context`` / ``--dagster-pipes-messages``: context and messages go through S3).
The job's ``--extra-py-files`` is the ``lakehouse`` wheel (``make glue-package``) and
``--datalake-formats delta,hudi`` provides delta-spark and Hudi. One materialization per silver
asset (and ``<table>_history`` for SCD2 tables) is reported with the apply's counts and versions.
"""

import sys


def main(argv=None, *, s3_client=None, spark=None) -> int:
    import boto3
    from dagster_pipes import (
        PipesCliArgsParamsLoader,
        PipesS3ContextLoader,
        PipesS3MessageWriter,
        open_dagster_pipes,
    )

    from lakehouse.engine.spark import jobs
    from lakehouse.engine.spark.session import build_session

    args = jobs.parse_args(sys.argv[1:] if argv is None else argv)
    s3 = s3_client or boto3.client("s3")
    with open_dagster_pipes(
        context_loader=PipesS3ContextLoader(s3),
        message_writer=PipesS3MessageWriter(s3),
        params_loader=PipesCliArgsParamsLoader(),
    ) as pipes:
        spark = spark or build_session("lakehouse-bronze-to-silver", glue=True)
        for asset_key, metadata in jobs.bronze_to_silver(spark, args, log=pipes.log.info):
            pipes.report_asset_materialization(asset_key=asset_key, metadata=metadata)
    return 0


if __name__ == "__main__":
    sys.exit(main())
