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
    from lakehouse.engine.spark import jobs

    return jobs.run_with_pipes(
        jobs.bronze_to_silver, "lakehouse-bronze-to-silver", argv, s3_client=s3_client, spark=spark
    )


if __name__ == "__main__":
    sys.exit(main())
