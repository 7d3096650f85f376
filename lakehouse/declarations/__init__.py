"""Dataset declarations: where they are found and what they declare.

Declarations are ``defs.yaml`` files of type ``lakehouse.components.Dataset`` (a Dagster
Component, ``lakehouse.components``) under the package's defs folder ``lakehouse/datasets/``
(the shipped datasets; ``dg scaffold defs`` writes there) and under each folder named by
``LAKEHOUSE_DEFS`` (``Settings.defs_dirs``). ``declarations()`` loads them: validated, with the
tables a replication task captured (``declarations.captured``), kept in the process until a
file changes, and as JSON by content under ``<state dir>/_cache/`` so that a new process skips
parsing unchanged YAML. ``load_dataset(name)`` gives one dataset's registry ``DatasetSpec``; an
unknown name is an error naming the declared ones.
"""

from __future__ import annotations

from pathlib import Path

from lakehouse.declarations import captured
from lakehouse.declarations.load import Declaration, find_files, load_declarations
from lakehouse.declarations.problems import DeclarationError
from lakehouse.profiles import Settings
from lakehouse.registry import DatasetSpec

__all__ = [
    "Declaration",
    "DeclarationError",
    "all_datasets",
    "declaration",
    "declaration_dirs",
    "declarations",
    "load_dataset",
]

_cache: dict[tuple, dict[str, Declaration]] = {}
#: declarations Dagster loaded as components from a folder of its own (``register``)
_registered: dict[str, Declaration] = {}


def register(decl: Declaration) -> None:
    """Make a declaration loaded outside this process's declaration folders (a ``Dataset``
    component in another ``dg`` project's defs folder, a location built with other settings)
    findable by ``declaration(name)``; ``declarations()`` still lists only the folders'."""
    _registered[decl.spec.name] = decl


def shipped_dir() -> Path:
    """The package's defs folder (the shipped datasets)."""
    return Path(__file__).resolve().parent.parent / "datasets"


def declaration_dirs(settings=None) -> list[Path]:
    if settings is None:
        settings = Settings.from_env()
    return [shipped_dir(), *(Path(d) for d in settings.defs_dirs)]


def declarations(settings=None) -> dict[str, Declaration]:
    """Every declared dataset, by name (re-read when a ``defs.yaml`` changes)."""
    if settings is None:
        settings = Settings.from_env()
    dirs = declaration_dirs(settings)
    files = find_files(dirs)
    stamp = tuple((str(p), p.stat().st_mtime_ns, p.stat().st_size) for p in files)
    stamp += (settings.root, captured.stamp(settings))
    if stamp not in _cache:
        _cache.clear()
        found = load_declarations(dirs, settings.state_dir / "_cache" / "declarations")
        _cache[stamp] = captured.with_captured(found, settings)
    return _cache[stamp]


def declaration(name: str, settings=None) -> Declaration:
    found = declarations(settings)
    if name not in found and name in _registered:  # loaded elsewhere in this process
        return _registered[name]
    if name not in found:
        known = ", ".join(sorted(found)) or "none"
        raise DeclarationError(
            [
                f"unknown dataset {name!r}: declared datasets are {known} — fix: declare it"
                " (`lakehouse init {name}`) or set LAKEHOUSE_DEFS to the folder holding its"
                " defs.yaml".replace("{name}", name)
            ]
        )
    return found[name]


def load_dataset(name: str, settings=None) -> DatasetSpec:
    return declaration(name, settings).spec


def all_datasets(names: tuple[str, ...] | None = None, settings=None) -> list[DatasetSpec]:
    """Every declared dataset, or the datasets ``names`` served together: their tables share one
    lake, so a table name or a raw folder two of them claim is an error."""
    if names is None:
        return [d.spec for d in declarations(settings).values()]
    specs = [load_dataset(n, settings) for n in names]
    _check_shared_lake(specs, settings)
    return specs


def _check_shared_lake(specs: list[DatasetSpec], settings) -> None:
    """Lake tables are named after their table (``bronze/<table>``, ``silver/<table>``) and a
    replicated table's raw files after its source (``raw/database/<schema>/<table>/``)."""
    seen: dict[str, str] = {}
    problems = []
    for spec in specs:
        for t in spec.tables:
            claims = [f"table {t.name!r}"]
            if t.source == "database" and t.raw_root is None:
                claims.append(f"raw folder {t.raw_prefix}")
            for claim in claims:
                other = seen.setdefault(claim, spec.name)
                if other != spec.name:
                    path = declaration(spec.name, settings).path
                    problems.append(
                        f"{path}: tables ({t.name}): {claim} is also {other}'s and the served"
                        f" datasets share one lake — fix: give one dataset a table_prefix, or"
                        f" serve them apart (LAKEHOUSE_DATASETS, or another LAKEHOUSE_ROOT)"
                    )
    if problems:
        raise DeclarationError(problems)


def served(settings=None) -> tuple[str, ...]:
    """The datasets a process serves: ``LAKEHOUSE_DATASETS``, or every declared one."""
    if settings is None:
        settings = Settings.from_env()
    declared = tuple(declarations(settings))
    if not settings.datasets:
        return declared
    unknown = set(settings.datasets) - set(declared)
    if unknown:
        raise ValueError(
            f"LAKEHOUSE_DATASETS names unknown datasets {sorted(unknown)}; declared:"
            f" {', '.join(declared)} — fix: declare them or set LAKEHOUSE_DEFS to their folder"
        )
    return settings.datasets
