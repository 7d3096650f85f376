"""CSV drops: the files of a ``csv_drop`` table → bronze rows, read with the table's ``CsvOptions``.

``parse_csv`` reads a file by the rules below (the tokenizer and reasons are
``engine.csv_records``, the vectorised exact paths ``engine.csv_fast``); ``read_csv_drop``
gives its bronze rows and quarantine rows; ``claims`` says whether a raw object is a table's.

Data contract of one file (``raw/csv/<dataset>/…`` whose name matches the table's ``file_glob``):

- Bytes are text in ``CsvOptions.encoding`` (a leading UTF-8 BOM is dropped for a UTF-8 encoding),
  decoded before parsing. Lines end at CRLF, LF or a bare CR. Blank lines are not rows (trailing
  ones included); line numbers still count them.
- Fields are separated by the one-character ``delimiter``. A field starting with ``quote`` is
  quoted: it ends at the next single ``quote`` (a doubled one is a literal quote), may hold the
  delimiter and line breaks, and must be followed by the delimiter or a line end. A quote inside
  an unquoted field is a literal character.
- NULL is the ``null_value`` token *unquoted* (empty by default); quoted, it is a string, as in
  PostgreSQL ``COPY … CSV``.
- With ``header``, line 1 names the columns: every declared column must be there (else the whole
  file is rejected naming the missing and unknown columns); extra columns pass through as strings
  (schema evolution). Without header, the fields are the declared columns in order.

Output: the rows as bronze rows (registry columns cast by ``registry.casting``, lineage like
``engine.bronze``: ``_op`` = I, ``_file_kind`` = csv, ``_source_row`` = the line where the row
starts, 1-based, header = line 1). Dirty rows go to quarantine with file, line, column and a
reason, the clean rows of the file flow:

- wrong field count: ``expected N fields (a, b, c), found M``;
- an undecodable byte sequence: ``column 'c': bytes b'\\xff' are not valid <encoding> text (the
  declared encoding)``;
- a quote opened on a line and not closed (a record that does not parse across lines is
  rejected as its first line alone, and reading resumes at the next line):
  ``unterminated quote in column 'c': expected a closing '"' on the line``;
- text after a closing quote: ``column 'c': unexpected 'x' after the closing '"' (expected ','
  or the end of the line)``;
- a value failing its cast (``registry.casting``): ``column 'c': value 'abc' is not a valid int``;
- a null key: ``primary key column 'id' is null (expected a value)``.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Sequence
from datetime import datetime

import polars as pl

from lakehouse.engine import csv_fast
from lakehouse.engine.core.lineage import LINEAGE_COLUMNS, RESERVED_COLUMNS
from lakehouse.engine.csv_records import (
    BREAK,
    CsvDropError,
    ParsedCsv,
    RejectedLine,
    Tokenizer,
    bad_bytes,
    decode,
    eol,
    error_reason,
    precise_records,
    unique_names,
)
from lakehouse.engine.quarantine import rows_from_rejects, split_null_keys
from lakehouse.registry.casting import cast_to_registry
from lakehouse.registry.model import CsvOptions, TableSpec
from lakehouse.storage import Lake, ObjectInfo

#: bronze lineage columns: a header may not name them
RESERVED = RESERVED_COLUMNS


def claims(spec: TableSpec, key: str) -> bool:
    """Whether the raw object ``key`` is a file of the csv_drop table ``spec`` (as bronze reads)."""
    return (
        spec.source == "csv_drop"
        and key.startswith(spec.raw_prefix)
        and fnmatch.fnmatch(key.rsplit("/", 1)[-1], spec.file_glob)
    )


_ONLY_BREAKS = re.compile(r"[\r\n]*")


def parse_csv(data: bytes, options: CsvOptions, columns: Sequence[str] | None = None) -> ParsedCsv:
    """Parse a file by the module's rules. ``columns``: the names of the fields of a file
    without header (``column_1``… by the first record's field count when None). Raises
    ``CsvDropError`` for a header that cannot be read."""
    plain = csv_fast.plain_file(data, options, columns)
    if plain is not None:
        return plain
    text, clean = decode(data, options.encoding)
    tok = Tokenizer(text, options)
    pos, line = 0, 1
    if options.header:
        if _ONLY_BREAKS.fullmatch(text):  # no header line at all (a search, not a copy)
            names: list[str] = list(columns or [])
            return ParsedCsv(names, _empty(names), pl.Series("__line", [], pl.Int64))
        fields, _, end, err = tok.record(0, len(text))
        if err is not None:
            raise CsvDropError(f"line 1: unreadable header: {error_reason(err, [], options)[1]}")
        if (bad := bad_bytes(fields, [], options.encoding)) is not None:
            raise CsvDropError(f"line 1: unreadable header: {bad[1]}")
        names = unique_names(fields)  # an empty or repeated name: column_<n>, <name>_2
        line += len(BREAK.findall(text, 0, end)) + 1
        pos = eol(text, end)
    elif columns is not None:
        names = list(columns)
    else:
        first_line = text.lstrip("\r\n")
        first = tok.record(len(text) - len(first_line), len(text))[0] if first_line else []
        names = [f"column_{i + 1}" for i in range(len(first))]
    frames: list[pl.DataFrame] = []
    rejected: list[RejectedLine] = []
    fast = None if not clean else csv_fast.fast_records(text[pos:], line, names, options)
    if fast is not None:
        frames, rejected = fast
    else:
        cols, got, rejected = precise_records(tok, pos, line, names, options)
        if got:
            frame = pl.DataFrame(cols, schema={c: pl.String for c in names})
            frames = [frame.with_columns(pl.Series("__line", got, pl.Int64))]
    frames = [f.with_columns(pl.col("__line").cast(pl.Int64)) for f in frames]
    if frames:
        frame = pl.concat(frames, how="diagonal").sort("__line") if len(frames) > 1 else frames[0]
    else:
        frame = _empty(names).with_columns(pl.Series("__line", [], pl.Int64))
    rejected.sort(key=lambda r: r.line)
    return ParsedCsv(names, frame.drop("__line"), frame["__line"], rejected)


def _empty(names: Sequence[str]) -> pl.DataFrame:
    return pl.DataFrame(schema={c: pl.String for c in names})


# ------------------------------------------------------------------------------------- bronze


def check_header(spec: TableSpec, names: Sequence[str]) -> None:
    """Raise ``CsvDropError`` unless ``names`` (a header) holds every declared column of ``spec``
    (extra columns are fine: schema evolution) and no bronze lineage column."""
    missing = [c for c in spec.column_names if c not in names]
    unknown = [c for c in names if c not in spec.column_names]
    reserved = [c for c in unknown if c in RESERVED]
    if missing:
        extra = f"; unknown column(s) {unknown}" if unknown else ""
        raise CsvDropError(
            f"header does not match table {spec.dataset}.{spec.name}: missing declared "
            f"column(s) {missing}{extra}; expected columns {spec.column_names}"
        )
    if reserved:
        raise CsvDropError(
            f"header of table {spec.dataset}.{spec.name} names bronze lineage column(s) {reserved}"
        )


def _whole_file(key: str, reason: str) -> dict:
    return dict(_source_file=key, _source_row=None, _column=None, _reason=reason, _raw=None)


def read_csv_drop(
    lake: Lake, spec: TableSpec, obj: ObjectInfo, now: datetime
) -> tuple[pl.DataFrame | None, list[dict]]:
    """One file of a csv_drop table → (bronze rows or None, quarantine rows), as
    ``engine.bronze.read_file``. Never raises for bad input."""
    options = spec.csv
    try:
        data = lake.read_bytes(obj.key)
        parsed = parse_csv(data, options, None if options.header else spec.column_names)
        if options.header and parsed.columns:
            check_header(spec, parsed.columns)
    except (CsvDropError, OSError) as err:
        return None, [_whole_file(obj.key, f"unreadable file: {err}")]
    quarantine = [
        dict(
            _source_file=obj.key, _source_row=r.line, _column=r.column, _reason=r.reason, _raw=r.raw
        )
        for r in parsed.rejected
    ]
    typed, rejects = cast_to_registry(parsed.frame, spec.columns, row_numbers=parsed.lines)
    quarantine += rows_from_rejects(rejects, obj.key)
    typed, null_keys = split_null_keys(typed, spec, obj.key)
    quarantine += null_keys
    quarantine.sort(key=lambda q: q["_source_row"])
    out = typed.rename({"__row": "_source_row"}).with_columns(
        pl.lit("I").alias("_op"),
        pl.lit(None, pl.Datetime("us", "UTC")).alias("_commit_ts"),
        pl.lit(None, pl.String).alias("_change_seq"),
        pl.lit(None, pl.String).alias("_before_key"),
        pl.lit(obj.key).alias("_source_file"),
        pl.col("_source_row").cast(pl.Int64),
        pl.lit("csv").alias("_file_kind"),
        pl.lit(now).cast(pl.Datetime("us", "UTC")).alias("_ingested_at"),
    )
    lineage = list(LINEAGE_COLUMNS)
    return out.select([c for c in out.columns if c not in lineage] + lineage), quarantine
