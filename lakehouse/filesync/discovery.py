"""Discovery of a CSV drop's schema from a sample, to be pinned in a ``csv_drop`` declaration.

Contract of ``infer_csv_table(sample, options, *, dataset, name, file_glob, primary_key=(),
declared=())``:
the sample (bytes, or a file of which the first ``max_bytes`` are read, cut at the last line
end) is parsed by the bronze reader's rules (``engine.csv_drop``: same options, same NULL
semantics); the first ``max_rows`` clean rows are used (rejected rows are ignored). Per column,
in header order (without header: the declared columns' names by position, else
``column_<n>``; a header name that is empty or repeats an earlier one in any case is given a
unique name, ``unique_names``: ``column_<n>``, ``<name>_2``, listed in ``renamed``), the type ``registry.inference.infer_type``
gives its non-null values. Every column is ``nullable`` but the key's: a sample cannot prove a
column is never null (a later file may leave an optional field empty); a declared column keeps
its declared nullability unless the sample holds a null in it. A column of
``declared`` (the table's pinned columns, by name: anything with ``name``, ``type`` and
``nullable``, a registry ``Column`` or a declaration's ``ColumnDecl``) keeps its declared type unless a value does
not read as it, then it is widened (``registry.inference.pinned_type``): never narrowed. Key: ``primary_key`` when given (it must be unique and non-null in the sample); else the
candidates are the columns unique and non-null in the sample (not bool/double); those named
``id`` / ``…_id`` are preferred, then the one named after the table (``customers`` →
``customer_id``); a single remaining candidate is chosen, several are left unchosen and listed
in the table's description (``discover_csv`` returns them). ``sniff_options(sample)``: the
encoding (by byte-order mark) and delimiter of a file no table declares yet.
"""

from __future__ import annotations

import codecs
import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from lakehouse.engine.csv_drop import parse_csv
from lakehouse.registry.inference import infer_type, pinned_type
from lakehouse.registry.model import Column, CsvOptions, TableSpec


@dataclass(frozen=True)
class CsvDiscovery:
    """What a sample tells: columns (typed; nullable but the key's), rows read, key candidates and
    the key chosen (empty when none or ambiguous)."""

    columns: tuple[Column, ...]
    rows: int
    key_candidates: tuple[str, ...]
    primary_key: tuple[str, ...]
    #: header names given another column name: (position, header name, column name)
    renamed: tuple[tuple[int, str, str], ...] = ()


