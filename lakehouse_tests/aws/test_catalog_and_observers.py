"""The aws profile's helpers against a real moto server: Glue catalog registrations, the DMS and
DataSync observers, CDC latency from CloudWatch; Athena through dagster-aws's FakeAthenaClient."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import polars as pl
import pytest

from lakehouse.aws.athena import athena_row_count
from lakehouse.aws.glue_catalog import HUDI_META_COLUMNS, GlueCatalog, delta_features, hive_columns
from lakehouse.aws.observers import DataSyncTaskObserver, DmsTaskObserver
from lakehouse.declarations import load_dataset

pytestmark = pytest.mark.integration


def test_glue_catalog_creates_databases_and_registers_delta_and_hudi_tables(client):
    glue = client("glue")
    catalog = GlueCatalog(glue)
    assert catalog.ensure_database("lakehouse_silver", "silver zone") is True
    assert catalog.ensure_database("lakehouse_silver") is False  # idempotent
    assert glue.get_database(Name="lakehouse_silver")["Database"]["Description"] == "silver zone"

    spec = load_dataset("saas").table("core_subscription")
    location = "s3://lh-dev-silver-123/silver/core_subscription"
    catalog.register_delta_table("lakehouse_silver", spec.name, location, hive_columns(spec))
    table = glue.get_table(DatabaseName="lakehouse_silver", Name=spec.name)["Table"]
    assert table["TableType"] == "EXTERNAL_TABLE"
    assert table["Parameters"]["table_type"] == "DELTA"  # what Athena needs to read it as Delta
    assert table["Parameters"]["EXTERNAL"] == "TRUE"
    assert table["StorageDescriptor"]["Location"] == location
    cols = {c["Name"]: c["Type"] for c in table["StorageDescriptor"]["Columns"]}
    assert (
        cols["id"] == "string"
        and cols["_sequence"] == "string"
        and cols["_commit_ts"] == "timestamp"
    )

    # registering again updates in place (a new column at the source)
    catalog.register_delta_table(
        "lakehouse_silver", spec.name, location, [*hive_columns(spec), ("extra", "string")]
    )
    table = glue.get_table(DatabaseName="lakehouse_silver", Name=spec.name)["Table"]
    assert table["StorageDescriptor"]["Columns"][-1] == {"Name": "extra", "Type": "string"}

    hudi = load_dataset("autocorp").table("sales_order")
    catalog.register_hudi_table(
        "lakehouse_silver", hudi.name, "s3://b/silver/sales_order", hive_columns(hudi)
    )
    table = glue.get_table(DatabaseName="lakehouse_silver", Name="sales_order")["Table"]
    sd = table["StorageDescriptor"]
    assert sd["InputFormat"] == "org.apache.hudi.hadoop.HoodieParquetInputFormat"
    assert [c["Name"] for c in sd["Columns"][:5]] == list(HUDI_META_COLUMNS)
    assert {"Name": "total_amount", "Type": "decimal(12,2)"} in sd["Columns"]
    assert table["Parameters"]["classification"] == "hudi"


def test_delta_tables_with_timestamp_ntz_are_refused(client, tmp_path):
    from deltalake import write_deltalake

    catalog = GlueCatalog(client("glue"))
    catalog.ensure_database("lakehouse_gold")
    aware = pl.DataFrame({"t": [datetime(2024, 1, 1, tzinfo=UTC)]})
    naive = pl.DataFrame({"t": [datetime(2024, 1, 1)]})
    write_deltalake(str(tmp_path / "aware"), aware.to_arrow())
    write_deltalake(str(tmp_path / "naive"), naive.to_arrow())

    reader, writer = delta_features(str(tmp_path / "aware"))
    catalog.register_delta_table(
        "lakehouse_gold",
        "aware",
        "s3://b/gold/aware",
        reader_features=reader,
        writer_features=writer,
    )
    reader, writer = delta_features(str(tmp_path / "naive"))
    assert "timestampNtz" in reader
    with pytest.raises(ValueError, match="timestampNtz"):
        catalog.register_delta_table(
            "lakehouse_gold",
            "naive",
            "s3://b/gold/naive",
            reader_features=reader,
            writer_features=writer,
        )
    names = {
        t["Name"] for t in client("glue").get_tables(DatabaseName="lakehouse_gold")["TableList"]
    }
    assert names == {"aware"}


class _TableStatisticsFake:
    """moto has no ``describe_table_statistics``: this recording fake answers it (two pages) and
    passes every other call to the moto client."""

    def __init__(self, moto_client):
        self.moto, self.calls = moto_client, []

    def __getattr__(self, name):
        return getattr(self.moto, name)

    def describe_table_statistics(self, **kwargs):
        self.calls.append(kwargs)
        row = dict(
            SchemaName="public",
            Inserts=5,
            Updates=3,
            Deletes=1,
            FullLoadRows=100,
            TableState="Table completed",
        )
        if "Marker" not in kwargs:
            return {"TableStatistics": [{**row, "TableName": "core_order"}], "Marker": "m1"}
        return {"TableStatistics": [{**row, "TableName": "core_tenant", "Inserts": 2}]}


def _dms_task(client) -> str:
    """A replication instance, endpoints and a started task in moto, with CDC latency datapoints."""
    dms, cloudwatch = client("dms"), client("cloudwatch")
    instance = dms.create_replication_instance(
        ReplicationInstanceIdentifier="lh-dev", ReplicationInstanceClass="dms.t3.medium"
    )["ReplicationInstance"]
    source = dms.create_endpoint(
        EndpointIdentifier="src",
        EndpointType="source",
        EngineName="postgres",
        ServerName="db",
        Port=5432,
        DatabaseName="saas",
        Username="u",
        Password="p",
    )
    target = dms.create_endpoint(
        EndpointIdentifier="raw",
        EndpointType="target",
        EngineName="s3",
        S3Settings={"BucketName": "lh-dev-raw", "BucketFolder": "raw/database"},
    )
    task = dms.create_replication_task(
        ReplicationTaskIdentifier="lh-dev-saas",
        SourceEndpointArn=source["Endpoint"]["EndpointArn"],
        TargetEndpointArn=target["Endpoint"]["EndpointArn"],
        ReplicationInstanceArn=instance["ReplicationInstanceArn"],
        MigrationType="full-load-and-cdc",
        TableMappings=json.dumps({"rules": []}),
    )["ReplicationTask"]
    arn = task["ReplicationTaskArn"]
    dms.start_replication_task(ReplicationTaskArn=arn, StartReplicationTaskType="start-replication")
    now = datetime.now(UTC)
    dims = [
        {"Name": "ReplicationInstanceIdentifier", "Value": "lh-dev"},
        {"Name": "ReplicationTaskIdentifier", "Value": "lh-dev-saas"},
    ]
    for metric, values in {"CDCLatencySource": (9.0, 2.0), "CDCLatencyTarget": (12.0, 4.0)}.items():
        for minutes, value in zip((5, 1), values, strict=True):
            cloudwatch.put_metric_data(
                Namespace="AWS/DMS",
                MetricData=[
                    {
                        "MetricName": metric,
                        "Dimensions": dims,
                        "Timestamp": now - timedelta(minutes=minutes),
                        "Value": value,
                        "Unit": "Seconds",
                    }
                ],
            )
    return arn


def test_dms_observer_reads_task_statistics_and_cdc_latency(client):
    dms, cloudwatch = client("dms"), client("cloudwatch")
    arn = _dms_task(client)
    fake = _TableStatisticsFake(dms)
    meta = DmsTaskObserver(fake, cloudwatch).metadata(arn)  # instance identifier looked up
    assert meta["status"] == dms.describe_replication_tasks()["ReplicationTasks"][0]["Status"]
    assert meta["migration_type"] == "full-load-and-cdc"
    assert meta["full_load_progress_percent"] == 100
    assert (meta["inserts"], meta["updates"], meta["deletes"], meta["full_load_rows"]) == (
        7,
        6,
        2,
        200,
    )
    assert json.loads(meta["table_states"]) == {
        "public.core_order": "Table completed",
        "public.core_tenant": "Table completed",
    }
    assert (meta["cdc_latency_source_s"], meta["cdc_latency_target_s"]) == (2.0, 4.0)  # the latest
    assert fake.calls == [{"ReplicationTaskArn": arn}, {"ReplicationTaskArn": arn, "Marker": "m1"}]
    with pytest.raises(LookupError):
        DmsTaskObserver(fake).task(arn.replace("lh-dev-saas", "missing"))


def test_datasync_observer_reads_task_and_latest_execution(client):
    ds = client("datasync")
    src = ds.create_location_smb(
        ServerHostname="files",
        Subdirectory="/landing/autocorp",
        User="u",
        Password="p",
        AgentArns=["arn:aws:datasync:us-east-1:123456789012:agent/agent-1"],
    )
    dst = ds.create_location_s3(
        S3BucketArn="arn:aws:s3:::lh-dev-raw",
        Subdirectory="/raw/csv/autocorp",
        S3Config={"BucketAccessRoleArn": "arn:aws:iam::123456789012:role/datasync"},
    )
    task = ds.create_task(
        SourceLocationArn=src["LocationArn"],
        DestinationLocationArn=dst["LocationArn"],
        Name="lh-dev-autocorp",
    )["TaskArn"]
    observer = DataSyncTaskObserver(ds)
    assert observer.metadata(task) == {"status": "AVAILABLE", "name": "lh-dev-autocorp"}
    execution = ds.start_task_execution(TaskArn=task)["TaskExecutionArn"]
    meta = observer.metadata(task)
    assert meta["execution"] == execution and meta["status"] == "RUNNING"
    assert meta["execution_status"] == "INITIALIZING"
    assert meta["files_transferred"] == 0


class _RecordingFakeAthena:
    """dagster-aws's FakeAthenaClient (its Stubber checks each query it serves), recording queries."""

    def __new__(cls, results):
        import boto3
        from dagster_aws.athena import FakeAthenaClient

        class Recording(FakeAthenaClient):
            queries: list[str] = []

            def execute_query(
                self, query, fetch_results=False, expected_states=None, expected_results=None
            ):
                self.queries.append(query)
                return super().execute_query(query, fetch_results, expected_states, results)

        return Recording(client=boto3.client("athena", region_name="us-east-1"), workgroup="lh-dev")


