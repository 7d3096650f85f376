"""CSV drops: the files of a ``csv_drop`` table → bronze rows, read with the table's ``CsvOptions``.

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

Output: the rows as bronze rows (registry columns cast by ``engine.casting``, lineage like
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
- a value failing its cast (``engine.casting``): ``column 'c': value 'abc' is not a valid int``;
- a null key: ``primary key column 'id' is null (expected a value)``.
"""

from __future__ import annotations

import codecs
import fnmatch
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

import numpy as np
import polars as pl

from lakehouse.engine.casting import cast_to_registry
from lakehouse.engine.core.lineage import LINEAGE_COLUMNS
from lakehouse.engine.quarantine import rows_from_rejects, split_null_keys
from lakehouse.registry.model import CsvOptions, TableSpec
from lakehouse.storage import Lake, ObjectInfo

_BOM = b"\xef\xbb\xbf"
_SURROGATE = re.compile("[\udc80-\udcff]+")
_BREAK = re.compile(r"\r\n|\r|\n")
_LINE_END = re.compile(r"[^\r\n]*")
#: bronze lineage columns: a header may not name them
RESERVED = LINEAGE_COLUMNS


class CsvDropError(ValueError):
    """A file that cannot be read as a whole (its header, its shape)."""


@dataclass
class RejectedLine:
    line: int  # 1-based line where the record starts
    column: str | None
    reason: str
    raw: str


@dataclass
class ParsedCsv:
    """A parsed file: ``frame`` has one String column per header name (or declared column),
    ``lines`` the line where each row starts."""

    columns: list[str]
    frame: pl.DataFrame
    lines: pl.Series
    rejected: list[RejectedLine] = field(default_factory=list)


def claims(spec: TableSpec, key: str) -> bool:
    """Whether the raw object ``key`` is a file of the csv_drop table ``spec`` (as bronze reads)."""
    return (
        spec.source == "csv_drop"
        and key.startswith(spec.raw_prefix)
        and fnmatch.fnmatch(key.rsplit("/", 1)[-1], spec.file_glob)
    )


# ------------------------------------------------------------------------------------- parsing


_ONLY_BREAKS = re.compile(r"[\r\n]*")


def decode(data: bytes, encoding: str) -> tuple[str, bool]:
    """(``data`` as text, whether every byte decoded); undecodable bytes become lone surrogates
    (``surrogateescape``)."""
    name = codecs.lookup(encoding).name
    if name in ("utf-8", "utf-8-sig"):
        name = "utf-8"
        if data.startswith(_BOM):
            data = data[len(_BOM) :]
    try:
        return data.decode(name), True
    except UnicodeDecodeError:
        return data.decode(name, errors="surrogateescape"), False


class _Tokenizer:
    """Records of one text by the module's rules (the precise reader: any file)."""

    def __init__(self, text: str, options: CsvOptions) -> None:
        self.text, self.d, self.q = text, options.delimiter, options.quote
        d, q = re.escape(self.d), re.escape(self.q)
        self.quoted = re.compile(f"{q}((?:[^{q}]++|{q}{q})*+){q}", re.S)
        self.unquoted = re.compile(f"[^{d}\r\n]*")

    def record(self, pos: int, end: int) -> tuple[list[str], list[bool], int, tuple | None]:
        """The record at ``pos`` (reading no further than ``end``): (fields, quoted flags,
        position after it (at its line end), error or None). Errors: ``("open", index)`` a quote
        that never closes, ``("after", index, char)`` text after a closing quote."""
        text, d, q = self.text, self.d, self.q
        fields: list[str] = []
        quoted: list[bool] = []
        while True:
            if pos < end and text[pos] == q:
                m = self.quoted.match(text, pos, end)
                if m is None:
                    return fields, quoted, end, ("open", len(fields))
                fields.append(m.group(1).replace(q + q, q))
                quoted.append(True)
                pos = m.end()
                if pos < end and text[pos] not in (d, "\r", "\n"):
                    return fields, quoted, pos, ("after", len(fields) - 1, text[pos])
            else:
                m = self.unquoted.match(text, pos, end)
                fields.append(m.group())
                quoted.append(False)
                pos = m.end()
            if pos < end and text[pos] == d:
                pos += 1
                continue
            return fields, quoted, pos, None


def _eol(text: str, pos: int) -> int:
    """Position after the line break at ``pos`` (or ``pos`` at the end of the text)."""
    if pos >= len(text):
        return pos
    return pos + 2 if text.startswith("\r\n", pos) else pos + 1


