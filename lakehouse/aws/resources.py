"""The aws profile's resources: S3, Athena, Glue jobs through Dagster Pipes, the Glue catalog, and
observers of the DMS and DataSync tasks that feed the raw zone.

Configuration comes from Terraform's outputs (``aws.terraform_outputs.TerraformOutputs``: buckets,
Glue databases and jobs, Athena workgroup, DMS and DataSync task ARNs), located by
``profiles.Settings.terraform_outputs``; ``aws_resources(settings)`` builds every resource from it
(the one call ``profiles.build_resources`` makes for the aws profile). Without the outputs file the
resources still build (the code location loads) and ``AwsConfig.require`` fails at run time with
what to do. ``endpoint_url`` (``LAKEHOUSE_AWS_ENDPOINT``) points every client at one endpoint (a
moto server in tests). Credentials are never configuration: boto3's chain (role, env, profile).

Data contracts of the helpers:
- ``GlueCatalog.register_delta_table``: a Glue table Athena reads as Delta (``table_type=DELTA``,
  ``EXTERNAL``, location = the table root, columns for the catalog's readers); a Delta table whose
  protocol enables ``timestampNtz`` is refused (``check_athena_readable``: Athena cannot read it).
  ``register_hudi_table`` syncs a Copy-on-Write Hudi table (Hudi input format, Parquet serde, the
  ``_hoodie_*`` meta columns first). Both create or update (idempotent).
- ``DmsTaskObserver.metadata(arn)``: status, full-load progress, tables loaded/loading/errored,
  counts summed over tables and per table (``describe_table_statistics``: inserts, updates,
  deletes, full-load rows, state) and CDC latency in seconds (CloudWatch ``AWS/DMS``
  ``CDCLatencySource`` / ``CDCLatencyTarget``, latest datapoint of the last 15 minutes) when a
  CloudWatch client is given.
- ``DataSyncTaskObserver.metadata(arn)``: task status and the latest execution's status, files
  and bytes transferred and verified.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import dagster as dg
from dagster_aws.athena import AthenaClient, AthenaClientResource
from dagster_aws.pipes import PipesGlueClient, PipesS3MessageReader

HUDI_META_COLUMNS = (
    "_hoodie_commit_time",
    "_hoodie_commit_seqno",
    "_hoodie_record_key",
    "_hoodie_partition_path",
    "_hoodie_file_name",
)
_HIVE = {
    "smallint": "smallint",
    "int": "int",
    "bigint": "bigint",
    "real": "float",
    "double": "double",
    "money": "decimal(19,2)",
    "bool": "boolean",
    "date": "date",
    "timestamp": "timestamp",
    "timestamptz": "timestamp",
    "bytes": "binary",
}
LINEAGE_HIVE = (("_commit_ts", "timestamp"), ("_source_file", "string"), ("_sequence", "string"))
HISTORY_HIVE = (("__start_at", "timestamp"), ("__end_at", "timestamp"), ("__is_current", "boolean"))


def _client(service: str, region: str, endpoint_url: str | None):
    import boto3

    return boto3.client(service, region_name=region, endpoint_url=endpoint_url or None)


# ------------------------------------------------------------------------------------- config
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
        return _client(service, self.region, self.endpoint_url)

    def zone_root(self, zone: str) -> str:
        return f"s3://{self.buckets[zone]}"

    @property
    def pipes_bucket(self) -> str:
        """Where Pipes exchanges context and messages with Glue runs (the scripts bucket)."""
        return self.buckets.get("glue-scripts", "")


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


class LakehouseAthenaResource(AthenaClientResource):
    """dagster-aws's ``AthenaClientResource`` with the region and endpoint of the profile."""

    region_name: str = "us-east-1"
    endpoint_url: str | None = None

    def get_client(self) -> AthenaClient:
        return AthenaClient(
            client=_client("athena", self.region_name, self.endpoint_url),
            workgroup=self.workgroup,
            polling_interval=self.polling_interval,
            max_polls=self.max_polls,
        )


def athena_row_count(client: AthenaClient, database: str, table: str) -> int:
    """``count(*)`` of a catalog table through Athena."""
    rows = client.execute_query(f'SELECT count(*) FROM "{database}"."{table}"', fetch_results=True)
    return int(rows[0][0]) if rows and rows[0] else 0


# ------------------------------------------------------------------------------------ catalog
def hive_type(logical: str) -> str:
    from lakehouse.registry.model import parse_type

    base, precision, scale = parse_type(logical)
    return f"decimal({precision},{scale})" if base == "decimal" else _HIVE.get(base, "string")


def hive_columns(spec, *, history: bool = False) -> list[tuple[str, str]]:
    """Catalog columns of ``silver/<table>`` (``history``: of ``<table>_history``)."""
    cols = [(c.name, hive_type(c.type)) for c in spec.columns] + list(LINEAGE_HIVE)
    return cols + list(HISTORY_HIVE) if history else cols


