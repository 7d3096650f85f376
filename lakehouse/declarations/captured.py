"""Tables a replication task captured, added to their dataset's declaration.

Contract: ``with_captured(found, settings)`` returns the declarations with, for each dataset
whose postgres source says ``new_tables: capture``, every table its task recorded in
``registry.captured`` whose name the declaration does not use appended as ``lakehouse discover``
would declare it: discovered columns and key, no overrides (the declaration's own tables always
win; ``discover`` pins a captured table into the file). They are in the ``spec``; ``decl`` stays
what the file says. Only on the ``local`` profile with a
local lake root (the state is a file there; the lake is not read when definitions load): on AWS,
DMS captures, and with an ``s3://`` root new tables are reported, not captured, until
``discover`` declares them. ``stamp(settings)`` changes when a task records a table, so the next
load picks it up.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from lakehouse.declarations.load import Declaration
from lakehouse.declarations.model import ColumnDecl, TableDecl
from lakehouse.declarations.spec import to_spec
from lakehouse.registry import captured
from lakehouse.registry.model import lake_name


def stamp(settings) -> tuple:
    folder = Path(settings.root) / "_state" / "replication"
    if not settings.is_local_root or not folder.is_dir():
        return ()
    return tuple((p.name, p.stat().st_mtime_ns) for p in sorted(folder.glob("*.captured.json")))


def with_captured(found: dict[str, Declaration], settings) -> dict[str, Declaration]:
    out = dict(found)
    if settings.profile != "local" or not settings.is_local_root:
        return {n: _reporting(d) for n, d in found.items()}
    lake = None
    everyone = {t.name for d in found.values() for t in d.spec.tables}  # declared, any dataset
    for name, d in found.items():
        sources = [s for s in d.decl.sources if s.kind == "postgres" and s.new_tables == "capture"]
        if not sources:
            continue
        lake = lake or settings.lake()
        records = captured.read(lake, name)
        prefix = d.decl.table_prefix or ""  # declared tables always win, in any dataset
        extra = [
            _table(r, sources[0].name)
            for r in records.values()
            if r["name"] not in {t.name for t in d.decl.tables}
            and f"{prefix}{lake_name(r['name'])}" not in everyone
        ]
        if extra:
            decl = d.decl.model_copy(update={"tables": [*d.decl.tables, *extra]})
            out[name] = replace(d, spec=to_spec(decl, d.path))  # decl: what the file says
    return out


def _reporting(d: Declaration) -> Declaration:
    """The declaration with new source tables reported, not captured."""
    if not d.spec.capture_new_tables:
        return d
    return replace(d, spec=replace(d.spec, capture_new_tables=False))


def _table(record: dict, source: str) -> TableDecl:
    return TableDecl.model_validate(
        {
            "name": record["name"],
            "schema": record["schema"],
            "source": source,
            "primary_key": record["primary_key"],
            "columns": [ColumnDecl(**c) for c in record["columns"]],
            "description": "captured: matches the include rules, not declared",
        }
    )
