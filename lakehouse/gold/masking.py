"""PII masking for gold tables: gold never exposes a raw value of a registry column with ``pii`` set.

Rules (the scalar functions and the vectorised Polars expressions agree value for value):
- email: the first character of the local part (none if it is ``*``), ``***``, then ``@domain``:
  ``jane.doe@example.com`` → ``j***@example.com``. A value without ``@`` becomes ``***``.
- phone: ``***-`` and the last 4 digits (formatting dropped): ``(555) 123-4567`` → ``***-4567``.
  A value with fewer than 4 digits becomes ``***``.
- null stays null. Both masks are idempotent (masking a masked value changes nothing), so the gold
  asset may re-apply them as a guard (``mask_pii``) after a metric has masked its own output.
"""

from __future__ import annotations

import re

import polars as pl

from lakehouse.registry import DatasetSpec

MASK = "***"
_EMAIL = r"^([^@*]?)[^@]*@"  # the first character of the local part, unless it is "*"


def mask_email(value: str | None) -> str | None:
    if value is None:
        return None
    local, at, domain = value.partition("@")
    if not at:
        return MASK
    first = local[:1] if local[:1] != "*" else ""
    return f"{first}{MASK}@{domain}"


def mask_phone(value: str | None) -> str | None:
    if value is None:
        return None
    digits = re.sub(r"\D", "", value)
    return f"{MASK}-{digits[-4:]}" if len(digits) >= 4 else MASK


def mask_email_expr(col: str | pl.Expr) -> pl.Expr:
    """Vectorised ``mask_email`` (keeps the column name)."""
    e = pl.col(col) if isinstance(col, str) else col
    out = (
        pl.when(e.is_null())
        .then(None)
        .when(e.str.contains("@", literal=True))
        .then(e.str.replace(_EMAIL, f"${{1}}{MASK}@"))
        .otherwise(pl.lit(MASK))
    )
    return out.alias(_name(col, e))


def mask_phone_expr(col: str | pl.Expr) -> pl.Expr:
    """Vectorised ``mask_phone`` (keeps the column name)."""
    e = pl.col(col) if isinstance(col, str) else col
    digits = e.str.replace_all(r"\D", "")
    out = (
        pl.when(e.is_null())
        .then(None)
        .when(digits.str.len_chars() >= 4)
        .then(pl.lit(f"{MASK}-") + digits.str.slice(-4))
        .otherwise(pl.lit(MASK))
    )
    return out.alias(_name(col, e))


def _name(col: str | pl.Expr, e: pl.Expr) -> str:
    return col if isinstance(col, str) else e.meta.output_name()


EXPRESSIONS = {"email": mask_email_expr, "phone": mask_phone_expr}


def pii_columns(dataset: DatasetSpec, tables: tuple[str, ...] | None = None) -> dict[str, str]:
    """``{column name: pii kind}`` over ``tables`` (all of the dataset's when None)."""
    out: dict[str, str] = {}
    for t in dataset.tables:
        if tables is None or t.name in tables:
            out.update({c.name: c.pii for c in t.columns if c.pii})
    return out


def mask_pii(frame: pl.DataFrame, pii: dict[str, str]) -> pl.DataFrame:
    """Mask every column of ``frame`` named in ``pii`` (``{column: kind}``) by its kind."""
    exprs = [EXPRESSIONS[kind](name) for name, kind in pii.items() if name in frame.columns]
    return frame.with_columns(exprs) if exprs else frame