def _read_sample(sample: bytes | str | Path, max_bytes: int, unit: int = 1) -> bytes:
    """The sample's bytes; of a file, the first ``max_bytes`` cut after the last line end (its
    code ``unit``: 2 for UTF-16, 4 for UTF-32)."""
    if isinstance(sample, bytes):
        return sample
    with open(sample, "rb") as fh:
        data = fh.read(max_bytes + 1)
    if len(data) > max_bytes:  # cut at the last line end: no half row
        data = data[:max_bytes]
        end = max(data.rfind(b"\n"), data.rfind(b"\r"))
        data = data[: -(-(end + 1) // unit) * unit] if end >= 0 else data
    return data


#: byte-order marks, longest first (a UTF-32 LE mark starts like a UTF-16 LE one)
_BOMS = (
    (b"\xff\xfe\x00\x00", "utf-32"),
    (b"\x00\x00\xfe\xff", "utf-32"),
    (b"\xef\xbb\xbf", "utf-8"),  # the reader drops a UTF-8 mark
    (b"\xff\xfe", "utf-16"),
    (b"\xfe\xff", "utf-16"),
)
_DELIMITERS = ("\t", ";", "|")


def sniff_options(sample: bytes | str | Path) -> CsvOptions:
    """Options for a file no table declares yet: the encoding its byte-order mark names (UTF-16,
    UTF-32; else UTF-8), the delimiter a comma unless the first line has none and has a tab,
    ``;`` or ``|`` (the most frequent)."""
    data = _read_sample(sample, 64 << 10)
    encoding = next((e for bom, e in _BOMS if data.startswith(bom)), "utf-8")
    text = data.decode(encoding, errors="replace").lstrip("\ufeff")
    first = text.splitlines()[0] if text.strip() else ""
    delimiter = ","
    if "," not in first:
        best = max(_DELIMITERS, key=first.count)
        delimiter = best if first.count(best) else ","
    return CsvOptions(delimiter=delimiter, encoding=encoding)


def _unit(encoding: str) -> int:
    name = codecs.lookup(encoding).name
    return 4 if name.startswith("utf-32") else 2 if name.startswith("utf-16") else 1


def _stem(name: str) -> str:
    for suffix in ("ies", "es", "s"):
        if name.endswith(suffix) and len(name) > len(suffix):
            return name[: -len(suffix)] + ("y" if suffix == "ies" else "")
    return name


def _choose_key(candidates: Sequence[str], table: str) -> tuple[str, ...]:
    preferred = [c for c in candidates if c.lower() == "id" or c.lower().endswith("_id")]
    pool = preferred or list(candidates)
    if len(pool) > 1:
        named = [
            c for c in pool if c.lower() in (f"{_stem(table.lower())}_id", f"{table.lower()}_id")
        ]
        pool = named if len(named) == 1 else pool
    return (pool[0],) if len(pool) == 1 else ()


def discover_csv(
    sample: bytes | str | Path,
    options: CsvOptions,
    *,
    name: str = "",
    primary_key: Sequence[str] = (),
    declared: Sequence[Column] = (),
    max_rows: int = 10_000,
    max_bytes: int = 16 << 20,
) -> CsvDiscovery:
    """Columns, key candidates and key of a CSV sample (see the module docstring)."""
    names = [c.name for c in declared] if declared and not options.header else None
    data = _read_sample(sample, max_bytes, _unit(options.encoding))
    columns_, frame, renamed = _parse(data, options, names)
    frame = frame.head(max_rows)
    pinned = {c.name: c for c in declared}
    columns = []
    for col in columns_:
        values = frame[col]
        type_ = pinned_type(pinned[col].type, values) if col in pinned else infer_type(values)
        nullable = (pinned[col].nullable or bool(values.null_count())) if col in pinned else True
        columns.append(Column(col, type_, nullable=nullable))
    types = {c.name: c.type for c in columns}
    candidates = tuple(
        c
        for c in columns_
        if frame.height
        and types[c] not in ("bool", "double")
        and frame[c].null_count() == 0
        and frame[c].n_unique() == frame.height
    )
    missing = [k for k in primary_key if k not in types]
    if missing:
        raise ValueError(
            f"primary key column(s) {missing} not in the sample's columns {list(types)}"
        )
    if primary_key:
        keys = frame.select(primary_key)
        if keys.null_count().sum_horizontal().item() or keys.is_duplicated().any():
            raise ValueError(
                f"primary key {list(primary_key)} is not unique and non-null in the sample"
            )
    key = tuple(primary_key) or _choose_key(candidates, name)
    columns = [Column(c.name, c.type, nullable=c.nullable and c.name not in key) for c in columns]
    return CsvDiscovery(tuple(columns), frame.height, candidates, key, renamed)


def _parse(data: bytes, options: CsvOptions, names: list[str] | None):
    """(column names, String frame, renamed header names) of a sample: the reader names a
    header's empty or repeated names uniquely (``csv_records.unique_names``); each one renamed
    is ``(position, header name, column name)``."""
    parsed = parse_csv(data, options, names)
    if not options.header or not any(_RENAMED.search(c) for c in parsed.columns):
        return parsed.columns, parsed.frame, ()
    raw = parse_csv(data, replace(options, header=False))  # the header's own fields
    header = list(raw.frame.row(0)) if raw.frame.height else []
    renamed = tuple(
        (i + 1, h or "", c)
        for i, (h, c) in enumerate(zip(header, parsed.columns, strict=False))
        if h != c
    )
    return parsed.columns, parsed.frame, renamed


_RENAMED = re.compile(r"_\d+$")  # what ``unique_names`` gives a name it renames


def infer_csv_table(
    sample: bytes | str | Path,
    options: CsvOptions,
    *,
    dataset: str,
    name: str,
    file_glob: str,
    primary_key: Sequence[str] = (),
    declared: Sequence[Column] = (),
    max_rows: int = 10_000,
) -> TableSpec:
    """A ``csv_drop`` TableSpec for files like ``sample`` (see the module docstring)."""
    found = discover_csv(sample, options, name=name, primary_key=primary_key, declared=declared,
                         max_rows=max_rows)  # fmt: skip
    return csv_table(found, options, dataset=dataset, name=name, file_glob=file_glob)


def csv_table(
    found: CsvDiscovery, options: CsvOptions, *, dataset: str, name: str, file_glob: str
) -> TableSpec:
    """The ``csv_drop`` TableSpec of a discovery (``infer_csv_table``)."""
    note = f"Discovered from a sample of {found.rows} rows."
    if not found.primary_key and found.key_candidates:
        note += f" Key candidates (none chosen): {', '.join(found.key_candidates)}."
    return TableSpec(
        dataset=dataset,
        name=name,
        columns=found.columns,
        primary_key=found.primary_key,
        source="csv_drop",
        file_glob=file_glob,
        csv=options,
        description=note,
    )
