"""Silver → gold on Spark, with the very metric definitions the local profile runs.

Data contract (as ``defs.gold``): ``gold/<dataset>_<metric>`` is a Delta table rewritten whole
(overwrite, schema overwritten) with exactly the frame the metric's ``compute`` returns from the
current silver tables, PII columns masked (``gold.masking``). A silver table that does not exist
yet reads as an empty frame with its registry columns (``gold.model.conform``, the local one).
The metadata is the local assets' (``engine.core.metrics.table_metadata``).

Spark reads silver (Delta, or Hudi without its ``_hoodie_*`` columns) and hands each table to the
Polars ``compute`` as Arrow, so one definition of every metric serves both profiles; the result is
written with delta-spark. Gold inputs are the current state of the shipped datasets (thousands to
about a million rows): collecting them on the Glue driver is fine at that size.
"""

from __future__ import annotations

from lakehouse.engine.core.keys import silver_key
from lakehouse.engine.core.metrics import PREVIEW_ROWS, table_metadata
from lakehouse.engine.spark.tables import (
    LakeLocations,
    delta_exists,
    delta_version,
    from_polars,
    hudi_exists,
    to_arrow,
)
from lakehouse.registry import DatasetSpec, TableSpec


def read_silver(spark, locations: LakeLocations, spec: TableSpec):
    """The current state of ``silver/<table>`` as a DataFrame, or None when it does not exist."""
    uri = locations.uri(silver_key(spec.name))
    if spec.table_format == "hudi" and hudi_exists(spark, uri):
        frame = spark.read.format("hudi").load(uri)
        return frame.drop(*[c for c in frame.columns if c.startswith("_hoodie_")])
    if delta_exists(spark, uri):
        return spark.read.format("delta").load(uri)
    return None


def compute_metric(inputs: dict, dataset: DatasetSpec, metric):
    """The metric's Polars frame (PII masked) from Spark DataFrames of its silver inputs."""
    import polars as pl

    from lakehouse.gold.masking import mask_pii, pii_columns
    from lakehouse.gold.model import conform

    frames = {
        t: conform(
            None if inputs.get(t) is None else pl.from_arrow(to_arrow(inputs[t])), dataset.table(t)
        )
        for t in metric.deps
    }
    return mask_pii(metric.compute(frames), pii_columns(dataset, metric.deps))


def run_metric(
    spark, locations: LakeLocations, dataset: DatasetSpec, metric
) -> tuple[object, int | None]:
    """Compute ``metric`` from silver and overwrite its gold table; (Polars frame, Delta version)."""
    inputs = {t: read_silver(spark, locations, dataset.table(t)) for t in metric.deps}
    frame = compute_metric(inputs, dataset, metric)
    uri = locations.uri(metric.table_key)
    from_polars(spark, frame).write.format("delta").mode("overwrite").option(
        "overwriteSchema", "true"
    ).save(uri)
    return frame, delta_version(spark, uri)


def metadata(frame, version: int | None) -> dict:
    """Materialization metadata of a gold table (``engine.core.metrics.table_metadata``), the
    preview as a Pipes markdown value."""
    out = table_metadata(
        frame.height, version, frame.schema.items(), frame.head(PREVIEW_ROWS).iter_rows()
    )
    out["preview"] = {"raw_value": out["preview"], "type": "md"}
    return out
