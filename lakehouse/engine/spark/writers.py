"""Writing a resolved change set (``apply.resolve_changes``) with delta-spark or Hudi, and reading
bronze incrementally. These calls need the Delta / Hudi JARs (Glue: ``--datalake-formats``).

- ``merge_delta``: one ``DeltaTable.merge``: delete / update when the source change is newer than
  the row (``_sequence``), insert when the key is absent and the change is not a delete; new source
  columns are added first (schema evolution), an incompatible type change raises
  ``engine.core.results.SchemaChangeError`` naming table, column and both types; the bronze
  version applied goes into the commit's ``userMetadata``.
- ``upsert_hudi``: Copy-on-Write upsert, record key = primary key, precombine/ordering field =
  ``_sequence`` with EVENT_TIME_ORDERING (Hudi 1.x defaults to commit-time ordering), deletes via
  ``_hoodie_is_deleted``. Callers pass only changes newer than the stored rows, so the result does
  not depend on Hudi's merge mode.
- ``read_bronze``: the bronze rows added after a version (the data files the older snapshot did
  not have; everything when bronze was compacted, which the apply makes idempotent).
"""

from __future__ import annotations

from lakehouse.engine.core.results import incompatible
from lakehouse.engine.spark.apply import silver_rows
from lakehouse.engine.spark.sequencing import SEQUENCE
from lakehouse.registry.model import TableSpec

HUDI_PAYLOAD = "org.apache.hudi.common.model.DefaultHoodieRecordPayload"
USER_METADATA_CONF = "spark.databricks.delta.commitInfo.userMetadata"


def check_types(spec: TableSpec, source, target) -> None:
    """Raise ``SchemaChangeError`` for a column whose type changed incompatibly."""
    from pyspark.sql import types as T

    ints = [T.ByteType(), T.ShortType(), T.IntegerType(), T.LongType()]
    target_types = {f.name: f.dataType for f in target.fields}
    for f in source.fields:
        old = target_types.get(f.name)
        if old is None or old == f.dataType or isinstance(f.dataType, T.NullType):
            continue
        if old in ints and f.dataType in ints and ints.index(f.dataType) >= ints.index(old):
            continue
        raise incompatible(spec.name, f.name, old.simpleString(), f.dataType.simpleString())


def merge_delta(
    spark, uri: str, batch, spec: TableSpec, *, user_metadata: str | None = None
) -> dict:
    """delta-spark MERGE of the resolved ``batch`` into the Delta table at ``uri``; its metrics."""
    from delta.tables import DeltaTable
    from pyspark.sql import functions as F

    from lakehouse.engine.spark.tables import add_missing_columns

    target = DeltaTable.forPath(spark, uri)
    source = silver_rows(batch.withColumn("__op", F.col("_op")))
    data = [c for c in source.columns if c != "__op"]
    check_types(spec, source.select(*data).schema, target.toDF().schema)
    add_missing_columns(spark, uri, source.select(*data).schema, target.toDF().schema)
    target = DeltaTable.forPath(spark, uri)
    assign = {c: f"s.`{c}`" for c in data}
    pred = " AND ".join(f"t.`{k}` = s.`{k}`" for k in spec.primary_key)
    newer = f"s.{SEQUENCE} > t.{SEQUENCE}"
    with _user_metadata(spark, user_metadata):
        (
            target.alias("t")
            .merge(source.alias("s"), pred)
            .whenMatchedDelete(condition=f"{newer} AND s.__op = 'D'")
            .whenMatchedUpdate(condition=f"{newer} AND s.__op <> 'D'", set=assign)
            .whenNotMatchedInsert(condition="s.__op <> 'D'", values=assign)
            .execute()
        )
    metrics = DeltaTable.forPath(spark, uri).history(1).select("operationMetrics").first()[0] or {}
    return {
        "inserted": int(metrics.get("numTargetRowsInserted", 0)),
        "updated": int(metrics.get("numTargetRowsUpdated", 0)),
        "deleted": int(metrics.get("numTargetRowsDeleted", 0)),
    }


class _user_metadata:
    """Delta ``commitInfo.userMetadata`` for the commits made inside the block."""

    def __init__(self, spark, value: str | None):
        self.spark, self.value = spark, value

    def __enter__(self):
        if self.value is not None:
            self.spark.conf.set(USER_METADATA_CONF, self.value)

    def __exit__(self, *exc):
        if self.value is not None:
            self.spark.conf.unset(USER_METADATA_CONF)


