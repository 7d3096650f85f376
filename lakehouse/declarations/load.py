"""Find and load dataset declarations (``defs.yaml`` files of type ``Dataset``).

Contract: ``load_declarations(dirs)`` reads every ``defs.yaml`` under the given folders whose
``type`` is the lakehouse ``Dataset`` component and returns ``{name: Declaration}``. Anything
wrong raises ``DeclarationError`` whose message has one line per problem, each naming the file,
the key and the fix. A declaration becomes the registry's ``DatasetSpec`` here (``spec``);
nothing else in the package knows dataset names.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from lakehouse.declarations.cache import cached, store
from lakehouse.declarations.model import DatasetDecl, DmsS3Source
from lakehouse.declarations.parse import parse_declaration
from lakehouse.declarations.problems import DeclarationError
from lakehouse.declarations.spec import to_spec
from lakehouse.registry.model import DatasetSpec

DEFS_FILE = "defs.yaml"


@dataclass(frozen=True)
class Declaration:
    """A loaded declaration: the file, its validated attributes and the registry spec."""

    path: Path
    decl: DatasetDecl
    spec: DatasetSpec

    def source(self, name: str):
        for s in self.decl.sources:
            if s.name == name:
                return s
        raise KeyError(name)

    def sources_of(self, kind: str) -> list:
        return [s for s in self.decl.sources if s.kind == kind]


def find_files(dirs: list[Path]) -> list[Path]:
    """Every ``defs.yaml`` under ``dirs`` (sorted; missing folders are skipped)."""
    found: list[Path] = []
    for d in dirs:
        if d.is_dir():
            found += sorted(p for p in d.rglob(DEFS_FILE) if ".pytest" not in p.parts)
    return found


def load_declarations(dirs: list[Path], cache_dir: Path | None = None) -> dict[str, Declaration]:
    """``{dataset name: Declaration}`` of every Dataset declaration under ``dirs``."""
    out: dict[str, Declaration] = {}
    for path in find_files(dirs):
        decl = read_declaration(path, cache_dir)
        if decl is None:
            continue
        other = out.get(decl.spec.name)
        if other is not None:
            raise DeclarationError(
                [
                    f"{path}: name: dataset {decl.spec.name!r} is also declared in {other.path}"
                    " — fix: give one of them another name"
                ]
            )
        out[decl.spec.name] = decl
    return out


def read_declaration(path: Path, cache_dir: Path | None = None) -> Declaration | None:
    """One ``defs.yaml``: a Declaration, or None when it declares another component type.
    ``cache_dir``: validated declarations kept as JSON by the file's content (a reload of an
    unchanged file skips the YAML parse); a declaration with a problem is never cached."""
    text = path.read_text()
    decl = cached(cache_dir, text)
    if decl is None:
        decl = parse_declaration(path, text)
        if decl is None:
            return None
        store(cache_dir, text, decl)
    loaded = Declaration(path, decl, to_spec(decl, path))
    _check_dms_json(loaded)
    return _renamed_folders(loaded)


def _renamed_folders(decl: Declaration) -> Declaration:
    """A dms_s3 table whose folders the task's schema/table rules rename reads them there."""
    from dataclasses import replace

    from lakehouse.declarations.dms import mapping_revisions
    from lakehouse.dms.table_mappings import TableMappings

    sources = [s for s in decl.decl.sources if isinstance(s, DmsS3Source)]
    revisions = [m for s in sources for m in mapping_revisions(decl, s)]
    if not revisions:
        return decl
    mappings = TableMappings.from_json(revisions[-1])
    tables = []
    for t in decl.spec.tables:
        folder = "/".join(mappings.folder(t.schema, t.source_table))
        renamed = t.raw_root is not None and folder != f"{t.schema}/{t.source_table}"
        tables.append(replace(t, raw_path=folder) if renamed else t)
    return replace(decl, spec=replace(decl.spec, tables=tuple(tables)))


def _check_dms_json(decl: Declaration) -> None:
    """A dms_s3 source's endpoint settings and table mappings read and validate at load."""
    from lakehouse.declarations.dms import endpoint_settings, mapping_revisions
    from lakehouse.dms.settings import DmsS3Settings
    from lakehouse.dms.table_mappings import TableMappings

    problems = []
    for i, source in enumerate(decl.decl.sources):
        if not isinstance(source, DmsS3Source):
            continue
        where = f"{decl.path}: sources[{i}] ({source.name})"
        try:
            DmsS3Settings.from_endpoint_settings(endpoint_settings(decl, source))
        except (TypeError, ValueError) as err:
            problems.append(f"{where}.endpoint_settings: {err} — fix: the S3Settings AWS prints")
        for j, mappings in enumerate(mapping_revisions(decl, source)):
            try:
                TableMappings.from_json(mappings)
            except (TypeError, ValueError, KeyError) as err:
                problems.append(f"{where}.table_mappings[{j}]: {err}".replace("\n", " "))
    if problems:
        raise DeclarationError(problems)
