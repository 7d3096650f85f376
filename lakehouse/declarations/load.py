"""Find, validate and load dataset declarations (``defs.yaml`` files of type ``Dataset``).

Contract: ``load_declarations(dirs)`` reads every ``defs.yaml`` under the given folders whose
``type`` is the lakehouse ``Dataset`` component and returns ``{name: Declaration}``. Anything
wrong raises ``DeclarationError`` whose message has one line per problem, each naming the file,
the key and the fix. A declaration becomes the registry's ``DatasetSpec`` here; nothing else in
the package knows dataset names.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import yaml
from pydantic import ValidationError

from lakehouse.declarations.model import DatasetDecl, DmsS3Source, TableDecl
from lakehouse.registry.durations import DURATION_FIX, parse_duration
from lakehouse.registry.model import (
    LOGICAL_TYPES,
    Column,
    CsvOptions,
    DatasetSpec,
    FreshnessPolicy,
    MaintenancePolicy,
    SlotPolicy,
    TableSpec,
    is_cron,
    parse_type,
)
from lakehouse.registry.sizes import SIZE_FIX, parse_size

COMPONENT_TYPES = ("lakehouse.components.Dataset", "lakehouse.components.dataset.Dataset")
DEFS_FILE = "defs.yaml"
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_RULES = {"ge", "le", "gt", "lt", "isin", "str_length_max", "regex", "unique"}
_SCHEMA_KEY: str | None = None


class DeclarationError(ValueError):
    """A declaration that cannot be loaded; ``problems`` holds one line per problem."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("\n".join(problems))


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
    decl = _from_cache(cache_dir, text)
    if decl is None:
        decl = _parse(path, text)
        if decl is None:
            return None
        _to_cache(cache_dir, text, decl)
    loaded = Declaration(path, decl, to_spec(decl, path))
    _check_dms_json(loaded)
    return loaded


def _cache_file(cache_dir: Path, text: str) -> Path:
    import hashlib

    global _SCHEMA_KEY
    if _SCHEMA_KEY is None:  # a change of the model invalidates every cached declaration
        _SCHEMA_KEY = json.dumps(DatasetDecl.model_json_schema(), sort_keys=True)
    digest = hashlib.sha256(f"{_SCHEMA_KEY}\n{text}".encode()).hexdigest()
    return cache_dir / f"{digest}.json"


def _from_cache(cache_dir: Path | None, text: str) -> DatasetDecl | None:
    if cache_dir is None:
        return None
    try:
        return DatasetDecl.model_validate_json(_cache_file(cache_dir, text).read_bytes())
    except (OSError, ValidationError):
        return None


def _to_cache(cache_dir: Path | None, text: str, decl: DatasetDecl) -> None:
    if cache_dir is None:
        return
    target = _cache_file(cache_dir, text)
    try:  # a read-only file system (a Lambda) just goes without the cache
        cache_dir.mkdir(parents=True, exist_ok=True)
        tmp = target.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(decl.model_dump_json(by_alias=True))
        tmp.replace(target)
    except OSError:
        pass


def _parse(path: Path, text: str) -> DatasetDecl | None:
    try:
        # libyaml's parser when present: ~4x faster than PyYAML's pure-Python one
        doc = yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    except yaml.YAMLError as err:
        raise DeclarationError([f"{path}: not valid YAML: {err}".replace("\n", " ")]) from err
    if not isinstance(doc, dict) or "type" not in doc:
        raise DeclarationError(
            [f"{path}: type: missing — fix: start the file with 'type: {COMPONENT_TYPES[0]}'"]
        )
    if doc["type"] not in COMPONENT_TYPES:
        return None
    attributes = doc.get("attributes")
    if not isinstance(attributes, dict):
        raise DeclarationError(
            [f"{path}: attributes: missing — fix: put the dataset under 'attributes:'"]
        )
    try:
        return DatasetDecl.model_validate(attributes)
    except ValidationError as err:
        raise DeclarationError(_pydantic_problems(path, attributes, err)) from None


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


