"""Dagster resources: the lake, the source database, the CSV landing folder.

They are plain configuration holders built by ``build_resources`` from the profile's settings
(the one place that decides local vs aws); assets call ``lake()`` / ``dataset_dsn()`` at run time.
"""

from __future__ import annotations

import os
from pathlib import Path

import dagster as dg

from lakehouse.profiles import Settings
from lakehouse.storage import Lake, open_lake


class LakeResource(dg.ConfigurableResource):
    """The lake root: a folder or ``s3://bucket/prefix`` (``s3_endpoint`` for S3-compatible APIs)."""

    root: str
    s3_endpoint: str | None = None
    region: str = "us-east-1"

    def lake(self) -> Lake:
        return open_lake(self.root, endpoint_url=self.s3_endpoint, region=self.region)


class SourceDatabaseResource(dg.ConfigurableResource):
    """The operational PostgreSQL of each dataset, in this order: the environment variable its
    declaration names (``dsn_env``, read through ``dg.EnvVar`` when used, never shown); ``dsn``
    (``dg.EnvVar("LAKEHOUSE_SOURCE_DSN")`` when set there: every dataset in that database); the
    embedded server under ``pgdata``, one database per dataset, started on first use."""

    dsn: str | None = None
    pgdata: str | None = None

    def dataset_dsn(self, dataset: str) -> str:
        from lakehouse.declarations import declaration

        for source in declaration(dataset).decl.sources:
            name = getattr(source, "dsn_env", None)
            if name:
                value = dg.EnvVar(name).get_value()
                if not value:
                    raise ValueError(
                        f"dataset {dataset!r}: environment variable {name} (its source's dsn_env)"
                        f" is not set — fix: export {name}=postgresql://…"
                    )
                return value
        # outside a Dagster run (the CLI) the field still holds the unresolved reference
        dsn = self.dsn.get_value() if isinstance(self.dsn, dg.EnvVar) else self.dsn
        if dsn:
            return dsn
        if not self.pgdata:
            raise ValueError("SourceDatabaseResource needs a dsn or a pgdata folder")
        from lakehouse.source import embedded

        base = embedded.start(Path(self.pgdata), databases=(dataset,))
        return embedded.with_database(base, dataset)


class LandingResource(dg.ConfigurableResource):
    """The folder where CSV drops arrive (the DataSync source location, locally)."""

    path: str

    def dataset_folder(self, dataset: str) -> Path:
        """The dataset's csv_drop source's ``landing`` folder, else ``<path>/<dataset>``."""
        from lakehouse.declarations import declaration

        for source in declaration(dataset).sources_of("csv_drop"):
            if source.landing:
                return Path(source.landing)
        return Path(self.path) / dataset


def build_resources(settings: Settings) -> dict:
    """The Dagster resources of a profile (the only place that differs between local and aws)."""
    lake = LakeResource(
        root=settings.root, s3_endpoint=settings.s3_endpoint, region=settings.region
    )
    # a DSN from the process environment stays a reference: the UI shows the variable's name
    dsn = settings.source_dsn
    if dsn and os.environ.get("LAKEHOUSE_SOURCE_DSN") == dsn:
        dsn = dg.EnvVar("LAKEHOUSE_SOURCE_DSN")
    if settings.profile == "local":
        source = SourceDatabaseResource(
            dsn=dsn, pgdata=None if settings.source_dsn else str(settings.pgdata)
        )
    else:  # aws: DMS writes the raw zone; the replicator is not run, the DSN is for checks only
        source = SourceDatabaseResource(dsn=dsn)
    resources = {
        "lake": lake,
        "source_db": source,
        "landing": LandingResource(path=str(settings.landing_dir)),
    }
    if settings.profile == "aws":
        from lakehouse.aws.resources import aws_resources  # boto3 only for the aws profile

        resources.update(aws_resources(settings))
    return resources
