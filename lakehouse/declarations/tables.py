"""One declared table as the registry's ``TableSpec``.

Contract: ``table_spec`` checks a table of a validated declaration against its dataset (its
source, pinned columns and their types and rules, key, partition and excluded columns, a
csv_drop table's file glob and CSV options) and returns its ``TableSpec`` under the dataset's
``table_prefix``, or None when it has a problem; each problem is appended to ``problems`` as one
line naming the file, the key and the fix. ``raw_root`` is where a dms_s3 source's files are.
"""

from __future__ import annotations

from pathlib import Path

from lakehouse.declarations.model import DatasetDecl, DmsS3Source, TableDecl
from lakehouse.registry.model import (
    LOGICAL_TYPES,
    Column,
    CsvOptions,
    TableSpec,
    lake_name,
    parse_type,
)

_RULES = {"ge", "le", "gt", "lt", "isin", "str_length_max", "regex", "unique"}


def table_spec(
    decl: DatasetDecl, t: TableDecl, sources: dict, where: str, problems: list[str], path: Path
) -> TableSpec | None:
    """The table ``t`` of ``decl`` (``where`` names it in a problem line), or None."""
    source = _table_source(t, sources, where, problems)
    if source is None:
        return None
    n_before = len(problems)
    if not t.columns:
        problems.append(
            f"{where}.columns: no columns pinned — fix: run `lakehouse discover {decl.name}`"
            " (or list each column with its name and type)"
        )
        return None
    columns = _columns(decl, t, where, problems)
    _check_column_names(t, {c.name for c in columns}, where, problems)
    csv_drop = source.kind == "csv_drop"
    _check_file_glob(t, csv_drop, where, problems)
    csv = _csv_options(t, where, problems)
    if len(problems) > n_before:
        return None
    prefix = decl.table_prefix or ""
    name = f"{prefix}{lake_name(t.name)}"
    return TableSpec(
        dataset=decl.name,
        name=name,
        source_name=t.name if name != t.name else None,
        raw_folder=f"raw/database/{decl.name}" if prefix else "raw/database",
        columns=tuple(columns),
        primary_key=tuple(t.primary_key),
        schema=t.schema_,
        source="csv_drop" if csv_drop else "database",
        file_glob=t.file_glob,
        csv=csv,
        partition_by=tuple(t.partition_by),
        raw_root=raw_root(source, path),
        exclude_columns=tuple(t.exclude_columns),
        view=t.view,
        compat_columns=tuple(t.compat_columns.items()),
        table_format=t.table_format,
        scd_type=t.scd_type,
        description=t.description,
        **({"owners": tuple(t.owners)} if t.owners else {}),
    )


def _columns(decl: DatasetDecl, t: TableDecl, where: str, problems: list[str]) -> list[Column]:
    """The captured columns (excluded ones left out) with a known type; rules checked."""
    columns = []
    for j, c in enumerate(t.columns):
        if c.name in t.exclude_columns:
            continue
        try:
            parse_type(c.type)
        except ValueError:
            problems.append(
                f"{where}.columns[{j}].type: unknown type {c.type!r} for column {c.name!r}"
                f" — fix: use one of {', '.join(LOGICAL_TYPES)} or decimal(p,s)"
            )
            continue
        unknown = set(c.checks) - _RULES
        if unknown:
            problems.append(
                f"{where}.columns[{j}].checks: unknown rule {sorted(unknown)[0]!r}"
                f" — fix: use one of {', '.join(sorted(_RULES))}"
            )
        columns.append(
            Column(
                c.name, c.type, c.nullable, pii=c.pii, checks=dict(c.checks),
                references=_prefixed(c.references, decl.table_prefix), description=c.description,
            )
        )  # fmt: skip
    return columns


