"""Vectorised reads of CSV-drop files, exact or not at all (None: the tokenizer decides).

- ``plain_file``: a plain UTF-8 file (no quote character, no CR, no inner blank line, empty as
  the null token, the same number of fields on every line) read by Polars from its bytes in one
  pass;
- ``fast_records``: a decoded text whose records do not span lines: fields counted per line,
  the lines of the right shape read by Polars at once, the odd line through the tokenizer.
Both give exactly what ``csv_records.precise_records`` would (the tests compare them).
"""

from __future__ import annotations

import codecs
import re
from collections.abc import Sequence

import numpy as np
import polars as pl

from lakehouse.engine.csv_records import (
    BOM,
    ParsedCsv,
    RejectedLine,
    Tokenizer,
    count_reason,
    error_reason,
    unique_names,
)
from lakehouse.registry.casting import chunked_like
from lakehouse.registry.model import CsvOptions


def fast_records(
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
    shapes = _line_shapes(df["text"], options)
    if shapes is None:
        return None
    simple, count = shapes
    good = simple & (count == n)
    rejected = [
        RejectedLine(line, None, count_reason(names, found), raw)
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
    odd = _odd_lines(df.filter(~simple), names, options, rejected)
    if odd is None:
        return None
    return frames + odd, rejected


def _line_shapes(text_col: pl.Series, options: CsvOptions) -> tuple[pl.Series, pl.Series] | None:
    """Per line: whether its quoting is plain RFC 4180 (without a quoted null token), and its
    field count; None when a line leaves a quote open (an odd number of quotes)."""
    d, q, token = options.delimiter, options.quote, options.null_value
    nq = text_col.str.count_matches(q, literal=True)
    if (nq % 2 == 1).any():
        return None
    ed, eq = re.escape(d), re.escape(q)
    quoted_field = f"{eq}(?:[^{eq}]|{eq}{eq})*{eq}"
    fld = f"(?:{quoted_field}|[^{ed}{eq}]*)"
    tok_value = re.escape(token.replace(q, q + q))
    has_q = nq > 0
    simple = pl.Series("simple", [True] * len(text_col), pl.Boolean)
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
    return simple, count


def _odd_lines(
    odd: pl.DataFrame, names: list[str], options: CsvOptions, rejected: list[RejectedLine]
) -> list[pl.DataFrame] | None:
    """The lines (``__line``, ``text``) the regexes could not vouch for, read one by one with
    the tokenizer (rejected ones appended to ``rejected``); None for a quote left open."""
    token, n = options.null_value, len(names)
    got: dict[str, list] = {"__line": [], **{c: [] for c in names}}
    for line, raw in odd.iter_rows():
        fields, flags, _, err = Tokenizer(raw, options).record(0, len(raw))
        if err is not None and err[0] == "open":
            return None
        if err is not None:
            col, why = error_reason(err, names, options)
            rejected.append(RejectedLine(line, col, why, raw))
        elif len(fields) != n:
            rejected.append(RejectedLine(line, None, count_reason(names, len(fields)), raw))
        else:
            got["__line"].append(line)
            for c, value, was_quoted in zip(names, fields, flags, strict=True):
                got[c].append(None if not was_quoted and value == token else value)
    if not got["__line"]:
        return []
    return [pl.DataFrame(got, schema={"__line": pl.Int64, **{c: pl.String for c in names}})]


def plain_records(
    data: bytes, start: int, line: int, names: list[str], options: CsvOptions
) -> pl.DataFrame | None:
    """The records of ``data[start:]`` (line ``line`` on) when the file is plain, in one Polars
    read of its UTF-8 bytes with no copy, or None. Plain: no quote character, no CR, no blank
    line but at the end, empty as the null token, and exactly (fields - 1) delimiters on every
    line. Then every line is one record. A long line fails the read; a short one leaves the last
    column null, so where it has a null each line's delimiters are counted. Any error of the read
    (invalid UTF-8, a long line) gives None: the tokenizer then reads the file and rejects its
    odd lines."""
    end = len(data)
    while end > start and data[end - 1] == 10:  # trailing blank lines are not rows
        end -= 1
    q, d = options.quote.encode(), options.delimiter.encode()
    if end == start or options.null_value != "" or len(q) != 1 or len(d) != 1 or data[start] == 10:
        return None
    if data.find(q, start, end) >= 0 or data.find(b"\r", start, end) >= 0:  # memchr
        return None
    # every line is one record of the read (a blank one all nulls); of several columns a blank
    # line leaves the last column null, where the delimiters of each line are counted below; of
    # one column it has the right number (none), so it is looked for (a two-byte search)
    if len(names) == 1 and data.find(b"\n\n", start, end) >= 0:
        return None
    # the whole buffer with the lines before ``start`` skipped (no copy), unless it must be cut
    skip = line - 1
    whole = data.count(b"\n", 0, start) == skip and end >= len(data) - 1 and skip <= 1
    source = data if whole else data[start:end]
    try:  # raises for invalid UTF-8 and for a line with too many fields
        frame = pl.read_csv(
            source, has_header=False, schema={c: pl.String for c in names},
            separator=options.delimiter, quote_char=None, empty_string_is_null=True,
            skip_rows=skip if whole else 0,
        )  # fmt: skip
    except pl.exceptions.PolarsError:
        return None
    lines = frame.height
    if frame.get_column(names[-1]).null_count() and (
        _lines_of(memoryview(data)[start:end], d[0], len(names) - 1) != lines
    ):
        return None
    at = pl.int_range(line, line + lines, eager=True, dtype=pl.Int64).alias("__line")
    return frame.with_columns(chunked_like(at, frame))


def _lines_of(view: memoryview, delimiter: int, per_line: int, block: int = 1 << 18) -> int | None:
    """The number of lines of ``view`` (LF-separated, no line end after the last) when every
    line holds exactly ``per_line`` ``delimiter`` bytes, else None. One vectorised pass of
    cache-sized blocks: the delimiters between consecutive line ends are summed per line
    (``np.add.reduceat``); a line running over a block boundary carries its count over."""
    arr = np.frombuffer(view, np.uint8)  # no copy
    carry = lines = 0  # delimiters of the line begun in an earlier block; lines ended so far
    for at in range(0, len(arr), block):
        part = arr[at : at + block]
        delims = (part == delimiter).view(np.uint8)
        ends = np.flatnonzero(part == 10)
        if not ends.size:
            carry += int(np.count_nonzero(delims))
            continue
        starts = np.empty(ends.size, np.intp)
        starts[0], starts[1:] = 0, ends[:-1] + 1
        per = np.add.reduceat(delims, starts, dtype=np.int64)  # the last runs to the block end
        rest = int(np.count_nonzero(delims[ends[-1] + 1 :]))
        per[-1] -= rest
        per[0] += carry
        if not (per == per_line).all():
            return None
        carry, lines = rest, lines + ends.size
    return lines + 1 if carry == per_line else None


def plain_file(data: bytes, options: CsvOptions, columns: Sequence[str] | None) -> ParsedCsv | None:
    """A plain UTF-8 file (see ``plain_records``) read from its bytes without decoding them in Python,
    or None. Its header must be plain too: no quote, no CR, no repeated name."""
    if codecs.lookup(options.encoding).name not in ("utf-8", "utf-8-sig"):
        return None
    start = len(BOM) if data.startswith(BOM) else 0
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
        if unique_names(names) != names:  # the careful reader renames them
            return None
        start, line = nl + 1, 2
    elif columns is not None:
        names = list(columns)
    else:
        return None
    frame = plain_records(data, start, line, names, options)
    if frame is None:
        return None
    return ParsedCsv(names, frame.drop("__line"), frame["__line"], [])
