"""Writing DMS files: ``layout_rows`` lays rows out as a table's layout says, ``encode_dms_file``
gives the bytes of one file (CSV or Parquet, gzip as the settings say), per the contract in
``dms.format``. Writing the same frame twice gives the same bytes.
"""

from __future__ import annotations

import gzip
import io
import re

import polars as pl
import pyarrow.parquet as pq

from lakehouse.dms.format import OP_COLUMN, DmsFormatError
from lakehouse.dms.settings import DmsS3Settings
from lakehouse.dms.table_mappings import DmsLayout, op_in_file

_PARQUET_VERSIONS = {"parquet-1-0": "1.0", "parquet-2-0": "2.6"}
_OPERATION_NAMES = {"I": "INSERT", "U": "UPDATE", "D": "DELETE"}


def layout_rows(
    frame: pl.DataFrame,
    layout: DmsLayout,
    settings: DmsS3Settings,
    *,
    op,
    ts=None,
    change_seq=None,
    before: dict[str, pl.Series] | None = None,
) -> pl.DataFrame:
    """Rows of ``frame`` (the data columns under their source names) laid out as ``layout``
    says: ``Op`` (always; ``encode_dms_file`` drops it where the file has none), the timestamp
    column when set, the data columns under their file names, then the added columns in rule
    order. ``op``/``ts``/``change_seq``: a value for every row (str) or one per row (list,
    Series); a change sequence defaults to zeros. ``before``: source column → before-image values
    (default: the row's own value). Added ``$AR_H_OPERATION`` columns hold INSERT/UPDATE/DELETE,
    ``$AR_H_TIMESTAMP`` the timestamp; other header and computed columns are null."""
    n = frame.height

    def col(name: str, v, dtype=pl.String) -> pl.Series:
        if v is None or isinstance(v, str):
            return pl.Series(name, [v] * n, dtype=dtype)
        return pl.Series(name, v, dtype=dtype).alias(name)

    ops = col(OP_COLUMN, op)
    out = [ops]
    ts_values = col(settings.TimestampColumnName or "__ts", ts)
    if settings.TimestampColumnName:
        out.append(ts_values)
    for file_name, source in zip(layout.columns, layout.sources, strict=True):
        out.append(frame.get_column(source).alias(file_name))
    for a in layout.added:
        if a.role == "before_image":
            values = (before or {}).get(a.source)
            out.append(
                frame.get_column(a.source).cast(pl.String).alias(a.name)
                if values is None
                else values.cast(pl.String).alias(a.name)
            )
        elif a.role == "change_seq":
            out.append(col(a.name, "0" * 35 if change_seq is None else change_seq))
        elif a.role == "operation":
            out.append(ops.replace_strict(_OPERATION_NAMES, default=None).alias(a.name))
        elif a.source == "$AR_H_TIMESTAMP":
            out.append(ts_values.alias(a.name))
        else:
            out.append(pl.Series(a.name, [None] * n, dtype=pl.String))
    return pl.DataFrame(out)


def encode_dms_file(frame: pl.DataFrame, settings: DmsS3Settings, *, full_load: bool) -> bytes:
    """Bytes of one DMS file holding ``frame`` (columns already in final order)."""
    kind = "load" if full_load else "cdc"
    if OP_COLUMN in frame.columns:
        if not op_in_file(settings, kind):
            frame = frame.drop(OP_COLUMN)
    elif op_in_file(settings, kind):
        raise DmsFormatError(f"the frame has no {OP_COLUMN!r} column, which a {kind} file needs")
    if settings.DataFormat == "parquet":
        return _encode_parquet(frame, settings)
    return compressed(_encode_csv(frame, settings).encode(), settings)


def compressed(data: bytes, settings: DmsS3Settings) -> bytes:
    """A CSV file's bytes as stored: gzip when ``CompressionType`` is GZIP (same bytes for the
    same data)."""
    if settings.CompressionType == "GZIP":
        return gzip.compress(data, compresslevel=6, mtime=0)
    return data


def _encode_csv(frame: pl.DataFrame, s: DmsS3Settings) -> str:
    if s.CsvNullValue == "" or not s.Rfc4180:
        # polars already writes NULL unquoted, "" for an empty string, RFC 4180 quoting
        return frame.write_csv(
            include_header=s.AddColumnName,
            separator=s.CsvDelimiter,
            line_terminator=s.CsvRowDelimiter,
            null_value=s.CsvNullValue,
            quote_style="necessary" if s.Rfc4180 else "never",
        )
    # A custom null value: a string equal to it must be quoted, which write_csv cannot do.
    special = re.escape(s.CsvDelimiter) + r'"\r\n'

    def quote(e: pl.Expr) -> pl.Expr:
        need = e.str.contains(f"[{special}]") | (e == "") | (e == s.CsvNullValue)
        quoted = pl.concat_str(pl.lit('"'), e.str.replace_all('"', '""', literal=True), pl.lit('"'))
        return pl.when(need).then(quoted).otherwise(e).fill_null(pl.lit(s.CsvNullValue))

    lines = frame.select(
        pl.concat_str(
            [quote(pl.col(c).cast(pl.String)) for c in frame.columns], separator=s.CsvDelimiter
        )
    ).to_series()
    header = ""
    if s.AddColumnName:
        header = (
            pl.DataFrame({"h": frame.columns})
            .select(quote(pl.col("h")).str.join(s.CsvDelimiter))
            .item()
        )
        header += s.CsvRowDelimiter
    if not frame.width or not frame.height:
        return header
    return header + lines.str.join(s.CsvRowDelimiter).item() + s.CsvRowDelimiter


def _encode_parquet(frame: pl.DataFrame, s: DmsS3Settings) -> bytes:
    buf = io.BytesIO()
    pq.write_table(
        frame.to_arrow(),
        buf,
        compression="gzip" if s.CompressionType == "GZIP" else "none",
        version=_PARQUET_VERSIONS.get(s.ParquetVersion, "1.0"),
        coerce_timestamps="ms" if s.ParquetTimestampInMillisecond else "us",
        allow_truncated_timestamps=True,
        store_schema=False,
    )
    return buf.getvalue()
