"""Where the Spark engine's tables live, and the small Delta/Hudi/JSON IO it needs.

``LakeLocations`` maps a lake key to a URI Spark can read: on AWS one bucket per zone, each
object keeping its lake key inside its zone's bucket (``s3://<silver bucket>/silver/<table>``,
see ``aws.naming``); locally one root for every zone. State and quarantine tables
(``_state/…``, ``quarantine/…``) live beside silver.

Helpers: ``to_arrow`` (a DataFrame as a pyarrow Table on Spark 3.5 and 4), ``from_polars``
(the reverse, from a Polars frame), ``delta_exists``,
``hudi_exists``, ``delta_version``, ``add_missing_columns`` (schema evolution before a MERGE
with explicit assignments), and the engine's checkpoint: a one-row JSON object per table
(``_state/spark/<layer>/<table>``) recording the bronze version applied, written after the
table commit (a crash in between re-applies the same batch, which the CDC apply makes a no-op).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

ZONES = ("raw", "bronze", "silver", "gold")
STATE_ZONE = "silver"  # _state/… and quarantine/… live beside silver


@dataclass(frozen=True)
class LakeLocations:
    roots: Mapping[str, str]

    @classmethod
    def single(cls, root: str) -> LakeLocations:
        """Every zone under one root (a folder, ``file:/…`` or ``s3://bucket/prefix``)."""
        return cls({z: root for z in ZONES})

    def uri(self, key: str) -> str:
        zone = key.split("/", 1)[0]
        root = self.roots.get(zone) or self.roots[STATE_ZONE]
        return f"{root.rstrip('/')}/{key}"


def to_arrow(frame):
    """The DataFrame as a ``pyarrow.Table`` (``toArrow`` on Spark 4, Arrow batches on 3.5)."""
    if hasattr(frame, "toArrow"):
        return frame.toArrow()
    import pyarrow as pa

    return pa.Table.from_batches(frame._collect_as_arrow(), schema=None)  # pragma: no cover


def from_polars(spark, frame):
    """A Polars frame as a Spark DataFrame (Arrow on Spark 4, pandas + Arrow schema on 3.5)."""
    import pyarrow as pa

    table = frame.to_arrow()
    table = table.cast(pa.schema([_plain(f) for f in table.schema]))
    try:
        return spark.createDataFrame(table)
    except (TypeError, ValueError):  # Spark 3.5 has no Arrow-table input
        from pyspark.sql.pandas.types import from_arrow_schema

        return spark.createDataFrame(table.to_pandas(), schema=from_arrow_schema(table.schema))


def _plain(field):
    import pyarrow as pa

    if pa.types.is_large_string(field.type) or pa.types.is_string_view(field.type):
        return pa.field(field.name, pa.string())
    if pa.types.is_large_binary(field.type) or pa.types.is_binary_view(field.type):
        return pa.field(field.name, pa.binary())
    return field


def _fs_exists(spark, uri: str) -> bool:
    jvm = spark.sparkContext._jvm
    path = jvm.org.apache.hadoop.fs.Path(uri)
    return path.getFileSystem(spark.sparkContext._jsc.hadoopConfiguration()).exists(path)


def delta_exists(spark, uri: str) -> bool:
    return _fs_exists(spark, f"{uri.rstrip('/')}/_delta_log")


def hudi_exists(spark, uri: str) -> bool:
    return _fs_exists(spark, f"{uri.rstrip('/')}/.hoodie")


def delta_version(spark, uri: str) -> int | None:
    from delta.tables import DeltaTable

    if not delta_exists(spark, uri):
        return None
    return int(DeltaTable.forPath(spark, uri).history(1).select("version").first()[0])


def add_missing_columns(spark, uri: str, source_schema, target_schema) -> list[str]:
    """``ALTER TABLE … ADD COLUMNS`` for source columns the Delta table lacks; returns them."""
    missing = [f for f in source_schema.fields if f.name not in target_schema.fieldNames()]
    if missing:
        cols = ", ".join(f"`{f.name}` {f.dataType.simpleString()}" for f in missing)
        spark.sql(f"ALTER TABLE delta.`{uri}` ADD COLUMNS ({cols})")
    return [f.name for f in missing]


def checkpoint_key(layer: str, table: str) -> str:
    return f"_state/spark/{layer}/{table}"


def read_checkpoint(spark, locations: LakeLocations, layer: str, table: str) -> dict | None:
    uri = locations.uri(checkpoint_key(layer, table))
    if not _fs_exists(spark, uri):
        return None
    rows = spark.read.json(uri).collect()
    return rows[0].asDict() if rows else None


def write_checkpoint(spark, locations: LakeLocations, layer: str, table: str, **values) -> None:
    import json

    uri = locations.uri(checkpoint_key(layer, table))
    spark.createDataFrame([(json.dumps(values, default=str),)], "value string").coalesce(
        1
    ).write.mode("overwrite").text(uri)