def check_athena_readable(
    reader_features: Iterable[str] | None, writer_features: Iterable[str] | None = None
) -> None:
    """Refuse Delta protocol features Athena cannot read (timestampNtz)."""
    features = {*(reader_features or ()), *(writer_features or ())}
    if "timestampNtz" in features:
        raise ValueError(
            "the Delta table uses timestampNtz, which Athena cannot read: store UTC-aware timestamps"
        )


def delta_features(uri: str, storage_options: dict | None = None) -> tuple[list[str], list[str]]:
    """(reader, writer) protocol features of the Delta table at ``uri`` (for ``register_delta_table``)."""
    from deltalake import DeltaTable

    protocol = DeltaTable(uri, storage_options=storage_options).protocol()
    return list(protocol.reader_features or []), list(protocol.writer_features or [])


class GlueCatalog:
    """Glue Data Catalog databases and table registrations (see the module docstring)."""

    def __init__(self, client):
        self.client = client

    def ensure_database(
        self, name: str, description: str = "", location: str | None = None
    ) -> bool:
        """Create the database unless it exists; True when created."""
        try:
            self.client.get_database(Name=name)
            return False
        except self.client.exceptions.EntityNotFoundException:
            db = {"Name": name, "Description": description}
            if location:
                db["LocationUri"] = location
            self.client.create_database(DatabaseInput=db)
            return True

    def table_columns(self, database: str, name: str) -> dict[str, str] | None:
        """Column name (lower case) -> catalog type of a table, partition keys included; None
        when the table is not in the catalog."""
        try:
            table = self.client.get_table(DatabaseName=database, Name=name)["Table"]
        except self.client.exceptions.EntityNotFoundException:
            return None
        columns = [*table.get("StorageDescriptor", {}).get("Columns", [])]
        columns += table.get("PartitionKeys", [])
        return {c["Name"].lower(): c["Type"] for c in columns}

    def _upsert(self, database: str, table_input: dict) -> None:
        try:
            self.client.get_table(DatabaseName=database, Name=table_input["Name"])
        except self.client.exceptions.EntityNotFoundException:
            self.client.create_table(DatabaseName=database, TableInput=table_input)
            return
        self.client.update_table(DatabaseName=database, TableInput=table_input)

    def register_delta_table(
        self,
        database: str,
        name: str,
        location: str,
        columns: Iterable[tuple[str, str]] = (),
        *,
        description: str = "",
        reader_features: Iterable[str] | None = None,
        writer_features: Iterable[str] | None = None,
    ) -> dict:
        """Register (create or update) a Delta table for Athena; returns the ``TableInput``."""
        check_athena_readable(reader_features, writer_features)
        table_input = {
            "Name": name,
            "Description": description,
            "TableType": "EXTERNAL_TABLE",
            "Parameters": {"table_type": "DELTA", "EXTERNAL": "TRUE", "classification": "delta"},
            "StorageDescriptor": {
                "Columns": [{"Name": n, "Type": t} for n, t in columns],
                "Location": location,
            },
        }
        self._upsert(database, table_input)
        return table_input

    def register_hudi_table(
        self,
        database: str,
        name: str,
        location: str,
        columns: Iterable[tuple[str, str]],
        *,
        description: str = "",
    ) -> dict:
        """Sync a Copy-on-Write Hudi table into the catalog; returns the ``TableInput``."""
        cols = [(c, "string") for c in HUDI_META_COLUMNS] + list(columns)
        table_input = {
            "Name": name,
            "Description": description,
            "TableType": "EXTERNAL_TABLE",
            "Parameters": {
                "EXTERNAL": "TRUE",
                "classification": "hudi",
                "spark.sql.sources.provider": "hudi",
            },
            "StorageDescriptor": {
                "Columns": [{"Name": n, "Type": t} for n, t in cols],
                "Location": location,
                "InputFormat": "org.apache.hudi.hadoop.HoodieParquetInputFormat",
                "OutputFormat": "org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat",
                "SerdeInfo": {
                    "SerializationLibrary": "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe"
                },
            },
        }
        self._upsert(database, table_input)
        return table_input


class GlueCatalogResource(dg.ConfigurableResource):
    region: str = "us-east-1"
    endpoint_url: str | None = None

    def catalog(self) -> GlueCatalog:
        return GlueCatalog(_client("glue", self.region, self.endpoint_url))


