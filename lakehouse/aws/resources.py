"""The aws profile's resources: S3, Athena, Glue jobs through Dagster Pipes, the Glue catalog, and
observers of the DMS and DataSync tasks that feed the raw zone.

Contract: ``aws_resources(settings)`` builds every resource from Terraform's outputs
(``aws.config.AwsConfig``, located by ``profiles.Settings.terraform_outputs``); it is the one call
``profiles.build_resources`` makes for the aws profile. Without the outputs file the resources
still build (the code location loads) and ``AwsConfig.require`` fails at run time with what to
do. ``endpoint_url`` (``LAKEHOUSE_AWS_ENDPOINT``) points every client at one endpoint.
"""

from __future__ import annotations

from lakehouse.aws.athena import LakehouseAthenaResource
from lakehouse.aws.config import AwsConfig
from lakehouse.aws.glue_catalog import GlueCatalogResource
from lakehouse.aws.glue_pipes import pipes_glue_client
from lakehouse.aws.observers import DataSyncObserverResource, DmsObserverResource


def aws_resources(settings) -> dict:
    """Every resource of the aws profile, from ``settings`` (``profiles.Settings``)."""
    from dagster_aws.s3 import S3Resource

    region, endpoint = settings.region, settings.aws_endpoint
    config = AwsConfig.from_outputs(settings.terraform_outputs, region, endpoint)
    return {
        "aws": config,
        "s3": S3Resource(region_name=config.region, endpoint_url=endpoint),
        "athena": LakehouseAthenaResource(
            workgroup=config.athena_workgroup, region_name=config.region, endpoint_url=endpoint
        ),
        "pipes_glue": pipes_glue_client(config),
        "glue_catalog": GlueCatalogResource(region=config.region, endpoint_url=endpoint),
        "dms": DmsObserverResource(region=config.region, endpoint_url=endpoint),
        "datasync": DataSyncObserverResource(region=config.region, endpoint_url=endpoint),
    }