# --------------------------------------------------------------------------------- to the registry
def to_spec(decl: DatasetDecl, path: Path) -> DatasetSpec:
    """The registry's ``DatasetSpec`` of a validated declaration (semantic checks here)."""
    problems: list[str] = []
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
    tables, seen = [], set()
    for i, t in enumerate(decl.tables):
        where = f"{path}: tables[{i}] ({t.name})"
        if t.name in seen:
            problems.append(
                f"{where}.name: table {t.name!r} is declared twice — fix: remove one of them"
            )
            continue
        seen.add(t.name)
        spec = _table_spec(decl, t, sources, where, problems, path)
        if spec is not None:
            tables.append(spec)
    freshness, maintenance = _policies(decl, path, problems)
    slot = _slot_policy(decl, path, problems)
    if problems:
        raise DeclarationError(problems)
    rules = tuple(r.as_dms() for s in decl.sources if s.kind == "postgres" for r in s.selection)
    return DatasetSpec(
        name=decl.name, tables=tuple(tables), description=decl.description, selection_rules=rules,
        sql_aliases=decl.sql_aliases, freshness=freshness, maintenance=maintenance, slot=slot,
    )  # fmt: skip


def _policies(decl: DatasetDecl, path: Path, problems: list[str]):
    """The dataset's ``freshness`` and ``maintenance`` blocks as registry policies (durations
    parsed, crons checked; a problem is a line in ``problems`` and the default stands in)."""

    def duration(block: str, key: str, value) -> timedelta | None:
        try:
            return parse_duration(value)
        except ValueError as err:
            problems.append(f"{path}: {block}.{key}: {err} — fix: {DURATION_FIX}")
            return None

    def cron(block: str, value: str) -> None:
        if not is_cron(value):
            problems.append(
                f"{path}: {block}.cron: {value!r} is not a cron schedule — fix: five fields,"
                " minute hour day-of-month month day-of-week, e.g. '0 3 * * *'"
            )

    f, m = decl.freshness, decl.maintenance
    cron("freshness", f.cron)
    cron("maintenance", m.cron)
    max_lag = duration("freshness", "max_lag", f.max_lag)
    vacuum = duration("maintenance", "vacuum_retention", m.vacuum_retention)
    tombstones = duration("maintenance", "tombstone_retention", m.tombstone_retention)
    if vacuum is not None and vacuum.total_seconds() % 3600:
        problems.append(
            f"{path}: maintenance.vacuum_retention: {m.vacuum_retention!r} is not whole hours"
            " (Delta's vacuum counts hours) — fix: e.g. 168h or 7d"
        )
    freshness = FreshnessPolicy(max_lag=max_lag or FreshnessPolicy.max_lag, cron=f.cron)
    maintenance = MaintenancePolicy(
        cron=m.cron,
        enabled=m.enabled,
        vacuum_retention=vacuum or MaintenancePolicy.vacuum_retention,
        tombstone_retention=tombstones or MaintenancePolicy.tombstone_retention,
    )
    return freshness, maintenance


def _slot_policy(decl: DatasetDecl, path: Path, problems: list[str]) -> SlotPolicy:
    """The ``replication_slot`` block as a registry policy (warn below error)."""
    d, out = decl.replication_slot, {}
    for key, parse, fix in (("lag_warn", parse_size, SIZE_FIX), ("lag_error", parse_size, SIZE_FIX),
                            ("age_warn", parse_duration, DURATION_FIX),
                            ("age_error", parse_duration, DURATION_FIX)):  # fmt: skip
        try:
            out[key] = parse(getattr(d, key))
        except ValueError as err:
            problems.append(f"{path}: replication_slot.{key}: {err} — fix: {fix}")
            out[key] = getattr(SlotPolicy, key)
    for warn, error in (("lag_warn", "lag_error"), ("age_warn", "age_error")):
        if out[warn] > out[error]:
            problems.append(
                f"{path}: replication_slot.{warn}: {getattr(d, warn)!r} is above {error}"
                f" ({getattr(d, error)!r}) — fix: a warning comes before the error"
            )
    return SlotPolicy(**out)


