"""Standardise PII columns in silver (gold masks them; see ``gold.masking``).

Contract, per registry ``Column.pii``: ``email`` → trimmed and lower-cased; ``phone`` → only
digits, a leading ``+`` and an ``x`` before an extension (``(555) 123-4567 x89`` →
``5551234567x89``). Nulls stay null. Applied to every change before it reaches silver.
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
            exprs.append(  # lower-cased after the cut: only "X" lower-cases into the kept set
                c.str.replace_all(r"[^0-9+xX]+", "")
                .str.to_lowercase()
                .str.replace(r"(.)\+", "$1")
                .alias(col.name)
            )
    return exprs
