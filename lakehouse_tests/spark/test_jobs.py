"""The Glue side without Spark: job arguments, zone locations, session and Hudi configuration."""

from __future__ import annotations

import pytest

from lakehouse.declarations import load_dataset
from lakehouse.engine.spark import jobs
from lakehouse.engine.spark.session import session_conf
from lakehouse.engine.spark.tables import LakeLocations
from lakehouse.engine.spark.writers import hudi_options


def test_job_arguments_as_glue_passes_them():
    argv = [
        "--JOB_ID",
        "j_1",
        "--dataset",
        "saas",
        "--table",
        "core_order, core_tenant",
        "--full-refresh",
        "true",
        "--bronze-root",
        "s3://b",
        "--silver-root",
        "s3://s",
        "--gold-root",
        "s3://g",
        "--dagster-pipes-context",
        "abc",
        "--TempDir",
        "s3://tmp/",
    ]
    args = jobs.parse_args(argv)
    assert (args.dataset, args.full_refresh) == ("saas", True)
    assert jobs._names(args.table) == ["core_order", "core_tenant"]
    where = jobs.locations(args)
    assert where.uri("bronze/core_order") == "s3://b/bronze/core_order"
    assert where.uri("silver/core_order") == "s3://s/silver/core_order"
    assert where.uri("gold/saas_tenant_summary") == "s3://g/gold/saas_tenant_summary"
    assert where.uri("_state/tombstones/core_order") == "s3://s/_state/tombstones/core_order"
    assert where.uri("quarantine/core_order") == "s3://s/quarantine/core_order"
    assert jobs.parse_args(["--dataset", "saas"]).full_refresh is False
    with pytest.raises(SystemExit, match="lake-root"):
        jobs.locations(jobs.parse_args(["--dataset", "saas"]))
    assert LakeLocations.single("/lake/").uri("silver/x") == "/lake/silver/x"


def test_session_configuration():
    local = session_conf(formats=())
    assert local["spark.sql.session.timeZone"] == "UTC" and "spark.sql.extensions" not in local
    assert local["spark.driver.bindAddress"] == "127.0.0.1"
    glue = session_conf(formats=("delta", "hudi"), glue=True)
    assert glue["spark.sql.extensions"] == (
        "io.delta.sql.DeltaSparkSessionExtension,org.apache.spark.sql.hudi.HoodieSparkSessionExtension"
    )
    assert (
        glue["spark.sql.catalog.spark_catalog"] == "org.apache.spark.sql.delta.catalog.DeltaCatalog"
    )
    assert glue["spark.serializer"] == "org.apache.spark.serializer.KryoSerializer"
    assert "spark.driver.bindAddress" not in glue
    with pytest.raises(ValueError, match="iceberg"):
        session_conf(formats=("iceberg",))


def test_hudi_tables_are_copy_on_write_with_event_time_ordering_on_the_dms_sequence():
    spec = load_dataset("autocorp").table("sales_order")
    assert spec.table_format == "hudi"
    opts = hudi_options(spec, database="lh_silver")
    assert opts["hoodie.datasource.write.table.type"] == "COPY_ON_WRITE"
    assert opts["hoodie.datasource.write.recordkey.field"] == "order_id"
    assert opts["hoodie.datasource.write.precombine.field"] == "_sequence"
    assert opts["hoodie.payload.ordering.field"] == "_sequence"
    assert (
        opts["hoodie.record.merge.mode"] == "EVENT_TIME_ORDERING"
    )  # Hudi 1.x defaults to commit time
    assert opts["hoodie.datasource.write.payload.class"].endswith("DefaultHoodieRecordPayload")
    assert opts["hoodie.datasource.hive_sync.database"] == "lh_silver"
    assert opts["hoodie.datasource.write.keygenerator.class"].endswith("NonpartitionedKeyGenerator")


@pytest.mark.xdist_group("spark")
def test_checkpoint_round_trip_and_a_job_with_no_bronze_yet(spark, tmp_path):
    from lakehouse.engine.spark import tables
    from lakehouse.engine.spark.silver import apply_table

    where = LakeLocations.single(str(tmp_path))
    assert tables.read_checkpoint(spark, where, "silver", "core_order") is None
    tables.write_checkpoint(spark, where, "silver", "core_order", bronze_version=7, applied_at="t")
    tables.write_checkpoint(spark, where, "silver", "core_order", bronze_version=8, applied_at="t2")
    assert tables.read_checkpoint(spark, where, "silver", "core_order") == {
        "applied_at": "t2",
        "bronze_version": 8,
    }
    assert not tables.delta_exists(spark, where.uri("bronze/core_order"))
    result = apply_table(spark, load_dataset("saas").table("core_order"), where)
    assert (result.changes, result.bronze_version, result.version) == (0, None, None)
    assert result.metadata()["table_version"] == -1
