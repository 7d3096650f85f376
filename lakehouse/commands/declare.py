"""``lakehouse init``, ``discover`` and ``doctor``: declare a dataset and pin what its sources hold.

- ``init NAME``: a new ``NAME/defs.yaml`` in the first ``LAKEHOUSE_DEFS`` folder (else the
  package's defs folder), a postgres source reading ``NAME_SOURCE_DSN`` (``--dsn-env``), or a
  csv_drop / dms_s3 source (``--kind``).
- ``discover NAME``: the postgres source's catalog (selection rules), the CSV drops' newest
  files per glob (a pinned column keeps its type unless a value needs a wider one: never
  narrowed; landing files no table claims are proposed as new tables), merged into the
  declaration (``declarations.discover.merge``); ``--check`` writes nothing and exits 1 on drift.
- ``doctor NAME``: can the source database be replicated (each problem with the SQL that fixes
  it); exit 1 on an error.
"""

from __future__ import annotations

import re
from pathlib import Path

from lakehouse.commands.targets import settings as env_settings
from lakehouse.commands.targets import source_dsn
from lakehouse.profiles import Settings


def cmd_init(args) -> int:
    path = init(env_settings(), args.name, args.kind, dsn_env=args.dsn_env,
                landing=args.landing, path=args.path)  # fmt: skip
    print(f"declared {args.name}: {path}")
    print(f"next: lakehouse discover {args.name}   (then: lakehouse doctor {args.name}, make dev)")
    return 0


def cmd_discover(args) -> int:
    report, notes = discover(env_settings(), args.name, write=not args.check)
    for line in report:
        print(f"  {line}")
    for line in notes:
        print(f"  note: {line}")
    if args.check:
        print("no drift" if not report else f"{len(report)} difference(s): run without --check")
        return 1 if report else 0
    print(f"{args.name}: declaration updated ({len(report)} change(s))")
    return 0


def cmd_doctor(args) -> int:
    report, ok = doctor(env_settings(), args.name)
    print(report)
    return 0 if ok else 1


def init(settings: Settings, name: str, kind: str, *, dsn_env: str | None = None,
         landing: str | None = None, path: str | None = None, folder: Path | None = None) -> Path:  # fmt: skip
    """Write a new declaration for ``name``; returns its path."""
    from lakehouse.declarations import declarations, shipped_dir

    if not re.match(r"^[a-z][a-z0-9_]*$", name):
        raise ValueError(f"dataset name {name!r}: lower-case letters, digits and _ only")
    if name in declarations(settings):
        raise ValueError(
            f"dataset {name!r} is already declared in {declarations(settings)[name].path}"
        )
    base = folder or (Path(settings.defs_dirs[0]) if settings.defs_dirs else shipped_dir())
    target = base / name / "defs.yaml"
    if target.exists():
        raise FileExistsError(f"{target} exists")
    from lakehouse.declarations.template import new_declaration

    target.parent.mkdir(parents=True, exist_ok=True)
    landing = landing or str(settings.landing_dir / name)
    target.write_text(new_declaration(name, kind, dsn_env=dsn_env, landing=landing, path=path))
    return target


def discover(settings: Settings, name: str, *, write: bool = True) -> tuple[list[str], list[str]]:
    """Merge what the dataset's sources hold into its declaration; returns ``(changes, notes)``:
    one line per difference with the declaration (drift), one per choice left to a person.
    A declaration the loader rejects (e.g. a table declared with its csv options and no columns
    yet) is discovered from its parsed file; what is written is checked before it is written
    (a declaration the loader would reject is never written: its problems are raised)."""
    from lakehouse.declarations.discover import merge
    from lakehouse.declarations.write import leading_comments, render

    decl, path, model = _declared(settings, name)
    report, notes_out = [], []
    several = len(model.sources) > 1
    for source in model.sources:
        if source.kind == "postgres":
            found, notes = _postgres_tables(settings, name, source)
            notes_out += [f"{source.name}: {n}" for n in notes]
        elif source.kind == "csv_drop":
            found, notes = _csv_tables(settings, name, source, model)
            notes_out += [f"{source.name}: {n}" for n in notes]
        else:
            found, notes = _dms_tables(settings, decl, source)
            notes_out += [f"{source.name}: {n}" for n in notes]
        found, twice = _one_per_name(found, model)
        notes_out += [f"{source.name}: {n}" for n in twice]
        model, lines = merge(model, source.name, found, several_sources=several)
        report += [f"{source.name}: {line}" for line in lines]
    text = render(model, leading_comments(path.read_text()))
    _check(path, text)
    if write:
        path.write_text(text)
        from lakehouse.declarations.load import read_declaration

        read_declaration(path)  # what was written loads
    return report, notes_out