def hudi_options(
    spec: TableSpec, *, database: str | None = None, operation: str = "upsert"
) -> dict[str, str]:
    """Hudi writer options of a registry table (Copy-on-Write, event-time ordering on ``_sequence``)."""
    keygen = "ComplexKeyGenerator" if spec.partition_by else "NonpartitionedKeyGenerator"
    opts = {
        "hoodie.table.name": spec.name,
        "hoodie.datasource.write.table.name": spec.name,
        "hoodie.datasource.write.table.type": "COPY_ON_WRITE",
        "hoodie.datasource.write.operation": operation,
        "hoodie.datasource.write.recordkey.field": ",".join(spec.primary_key),
        "hoodie.datasource.write.partitionpath.field": ",".join(spec.partition_by),
        "hoodie.datasource.write.hive_style_partitioning": "true",
        "hoodie.datasource.write.keygenerator.class": f"org.apache.hudi.keygen.{keygen}",
        # the DMS sequence decides, not the commit time (Hudi 1.x defaults to COMMIT_TIME_ORDERING)
        "hoodie.datasource.write.precombine.field": SEQUENCE,  # Hudi 0.x name
        "hoodie.table.ordering.fields": SEQUENCE,  # Hudi 1.1 name
        "hoodie.payload.ordering.field": SEQUENCE,
        "hoodie.datasource.write.payload.class": HUDI_PAYLOAD,
        "hoodie.record.merge.mode": "EVENT_TIME_ORDERING",
        "hoodie.write.record.merge.mode": "EVENT_TIME_ORDERING",
        "hoodie.combine.before.upsert": "true",
    }
    if database:
        opts.update(
            {
                "hoodie.datasource.hive_sync.enable": "true",
                "hoodie.datasource.hive_sync.mode": "hms",
                "hoodie.datasource.hive_sync.use_jdbc": "false",
                "hoodie.datasource.hive_sync.database": database,
                "hoodie.datasource.hive_sync.table": spec.name,
                "hoodie.datasource.hive_sync.partition_fields": ",".join(spec.partition_by),
                "hoodie.datasource.hive_sync.partition_extractor_class": (
                    "org.apache.hudi.hive.MultiPartKeysValueExtractor"
                    if spec.partition_by
                    else "org.apache.hudi.hive.NonPartitionedExtractor"
                ),
            }
        )
    return opts


def hudi_frame(batch):
    """The resolved ``batch`` as Hudi rows: silver columns + ``_hoodie_is_deleted``."""
    from pyspark.sql import functions as F

    return silver_rows(batch.withColumn("_hoodie_is_deleted", F.col("_op") == "D"))


def upsert_hudi(
    batch, uri: str, spec: TableSpec, *, database: str | None = None, overwrite: bool = False
) -> None:
    """Upsert the resolved ``batch`` into the Hudi table at ``uri`` (see the module docstring)."""
    operation = "bulk_insert" if overwrite else "upsert"
    (
        hudi_frame(batch)
        .write.format("hudi")
        .options(**hudi_options(spec, database=database, operation=operation))
        .mode("overwrite" if overwrite else "append")
        .save(uri)
    )


def read_bronze(spark, uri: str, after_version: int | None):
    """Bronze rows added after ``after_version`` (all when None) and the version read."""
    from pyspark.sql import functions as F

    from lakehouse.engine.spark.tables import delta_exists, delta_version

    if not delta_exists(spark, uri):
        return None, None
    current = delta_version(spark, uri)
    frame = spark.read.format("delta").option("versionAsOf", current).load(uri)
    if after_version is None:
        return frame, current
    if after_version >= current:
        return frame.limit(0), current
    old = spark.read.format("delta").option("versionAsOf", after_version).load(uri).inputFiles()
    old_names, now_names = {_base(f) for f in old}, {_base(f) for f in frame.inputFiles()}
    if not old_names <= now_names:  # bronze was compacted: re-read everything (idempotent)
        return frame, current
    name = F.element_at(F.split(F.input_file_name(), "/"), -1)
    return frame.where(name.isin(sorted(now_names - old_names))), current


def _base(path: str) -> str:
    return path.rstrip("/").rsplit("/", 1)[-1]
