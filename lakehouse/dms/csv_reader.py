"""Parsing the CSV of a DMS file into string columns: a fast path and a precise one.

- ``read_csv_fast``: Polars, when it reads the file exactly as the precise reader would (no
  ragged rows, well-formed quoting, the default null value, …); None when it cannot say.
- ``read_csv_precise``: pyarrow, with every record of the wrong field count a ``RejectedRow``;
  a quote that never closes loses no other row (that physical line alone is rejected, naming
  the column whose quote stays open, and reading resumes at the next line).
"""

from __future__ import annotations

import csv
import re

import polars as pl
import pyarrow as pa
import pyarrow.csv as pacsv

from lakehouse.dms.format import BOM, RejectedRow
from lakehouse.dms.settings import DmsS3Settings


def _arrow_csv(
    buf: pa.Buffer, s: DmsS3Settings, names: list[str], skip_rows: int, quoted: bool, threads: bool
) -> tuple[pa.Table, list]:
    """One pyarrow parse of ``buf``: (table, the invalid rows, numbered from ``buf``'s start).
    ``quoted``: the data holds a quote (then CR/LF may be inside values)."""
    invalid = []

    def on_invalid(r) -> str:
        invalid.append(r)
        return "skip"

    table = pacsv.read_csv(
        pa.BufferReader(buf),
        read_options=pacsv.ReadOptions(
            column_names=names, skip_rows=skip_rows, use_threads=threads
        ),
        parse_options=pacsv.ParseOptions(
            delimiter=s.CsvDelimiter,
            quote_char='"' if s.Rfc4180 else False,
            double_quote=True,
            newlines_in_values=s.Rfc4180 and quoted,
            ignore_empty_lines=False,
            invalid_row_handler=on_invalid,
        ),
        convert_options=pacsv.ConvertOptions(
            column_types={n: pa.string() for n in names},
            null_values=[s.CsvNullValue],
            strings_can_be_null=True,
            quoted_strings_can_be_null=False,
        ),
    )
    if any(r.number is None for r in invalid):  # arrow numbers rows only when single-threaded
        return _arrow_csv(buf, s, names, skip_rows, quoted, False)
    return table, invalid


def read_csv_precise(
    data: bytes, key: str, s: DmsS3Settings, names: list[str], header_rows: int
) -> tuple[pa.Table, list[RejectedRow]]:
    """The CSV read by pyarrow, recovering from a quote that never closes.

    With RFC 4180 quoting, a field opened by a quote that is not closed on its line runs on into
    the next lines (DMS writes CR/LF inside a value only quoted), so a stray quote would swallow
    the following records into one. When such a record has the wrong field count, its first
    physical line alone is the bad record (rejected, naming the column whose quote stays open)
    and reading resumes at the next line; a quoted multi-line value giving the right field count
    is a value. Record numbers stay those of the file (header included).
    """
    whole, quoted = pa.py_buffer(data), b'"' in data
    tables: list[pa.Table] = []
    rejected: list[RejectedRow] = []
    pos, base, skip = 0, 0, header_rows  # byte offset, records before ``pos``, header to skip
    while True:
        table, invalid = _arrow_csv(whole.slice(pos), s, names, skip, quoted, True)
        cut = None
        for r in invalid if s.Rfc4180 and quoted else ():
            cut = _unclosed_quote_line(data, pos, r, s)
            if cut is not None:
                break
        kept = [r for r in invalid if cut is None or r.number < cut[0].number]
        rejected += [
            RejectedRow(
                key,
                base + r.number,
                None,
                f"expected {r.expected_columns} fields, found {r.actual_columns}",
                r.text,
            )
            for r in kept
        ]
        if cut is None:
            tables.append(table)
            break
        r, end, line, fields, open_at = cut
        # the rows arrow kept before the bad record; those after it are read again
        tables.append(table.slice(0, r.number - 1 - skip - len(kept)))
        column = names[open_at] if open_at < len(names) else None
        rejected.append(
            RejectedRow(
                key,
                base + r.number,
                column,
                f"expected {len(names)} fields, found {len(fields)}: the quote opening "
                f"{'column ' + repr(column) if column else f'field {open_at + 1}'} is not "
                "closed on its line",
                line,
            )
        )
        base, skip, pos = base + r.number, 0, end
        if pos >= len(data):
            break
    return pa.concat_tables(tables) if len(tables) > 1 else tables[0], rejected


def _unclosed_quote_line(data: bytes, pos: int, r, s: DmsS3Settings):
    """For an invalid record ``r`` of ``data[pos:]`` whose first line leaves a quote open:
    ``(r, end offset of that line in data, the line, its fields, index of the open field)``;
    else None."""
    first = re.split(r"\r\n|\r|\n", r.text, maxsplit=1)[0]
    if _split_line(first, s.CsvDelimiter)[1] is None:
        return None
    start = _record_offset(data, pos, r.number, s)
    if start is None:
        return None
    m = _LINE_RE.match(data, start)
    line = m.group(1).decode("utf-8", errors="replace")
    if line != first:  # arrow and the line scan disagree on where the record starts
        return None
    fields, open_at = _split_line(line, s.CsvDelimiter)
    if open_at is None:
        return None
    return r, m.end(), line, fields, open_at


_LINE_RE = re.compile(rb"([^\r\n]*)(?:\r\n|\r|\n|\Z)")