def _one_per_name(found: list, model) -> tuple[list, list[str]]:
    """The discovered tables with one table per lake name (a dataset's table names are unique):
    of tables with the same name in several schemas, the one already declared (same schema),
    else the first; a note naming both schemas and the fix for each other one."""
    declared = {t.name: t.schema_ for t in model.tables}
    kept: dict[str, object] = {}
    for spec in found:
        first = kept.get(spec.name)
        if first is None or (
            first.schema != declared.get(spec.name) and spec.schema == declared.get(spec.name)
        ):
            kept[spec.name] = spec
    notes = [
        f"{spec.name}: {spec.schema}.{spec.name} not declared: table {spec.name!r} is"
        f" {kept[spec.name].schema}.{spec.name} (a table name is unique in a dataset) — fix:"
        f" exclude it (selection: {{rule-action: exclude, schema-name: {spec.schema},"
        f" table-name: {spec.name}}}), or declare schema {spec.schema} in another dataset"
        " (with a table_prefix)"
        for spec in found
        if kept[spec.name] is not spec
    ]
    return [s for s in found if kept[s.name] is s], notes


def _declared(settings: Settings, name: str):
    """``(Declaration or None, path, DatasetDecl)`` of dataset ``name``: loaded and checked, or,
    when the checks reject its file (e.g. a table without columns yet), the file as parsed (not
    for a dms_s3 source, whose discovery needs the loaded declaration)."""
    from lakehouse.declarations import declaration, declaration_dirs
    from lakehouse.declarations.load import find_files
    from lakehouse.declarations.parse import parse_declaration
    from lakehouse.declarations.problems import DeclarationError

    try:
        decl = declaration(name, settings)
        return decl, decl.path, decl.decl
    except DeclarationError as err:
        for path in find_files(declaration_dirs(settings)):
            try:
                model = parse_declaration(path, path.read_text())
            except DeclarationError:
                continue
            if model is not None and model.name == name and str(path) in str(err):
                if not any(s.kind == "dms_s3" for s in model.sources):
                    return None, path, model
        raise


def _check(path: Path, text: str) -> None:
    """Raise the loader's ``DeclarationError`` when ``text`` (for ``path``) would be rejected."""
    from lakehouse.declarations.parse import parse_declaration
    from lakehouse.declarations.spec import to_spec

    model = parse_declaration(path, text)
    if model is not None:
        to_spec(model, path)


def _postgres_tables(settings: Settings, name: str, source):
    """The selected tables of the catalog (one query) and a note per table needing a choice."""
    import psycopg

    from lakehouse.source.discovery import discover_schema

    rules = [r.as_dms() for r in source.selection]
    with psycopg.connect(source_dsn(settings, name)) as conn:
        found = discover_schema(conn, rules, name)
    notes = []
    for d in found:
        notes += [f"{d.spec.name}: {n}" for n in d.notes]
        if not d.spec.primary_key:
            keys = "; ".join(", ".join(k) for k in d.candidate_keys) or "none"
            notes.append(f"{d.spec.name}: no primary key (unique candidates: {keys})")
    return [d.spec for d in found], notes


def doctor(settings: Settings, name: str) -> tuple[str, bool]:
    """The source database's readiness to replicate the dataset: the report and whether it has
    no error (``source.doctor``)."""
    import psycopg

    from lakehouse.declarations import load_dataset
    from lakehouse.replication.state import ReplicationState
    from lakehouse.replication.task import resync_command, slot_name
    from lakehouse.source.doctor import diagnose, format_findings

    spec = load_dataset(name, settings)
    state = ReplicationState.load(settings.lake(), name, slot_name(name))  # a slot dropped after
    with psycopg.connect(source_dsn(settings, name)) as conn:  # the full load is lost
        findings = diagnose(
            conn,
            list(spec.database_tables),
            slot_name=slot_name(name),
            full_load_done=state.full_load_done,
            resync_fix=resync_command(name),
        )
    return format_findings(findings), not any(f.severity == "error" for f in findings)


def _dms_tables(settings: Settings, decl, source):
    from lakehouse.declarations.dms import endpoint_settings, table_mappings
    from lakehouse.declarations.tables import raw_root
    from lakehouse.dms.settings import DmsS3Settings
    from lakehouse.replication.dms_discovery import discover_dms_tables
    from lakehouse.storage import open_lake

    root = raw_root(source, decl.path)
    lake = open_lake(root, endpoint_url=settings.s3_endpoint, region=settings.region)
    mappings = table_mappings(decl, source) or {}
    rules = [
        {"rule-action": r.get("rule-action", "include"), **r["object-locator"]}
        for r in mappings.get("rules", [])
        if r.get("rule-type") == "selection"
    ]
    dms = DmsS3Settings.from_endpoint_settings(endpoint_settings(decl, source))
    if mappings:
        from lakehouse.dms.table_mappings import TableMappings

        return discover_dms_tables(lake, dms, decl.spec.name,
                                   mappings=TableMappings.from_json(mappings))  # fmt: skip
    return discover_dms_tables(lake, dms, decl.spec.name, rules or None)