def _check_column_names(t: TableDecl, kept: set[str], where: str, problems: list[str]) -> None:
    """Each column listed once; key, partition and excluded columns are columns of the table
    (key and partition columns captured ones, ``kept``)."""
    names = [c.name for c in t.columns]
    if len(set(names)) != len(names):
        dup = next(n for n in names if names.count(n) > 1)
        problems.append(f"{where}.columns: column {dup!r} is listed twice — fix: remove one")
    for k in set(t.exclude_columns) & set(t.primary_key):
        problems.append(f"{where}.exclude_columns: {k!r} is a primary key column"
                        " — fix: a key column is always captured; remove it from exclude_columns")  # fmt: skip
    for field in ("primary_key", "partition_by", "exclude_columns"):
        for k in getattr(t, field):
            if field == "primary_key" and k in t.exclude_columns:
                continue  # reported above
            if k not in names or (field != "exclude_columns" and k not in kept):
                problems.append(
                    f"{where}.{field}: column {k!r} is not a column of the table"
                    f" — fix: use one of {', '.join(names)}"
                )


def _check_file_glob(t: TableDecl, csv_drop: bool, where: str, problems: list[str]) -> None:
    """A csv_drop table has a file-name pattern; no other table has one."""
    if csv_drop and not t.file_glob:
        problems.append(f"{where}.file_glob: missing — fix: e.g. file_glob: '{t.name}-*.csv'")
    if t.file_glob is not None:
        bad = _glob_problem(t.file_glob)
        if bad:
            problems.append(f"{where}.file_glob: {t.file_glob!r} {bad}")
        if not csv_drop:
            problems.append(
                f"{where}.file_glob: only a csv_drop table has files by glob"
                f" — fix: remove it, or set source: to a csv_drop source"
            )


def _csv_options(t: TableDecl, where: str, problems: list[str]) -> CsvOptions:
    if t.csv is None:
        return CsvOptions()
    try:
        return CsvOptions(**t.csv.model_dump())
    except (ValueError, LookupError) as err:
        problems.append(f"{where}.csv: {err} — fix: a one-character delimiter/quote and a"
                        " Python codec name (utf-8, latin-1, cp1252)")  # fmt: skip
        return CsvOptions()


def _prefixed(reference: str | None, prefix: str | None) -> str | None:
    """A ``table.column`` reference to a table of the same dataset, by its lake name."""
    return f"{prefix}{reference}" if reference and prefix else reference


def raw_root(source, decl_path: Path) -> str | None:
    """A dms_s3 source's root: ``s3://…`` as given, a local folder relative to the declaration."""
    if not isinstance(source, DmsS3Source):
        return None
    if source.path.startswith("s3://"):
        return source.path.rstrip("/")
    return str((decl_path.parent / source.path).resolve())


def _table_source(t: TableDecl, sources: dict, where: str, problems: list[str]):
    if t.source is not None:
        if t.source not in sources:
            problems.append(
                f"{where}.source: no source is named {t.source!r}"
                f" — fix: use one of {', '.join(sources)}"
            )
            return None
        return sources[t.source]
    kinds = ("csv_drop",) if t.file_glob else ("postgres", "dms_s3")
    candidates = [s for s in sources.values() if s.kind in kinds]
    if len(candidates) == 1:
        return candidates[0]
    what = "csv_drop" if t.file_glob else "postgres or dms_s3"
    problems.append(
        f"{where}.source: {'no' if not candidates else 'more than one'} {what} source"
        f" — fix: name the table's source (source: <name>), one of {', '.join(sources)}"
    )
    return None


def _glob_problem(glob: str) -> str | None:
    if not glob.strip():
        return "is empty — fix: e.g. 'orders-*.csv'"
    if "/" in glob or "\\" in glob:
        return "names a folder — fix: a file-name pattern only (the landing folder is the source's)"
    if _unclosed_class(glob):
        return "has an unclosed '[' — fix: close the character class or escape it as [[]"
    return None  # a pattern, or one fixed file name


def _unclosed_class(glob: str) -> bool:
    """Whether a ``[`` of ``glob`` opens no character class (fnmatch's rules: ``[!…]``, and a
    ``]`` first in the class is a member); a ``]`` outside a class is a literal."""
    i = 0
    while i < len(glob):
        if glob[i] == "[":
            j = i + 1
            j += j < len(glob) and glob[j] == "!"
            j += j < len(glob) and glob[j] == "]"
            end = glob.find("]", j)
            if end < 0:
                return True
            i = end
        i += 1
    return False
