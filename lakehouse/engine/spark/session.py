"""The SparkSession builder: local PySpark (tests, a laptop) or AWS Glue, with Delta and Hudi.

Contract of ``build_session``:
- the session time zone is UTC (``_sequence`` renders commit timestamps in UTC, timestamps are
  stored UTC-aware, as in the local engine);
- ``formats`` names the table formats to configure: ``"delta"`` adds the delta-spark session
  extension and catalog, ``"hudi"`` the Hudi extension and the Kryo serializer Hudi requires.
  On Glue (``glue=True``) the JARs come from the job's ``--datalake-formats delta,hudi``; locally
  they must be on the classpath already (``jars``: JAR paths, or Maven coordinates that Spark
  downloads at start — impossible without Maven access, see ``formats_available``);
- locally the driver binds to 127.0.0.1, the UI is off and shuffles use few partitions.

``formats_available(spark)`` tells which of Delta/Hudi can actually be used, by loading their
classes through the running JVM.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

DELTA_EXTENSION = "io.delta.sql.DeltaSparkSessionExtension"
DELTA_CATALOG = "org.apache.spark.sql.delta.catalog.DeltaCatalog"
HUDI_EXTENSION = "org.apache.spark.sql.hudi.HoodieSparkSessionExtension"
KRYO = "org.apache.spark.serializer.KryoSerializer"
HUDI_KRYO_REGISTRATOR = "org.apache.spark.HoodieSparkKryoRegistrar"
#: a class of each format, loaded through the JVM to tell whether its JARs are on the classpath
FORMAT_CLASSES = {
    "delta": "io.delta.tables.DeltaTable",
    "hudi": "org.apache.hudi.DataSourceWriteOptions",
}


def session_conf(
    *, formats: Iterable[str] = (), glue: bool = False, master: str | None = "local[2]"
) -> dict[str, str]:
    """The Spark configuration ``build_session`` applies (exposed for tests and Terraform)."""
    formats = tuple(formats)
    unknown = set(formats) - set(FORMAT_CLASSES)
    if unknown:
        raise ValueError(
            f"unknown table format(s) {sorted(unknown)}; expected {tuple(FORMAT_CLASSES)}"
        )
    conf = {
        "spark.sql.session.timeZone": "UTC",
        "spark.sql.parquet.outputTimestampType": "TIMESTAMP_MICROS",
        "spark.sql.execution.arrow.pyspark.enabled": "true",
    }
    extensions = []
    if "delta" in formats:
        extensions.append(DELTA_EXTENSION)
        conf["spark.sql.catalog.spark_catalog"] = DELTA_CATALOG
    if "hudi" in formats:
        extensions.append(HUDI_EXTENSION)
        conf["spark.serializer"] = KRYO
        conf["spark.kryo.registrator"] = HUDI_KRYO_REGISTRATOR
    if extensions:
        conf["spark.sql.extensions"] = ",".join(extensions)
    if not glue and master and master.startswith("local"):
        conf.update(
            {
                "spark.driver.host": "127.0.0.1",
                "spark.driver.bindAddress": "127.0.0.1",
                "spark.ui.enabled": "false",
                "spark.ui.showConsoleProgress": "false",
                "spark.sql.shuffle.partitions": "2",
                "spark.default.parallelism": "2",
                "spark.sql.adaptive.coalescePartitions.enabled": "true",
            }
        )
    return conf


def build_session(
    app_name: str = "lakehouse",
    *,
    master: str | None = "local[2]",
    glue: bool = False,
    formats: Iterable[str] | None = None,
    jars: Iterable[str] = (),
    extra_conf: Mapping[str, str] | None = None,
):
    """A SparkSession per the module contract (``getOrCreate``: one per process)."""
    from pyspark.sql import SparkSession

    formats = ("delta", "hudi") if formats is None and glue else tuple(formats or ())
    builder = SparkSession.builder.appName(app_name)
    if glue:  # the Glue Data Catalog is the Hive metastore (--enable-glue-datacatalog): Hudi sync
        builder = builder.enableHiveSupport()
    elif master:
        builder = builder.master(master)
    conf = session_conf(formats=formats, glue=glue, master=None if glue else master)
    paths = [j for j in jars if j.endswith(".jar")]
    packages = [j for j in jars if not j.endswith(".jar")]
    if paths:
        conf["spark.jars"] = ",".join(paths)
    if packages:
        conf["spark.jars.packages"] = ",".join(packages)
    conf.update(extra_conf or {})
    for key, value in conf.items():
        builder = builder.config(key, value)
    return builder.getOrCreate()


def formats_available(spark) -> set[str]:
    """The table formats whose classes the session's JVM can load (``{"delta", "hudi"}`` on Glue)."""
    jvm = spark.sparkContext._jvm
    loader = jvm.java.lang.Thread.currentThread().getContextClassLoader()
    found = set()
    for fmt, cls in FORMAT_CLASSES.items():
        try:
            loader.loadClass(cls)
            found.add(fmt)
        except Exception:  # py4j wraps ClassNotFoundException
            continue
    return found
