"""The gold layer's data model: a business metric declared as data, plus the expressions metrics share.

Data contract:
- A ``GoldMetric`` reads the *current state* of silver tables (``deps``: registry table names of
  its ``dataset``) and returns one Polars frame: ``compute({table: frame}) -> frame``. The input
  frames carry at least the registry columns typed per ``registry.types.polars_dtype`` (silver's
  lineage columns ``_sequence``, ``_commit_ts``, ``_source_file`` may be present and are ignored);
  a table that has no silver yet arrives as an empty frame with those columns, so ``compute`` must
  give an empty (or zero-filled) result with the same output columns, never raise.
- Outputs are Delta-friendly: counts are ``Int64`` (no unsigned ints), money is
  ``Decimal(38, 2)`` (exact sums; averages rounded half away from zero, as PostgreSQL's
  ``round(numeric, 2)``), rates are ``Float64`` ratios of two counts (null when the denominator is
  0), months are ``Date`` (the first day of the month, UTC).
- Outputs never expose raw PII (registry columns with ``pii`` set): see ``gold.masking``.
- The gold table of a metric is ``gold/<dataset>_<name>`` (``key``): metric names repeat across
  datasets (both have ``revenue_by_month``).
- ``chart``: optional ``(x column, y column)``; the asset renders a small Vega-Lite spec (a line
  when x is a date, a bar otherwise; y summed per x).
- ``conform`` makes a silver frame an input of that shape; a dataset's metrics are listed by
  ``engine.core.metrics.load_metrics``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import polars as pl

MONEY = pl.Decimal(38, 2)
_RATIO_SCALE = 12  # exact enough that the final rounding to cents never double-rounds


@dataclass(frozen=True)
class GoldMetric:
    """One gold table: name, silver inputs, the computation and how to show it."""

    dataset: str
    name: str
    deps: tuple[str, ...]
    compute: Callable[[dict[str, pl.DataFrame]], pl.DataFrame]
    description: str
    chart: tuple[str, str] | None = None

    @property
    def key(self) -> str:
        """``<dataset>_<name>``: the gold table name (unique across datasets)."""
        return f"{self.dataset}_{self.name}"

    @property
    def table_key(self) -> str:
        """Lake key of the gold Delta table: ``gold/<dataset>_<name>``."""
        return f"gold/{self.key}"


def count(expr: pl.Expr | None = None) -> pl.Expr:
    """``count(*)`` (``expr`` None) or the number of non-null values of ``expr``, as Int64."""
    return (pl.len() if expr is None else expr.count()).cast(pl.Int64)


def n_unique(expr: pl.Expr) -> pl.Expr:
    """``count(distinct expr)`` as Int64 (nulls not counted, as in SQL)."""
    return expr.drop_nulls().n_unique().cast(pl.Int64)


def money_sum(expr: pl.Expr) -> pl.Expr:
    """Exact sum as ``Decimal(38, 2)`` (0 for no rows)."""
    return expr.sum().cast(MONEY)


def money_ratio(num: pl.Expr, den: pl.Expr) -> pl.Expr:
    """``round(num / den, 2)`` half away from zero as ``Decimal(38, 2)``; null when den is 0/null."""
    exact = num.cast(pl.Decimal(38, _RATIO_SCALE)) / den.cast(pl.Decimal(38, 0))
    value = exact.round(2, mode="half_away_from_zero").cast(MONEY)
    return pl.when(den.fill_null(0) != 0).then(value).otherwise(None)


def rate(num: pl.Expr, den: pl.Expr) -> pl.Expr:
    """``num / den`` as Float64 (both counts); null when den is 0/null."""
    return pl.when(den.fill_null(0) != 0).then(num.cast(pl.Float64) / den.cast(pl.Float64))


def month_start(expr: pl.Expr) -> pl.Expr:
    """First day of the month (in UTC) of a UTC ``Datetime`` expression, as ``Date``."""
    return expr.dt.replace_time_zone(None).dt.truncate("1mo").dt.date()


def zero_fill(frame: pl.DataFrame, columns: list[str]) -> pl.DataFrame:
    """Replace nulls with 0 in ``columns`` (after a left join to groups without rows)."""
    return frame.with_columns([pl.col(c).fill_null(0) for c in columns])


def conform(frame: pl.DataFrame | None, spec) -> pl.DataFrame:
    """A silver frame (None: no table yet) as a metric's input: every registry column of ``spec``
    typed per the registry (``registry.types``), a missing one null; empty with those columns
    when there are none. Both engines hand ``compute`` frames made by this."""
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
