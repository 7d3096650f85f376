"""Glue jobs run through Dagster Pipes.

Contract: ``pipes_glue_client(config)`` is a ``LakehousePipesGlueClient`` whose Pipes context and
messages go through S3, both under ``PIPES_PREFIX`` of the scripts bucket (the only prefix of it
the Glue job role and the Dagster policy may write). ``run_entry_point`` refuses a Glue job that
does not run the expected ``glue_scripts/<job>.py`` and starts it with the package wheel and the
Delta/Hudi data-lake formats.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from dagster_aws.pipes import PipesGlueClient, PipesS3MessageReader

from lakehouse.aws.config import AwsConfig

#: Where Pipes context and messages live in the scripts bucket: the only prefix of it the Glue job
#: role and the Dagster policy may write (terraform/modules/iam).
PIPES_PREFIX = "pipes/"


def pipes_glue_client(config: AwsConfig, *, glue_client=None, s3_client=None):
    """``LakehousePipesGlueClient`` with a boto3 Glue client; Pipes context and messages via S3,
    both under ``PIPES_PREFIX`` of the scripts bucket."""
    from dagster_aws.pipes import PipesS3ContextInjector

    s3 = s3_client or config.client("s3")
    return LakehousePipesGlueClient(
        scripts_bucket=config.pipes_bucket,
        client=glue_client or config.client("glue"),
        context_injector=PipesS3ContextInjector(
            bucket=config.pipes_bucket, client=s3, key_prefix=PIPES_PREFIX
        ),
        message_reader=PrefixedPipesS3MessageReader(
            bucket=config.pipes_bucket, client=s3, interval=5
        ),
    )


class PrefixedPipesS3MessageReader(PipesS3MessageReader):
    """dagster-aws's ``PipesS3MessageReader`` with its (random) message prefix under
    ``PIPES_PREFIX``: by itself it puts the messages at the bucket's root, where the Glue job role
    may not write."""

    @contextmanager
    def get_params(self) -> Iterator[dict]:
        with super().get_params() as params:
            yield {**params, "key_prefix": f"{PIPES_PREFIX}{params['key_prefix']}"}


class LakehousePipesGlueClient(PipesGlueClient):
    """dagster-aws's ``PipesGlueClient`` that runs one of ``glue_scripts/``'s entry points.

    ``run_entry_point`` checks that the Glue job runs the expected script
    (``s3://<scripts bucket>/glue_scripts/<job>.py``, as Terraform uploads it), then starts it with
    the package wheel as ``--extra-py-files`` and ``--datalake-formats delta,hudi`` (the job's
    defaults, repeated so a run never depends on a stale job definition), the given arguments and
    the Pipes bootstrap arguments.
    """

    def __init__(self, *, scripts_bucket: str, **kwargs):
        super().__init__(**kwargs)
        self.scripts_bucket = scripts_bucket

    def run_arguments(self, arguments: dict[str, str]) -> dict[str, str]:
        from lakehouse.aws.naming import GLUE_DATALAKE_FORMATS, glue_wheel_key

        return {
            "--extra-py-files": f"s3://{self.scripts_bucket}/{glue_wheel_key()}",
            "--datalake-formats": GLUE_DATALAKE_FORMATS,
            **arguments,
        }

    def run_entry_point(self, *, context, job: str, job_name: str, arguments: dict[str, str]):
        from lakehouse.aws.naming import glue_script_uri

        expected = glue_script_uri(self.scripts_bucket, job)
        location = self._client.get_job(JobName=job_name)["Job"]["Command"]["ScriptLocation"]
        if location != expected:
            raise RuntimeError(
                f"Glue job {job_name} runs {location}, expected {expected}: run terraform apply"
            )
        return self.run(
            context=context,
            start_job_run_params={"JobName": job_name, "Arguments": self.run_arguments(arguments)},
        )