def _column(names: Sequence[str], index: int) -> str | None:
    return names[index] if index < len(names) else None


def _count_reason(names: Sequence[str], found: int) -> str:
    return f"expected {len(names)} fields ({', '.join(names)}), found {found}"


def _error_reason(err: tuple, names: Sequence[str], options: CsvOptions) -> tuple[str | None, str]:
    if err[0] == "open":
        col = _column(names, err[1])
        where = repr(col) if col else f"field {err[1] + 1}"
        return (
            col,
            f"unterminated quote in column {where}: expected a closing {options.quote!r} on the line",
        )
    col = _column(names, err[1])
    where = repr(col) if col else f"field {err[1] + 1}"
    return col, (
        f"column {where}: unexpected {err[2]!r} after the closing {options.quote!r} "
        f"(expected {options.delimiter!r} or the end of the line)"
    )


def _bad_bytes(
    fields: list[str], names: Sequence[str], encoding: str
) -> tuple[str | None, str] | None:
    """(column, reason) for the first field holding undecodable bytes, or None."""
    for i, value in enumerate(fields):
        m = _SURROGATE.search(value)
        if m:
            raw = m.group().encode("utf-8", errors="surrogateescape")
            col = _column(names, i)
            where = repr(col) if col else f"field {i + 1}"
            return col, (
                f"column {where}: bytes {raw!r} are not valid {encoding} text "
                "(the declared encoding)"
            )
    return None


def _printable(s: str) -> str:
    return _SURROGATE.sub("\ufffd", s)


def _precise(
    tok: _Tokenizer, pos: int, line: int, names: list[str], options: CsvOptions
) -> tuple[dict[str, list], list[int], list[RejectedLine]]:
    """Every record from ``pos`` (at line ``line``) with the tokenizer: (columns, lines, rejected)."""
    text, n, token = tok.text, len(names), options.null_value
    cols: list[list] = [[] for _ in names]
    lines: list[int] = []
    rejected: list[RejectedLine] = []
    size = len(text)
    while pos < size:
        if text[pos] in "\r\n":  # a blank line
            pos, line = _eol(text, pos), line + 1
            continue
        fields, quoted, end, err = tok.record(pos, size)
        breaks = len(_BREAK.findall(text, pos, end))
        if breaks and (err is not None or len(fields) != n):
            # a quote left open on the first line swallowed the next ones: reject that line alone
            first_end = _LINE_END.match(text, pos).end()
            fields, _, _, err = tok.record(pos, first_end)
            col, why = (
                _error_reason(err, names, options)
                if err
                else (None, _count_reason(names, len(fields)))
            )
            rejected.append(RejectedLine(line, col, why, _printable(text[pos:first_end])))
            pos, line = _eol(text, first_end), line + 1
            continue
        raw = text[pos:end] if err is None else text[pos : _LINE_END.match(text, pos).end()]
        if err is not None:
            col, why = _error_reason(err, names, options)
            rejected.append(RejectedLine(line, col, why, _printable(raw)))
            end = _LINE_END.match(text, pos).end()
        elif (bad := _bad_bytes(fields, names, options.encoding)) is not None:
            rejected.append(RejectedLine(line, bad[0], bad[1], _printable(raw)))
        elif len(fields) != n:
            rejected.append(RejectedLine(line, None, _count_reason(names, len(fields)), raw))
        else:
            for c, value, was_quoted in zip(cols, fields, quoted, strict=True):
                c.append(None if not was_quoted and value == token else value)
            lines.append(line)
        pos, line = _eol(text, end), line + 1 + breaks
    return dict(zip(names, cols, strict=True)), lines, rejected