def _record_offset(data: bytes, pos: int, number: int, s: DmsS3Settings) -> int | None:
    """Byte offset in ``data`` where record ``number`` (1-based, counted from ``pos``; RFC 4180
    records, a row ending at CR, LF or CRLF as for pyarrow) starts, or None if there is none."""
    ends = [pos]

    def lines():
        pos = ends[0]
        while pos < len(data):
            m = _LINE_RE.match(data, pos)
            pos = m.end()
            ends.append(pos)
            yield m.group(0).decode("utf-8", errors="surrogateescape")

    limit = csv.field_size_limit()
    csv.field_size_limit(max(limit, len(data) + 1))
    try:
        reader = csv.reader(lines(), delimiter=s.CsvDelimiter, quoting=csv.QUOTE_MINIMAL)
        for _ in range(number - 1):
            next(reader)
    except (StopIteration, csv.Error):
        return None
    finally:
        csv.field_size_limit(limit)
    offset = ends[reader.line_num]
    return offset if offset < len(data) else None


def _split_line(line: str, delim: str) -> tuple[list[str], int | None]:
    """The fields of one physical line read alone (RFC 4180, lenient like Python's csv: text
    after a closing quote and a quote inside an unquoted field are kept as text), and the index
    of the field whose quote is still open at the line end (None when every quote closes)."""
    fields, cur, state = [], [], "start"
    for ch in line:
        if state == "quoted":
            if ch == '"':
                state = "quote"
            else:
                cur.append(ch)
        elif ch == delim and state != "quoted":
            fields.append("".join(cur))
            cur, state = [], "start"
        elif state == "start" and ch == '"':
            state = "quoted"
        elif state == "quote" and ch == '"':
            cur.append(ch)
            state = "quoted"
        else:
            cur.append(ch)
            state = "field"
    open_at = len(fields) if state == "quoted" else None
    fields.append("".join(cur))
    return fields, open_at


def read_csv_fast(
    data: bytes, s: DmsS3Settings, names: list[str], header_rows: int
) -> pl.DataFrame | None:
    """The CSV read by Polars, or None when the precise (pyarrow) reader must decide.

    Polars gives the same values as the pyarrow reader (NULL = empty unquoted field, ``""`` = empty
    string, RFC 4180 quoting, CR/LF inside quotes) but cannot report ragged rows: it raises on a
    row with too many fields (-> None) and pads a row with too few with nulls. A padded row has a
    null in the last column, so when that column holds a null the field count of every record is
    checked (delimiters in the file = header + records x (fields - 1) + delimiters inside values).
    Anything it does not handle exactly like the precise reader (a custom null value, a CR outside
    a CRLF row end, a leading BOM, one column, duplicate names) also gives None.
    """
    n = len(names)
    delim = s.CsvDelimiter
    if (
        n < 2
        or len(set(names)) != n
        or s.CsvNullValue != ""
        or len(delim.encode()) != 1
        or delim in '"\r\n'
        or data.startswith(BOM)
        or data.endswith(delim.encode())  # polars drops an empty last field at EOF without row end
    ):
        return None
    if s.CsvRowDelimiter == "\n":
        if b"\r" in data:  # pyarrow ends a row at a bare CR too
            return None
    elif s.CsvRowDelimiter == "\r\n":
        crlf = data.count(b"\r\n")  # every CR and LF must be part of a CRLF
        if data.count(b"\r") != crlf or data.count(b"\n") != crlf:
            return None
    else:
        return None
    quoted = s.Rfc4180 and b'"' in data
    if quoted and not _quotes_well_formed(data, delim):  # pyarrow and polars read those apart
        return None
    try:
        frame = pl.read_csv(
            data,
            has_header=False,
            skip_rows=header_rows,
            schema={c: pl.String for c in names},
            separator=delim,
            quote_char='"' if s.Rfc4180 else None,
            null_values=None,
            empty_string_is_null=True,
            raise_if_empty=False,
            truncate_ragged_lines=False,
            encoding="utf8",
        )
    except pl.exceptions.PolarsError:  # ragged, bad quoting, bad UTF-8...: the precise reader
        return None
    if frame.columns != names or not frame.height:  # e.g. a header without row end: pyarrow
        return None
    if frame.get_column(names[-1]).null_count():
        header_delims = (n - 1) + sum(c.count(delim) for c in names) if header_rows else 0
        inner = 0
        if quoted:
            inner = frame.select(
                pl.sum_horizontal(pl.all().str.count_matches(delim, literal=True).sum())
            ).item()
        if data.count(delim.encode()) != header_delims + frame.height * (n - 1) + (inner or 0):
            return None
    return frame


def _quotes_well_formed(data: bytes, delim: str) -> bool:
    """Whether every quote of ``data`` is RFC 4180 quoting: a quoted field starts at a field start
    (after a delimiter, CR, LF or at the start), ends before a delimiter, CR, LF or the end, and
    holds only doubled quotes; no quote in an unquoted field and none left open at the end.

    Works on the runs of consecutive quotes: before a run, the field is quoted iff the number of
    quotes so far is odd; a run that leaves the field closed must be followed by a field end.
    """
    import numpy as np

    buf = np.frombuffer(data, dtype=np.uint8)
    pos = np.flatnonzero(buf == ord('"'))
    if not len(pos):
        return True
    if len(pos) % 2:
        return False
    starts = np.flatnonzero(np.diff(pos, prepend=-2) != 1)  # index in pos of each run's first quote
    lengths = np.diff(starts, append=len(pos))
    inside = (starts % 2).astype(bool)  # quotes before the run = its index in pos
    closes = ((starts + lengths) % 2) == 0
    ends = np.frombuffer(f"{delim}\r\n".encode(), dtype=np.uint8)
    first, last = pos[starts], pos[starts + lengths - 1]
    # an opening run must be at a field start
    opening = first[~inside]
    before = buf[np.maximum(opening - 1, 0)]
    if not np.all((opening == 0) | np.isin(before, ends)):
        return False
    # a closing run must be followed by a field end
    closing = last[closes] + 1
    after = buf[np.minimum(closing, len(buf) - 1)]
    return bool(np.all((closing == len(buf)) | np.isin(after, ends)))
