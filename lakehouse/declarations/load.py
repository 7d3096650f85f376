"""Find and load dataset declarations (``defs.yaml`` files of type ``Dataset``).

Contract: ``scan_declarations(dirs)`` reads every ``defs.yaml`` under the given folders whose
``type`` is the lakehouse ``Dataset`` component and returns the ``{name: Declaration}`` of those
that load and a ``Broken`` per file that does not: its problems (one line each, naming the file,
the key and the fix) and the dataset it names when the file says (``attributes.name``), so a
caller fails only for the datasets it serves. Two files naming one dataset make that dataset
broken. ``load_declarations(dirs)`` is the strict form: any problem raises ``DeclarationError``.
A declaration becomes the registry's ``DatasetSpec`` here (``spec``); nothing else in the package
knows dataset names.
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
FIX = " — fix: "


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


@dataclass(frozen=True)
class Broken:
    """A ``defs.yaml`` that does not load: ``problems`` (one line each) and ``name``, the
    dataset it declares (None when the file does not say, e.g. it is not YAML)."""

    path: Path
    name: str | None
    problems: tuple[str, ...]

    def summary(self) -> str:
        """One line: the first problem, and how many more there are."""
        more = len(self.problems) - 1
        return self.problems[0] + (f" (and {more} more problem(s))" if more > 0 else "")


def load_declarations(dirs: list[Path], cache_dir: Path | None = None) -> dict[str, Declaration]:
    """``{dataset name: Declaration}`` of every Dataset declaration under ``dirs``; any broken
    one raises ``DeclarationError`` (every problem, one line each)."""
    found, broken = scan_declarations(dirs, cache_dir)
    if broken:
        raise DeclarationError([p for b in broken for p in b.problems])
    return found


def scan_declarations(
    dirs: list[Path], cache_dir: Path | None = None
) -> tuple[dict[str, Declaration], list[Broken]]:
    """The declarations under ``dirs`` that load, by dataset name, and those that do not."""
    out: dict[str, Declaration] = {}
    broken: list[Broken] = []
    for path in find_files(dirs):
        try:
            decl = read_declaration(path, cache_dir)
        except DeclarationError as err:
            broken.append(Broken(path, _declared_name(path), tuple(err.problems)))
            continue
        if decl is None:
            continue
        name = decl.spec.name
        other = out.get(name) or next((b for b in broken if b.name == name), None)
        if other is not None:  # the dataset is broken: which file is it?
            out.pop(name, None)
            problem = (
                f"{path}: name: dataset {name!r} is also declared in {other.path}"
                " — fix: give one of them another name"
            )
            broken.append(Broken(path, name, (problem,)))
            continue
        out[name] = decl
    return out, broken


def _declared_name(path: Path) -> str | None:
    """The dataset a file declares (``attributes.name``), when it says."""
    import yaml

    try:
        doc = yaml.load(path.read_text(), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    except (OSError, yaml.YAMLError):
        return None
    attributes = doc.get("attributes") if isinstance(doc, dict) else None
    name = attributes.get("name") if isinstance(attributes, dict) else None
    return name if isinstance(name, str) else None


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
    _check_dms_names(loaded)
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


def _check_dms_names(decl: Declaration) -> None:
    """A replicated table may not write a column under the name of a DMS column of its files
    (``Op``, the TimestampColumnName, ``BI_<key>``, the change sequence, the replicator's
    ``_lakehouse_unchanged``): a file whose header names a column twice cannot say which is
    DMS's, so the replicator would write files no reader can read. Checked after the file is
    written by ``discover`` (which then reports it), at every load after; the fix is to leave
    the column out (``exclude_columns``) or rename it at the source. A dms_s3 table's files are
    what the task wrote: the reader refuses such a file (``dms.reader.check_unique``)."""
    from lakehouse.declarations.model import REPLICATOR_DMS_DEFAULTS, PostgresSource
    from lakehouse.dms.format import OP_COLUMN, UNCHANGED_COLUMN
    from lakehouse.dms.settings import DmsS3Settings
    from lakehouse.dms.table_mappings import DmsLayout, op_in_file

    sources = [s for s in decl.decl.sources if isinstance(s, PostgresSource)]
    if not sources:
        return
    try:
        s = DmsS3Settings.from_endpoint_settings({**REPLICATOR_DMS_DEFAULTS, **sources[0].dms})
    except (TypeError, ValueError):
        return  # the replicator reports settings it cannot write with
    problems = []
    for i, (t, spec) in enumerate(zip(decl.decl.tables, decl.spec.tables, strict=True)):
        if spec.source != "database" or spec.raw_root is not None:
            continue
        dms = {UNCHANGED_COLUMN: "the columns an update left unsent"}
        if op_in_file(s, "load") or op_in_file(s, "cdc"):
            dms[OP_COLUMN] = "the operation, I/U/D"
        if s.TimestampColumnName:
            dms[s.TimestampColumnName] = "the commit timestamp, TimestampColumnName"
        for a in DmsLayout.from_settings(s, (), spec.primary_key).added:
            what = f"the before-image of key column {a.source!r}"
            dms[a.name] = what if a.role == "before_image" else "the change sequence"
        for c in (c for c in spec.column_names if c in dms):
            problems.append(
                f"{decl.path}: tables[{i}] ({t.name}).columns: column {c!r} is named like the"
                f" DMS column {c!r} ({dms[c]}) its raw files carry beside it, so neither could"
                f" be read — fix: add exclude_columns: [{c}] to the table (the column is then"
                " not replicated) or rename the column at the source; a file written with it"
                f" already: lakehouse resync --dataset {decl.spec.name} --table {spec.name}"
            )
    if problems:
        raise DeclarationError(problems)


def _check_dms_json(decl: Declaration) -> None:
    """A dms_s3 source's endpoint settings and table mappings read and validate at load; an
    endpoint-settings problem carries its own fix (`` — fix: ``) or the general one."""
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
            problem = f"{where}.endpoint_settings: {err}".replace("\n", " ")
            if FIX not in problem:  # the error's own fix when it has one, else the general one
                problem += f"{FIX}the S3Settings AWS prints (aws dms describe-endpoints)"
            problems.append(problem)
        for j, mappings in enumerate(mapping_revisions(decl, source)):
            try:
                TableMappings.from_json(mappings)
            except (TypeError, ValueError, KeyError) as err:
                problems.append(f"{where}.table_mappings[{j}]: {err}".replace("\n", " "))
    if problems:
        raise DeclarationError(problems)
