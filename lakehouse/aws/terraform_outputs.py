"""Terraform's outputs for the aws profile: ``terraform output -json`` saved to ``OUTPUTS_FILE``.

``TerraformOutputs`` has one field per output of ``terraform/outputs.tf`` (buckets, Glue
databases, jobs and crawlers, Athena, SNS, KMS, DMS and DataSync tasks, …); ``from_json`` reads
the saved JSON (or a flat mapping), and a missing required output is a ValueError.
"""

from __future__ import annotations

import json
from dataclasses import MISSING, dataclass, field, fields
from pathlib import Path

#: ``terraform -chdir=terraform output -json > .lakehouse/terraform-outputs.json``
OUTPUTS_FILE = ".lakehouse/terraform-outputs.json"


@dataclass(frozen=True)
class TerraformOutputs:
    """The outputs of ``terraform/outputs.tf`` the aws profile reads (one field per output)."""

    region: str
    name_prefix: str
    buckets: dict  # BUCKETS name -> bucket name
    glue_databases: dict  # zone -> Glue database
    glue_jobs: dict  # GLUE_JOBS name -> Glue job name
    glue_crawlers: dict  # dataset -> raw-zone crawler
    athena_workgroup: str
    athena_results_location: str
    sns_topic_arn: str
    kms_key_arn: str
    dms_replication_instance_arn: str
    dms_replication_tasks: dict  # dataset -> replication task ARN
    datasync_tasks: dict  # dataset -> DataSync task ARN (datasets with CSV drops)
    # outputs added later: optional, so an outputs file of an older stack still reads
    dagster_policy_arn: str = ""  # attach to the role Dagster runs as (modules/iam)
    api_url: str = ""  # the event API's stage URL (POST <api_url>/ingest); "" when disabled
    extra: dict = field(default_factory=dict, compare=False)

    @classmethod
    def names(cls) -> tuple[str, ...]:
        return tuple(f.name for f in fields(cls) if f.name != "extra")

    @classmethod
    def required_names(cls) -> tuple[str, ...]:
        return tuple(
            f.name
            for f in fields(cls)
            if f.name != "extra" and f.default is MISSING and f.default_factory is MISSING
        )

    @classmethod
    def from_json(cls, data: dict | str | Path) -> TerraformOutputs:
        """From ``terraform output -json`` (``{name: {"value": ...}}``), a path to it, or a flat
        ``{name: value}`` mapping."""
        if isinstance(data, str | Path):
            data = json.loads(Path(data).read_text())
        flat = {
            k: (v["value"] if isinstance(v, dict) and "value" in v and "type" in v else v)
            for k, v in data.items()
        }
        missing = [n for n in cls.required_names() if n not in flat]
        if missing:
            raise ValueError(f"Terraform outputs lack {missing}; run terraform apply again")
        known = {n: flat[n] for n in cls.names() if n in flat}
        return cls(**known, extra={k: v for k, v in flat.items() if k not in known})