def _fast(
    text: str, start_line: int, names: list[str], options: CsvOptions
) -> tuple[list[pl.DataFrame], list[RejectedLine]] | None:
    """The records of ``text`` (a suffix of the file starting at line ``start_line``), vectorised
    when no record spans lines; else None. Every line is one record: its fields are counted
    (delimiters outside quoted fields) and the lines of the right shape are read by Polars in one
    pass. A line holding a quote that is not plain RFC 4180 quoting, or a quoted null token, goes
    through the tokenizer alone; a quote left open at a line end gives None (records may span
    lines: the tokenizer reads the whole file)."""
    d, q, token, n = options.delimiter, options.quote, options.null_value, len(names)
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    data = text.encode()
    # the lines, read as one-column CSV without quoting (blank lines are nulls)
    sep = next((c for c in map(chr, range(1, 32)) if c not in "\r\n" and c not in text), None)
    if sep is None:
        return None
    lines = pl.read_csv(
        data,
        has_header=False,
        separator=sep,
        quote_char=None,
        schema={"text": pl.String},
        raise_if_empty=False,
    )["text"]
    df = pl.DataFrame(
        {"__line": pl.int_range(start_line, start_line + len(lines), eager=True), "text": lines}
    )
    blank = df["text"].fill_null("") == ""
    df = df.filter(~blank)
    nq = df["text"].str.count_matches(q, literal=True)
    if (nq % 2 == 1).any():
        return None
    ed, eq = re.escape(d), re.escape(q)
    quoted_field = f"{eq}(?:[^{eq}]|{eq}{eq})*{eq}"
    fld = f"(?:{quoted_field}|[^{ed}{eq}]*)"
    tok_value = re.escape(token.replace(q, q + q))
    has_q = nq > 0
    text_col = df["text"]
    simple = pl.Series("simple", [True] * df.height, pl.Boolean)
    count = text_col.str.count_matches(d, literal=True) + 1
    if has_q.any():  # only the lines with quotes need the regexes
        idx = has_q.arg_true()
        sub = text_col.gather(idx)
        ok_q = sub.str.contains(f"^{fld}(?:{ed}{fld})*$") & ~sub.str.contains(
            f"(?:^|{ed}){eq}{tok_value}{eq}(?:{ed}|$)"
        )
        simple = simple.scatter(idx, ok_q)
        sub_count = sub.str.replace_all(quoted_field, "").str.count_matches(d, literal=True) + 1
        count = count.scatter(idx, sub_count)
    good = simple & (count == n)
    rejected = [
        RejectedLine(line, None, _count_reason(names, found), raw)
        for line, raw, found in zip(
            df["__line"].filter(simple & ~good),
            df["text"].filter(simple & ~good),
            count.filter(simple & ~good),
            strict=True,
        )
    ]
    frames: list[pl.DataFrame] = []
    if good.any():
        ok = df.filter(good)
        if ok.height < len(lines):  # blank or other lines: read the good ones only
            data = ok["text"].str.join("\n").item().encode()
        frame = pl.read_csv(
            data,
            has_header=False,
            schema={c: pl.String for c in names},
            separator=d,
            quote_char=q,
            null_values=[token] if token else None,
            empty_string_is_null=token == "",
            raise_if_empty=False,
        )
        if frame.height != ok.height:  # never for such lines; the tokenizer decides
            return None
        frames.append(frame.with_columns(ok["__line"]))
    got: dict[str, list] = {"__line": [], **{c: [] for c in names}}
    for line, raw in df.filter(~simple).iter_rows():
        fields, flags, _, err = _Tokenizer(raw, options).record(0, len(raw))
        if err is not None and err[0] == "open":
            return None
        if err is not None:
            col, why = _error_reason(err, names, options)
            rejected.append(RejectedLine(line, col, why, raw))
        elif len(fields) != n:
            rejected.append(RejectedLine(line, None, _count_reason(names, len(fields)), raw))
        else:
            got["__line"].append(line)
            for c, value, was_quoted in zip(names, fields, flags, strict=True):
                got[c].append(None if not was_quoted and value == token else value)
    if got["__line"]:
        frames.append(
            pl.DataFrame(got, schema={"__line": pl.Int64, **{c: pl.String for c in names}})
        )
    return frames, rejected


