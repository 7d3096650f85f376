"""Silver → gold on Spark, with the very metric definitions the local profile runs.

Data contract (as ``defs.gold``): ``gold/<dataset>_<metric>`` is a Delta table rewritten whole
(overwrite, schema overwritten) with exactly the frame the metric's ``compute`` returns from the
current silver tables, PII columns masked (``gold.masking``). A silver table that does not exist
yet reads as an empty frame with its registry columns.

Spark reads silver (Delta, or Hudi without its ``_hoodie_*`` columns) and hands each table to the
Polars ``compute`` as Arrow, so one definition of every metric serves both profiles; the result is
written with delta-spark. Gold inputs are the current state of the shipped datasets (thousands to
about a million rows): collecting them on the Glue driver is fine at that size.
"""

from __future__ import annotations

from lakehouse.engine.spark.tables import (
    LakeLocations,
    delta_exists,
    delta_version,
    from_polars,
    hudi_exists,
    to_arrow,
)
from lakehouse.registry import DatasetSpec, TableSpec

PREVIEW_ROWS = 10


def read_silver(spark, locations: LakeLocations, spec: TableSpec):
    """The current state of ``silver/<table>`` as a DataFrame, or None when it does not exist."""
    uri = locations.uri(f"silver/{spec.name}")
    if spec.table_format == "hudi" and hudi_exists(spark, uri):
        frame = spark.read.format("hudi").load(uri)
        return frame.drop(*[c for c in frame.columns if c.startswith("_hoodie_")])
    if delta_exists(spark, uri):
        return spark.read.format("delta").load(uri)
    return None


def conform(frame, spec: TableSpec):
    """A Polars silver frame with every registry column typed per the registry."""
    import polars as pl

    from lakehouse.registry.types import table_polars_schema

    schema = table_polars_schema(spec)
    if frame is None or frame.width == 0:
        return pl.DataFrame(schema=schema)
    return frame.with_columns(
        [
            pl.col(n).cast(t) if n in frame.columns else pl.lit(None, t).alias(n)
            for n, t in schema.items()
        ]
    )


def compute_metric(inputs: dict, dataset: DatasetSpec, metric):
    """The metric's Polars frame (PII masked) from Spark DataFrames of its silver inputs."""
    import polars as pl

    from lakehouse.gold.masking import mask_pii, pii_columns

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
    """Materialization metadata of a gold table (rows, version, columns, a markdown preview)."""
    head = frame.head(PREVIEW_ROWS)
    lines = [
        "| " + " | ".join(frame.columns) + " |",
        "|" + "|".join(" --- " for _ in frame.columns) + "|",
    ]
    lines += [
        "| " + " | ".join("" if v is None else str(v).replace("|", "\\|") for v in r) + " |"
        for r in head.iter_rows()
    ]
    return {
        "rows": frame.height,
        "dagster/row_count": frame.height,
        "delta_version": -1 if version is None else version,
        "columns": ", ".join(f"{n}: {t}" for n, t in frame.schema.items()),
        "preview": {"raw_value": "\n".join(lines), "type": "md"},
    }
