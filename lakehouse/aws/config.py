"""Where the aws profile's AWS is: Terraform's outputs and one boto3 client per service.

Contract: ``AwsConfig`` holds what Terraform built (buckets, Glue databases and jobs, Athena
workgroup, DMS and DataSync task ARNs) as ``terraform output -json`` gives it, read by
``AwsConfig.from_outputs``; without the outputs file it is empty but loadable, and ``require``
fails with what to do. ``aws_client(service, region, endpoint_url)`` is a boto3 client; the
endpoint (a moto server in tests) when given. Credentials are never configuration: boto3's chain
(role, env, profile).
"""

from __future__ import annotations

from pathlib import Path

import dagster as dg


def aws_client(service: str, region: str, endpoint_url: str | None):
    import boto3

    return boto3.client(service, region_name=region, endpoint_url=endpoint_url or None)


class AwsConfig(dg.ConfigurableResource):
    """What Terraform built (its outputs), and where the AWS APIs are."""

    region: str = "us-east-1"
    endpoint_url: str | None = None
    outputs_path: str | None = None
    buckets: dict[str, str] = {}
    glue_databases: dict[str, str] = {}
    glue_jobs: dict[str, str] = {}
    athena_workgroup: str = "primary"
    dms_replication_tasks: dict[str, str] = {}
    datasync_tasks: dict[str, str] = {}

    @classmethod
    def from_outputs(
        cls, path: str | None, region: str, endpoint_url: str | None = None
    ) -> AwsConfig:
        """From ``terraform output -json`` at ``path``; empty (but loadable) when it is absent."""
        from lakehouse.aws.terraform_outputs import TerraformOutputs

        if not path or not Path(path).exists():
            return cls(region=region, endpoint_url=endpoint_url, outputs_path=path)
        out = TerraformOutputs.from_json(Path(path))
        return cls(
            region=out.region or region,
            endpoint_url=endpoint_url,
            outputs_path=path,
            buckets=dict(out.buckets),
            glue_databases=dict(out.glue_databases),
            glue_jobs=dict(out.glue_jobs),
            athena_workgroup=out.athena_workgroup,
            dms_replication_tasks=dict(out.dms_replication_tasks),
            datasync_tasks=dict(out.datasync_tasks),
        )

    def require(self) -> AwsConfig:
        if not self.buckets or not self.glue_jobs:
            raise RuntimeError(
                f"Terraform outputs not found at {self.outputs_path!r}: run "
                "`terraform -chdir=terraform output -json > .lakehouse/terraform-outputs.json` "
                "(or set LAKEHOUSE_TERRAFORM_OUTPUTS) after `terraform apply`"
            )
        return self

    def client(self, service: str):
        return aws_client(service, self.region, self.endpoint_url)

    def zone_root(self, zone: str) -> str:
        return f"s3://{self.buckets[zone]}"

    @property
    def pipes_bucket(self) -> str:
        """Where Pipes exchanges context and messages with Glue runs (the scripts bucket)."""
        return self.buckets.get("glue-scripts", "")
