"""The CSV-drop dialect, record by record: decoding, the tokenizer, and why a record is rejected.

``decode`` turns bytes into text (undecodable bytes kept as lone surrogates, reported per field
by ``bad_bytes``); ``Tokenizer.record`` reads one record by the rules of ``engine.csv_drop``
(quoted fields may span lines); ``precise_records`` reads every record of a text with it, a
quote left open rejecting its first line alone. The reasons (``count_reason``, ``error_reason``)
are the quarantine's wording. ``ParsedCsv``/``RejectedLine``/``CsvDropError`` are what a parse
gives.
"""

from __future__ import annotations

import codecs
import re
from collections.abc import Sequence
from dataclasses import dataclass, field

import polars as pl

from lakehouse.registry.model import CsvOptions

BOM = b"\xef\xbb\xbf"
_SURROGATE = re.compile("[\udc80-\udcff]+")
BREAK = re.compile(r"\r\n|\r|\n")
LINE_END = re.compile(r"[^\r\n]*")


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


def decode(data: bytes, encoding: str) -> tuple[str, bool]:
    """(``data`` as text, whether every byte decoded); undecodable bytes become lone surrogates
    (``surrogateescape``)."""
    name = codecs.lookup(encoding).name
    if name in ("utf-8", "utf-8-sig"):
        name = "utf-8"
        if data.startswith(BOM):
            data = data[len(BOM) :]
    try:
        return data.decode(name), True
    except UnicodeDecodeError:
        return data.decode(name, errors="surrogateescape"), False


class Tokenizer:
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


def eol(text: str, pos: int) -> int:
    """Position after the line break at ``pos`` (or ``pos`` at the end of the text)."""
    if pos >= len(text):
        return pos
    return pos + 2 if text.startswith("\r\n", pos) else pos + 1


def _column(names: Sequence[str], index: int) -> str | None:
    return names[index] if index < len(names) else None


def count_reason(names: Sequence[str], found: int) -> str:
    return f"expected {len(names)} fields ({', '.join(names)}), found {found}"


def error_reason(err: tuple, names: Sequence[str], options: CsvOptions) -> tuple[str | None, str]:
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


def bad_bytes(
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


def printable(s: str) -> str:
    return _SURROGATE.sub("\ufffd", s)


def precise_records(
    tok: Tokenizer, pos: int, line: int, names: list[str], options: CsvOptions
) -> tuple[dict[str, list], list[int], list[RejectedLine]]:
    """Every record from ``pos`` (at line ``line``) with the tokenizer: (columns, lines, rejected)."""
    text, n, token = tok.text, len(names), options.null_value
    cols: list[list] = [[] for _ in names]
    lines: list[int] = []
    rejected: list[RejectedLine] = []
    size = len(text)
    while pos < size:
        if text[pos] in "\r\n":  # a blank line
            pos, line = eol(text, pos), line + 1
            continue
        fields, quoted, end, err = tok.record(pos, size)
        breaks = len(BREAK.findall(text, pos, end))
        if breaks and (err is not None or len(fields) != n):
            # a quote left open on the first line swallowed the next ones: reject that line alone
            first_end = LINE_END.match(text, pos).end()
            fields, _, _, err = tok.record(pos, first_end)
            col, why = (
                error_reason(err, names, options)
                if err
                else (None, count_reason(names, len(fields)))
            )
            rejected.append(RejectedLine(line, col, why, printable(text[pos:first_end])))
            pos, line = eol(text, first_end), line + 1
            continue
        raw = text[pos:end] if err is None else text[pos : LINE_END.match(text, pos).end()]
        if err is not None:
            col, why = error_reason(err, names, options)
            rejected.append(RejectedLine(line, col, why, printable(raw)))
            end = LINE_END.match(text, pos).end()
        elif (bad := bad_bytes(fields, names, options.encoding)) is not None:
            rejected.append(RejectedLine(line, bad[0], bad[1], printable(raw)))
        elif len(fields) != n:
            rejected.append(RejectedLine(line, None, count_reason(names, len(fields)), raw))
        else:
            for c, value, was_quoted in zip(cols, fields, quoted, strict=True):
                c.append(None if not was_quoted and value == token else value)
            lines.append(line)
        pos, line = eol(text, end), line + 1 + breaks
    return dict(zip(names, cols, strict=True)), lines, rejected


def unique_names(names: Sequence[str | None]) -> list[str]:
    """Header names as column names: an empty one ``column_<n>`` (its position), one repeating
    an earlier name in any case ``<name>_2`` (``_3``…); the others as they are."""
    out: list[str] = []
    seen: set[str] = set()
    for i, n in enumerate(names):
        base = n if n and n.strip() else f"column_{i + 1}"
        new, k = base, 2
        while new.lower() in seen:
            new, k = f"{base}_{k}", k + 1
        seen.add(new.lower())
        out.append(new)
    return out