def test_athena_row_count_through_the_fake_athena_client(aws):
    athena = _RecordingFakeAthena([("42",)])
    assert athena_row_count(athena, "lakehouse_silver", "core_order") == 42
    assert athena.queries == ['SELECT count(*) FROM "lakehouse_silver"."core_order"']


def test_raw_observer_sensor_observes_every_raw_asset(client, aws, monkeypatch):
    import dagster as dg

    from lakehouse.aws.config import AwsConfig
    from lakehouse.aws.observers import DataSyncObserverResource, DmsObserverResource
    from lakehouse.defs.aws import raw_observer_sensor

    arn = _dms_task(client)
    monkeypatch.setattr(
        DmsObserverResource,
        "observer",
        lambda self: DmsTaskObserver(_TableStatisticsFake(client("dms")), client("cloudwatch")),
    )
    config = AwsConfig(
        endpoint_url=aws,
        buckets={"raw": "r"},
        glue_jobs={"x": "y"},
        dms_replication_tasks={"saas": arn},
    )
    sensor = raw_observer_sensor([load_dataset("saas")])
    assert sensor.default_status == dg.DefaultSensorStatus.STOPPED
    context = dg.build_sensor_context(
        resources={
            "aws": config,
            "dms": DmsObserverResource(endpoint_url=aws),
            "datasync": DataSyncObserverResource(endpoint_url=aws),
        }
    )
    result = sensor(context)
    events = {e.asset_key.to_user_string(): e.metadata for e in result.asset_events}
    assert set(events) == {f"raw/{t.name}" for t in load_dataset("saas").database_tables}
    order = {k: v.value for k, v in events["raw/core_order"].items()}
    assert (order["table_inserts"], order["table_updates"], order["table_tablestate"]) == (
        5,
        3,
        "Table completed",
    )
    assert order["inserts"] == 7 and order["cdc_latency_target_s"] == 4.0
    assert "table_inserts" not in events["raw/core_customer"]  # no statistics for it yet