# ---------------------------------------------------------------------------------- observers
class DmsTaskObserver:
    """Status, table statistics and CDC latency of a DMS replication task (``describe_*``)."""

    def __init__(self, client, cloudwatch=None):
        self.client, self.cloudwatch = client, cloudwatch

    def task(self, arn: str) -> dict:
        tasks = self.client.describe_replication_tasks(
            Filters=[{"Name": "replication-task-arn", "Values": [arn]}]
        )["ReplicationTasks"]
        if not tasks:
            raise LookupError(f"no DMS replication task {arn}")
        return tasks[0]

    def table_statistics(self, arn: str) -> list[dict]:
        stats, marker = [], None
        while True:
            kw = {"ReplicationTaskArn": arn, **({"Marker": marker} if marker else {})}
            page = self.client.describe_table_statistics(**kw)
            stats += page.get("TableStatistics", [])
            marker = page.get("Marker")
            if not marker:
                return stats

    def cdc_latency(
        self, task_id: str, instance_id: str, now: datetime | None = None
    ) -> dict[str, float | None]:
        """Latest ``CDCLatencySource`` / ``CDCLatencyTarget`` (seconds) of the last 15 minutes."""
        now = now or datetime.now(UTC)
        out = {}
        for metric in ("CDCLatencySource", "CDCLatencyTarget"):
            points = self.cloudwatch.get_metric_statistics(
                Namespace="AWS/DMS",
                MetricName=metric,
                Dimensions=[
                    {"Name": "ReplicationInstanceIdentifier", "Value": instance_id},
                    {"Name": "ReplicationTaskIdentifier", "Value": task_id},
                ],
                StartTime=now - timedelta(minutes=15),
                EndTime=now,
                Period=60,
                Statistics=["Average"],
            )["Datapoints"]
            latest = max(points, key=lambda p: p["Timestamp"]) if points else None
            out[metric] = None if latest is None else float(latest["Average"])
        return out

    def instance_identifier(self, instance_arn: str) -> str:
        found = self.client.describe_replication_instances(
            Filters=[{"Name": "replication-instance-arn", "Values": [instance_arn]}]
        )["ReplicationInstances"]
        if not found:
            raise LookupError(f"no DMS replication instance {instance_arn}")
        return found[0]["ReplicationInstanceIdentifier"]

    def metadata(self, arn: str, *, instance_id: str | None = None) -> dict:
        """Task-level metadata (module docstring) plus ``tables``: ``schema.table`` → statistics."""
        task = self.task(arn)
        stats = task.get("ReplicationTaskStats") or {}
        tables = self.table_statistics(arn)
        meta = {
            "status": task.get("Status"),
            "migration_type": task.get("MigrationType"),
            "stop_reason": task.get("StopReason") or "",
            "last_failure": task.get("LastFailureMessage") or "",
            "full_load_progress_percent": stats.get("FullLoadProgressPercent", 0),
            "tables_loaded": stats.get("TablesLoaded", 0),
            "tables_loading": stats.get("TablesLoading", 0),
            "tables_errored": stats.get("TablesErrored", 0),
            "inserts": sum(t.get("Inserts", 0) for t in tables),
            "updates": sum(t.get("Updates", 0) for t in tables),
            "deletes": sum(t.get("Deletes", 0) for t in tables),
            "full_load_rows": sum(t.get("FullLoadRows", 0) for t in tables),
            "table_states": json.dumps(
                {f"{t['SchemaName']}.{t['TableName']}": t.get("TableState") for t in tables}
            ),
            "tables": {f"{t['SchemaName']}.{t['TableName']}": t for t in tables},
        }
        if self.cloudwatch is not None:
            instance_id = instance_id or self.instance_identifier(task["ReplicationInstanceArn"])
            latency = self.cdc_latency(task["ReplicationTaskIdentifier"], instance_id)
            meta["cdc_latency_source_s"] = latency["CDCLatencySource"]
            meta["cdc_latency_target_s"] = latency["CDCLatencyTarget"]
        return meta


class DataSyncTaskObserver:
    """Status and the latest execution of a DataSync task (``describe_task*``)."""

    def __init__(self, client):
        self.client = client

    def metadata(self, arn: str) -> dict:
        task = self.client.describe_task(TaskArn=arn)
        meta = {"status": task.get("Status"), "name": task.get("Name", "")}
        execution_arn = task.get("CurrentTaskExecutionArn")
        if execution_arn:
            ex = self.client.describe_task_execution(TaskExecutionArn=execution_arn)
            meta.update(
                {
                    "execution": execution_arn,
                    "execution_status": ex.get("Status"),
                    "files_transferred": ex.get("FilesTransferred", 0),
                    "files_verified": ex.get("FilesVerified", 0),
                    "bytes_transferred": ex.get("BytesTransferred", 0),
                }
            )
        return meta


class DmsObserverResource(dg.ConfigurableResource):
    region: str = "us-east-1"
    endpoint_url: str | None = None

    def observer(self) -> DmsTaskObserver:
        return DmsTaskObserver(
            _client("dms", self.region, self.endpoint_url),
            _client("cloudwatch", self.region, self.endpoint_url),
        )


class DataSyncObserverResource(dg.ConfigurableResource):
    region: str = "us-east-1"
    endpoint_url: str | None = None

    def observer(self) -> DataSyncTaskObserver:
        return DataSyncTaskObserver(_client("datasync", self.region, self.endpoint_url))


# -------------------------------------------------------------------------------- the profile
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
