"""A validated declaration as the registry's ``DatasetSpec``: the semantic checks.

Contract: ``to_spec(decl, path)`` returns the dataset's ``DatasetSpec`` (its tables, the
postgres sources' selection rules, its policies) or raises ``DeclarationError`` listing every
problem the model alone cannot see: sources named twice, a ``dsn_env`` that is not a variable
name (a value that looks like a DSN is shown with its password masked), more than one database
source, a table declared twice, and each table's and policy's own problems.
"""

from __future__ import annotations

import re
from pathlib import Path

from lakehouse.declarations.model import DatasetDecl
from lakehouse.declarations.policies import freshness_and_maintenance, slot_policy
from lakehouse.declarations.problems import DeclarationError
from lakehouse.declarations.tables import table_spec
from lakehouse.registry.model import DatasetSpec, TableSpec

_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def to_spec(decl: DatasetDecl, path: Path) -> DatasetSpec:
    """The registry's ``DatasetSpec`` of a validated declaration (semantic checks here)."""
    problems: list[str] = []
    sources = _sources(decl, path, problems)
    tables = _tables(decl, sources, path, problems)
    freshness, maintenance = freshness_and_maintenance(decl, path, problems)
    slot = slot_policy(decl, path, problems)
    if problems:
        raise DeclarationError(problems)
    postgres = [s for s in decl.sources if s.kind == "postgres"]
    rules = tuple(r.as_dms() for s in postgres for r in s.selection)
    return DatasetSpec(
        name=decl.name, tables=tuple(tables), description=decl.description, selection_rules=rules,
        capture_new_tables=any(s.new_tables == "capture" for s in postgres),
        sql_aliases=decl.sql_aliases, freshness=freshness, maintenance=maintenance, slot=slot,
    )  # fmt: skip


def _sources(decl: DatasetDecl, path: Path, problems: list[str]) -> dict:
    """``{name: source}``; each source named once, a DSN by variable name, one database source."""
    sources = {}
    for i, s in enumerate(decl.sources):
        if s.name in sources:
            problems.append(
                f"{path}: sources[{i}].name: two sources are named {s.name!r}"
                " — fix: give each source its own name"
            )
        sources[s.name] = s
        dsn_env = getattr(s, "dsn_env", None)
        if dsn_env is not None and not _ENV_NAME.match(dsn_env):
            problems.append(
                f"{path}: sources[{i}].dsn_env: {_redact(dsn_env)!r} is not an environment variable"
                " name — fix: put the DSN in an environment variable and write its name here"
                " (a secret never goes in a declaration)"
            )
    db_sources = [s.name for s in decl.sources if s.kind in ("postgres", "dms_s3")]
    if len(db_sources) > 1:
        problems.append(
            f"{path}: sources: {', '.join(db_sources)} are all database sources — fix: one"
            " postgres or dms_s3 source per dataset (declare another dataset for the other one)"
        )
    return sources


def _tables(decl: DatasetDecl, sources: dict, path: Path, problems: list[str]) -> list[TableSpec]:
    """The tables without a problem, in declaration order; a table declared twice is one."""
    tables, seen = [], set()
    for i, t in enumerate(decl.tables):
        where = f"{path}: tables[{i}] ({t.name})"
        if t.name in seen:
            problems.append(
                f"{where}.name: table {t.name!r} is declared twice — fix: remove one of them"
            )
            continue
        seen.add(t.name)
        spec = table_spec(decl, t, sources, where, problems, path)
        if spec is not None:
            tables.append(spec)
    return tables


def _redact(value: str) -> str:
    return re.sub(r"(://[^:/@]*:)[^@]*@", r"\1***@", value)
