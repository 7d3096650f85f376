"""One local SparkSession (local[2]) for the whole test session, shared by every Spark test.

Starting Spark costs seconds, so the session is built once; ``xdist_group("spark")`` on the Spark
tests keeps them on one xdist worker (``--dist loadgroup``), hence one JVM.

The Delta and Hudi JARs cannot be downloaded here. Where they exist, name them in
``LAKEHOUSE_SPARK_JARS`` (comma-separated JAR paths or Maven coordinates, e.g.
``io.delta:delta-spark_2.13:4.0.0,org.apache.hudi:hudi-spark4.0-bundle_2.13:1.1.0``): the session is
then built with the matching extensions and the ``spark_jars`` tests run; without them those
tests are skipped with that reason.
"""

from __future__ import annotations

import os

import pytest

JARS_ENV = "LAKEHOUSE_SPARK_JARS"
#: test data is tiny: compiling generated code and re-planning adaptively cost more than they save
#: (about 3x faster here); one shuffle partition
TEST_CONF = {
    "spark.sql.codegen.wholeStage": "false",
    "spark.sql.codegen.factoryMode": "NO_CODEGEN",
    "spark.sql.adaptive.enabled": "false",
    "spark.sql.shuffle.partitions": "1",
}
NO_JARS = "Delta/Hudi Spark JARs are not available (no Maven access here)"


def _formats(jars: list[str]) -> tuple[str, ...]:
    text = " ".join(jars).lower()
    return tuple(
        f
        for f, marks in (("delta", ("delta",)), ("hudi", ("hudi",)))
        if any(m in text for m in marks)
    )


@pytest.fixture(scope="session")
def spark():
    pytest.importorskip(
        "pyspark", reason="the spark extra is not installed (pip install '.[spark]')"
    )
    from lakehouse.engine.spark.session import build_session

    jars = [j.strip() for j in os.environ.get(JARS_ENV, "").split(",") if j.strip()]
    session = build_session(
        "lakehouse-tests",
        master="local[2]",
        formats=_formats(jars),
        jars=jars,
        extra_conf=TEST_CONF,
    )
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()


@pytest.fixture(scope="session")
def spark_formats(spark) -> set[str]:
    """Table formats whose classes the running JVM can load."""
    from lakehouse.engine.spark.session import formats_available

    return formats_available(spark)


@pytest.fixture
def delta_spark(spark, spark_formats):
    if "delta" not in spark_formats:
        pytest.skip(NO_JARS)
    return spark


@pytest.fixture
def hudi_spark(spark, spark_formats):
    if not {"delta", "hudi"} <= spark_formats:  # tombstones and history are Delta beside Hudi
        pytest.skip(NO_JARS)
    return spark


@pytest.fixture(scope="session")
def scenarios(pg_dsn, tmp_path_factory):
    """``scenarios(dataset)``: the parity scenario of a dataset (``scenario.build``), built once."""
    from lakehouse_tests.spark.scenario import build

    cache = {}

    def get(dataset: str):
        if dataset not in cache:
            cache[dataset] = build(pg_dsn, dataset, tmp_path_factory.mktemp(f"lake_{dataset}"))
        return cache[dataset]

    return get