def _csv_tables(settings: Settings, name: str, source, model):
    """The csv_drop tables the landing folder's files show, and one note per file not read."""
    import fnmatch

    from lakehouse.filesync.discovery import csv_table, discover_csv, sniff_options
    from lakehouse.filesync.sync import DROP_SUFFIXES
    from lakehouse.registry.model import CsvOptions

    landing = Path(source.landing) if source.landing else settings.landing_dir / name
    files = sorted(p for p in landing.glob("*") if p.is_file() and not p.name.startswith("."))
    out, claimed, notes = [], set(), []

    def infer(path: Path, options: CsvOptions, table: str, file_glob: str, **declared) -> None:
        """Discover ``table`` from ``path`` (``declared``: a declared table's key and columns)."""
        try:
            found = discover_csv(path, options, name=table, **declared)
        except (ValueError, UnicodeError, OSError) as err:  # CsvDropError is a ValueError
            notes.append(_unread(path, table, file_glob, err, bool(declared)))
            return
        out.append(csv_table(found, options, dataset=name, name=table, file_glob=file_glob))
        notes.extend(
            f"{table}: {path.name}: header column {i} {h!r} pinned as {c!r} ("
            + ("it is empty)" if not h.strip() else "it repeats an earlier name in any case)")
            for i, h, c in found.renamed
        )

    for t in model.tables:
        if not t.file_glob or t.source not in (None, source.name):
            continue
        matches = [p for p in files if fnmatch.fnmatch(p.name, t.file_glob)]
        claimed |= set(matches)
        if matches:
            try:
                options = CsvOptions(**t.csv.model_dump()) if t.csv else CsvOptions()
            except (ValueError, LookupError):  # the declaration's check says so: not written
                continue
            newest = max(matches, key=lambda p: p.stat().st_mtime)
            infer(newest, options, t.name, file_glob=t.file_glob,
                  primary_key=tuple(t.primary_key), declared=t.columns)  # fmt: skip
    for p in files:
        if p in claimed or p.suffix.lower() not in DROP_SUFFIXES:
            continue
        table, glob = proposed_table(p.name)
        if any(s.name == table for s in out):
            continue
        infer(p, sniff_options(p), table, file_glob=glob)
        claimed |= {q for q in files if fnmatch.fnmatch(q.name, glob)}
    return out, notes


def _unread(path: Path, table: str, glob: str, err: Exception, declared: bool) -> str:
    """The note for a file discover could not read (its table left as declared)."""
    reason = str(err).removeprefix("line 1: ")
    if "primary key" in reason:
        fix = f"set table {table!r}'s primary_key to columns unique and non-null in its files"
    elif declared:
        fix = (
            f"set table {table!r}'s csv options (encoding, delimiter) to the file's, or save it"
            " as UTF-8 CSV"
        )
    else:
        fix = (
            f"save it as UTF-8 CSV, or declare table {table!r} (file_glob: {glob!r}, csv:"
            " {encoding: <its encoding, e.g. cp1252>}) and run discover again"
        )
    return f"{path.name}: not read ({reason}) — fix: {fix}"


def proposed_table(file_name: str) -> tuple[str, str]:
    """A table name and glob for an unclaimed file: ``prices-20240101.csv`` → (prices,
    ``prices-*.csv``); ``Orders 2024.CSV`` → (orders, ``Orders *.CSV``); the glob matches
    the file itself (``sales[1].csv`` → ``sales[[]1]*.csv``)."""
    stem, dot, suffix = file_name.rpartition(".")
    if not dot:
        stem, suffix = file_name, ""
    m = re.match(r"^(.*?)([-_ .]?)(\d[\d\-_T:.]*)?$", stem)
    base, sep = (m.group(1), m.group(2)) if m and m.group(1) else (stem, "")
    table = re.sub(r"[^a-z0-9_]+", "_", base.lower()).strip("_") or "data"
    if not table[0].isalpha():
        table = f"t_{table}"
    glob = f"{_escape(base)}{_escape(sep)}*" + (f".{_escape(suffix)}" if suffix else "")
    return table, glob


def _escape(text: str) -> str:
    """``text`` matched literally by a glob: ``*``, ``?`` and ``[`` each in a class (``[[]``)."""
    return re.sub(r"([*?\[])", r"[\1]", text)
