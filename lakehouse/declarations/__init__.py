"""Dataset declarations: where they are found and what they declare.

Declarations are ``defs.yaml`` files of type ``lakehouse.components.Dataset`` (a Dagster
Component, ``lakehouse.components``) under the package's defs folder ``lakehouse/datasets/``
(the shipped datasets; ``dg scaffold defs`` writes there) and under each folder named by
``LAKEHOUSE_DEFS`` (``Settings.defs_dirs``). ``declarations()`` loads them: validated, with the
tables a replication task captured (``declarations.captured``), kept in the process until a
file changes, and as JSON by content under ``<state dir>/_cache/`` so that a new process skips
parsing unchanged YAML. ``load_dataset(name)`` gives one dataset's registry ``DatasetSpec``; an
unknown name is an error naming the declared ones.

A broken declaration fails only what uses it: ``declaration(name)`` of a broken dataset and
``served()`` when it serves one (``LAKEHOUSE_DATASETS`` names it, or is unset: every dataset)
raise its ``DeclarationError``; a broken declaration of a dataset the process does not serve or
the command does not name is skipped with one warning line (once per process), as is a file that
does not say which dataset it declares (not YAML) -- unless a name asked for is not found, whose
error then carries that file's problems too.
"""

from __future__ import annotations

import logging
from pathlib import Path

from lakehouse.declarations import captured
from lakehouse.declarations.load import Broken, Declaration, find_files, scan_declarations
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

log = logging.getLogger(__name__)

_cache: dict[tuple, dict[str, Declaration]] = {}
#: the declarations under the folders that do not load, by the same stamp as ``_cache``
_broken: dict[tuple, list[Broken]] = {}
#: the broken declarations already warned about in this process
_warned: set[tuple[str, str]] = set()
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
    """Every declared dataset that loads, by name (re-read when a ``defs.yaml`` changes); the
    broken ones are ``broken(settings)``."""
    return _load(settings)[0]


def broken(settings=None) -> list[Broken]:
    """The declarations under the folders that do not load."""
    return _load(settings)[1]


def _load(settings) -> tuple[dict[str, Declaration], list[Broken]]:
    if settings is None:
        settings = Settings.from_env()
    dirs = declaration_dirs(settings)
    files = find_files(dirs)
    stamp = tuple((str(p), p.stat().st_mtime_ns, p.stat().st_size) for p in files)
    stamp += (settings.root, captured.stamp(settings))
    if stamp not in _cache or stamp not in _broken:
        _cache.clear()
        _broken.clear()
        found, bad = scan_declarations(dirs, settings.state_dir / "_cache" / "declarations")
        _cache[stamp] = captured.with_captured(found, settings)
        _broken[stamp] = bad
    return _cache[stamp], _broken[stamp]


def _skip(bad: list[Broken], used: set[str]) -> None:
    """One warning line per broken declaration of a dataset not in ``used`` (once a process)."""
    for b in bad:
        if b.name in used or (str(b.path), b.problems[0]) in _warned:
            continue
        _warned.add((str(b.path), b.problems[0]))
        which = f"dataset {b.name!r}" if b.name else "a declaration naming no dataset"
        log.warning("skipping %s, which does not load: %s", which, b.summary())


def _unknown(name: str, found, bad: list[Broken], what: str) -> DeclarationError:
    """An unknown dataset ``name``: the broken files naming no dataset may be it."""
    known = ", ".join(sorted({*found, *(b.name for b in bad if b.name)})) or "none"
    return DeclarationError(
        [p for b in bad if b.name is None for p in b.problems]
        + [
            f"{what} {name!r}: declared datasets are {known} — fix: declare it"
            " (`lakehouse init {name}`) or set LAKEHOUSE_DEFS to the folder holding its"
            " defs.yaml".replace("{name}", name)
        ]
    )


def declaration(name: str, settings=None) -> Declaration:
    """Dataset ``name``'s declaration; a broken one raises its problems, and the broken
    declarations of other datasets not served are skipped with a warning."""
    found, bad = _load(settings)
    mine = [p for b in bad if b.name == name for p in b.problems]
    if mine:  # its file under the folders, as it is now
        raise DeclarationError(mine)
    if name not in found and name in _registered:  # loaded elsewhere in this process
        return _registered[name]
    if name not in found:
        raise _unknown(name, found, bad, "unknown dataset")
    if bad:
        _skip(bad, {name, *(settings or Settings.from_env()).datasets})
    return found[name]


def load_dataset(name: str, settings=None) -> DatasetSpec:
    return declaration(name, settings).spec


def all_datasets(names: tuple[str, ...] | None = None, settings=None) -> list[DatasetSpec]:
    """Every declared dataset, or the datasets ``names`` served together: their tables share one
    lake, so a table name or a raw folder two of them claim is an error."""
    if names is None:
        found, bad = _load(settings)
        _skip(bad, set())
        return [d.spec for d in found.values()]
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
    """The datasets a process serves: ``LAKEHOUSE_DATASETS``, or every declared one. A broken
    declaration of a served dataset raises its problems; of another, a warning line."""
    if settings is None:
        settings = Settings.from_env()
    found, bad = _load(settings)
    declared = tuple(found)
    if not settings.datasets:
        if bad:  # every declared dataset is served, this one too
            raise DeclarationError([p for b in bad for p in b.problems])
        return declared
    chosen = set(settings.datasets)
    mine = [p for b in bad if b.name in chosen for p in b.problems]
    if mine:
        raise DeclarationError(mine)
    unknown = chosen - set(declared)
    if unknown and any(b.name is None for b in bad):
        raise _unknown(sorted(unknown)[0], found, bad, "LAKEHOUSE_DATASETS names unknown dataset")
    if unknown:
        raise ValueError(
            f"LAKEHOUSE_DATASETS names unknown datasets {sorted(unknown)}; declared:"
            f" {', '.join(declared)} — fix: declare them or set LAKEHOUSE_DEFS to their folder"
        )
    _skip(bad, chosen)
    return settings.datasets
