"""Observers of the DMS and DataSync tasks that feed the raw zone.

Contract:
- ``DmsTaskObserver.metadata(arn)``: status, full-load progress, tables loaded/loading/errored,
  counts summed over tables and per table (``describe_table_statistics``: inserts, updates,
  deletes, full-load rows, state) and CDC latency in seconds (CloudWatch ``AWS/DMS``
  ``CDCLatencySource`` / ``CDCLatencyTarget``, latest datapoint of the last 15 minutes) when a
  CloudWatch client is given.
- ``DataSyncTaskObserver.metadata(arn)``: task status and the latest execution's status, files
  and bytes transferred and verified.
- ``DmsObserverResource`` / ``DataSyncObserverResource`` build them for the profile's region and
  endpoint.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import dagster as dg

from lakehouse.aws.config import aws_client


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
            aws_client("dms", self.region, self.endpoint_url),
            aws_client("cloudwatch", self.region, self.endpoint_url),
        )


class DataSyncObserverResource(dg.ConfigurableResource):
    region: str = "us-east-1"
    endpoint_url: str | None = None

    def observer(self) -> DataSyncTaskObserver:
        return DataSyncTaskObserver(aws_client("datasync", self.region, self.endpoint_url))