def _plain(
    data: bytes, start: int, line: int, names: list[str], options: CsvOptions
) -> pl.DataFrame | None:
    """The records of ``data[start:]`` (line ``line`` on) when the file is plain, in one Polars
    read of its UTF-8 bytes with no copy, or None. Plain: no quote character, no CR, no blank
    line but at the end, empty as the null token. Then every line is one record, and a read that
    raises on no line (too many fields, invalid UTF-8) whose delimiters number exactly
    (fields - 1) per line has no short line either."""
    end = len(data)
    while end > start and data[end - 1] == 10:  # trailing blank lines are not rows
        end -= 1
    q, d = options.quote.encode(), options.delimiter.encode()
    if end == start or options.null_value != "" or len(q) != 1 or len(d) != 1 or data[start] == 10:
        return None
    arr = np.frombuffer(memoryview(data)[start:end], np.uint8)  # no copy

    def n(byte: int) -> int:  # vectorised: CPython's bytes.count is several times slower
        return int(np.count_nonzero(arr == byte))

    if n(q[0]) or n(13):
        return None
    lines = n(10) + 1
    # a blank line has no delimiter: it shows as a missing one (a single column: looked for)
    if len(names) == 1 and data.find(b"\n\n", start, end) >= 0:
        return None
    if n(d[0]) != lines * (len(names) - 1):
        return None
    # the whole buffer with the lines before ``start`` skipped (no copy), unless it must be cut
    skip = line - 1
    whole = data.count(b"\n", 0, start) == skip and end >= len(data) - 1 and skip <= 1
    source = data if whole else data[start:end]
    try:  # raises for a line with too many fields and for invalid UTF-8
        frame = pl.read_csv(
            source, has_header=False, schema={c: pl.String for c in names},
            separator=options.delimiter, quote_char=None, empty_string_is_null=True,
            skip_rows=skip if whole else 0,
        )  # fmt: skip
    except pl.exceptions.ComputeError:
        return None
    if frame.height != lines:
        return None
    at = pl.int_range(line, line + lines, eager=True, dtype=pl.Int64).alias("__line")
    return frame.with_columns(at)


def _plain_file(
    data: bytes, options: CsvOptions, columns: Sequence[str] | None
) -> ParsedCsv | None:
    """A plain UTF-8 file (see ``_plain``) read from its bytes without decoding them in Python,
    or None. Its header must be plain too: no quote, no CR, no repeated name."""
    if codecs.lookup(options.encoding).name not in ("utf-8", "utf-8-sig"):
        return None
    start = len(_BOM) if data.startswith(_BOM) else 0
    line = 1
    if options.header:
        nl = data.find(b"\n", start)
        head = data[start : nl if nl >= 0 else len(data)]
        if nl < 0 or not head or options.quote.encode() in head or b"\r" in head:
            return None
        try:
            names = head.decode().split(options.delimiter)
        except UnicodeDecodeError:
            return None
        if len(set(names)) != len(names):
            return None
        start, line = nl + 1, 2
    elif columns is not None:
        names = list(columns)
    else:
        return None
    frame = _plain(data, start, line, names, options)
    if frame is None:
        return None
    return ParsedCsv(names, frame.drop("__line"), frame["__line"], [])


def parse_csv(data: bytes, options: CsvOptions, columns: Sequence[str] | None = None) -> ParsedCsv:
    """Parse a file by the module's rules. ``columns``: the names of the fields of a file
    without header (``column_1``… by the first record's field count when None). Raises
    ``CsvDropError`` for a header that cannot be read."""
    plain = _plain_file(data, options, columns)
    if plain is not None:
        return plain
    text, clean = decode(data, options.encoding)
    tok = _Tokenizer(text, options)
    pos, line = 0, 1
    if options.header:
        if _ONLY_BREAKS.fullmatch(text):  # no header line at all (a search, not a copy)
            names: list[str] = list(columns or [])
            return ParsedCsv(names, _empty(names), pl.Series("__line", [], pl.Int64))
        fields, _, end, err = tok.record(0, len(text))
        if err is not None:
            raise CsvDropError(f"line 1: unreadable header: {_error_reason(err, [], options)[1]}")
        if (bad := _bad_bytes(fields, [], options.encoding)) is not None:
            raise CsvDropError(f"line 1: unreadable header: {bad[1]}")
        names = fields
        dupes = sorted({c for c in names if names.count(c) > 1})
        if dupes:
            raise CsvDropError(f"line 1: duplicate column name(s) {dupes} in the header")
        line += len(_BREAK.findall(text, 0, end)) + 1
        pos = _eol(text, end)
    elif columns is not None:
        names = list(columns)
    else:
        first_line = text.lstrip("\r\n")
        first = tok.record(len(text) - len(first_line), len(text))[0] if first_line else []
        names = [f"column_{i + 1}" for i in range(len(first))]
    frames: list[pl.DataFrame] = []
    rejected: list[RejectedLine] = []
    fast = None if not clean else _fast(text[pos:], line, names, options)
    if fast is not None:
        frames, rejected = fast
    else:
        cols, got, rejected = _precise(tok, pos, line, names, options)
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
    lineage = list(RESERVED)
    return out.select([c for c in out.columns if c not in lineage] + lineage), quarantine
