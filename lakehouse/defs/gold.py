"""Gold assets, one per metric of a dataset: ``["gold", "<dataset>_<metric>"]``.

Data contract of ``gold/<dataset>_<metric>`` (Delta, rewritten whole on every materialization with
``mode="overwrite", schema_mode="overwrite"``): exactly the frame the metric's ``compute`` returns
from the current silver tables ``silver/<dep>`` (see ``gold.model`` for column types), with every
output column named like a PII column of its inputs masked (``gold.masking``). A silver table that
does not exist yet reads as an empty frame with its registry columns, so the gold table is written
empty (or zero-filled) with the right columns instead of failing.

Metadata of each materialization: ``rows``, ``delta_version``, ``columns``, ``preview`` (markdown
table of the first 10 rows) and, when the metric has a ``chart``, ``chart`` (a Vega-Lite spec).
Asset keys carry the dataset because metric names repeat across datasets.
"""

from datetime import date, datetime
from decimal import Decimal

import dagster as dg
import polars as pl

from lakehouse.defs.resources import LakeResource
from lakehouse.engine.core import metrics as core_metrics
from lakehouse.engine.core.metrics import PREVIEW_ROWS, load_metrics
from lakehouse.gold.model import GoldMetric, conform
from lakehouse.registry import DatasetSpec

CHART_ROWS = 20  # bars shown for a bar chart (the frame's order; metrics sort by value)
VEGA_LITE = "https://vega.github.io/schema/vega-lite/v5.json"


def read_inputs(lake, dataset: DatasetSpec, metric: GoldMetric) -> dict[str, pl.DataFrame]:
    from lakehouse.engine.silver import read_silver

    return {t: conform(read_silver(lake, dataset.table(t)), dataset.table(t)) for t in metric.deps}


def run_metric(lake, dataset: DatasetSpec, metric: GoldMetric) -> tuple[pl.DataFrame, int]:
    """Compute ``metric`` from silver, mask PII, overwrite its gold table; return (frame, version)."""
    from deltalake import DeltaTable, write_deltalake

    from lakehouse.gold.masking import mask_pii, pii_columns

    frame = metric.compute(read_inputs(lake, dataset, metric))
    frame = mask_pii(frame, pii_columns(dataset, metric.deps))
    uri = lake.uri(metric.table_key)
    write_deltalake(
        uri,
        frame.to_arrow(),
        mode="overwrite",
        schema_mode="overwrite",
        storage_options=lake.storage_options,
    )
    return frame, DeltaTable(uri, storage_options=lake.storage_options).version()


def markdown_table(frame: pl.DataFrame, rows: int = PREVIEW_ROWS) -> str:
    """The first ``rows`` rows of ``frame`` as a GitHub markdown table (header only if empty;
    ``engine.core.metrics.markdown_table``)."""
    return core_metrics.markdown_table(frame.columns, frame.head(rows).iter_rows())


def _json_value(value):
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    return value


def vega_lite(frame: pl.DataFrame, x: str, y: str, title: str = "") -> dict:
    """A small Vega-Lite spec: a line over time when ``x`` is a date, else bars (y summed per x)."""
    temporal = isinstance(frame.schema[x], pl.Date | pl.Datetime)
    data = frame.select(x, y) if temporal else frame.select(x, y).head(CHART_ROWS)
    values = [{k: _json_value(v) for k, v in row.items()} for row in data.iter_rows(named=True)]
    return {
        "$schema": VEGA_LITE,
        "title": title,
        "data": {"values": values},
        "mark": {"type": "line", "point": True} if temporal else "bar",
        "encoding": {
            "x": {"field": x, "type": "temporal" if temporal else "nominal", "sort": None},
            "y": {"field": y, "type": "quantitative", "aggregate": "sum"},
        },
    }


def gold_asset(dataset: DatasetSpec, metric: GoldMetric) -> dg.AssetsDefinition:
    @dg.asset(
        key=["gold", metric.key],
        deps=[dg.AssetKey(["silver", t]) for t in metric.deps],
        group_name=f"{dataset.name}_gold",
        kinds={"delta", "polars"},
        description=metric.description,
        metadata={"table": metric.table_key, "silver_inputs": ", ".join(metric.deps)},
    )
    def _gold(context: dg.AssetExecutionContext, lake: LakeResource) -> dg.MaterializeResult:
        frame, version = run_metric(lake.lake(), dataset, metric)
        context.log.info(f"{metric.table_key}: {frame.height} rows, Delta version {version}")
        metadata = core_metrics.table_metadata(
            frame.height, version, frame.schema.items(), frame.head(PREVIEW_ROWS).iter_rows()
        )
        metadata["preview"] = dg.MetadataValue.md(metadata["preview"])
        if metric.chart is not None:
            x, y = metric.chart
            metadata["chart"] = dg.MetadataValue.json(vega_lite(frame, x, y, title=metric.key))
        return dg.MaterializeResult(metadata=metadata)

    return _gold


def gold_assets(dataset: DatasetSpec) -> list[dg.AssetsDefinition]:
    """One gold asset per metric of ``dataset`` (``datasets/<name>/gold.py``'s ``METRICS``)."""
    return [gold_asset(dataset, m) for m in load_metrics(dataset.name)]
