"""A DuckDB result as a Polars frame when it holds INTERVALs (Polars cannot import Arrow's
``month_day_nano_interval``).

Contract of ``to_polars(rel)``: the rows of ``rel`` as ``rel.pl()`` gives them, except that every
interval (a column, a struct field, the elements of a list or array, a map's values) becomes:
- ``Duration("us")`` when none of its values has a month part (exact: DuckDB's intervals hold
  months, days and microseconds; a day is 24 hours here) and every one fits in 64-bit
  microseconds;
- otherwise ``String``, every value of it in PostgreSQL's ``iso_8601`` interval style: ISO 8601
  with each part keeping its own sign (``P1Y2M3DT4H5M6.5S``, ``P-1M3D``, ``PT0S``), so no month is
  turned into a guessed number of days.
The choice is made per interval column (or nested field) over its values, NULLs aside: a result
whose intervals have months has a text column where one without them has a duration. A result
without intervals is ``rel.pl()`` unchanged.
"""

from __future__ import annotations

import duckdb
import numpy as np
import polars as pl
import pyarrow as pa
from duckdb.sqltypes import DuckDBPyType

_INTERVAL = pa.month_day_nano_interval()
# Arrow's month_day_nano layout: int32 months, int32 days, int64 nanoseconds
_MONTH_DAY_NANO = np.dtype([("months", "<i4"), ("days", "<i4"), ("nanos", "<i8")])
_DAY_US = 86_400_000_000
_MAX_US = 9.2e18  # below 2**63 with room for float rounding in the check


def to_polars(rel: duckdb.DuckDBPyRelation) -> pl.DataFrame:
    """The rows of ``rel`` as a Polars frame, its intervals as the module docstring says."""
    if not any(_has_interval(t) for t in rel.types):
        return rel.pl()
    table = rel.to_arrow_table()
    columns = [_convert(c.combine_chunks()) if _holds(c.type) else c for c in table.columns]
    return pl.from_arrow(pa.table(columns, names=_unique(table.column_names)), rechunk=False)


def _unique(names: list[str]) -> list[str]:
    """The column names as ``rel.pl()`` makes them unique: a repeat (case-insensitive) gets
    ``_1``, ``_2``, ... (``a, a, a_1, a`` -> ``a, a_1, a_1_1, a_2``)."""
    used: set[str] = set()
    counts: dict[str, int] = {}
    out = []
    for name in names:
        new = name
        while new.lower() in used:
            counts[name.lower()] = counts.get(name.lower(), 0) + 1
            new = f"{name}_{counts[name.lower()]}"
        used.add(new.lower())
        out.append(new)
    return out


def _has_interval(dtype: DuckDBPyType) -> bool:
    if dtype.id == "interval":
        return True
    if dtype.id in ("list", "array", "struct", "map", "union"):
        return any(isinstance(t, DuckDBPyType) and _has_interval(t) for _, t in dtype.children)
    return False


def _holds(dtype: pa.DataType) -> bool:
    if dtype == _INTERVAL:
        return True
    return any(_holds(dtype.field(i).type) for i in range(dtype.num_fields))


def _convert(arr: pa.Array) -> pa.Array:
    """``arr`` with each interval inside it a duration or text (``_interval``)."""
    dtype = arr.type
    if not _holds(dtype):
        return arr
    if dtype == _INTERVAL:
        return _interval(arr)
    mask = arr.is_null() if arr.null_count else None
    if isinstance(arr, pa.MapArray):
        items = _convert(arr.items)
        return pa.MapArray.from_arrays(arr.offsets, arr.keys, items, mask=mask)
    if isinstance(arr, (pa.ListArray, pa.LargeListArray)):
        values = _convert(arr.values)
        field = dtype.value_field.with_type(values.type)
        kind = pa.list_ if isinstance(arr, pa.ListArray) else pa.large_list
        return type(arr).from_arrays(arr.offsets, values, type=kind(field), mask=mask)
    if isinstance(arr, pa.FixedSizeListArray):
        size = dtype.list_size
        values = _convert(arr.values.slice(arr.offset * size, len(arr) * size))
        return pa.FixedSizeListArray.from_arrays(values, size, mask=mask)
    if isinstance(arr, pa.StructArray):
        children = [_convert(child) for child in arr.flatten()]
        fields = [dtype.field(i).with_type(c.type) for i, c in enumerate(children)]
        return pa.StructArray.from_arrays(children, fields=fields, mask=mask)
    return arr  # a union: Polars cannot import one anyway


def _interval(arr: pa.Array) -> pa.Array:
    """An interval array as ``Duration("us")`` when it has no months and fits, else as text."""
    if arr.null_count == len(arr):
        return pa.nulls(len(arr), pa.duration("us"))
    valid = arr.is_valid().to_numpy(zero_copy_only=False)
    data = arr.buffers()[1]
    parts = np.frombuffer(data, _MONTH_DAY_NANO, count=len(arr), offset=arr.offset * 16)
    months = np.where(valid, parts["months"], 0)
    days = np.where(valid, parts["days"], 0).astype(np.int64)
    micros = np.where(valid, parts["nanos"], 0) // 1000
    fits = np.all(np.abs(days.astype(np.float64) * _DAY_US + micros.astype(np.float64)) < _MAX_US)
    if not months.any() and fits:
        return pa.array(days * _DAY_US + micros, pa.duration("us"), mask=~valid)
    text = [
        iso8601(int(m), int(d), int(u)) if ok else None
        for m, d, u, ok in zip(months, days, micros, valid, strict=True)
    ]
    return pa.array(text, pa.string())


def iso8601(months: int, days: int, micros: int) -> str:
    """An interval in PostgreSQL's ``iso_8601`` style: ``P1Y2M3DT4H5M6.5S``, a sign per part
    (years and months split as ``months`` truncated, the time part as ``micros``)."""
    if months == days == micros == 0:
        return "PT0S"
    years = abs(months) // 12 * (1 if months >= 0 else -1)
    text = "P" + _part(years, "Y") + _part(months - 12 * years, "M") + _part(days, "D")
    if micros:
        sign = -1 if micros < 0 else 1
        hours, rest = divmod(abs(micros), 3_600_000_000)
        minutes, rest = divmod(rest, 60_000_000)
        seconds, fraction = divmod(rest, 1_000_000)
        text += "T" + _part(sign * hours, "H") + _part(sign * minutes, "M")
        if rest:
            digits = f".{fraction:06d}".rstrip("0") if fraction else ""
            text += f"{'-' if sign < 0 else ''}{seconds}{digits}S"
    return text


def _part(value: int, unit: str) -> str:
    return f"{value}{unit}" if value else ""
