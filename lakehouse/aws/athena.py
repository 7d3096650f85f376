"""Athena for the aws profile.

Contract: ``LakehouseAthenaResource`` is dagster-aws's Athena resource with the profile's region
and endpoint; ``athena_row_count`` is ``count(*)`` of a catalog table through Athena.
"""

from __future__ import annotations

from dagster_aws.athena import AthenaClient, AthenaClientResource

from lakehouse.aws.config import aws_client


class LakehouseAthenaResource(AthenaClientResource):
    """dagster-aws's ``AthenaClientResource`` with the region and endpoint of the profile."""

    region_name: str = "us-east-1"
    endpoint_url: str | None = None

    def get_client(self) -> AthenaClient:
        return AthenaClient(
            client=aws_client("athena", self.region_name, self.endpoint_url),
            workgroup=self.workgroup,
            polling_interval=self.polling_interval,
            max_polls=self.max_polls,
        )


def athena_row_count(client: AthenaClient, database: str, table: str) -> int:
    """``count(*)`` of a catalog table through Athena."""
    rows = client.execute_query(f'SELECT count(*) FROM "{database}"."{table}"', fetch_results=True)
    return int(rows[0][0]) if rows and rows[0] else 0