def _table_spec(decl, t: TableDecl, sources: dict, where: str, problems: list[str], path: Path):
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
    names = [c.name for c in t.columns]
    if len(set(names)) != len(names):
        dup = next(n for n in names if names.count(n) > 1)
        problems.append(f"{where}.columns: column {dup!r} is listed twice — fix: remove one")
    kept = {c.name for c in columns}
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
    csv_drop = source.kind == "csv_drop"
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
    csv = CsvOptions()
    if t.csv is not None:
        try:
            csv = CsvOptions(**t.csv.model_dump())
        except (ValueError, LookupError) as err:
            problems.append(f"{where}.csv: {err} — fix: a one-character delimiter/quote and a"
                            " Python codec name (utf-8, latin-1, cp1252)")  # fmt: skip
    if len(problems) > n_before:
        return None
    prefix = decl.table_prefix or ""
    return TableSpec(
        dataset=decl.name,
        name=f"{prefix}{t.name}",
        source_name=t.name if prefix else None,
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
    if glob.count("[") != glob.count("]"):
        return "has an unclosed '[' — fix: close the character class or escape it as [[]"
    return None  # a pattern, or one fixed file name


def _redact(value: str) -> str:
    return re.sub(r"(://[^:/@]*:)[^@]*@", r"\1***@", value)


# ------------------------------------------------------------------------------------- errors
_FIXES = {
    "extra_forbidden": "remove it (check the spelling against the documented keys)",
    "missing": "add it",
    "literal_error": "use one of the listed values",
    "union_tag_invalid": "kind must be postgres, csv_drop, dms_s3 or events",
    "union_tag_not_found": "add kind: postgres, csv_drop, dms_s3 or events",
    "string_pattern_mismatch": "lower-case letters, digits and _ only, starting with a letter",
    "too_short": "declare at least one",
}


def _pydantic_problems(path: Path, attributes: dict, err: ValidationError) -> list[str]:
    problems = []
    for e in err.errors():
        loc = _loc(e["loc"], attributes)
        fix = _FIXES.get(e["type"], "see the Dataset component's documentation")
        last = e["loc"][-1] if e["loc"] else ""
        if e["type"] == "extra_forbidden" and last in ("dsn", "password", "dsn_url"):
            fix = "a secret never goes in a declaration: use dsn_env: <VARIABLE NAME>"
        if e["type"] == "extra_forbidden" and last == "sequence_by":
            fix = (
                "remove the key: a user-declared ordering column is not supported; changes are"
                " ordered by the commit timestamp and change sequence the replicator (or DMS) writes"
            )
        problems.append(f"{path}: {loc}: {e['msg'].splitlines()[0]} — fix: {fix}")
    return problems


def _loc(loc: tuple, attributes) -> str:
    out, node = "", attributes
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
            node = node[part] if isinstance(node, list) and part < len(node) else None
            if isinstance(node, dict) and "name" in node:
                out += f" ({node['name']})"
        elif part in ("postgres", "csv_drop", "dms_s3", "events") and isinstance(node, dict):
            continue  # pydantic's union-member step, not a key of the file
        else:
            out += f".{part}" if out else str(part)
            node = node.get(part) if isinstance(node, dict) else None
    return out


def dms_source_of(decl: Declaration, table: TableSpec) -> DmsS3Source | None:
    """The ``dms_s3`` source a database table is read from, or None (a replicated table)."""
    for t in decl.decl.tables:
        if t.name == table.name:
            src = _table_source(t, {s.name: s for s in decl.decl.sources}, "", [])
            return src if isinstance(src, DmsS3Source) else None
    return None
