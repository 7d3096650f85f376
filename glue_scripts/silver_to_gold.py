"""AWS Glue entry point: silver → gold with the Spark engine, reported to Dagster through Pipes.

Launched by ``PipesGlueClient`` (``lakehouse.defs.aws``) with ``--dataset``, ``--metric`` and the
zone roots (``lakehouse.engine.spark.jobs.parse_args``) plus the Pipes bootstrap arguments
(``--dagster-pipes-context`` / ``--dagster-pipes-messages``: context and messages go through S3).
The job's ``--extra-py-files`` is the ``lakehouse`` wheel (``make glue-package``) and
``--datalake-formats delta,hudi`` provides delta-spark and Hudi; the metrics are the Polars
definitions of the local profile, so ``polars`` must be among ``--additional-python-modules``.
One materialization per gold asset is reported (rows, Delta version, columns, a preview).
"""

import sys


def main(argv=None, *, s3_client=None, spark=None) -> int:
    from lakehouse.engine.spark import jobs

    return jobs.run_with_pipes(
        jobs.silver_to_gold, "lakehouse-silver-to-gold", argv, s3_client=s3_client, spark=spark
    )


if __name__ == "__main__":
    sys.exit(main())
