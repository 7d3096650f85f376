"""PostgreSQL text output → the text AWS DMS writes into S3 CSV files.

Both the full load (``COPY … TO STDOUT (FORMAT csv)``) and logical decoding (pgoutput in text
mode) give PostgreSQL's text representation of each value; DMS normalises a few types. Contract,
per logical type of the registry (``registry.model``):

- ``timestamp`` / ``timestamptz`` → ``yyyy-MM-dd HH:mm:ss.ffffff`` in UTC (timestamptz converted);
- ``money`` → a plain decimal (``$1,234.50`` → ``1234.50``), as DMS maps MONEY to NUMERIC;
- ``bool`` → ``true`` / ``false`` (PostgreSQL's ``t`` / ``f``);
- everything else unchanged: numbers (``NaN``, ``Infinity`` included), dates, uuid, json,
  inet, text (``char(n)`` with its padding), bytea hex, and the types the lake keeps as
  PostgreSQL's text (``time``, ``timetz``, ``interval``, unconstrained ``numeric``, arrays,
  enums; see ``registry.types``).

The text is PostgreSQL's in the replicator's session settings (``SESSION_OPTIONS``, below:
UTC, ISO dates, ``$`` money, hex bytea), whatever the server's defaults.

All functions work on whole Polars columns (no per-row Python).
"""

from __future__ import annotations

import polars as pl

from lakehouse.registry.model import Column, parse_type

DMS_TIMESTAMP_FORMAT = "%Y-%m-%d %H:%M:%S%.6f"
_PG_TS_TZ = "%Y-%m-%d %H:%M:%S%.f%#z"
_PG_TS = "%Y-%m-%d %H:%M:%S%.f"

#: the settings of every session the replicator opens, so the text of each value (COPY and
#: pgoutput alike) is what ``pg_text`` and ``registry.types`` expect, whatever the server's
#: defaults: ISO dates, UTC instants, ``$1,234.50`` money, hex bytea, shortest exact floats
SESSION_OPTIONS = (
    "-c timezone=UTC -c datestyle=ISO -c intervalstyle=postgres -c lc_monetary=C "
    "-c bytea_output=hex -c extra_float_digits=1"
)


def _expr(col: Column) -> pl.Expr:
    base, _, _ = parse_type(col.type)
    c = pl.col(col.name)
    if base == "timestamptz":
        return (
            c.str.to_datetime(_PG_TS_TZ, time_unit="us", time_zone="UTC", strict=False)
            .dt.to_string(DMS_TIMESTAMP_FORMAT)
            .fill_null(c)  # keep unparseable text (e.g. 'infinity') rather than lose it
        )
    if base == "timestamp":
        return (
            c.str.to_datetime(_PG_TS, time_unit="us", strict=False)
            .dt.to_string(DMS_TIMESTAMP_FORMAT)
            .fill_null(c)
        )
    if base == "money":
        return c.str.replace_all(r"[$,]", "")
    if base == "bool":
        return c.replace_strict({"t": "true", "f": "false"}, default=c)
    return c


def pg_text_to_dms_text(
    frame: pl.DataFrame, columns: list[Column] | tuple[Column, ...]
) -> pl.DataFrame:
    """Normalise the String columns of ``frame`` named in ``columns``; other columns untouched."""
    present = [c for c in columns if c.name in frame.columns]
    exprs = [_expr(c).alias(c.name) for c in present if parse_type(c.type)[0] in _CHANGED]
    return frame.with_columns(exprs) if exprs else frame


_CHANGED = {"timestamptz", "timestamp", "money", "bool"}
