"""Pin what a source holds into a declaration: discovered tables merged with the declared ones.

Contract of ``merge(decl, source_name, discovered)``: every discovered table appears with the
discovered columns (name, type, nullability) and key (a new CSV drop: its csv options when not
the defaults, e.g. a UTF-16 file's encoding); what a person declared on top is kept
(description, key of a table that has none, SCD type, format, partitioning, PII, excluded
columns, per-column checks and descriptions), except a ``str_length_max`` the source states
(``varchar(n)``, a length CHECK): that one is the source's and pinned like the type (a
PostgreSQL catalog states every limit: there a column without one loses the declared one).
Returns the new declaration and one line per difference (new table, added/removed column,
changed -- or widened -- type, length or nullability, declared table not found), so drift is
seen, not absorbed. (A CSV drop's pinned types are never narrowed: ``filesync.discovery`` keeps
them unless a value needs a wider one.)
"""

from __future__ import annotations

from dataclasses import asdict

from lakehouse.declarations.model import ColumnDecl, CsvDecl, DatasetDecl, TableDecl
from lakehouse.registry.inference import common_type
from lakehouse.registry.model import Column, CsvOptions, TableSpec

LENGTH = "str_length_max"


def column_decl(
    c: Column, declared: ColumnDecl | None = None, *, catalog_lengths: bool = False
) -> ColumnDecl:
    """``c`` as discovered with what a person declared on top (see the module docstring);
    ``catalog_lengths``: ``c`` comes from a catalog that states every length limit."""
    checks = dict(c.checks)
    if declared is not None:
        checks.update(declared.checks)
        if LENGTH in c.checks:  # the source's limit (varchar(n), a CHECK): pinned like the type
            checks[LENGTH] = c.checks[LENGTH]
        elif catalog_lengths:  # the catalog says: no limit (varchar(n) became text)
            checks.pop(LENGTH, None)
    return ColumnDecl(
        name=c.name,
        type=c.type,
        nullable=c.nullable,
        pii=declared.pii if declared else c.pii,
        checks=checks,
        references=(declared.references if declared and declared.references else c.references),
        description=(declared.description if declared else "") or c.description,
    )


def table_decl(
    spec: TableSpec,
    source: str | None,
    declared: TableDecl | None,
    *,
    catalog_lengths: bool = False,
) -> TableDecl:
    old = {c.name: c for c in declared.columns} if declared else {}
    base = declared.model_copy() if declared else TableDecl(name=spec.name)
    key = list(spec.primary_key) or (list(declared.primary_key) if declared else [])
    return base.model_copy(
        update={
            "schema_": spec.schema,
            "source": (declared.source if declared else None) or source,
            "primary_key": key,
            "columns": [
                column_decl(c, old.get(c.name), catalog_lengths=catalog_lengths)
                for c in spec.columns
            ],
            "description": (declared.description if declared else "") or spec.description,
            "file_glob": spec.file_glob if spec.source == "csv_drop" else base.file_glob,
            "csv": base.csv or _csv_decl(spec),
        }
    )


def _csv_decl(spec: TableSpec) -> CsvDecl | None:
    """A discovered CSV drop's options (its encoding, delimiter) when not the defaults."""
    if spec.source != "csv_drop" or spec.csv == CsvOptions():
        return None
    return CsvDecl(**asdict(spec.csv))


def _drift(
    name: str, declared: TableDecl, found: TableSpec, *, catalog_lengths: bool = False
) -> list[str]:
    old = {c.name: c for c in declared.columns}
    new = {c.name: c for c in found.columns}
    lines = [f"{name}: new column {c!r} ({new[c].type})" for c in new if c not in old]
    lines += [f"{name}: column {c!r} is gone from the source" for c in old if c not in new]
    for c in new:
        if c in old and old[c].type != new[c].type:
            how = "widened" if common_type(old[c].type, new[c].type) == new[c].type else "changed"
            lines.append(f"{name}: column {c!r} {how} type {old[c].type} -> {new[c].type}")
        elif c in old and old[c].nullable != new[c].nullable:
            lines.append(f"{name}: column {c!r} nullable {old[c].nullable} -> {new[c].nullable}")
        was, now = old[c].checks.get(LENGTH) if c in old else None, new[c].checks.get(LENGTH)
        if c in old and was != now and (now is not None or catalog_lengths):
            how = "widened" if now is None or (was is not None and now > was) else "narrowed"
            lines.append(
                f"{name}: column {c!r} {how} length {was or 'unlimited'} -> {now or 'unlimited'}"
            )
    return lines


def merge(
    decl: DatasetDecl, source_name: str, discovered: list[TableSpec], *, several_sources: bool
) -> tuple[DatasetDecl, list[str]]:
    """See the module docstring."""
    declared = {t.name: t for t in decl.tables}
    lengths = any(s.name == source_name and s.kind == "postgres" for s in decl.sources)
    report: list[str] = []
    tables = list(decl.tables)
    found_names = set()
    for spec in discovered:
        found_names.add(spec.name)
        old = declared.get(spec.name)
        new = table_decl(
            spec, source_name if several_sources else None, old, catalog_lengths=lengths
        )
        if old is None:
            note = "" if new.primary_key else " — no primary key: captured insert-only; set "
            note += "" if new.primary_key else "primary_key: [...] to apply updates and deletes"
            report.append(f"{spec.name}: new table ({len(spec.columns)} columns){note}")
            tables.append(new)
        else:
            report += _drift(spec.name, old, spec, catalog_lengths=lengths)
            tables[tables.index(old)] = new
    for t in decl.tables:
        belongs = t.source in (None, source_name)
        if belongs and t.name not in found_names and t.file_glob is None:
            report.append(f"{t.name}: declared but not found in source {source_name!r} (kept)")
    return decl.model_copy(update={"tables": tables}), report
