"""The gold metric registry and how a gold table is shown, for both engines.

``load_metrics(dataset)``: the ``METRICS`` (``gold.model.GoldMetric``) of the module a dataset's
declaration names in ``gold`` (none: no gold). The local assets (``defs.gold``), the Glue gold
job (``engine.spark.gold``) and the AWS assets all list a dataset's metrics through it.

``table_metadata(rows, version, schema, head)``: the materialization metadata of a gold table
on either engine — ``rows``, ``dagster/row_count``, ``delta_version`` (-1 for none),
``columns`` (``name: type`` joined with ``", "``) and ``preview``, the first ``PREVIEW_ROWS``
rows as a GitHub markdown table (``markdown_table``: ``|`` escaped, newlines flattened, floats to
4 significant digits, nulls empty), as text: each engine wraps it as its metadata value.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

PREVIEW_ROWS = 10


def load_metrics(dataset: str) -> tuple:
    """``METRICS`` of the module the dataset's declaration names in ``gold`` (none: no gold)."""
    import importlib

    from lakehouse.declarations import declaration

    name = declaration(dataset).decl.gold
    if not name:
        return ()
    return tuple(importlib.import_module(name).METRICS)


def cell(value) -> str:
    """One markdown table cell."""
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value).replace("|", "\\|").replace("\n", " ")


def markdown_table(columns: Sequence[str], rows: Iterable[Sequence]) -> str:
    """``rows`` (already limited by the caller) under ``columns`` as a GitHub markdown table
    (header only when there are none)."""
    lines = [
        "| " + " | ".join(columns) + " |",
        "|" + "|".join(" --- " for _ in columns) + "|",
    ]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def table_metadata(
    rows: int, version: int | None, schema: Iterable[tuple[str, object]], head: Iterable[Sequence]
) -> dict:
    """A gold table's materialization metadata (see the module docstring); ``schema`` is
    ``(name, type)`` pairs, ``head`` the first rows (at most ``PREVIEW_ROWS`` are shown)."""
    schema = list(schema)
    preview = markdown_table([n for n, _ in schema], list(head)[:PREVIEW_ROWS])
    return {
        "rows": rows,
        "dagster/row_count": rows,
        "delta_version": -1 if version is None else version,
        "columns": ", ".join(f"{n}: {t}" for n, t in schema),
        "preview": preview,
    }
