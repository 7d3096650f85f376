"""Standardise PII columns in silver (gold masks them; see ``gold.masking``).

Contract, per registry ``Column.pii``: ``email`` → trimmed and lower-cased; ``phone`` → only
digits, a leading ``+`` and an ``x`` before an extension (``(555) 123-4567 x89`` →
``5551234567x89``; every ``+`` after the first character is removed). Nulls stay null. Applied
to every change before it reaches silver.
"""

from __future__ import annotations

import polars as pl

from lakehouse.registry.model import TableSpec


def standardize_pii(frame: pl.DataFrame, spec: TableSpec) -> pl.DataFrame:
    exprs = pii_exprs(frame.schema, spec)
    return frame.with_columns(exprs) if exprs else frame


def pii_exprs(schema: pl.Schema, spec: TableSpec) -> list[pl.Expr]:
    """The expressions standardising the PII text columns of a frame of ``schema``, to compute
    beside others in one pass."""
    exprs = []
    for col in spec.columns:
        if col.name not in schema or schema[col.name] != pl.String:
            continue
        c = pl.col(col.name)
        if col.pii == "email":
            exprs.append(c.str.strip_chars().str.to_lowercase().alias(col.name))
        elif col.pii == "phone":
            exprs.append(
                c.str.replace_all(r"[^0-9+xX]+", "")
                .map_batches(_phone_after_cut, return_dtype=pl.String, is_elementwise=True)
                .alias(col.name)
            )
    return exprs


def _phone_after_cut(values: pl.Series) -> pl.Series:
    """The phone rule after the cut to ``[0-9+xX]``: ``X`` lower-cased, and every ``+`` after
    the first character removed; each pass only where a value needs it (most need neither)."""
    if values.str.contains("X", literal=True).any():
        values = values.str.replace_all("X", "x", literal=True)
    idx = values.str.contains(r".\+").arg_true()
    if idx.is_empty():
        return values
    inner = values.gather(idx)
    fixed = inner.str.head(1) + inner.str.slice(1).str.replace_all("+", "", literal=True)
    return values.scatter(idx, fixed)
