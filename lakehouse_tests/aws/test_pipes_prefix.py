"""Pipes context and messages stay under ``pipes/`` of the scripts bucket: the one prefix there
the Glue job role and the Dagster policy may write (terraform/modules/iam). dagster-aws's own
``PipesS3MessageReader`` puts messages at the bucket's root, where the Glue job would get
AccessDenied on AWS (moto does not enforce IAM, so the keys are checked here)."""

from __future__ import annotations

import dagster as dg
import pytest

from lakehouse.aws.glue_pipes import PIPES_PREFIX, PrefixedPipesS3MessageReader
from lakehouse.declarations import load_dataset
from lakehouse.engine.spark import jobs
from lakehouse_tests.aws.test_glue_pipes import BUCKETS, setup  # noqa: F401  (fixture)

pytestmark = pytest.mark.integration


def test_the_message_reader_prefixes_its_random_prefix():
    reader = PrefixedPipesS3MessageReader(bucket="b", client=None)
    with reader.get_params() as params:
        assert params["bucket"] == "b"
        assert params["key_prefix"].startswith(PIPES_PREFIX)
        assert len(params["key_prefix"]) > len(PIPES_PREFIX) + 20  # still a random one per run


def test_pipes_objects_of_a_glue_run_are_all_under_the_pipes_prefix(setup, client, monkeypatch):  # noqa: F811
    from lakehouse.defs.aws import aws_silver_asset

    monkeypatch.setattr(
        jobs, "bronze_to_silver", lambda spark, args, log: [("silver/core_tenant", {"rows": 1})]
    )
    saas = load_dataset("saas")
    result = dg.materialize(
        [aws_silver_asset(saas, saas.table("core_tenant"))], resources=setup.resources
    )
    assert result.success
    (run,) = [params for name, params in setup.fake.calls if name == "start_job_run"]
    pipes_args = {k: v for k, v in run["Arguments"].items() if k.startswith("--dagster-pipes")}
    assert set(pipes_args) == {"--dagster-pipes-context", "--dagster-pipes-messages"}
    keys = [
        o["Key"]
        for o in client("s3").list_objects_v2(Bucket=BUCKETS["glue-scripts"]).get("Contents", [])
    ]
    assert keys, "the run wrote its messages to the scripts bucket"
    assert all(k.startswith(PIPES_PREFIX) for k in keys), keys
