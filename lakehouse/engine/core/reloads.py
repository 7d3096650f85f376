"""The load log and the reload plan: which full loads a silver run applies, engine-neutral.

The load log (``engine.bronze``, "The load log"): every ingestion of a full-load file, a
``LoadIngestion`` (key, bronze version, ``ingested_at``, ``start`` — its place in the total
order), recorded in the bronze commit metadata under ``LOADS_METADATA_KEY``.
``load_generations`` numbers the full loads: ingestions in ``start`` order, a new generation
whenever a file name repeats within the current one (a replayed file, same key and start, counts
once). Generation 0 is the first baseline; every later one is a *reload* (``Reload``).

``plan_reloads(entries, spec, after, bronze_version)`` → ``ReloadPlan(reloads, barrier,
settled)``, the decision both engines act on (``engine.silver``, "full loads and reloads"):
``reloads``, the reloads with a file in bronze versions after ``after`` (all when None), oldest
first; ``barrier``, the start of the latest reload up to ``bronze_version`` (changes ordered
before it are superseded; for a keyless table without a reload, the start of its first full
load, whose copy may be newer than the slot); ``settled``, the latest start of the reloads an
earlier run applied (a change ordered before it adds no SCD2 version; one between it and
``barrier`` is a version this run's reload closes). A table without bronze has no plan; a keyless table has one too (its
reload replaces the rows ordered before its start).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from datetime import datetime
from typing import NamedTuple

from lakehouse.registry.model import TableSpec

#: the bronze commit metadata key of the load log entries a commit adds
LOADS_METADATA_KEY = "lakehouse.loads"


@dataclass(frozen=True)
class LoadIngestion:
    """One ingestion of a full-load file (see the module docstring)."""

    key: str
    version: int  # the bronze commit that ingested it
    ingested_at: datetime  # equals the ``_ingested_at`` of its rows
    start: str  # where its load begins in the total order (a ``_sequence`` value)
    generation: int = 0

    def to_json(self) -> dict:
        return {"key": self.key, "ingested_at": self.ingested_at.isoformat(), "start": self.start}

    @classmethod
    def from_json(cls, data: dict, version: int) -> LoadIngestion:
        at = datetime.fromisoformat(data["ingested_at"])
        return cls(data["key"], version, at, data["start"])


_LOAD_NUMBER = re.compile(r"LOAD([0-9A-F]{8})")


def _load_number(key: str) -> int | None:
    """The counter of a ``LOAD`` file name (``…/LOAD0000000A.csv`` → 10), else None."""
    m = _LOAD_NUMBER.search(key.rsplit("/", 1)[-1])
    return int(m.group(1), 16) if m else None


def load_generations(entries: list[LoadIngestion]) -> list[LoadIngestion]:
    """``entries`` (by version and key) with ``generation`` set: walk them in ``start`` order (a
    tie by file number); a file begins the next generation when its name is already in the
    current one, or when its number is below one the current generation holds (a full load
    numbers its files in the order it writes them, so a lower number written later is a new
    load — e.g. a reload whose ``LOAD00000001`` replaced the previous reload's before bronze
    read it, while that reload's ``LOAD00000002`` was read). The same key and start (a replayed
    file) belong to the generation of their first occurrence."""
    gen, names, top, first = 0, set(), -1, {}
    for e in sorted(entries, key=lambda e: (e.start, _load_number(e.key) or 0, e.version, e.key)):
        if (e.key, e.start) in first:
            continue
        number = _load_number(e.key)
        if e.key in names or (number is not None and number < top):
            gen, names, top = gen + 1, set(), -1
        names.add(e.key)
        top = max(top, number if number is not None else -1)
        first[(e.key, e.start)] = gen
    out = [replace(e, generation=first[(e.key, e.start)]) for e in entries]
    return sorted(out, key=lambda e: (e.version, e.key))


@dataclass(frozen=True)
class Reload:
    """One reload (a full-load generation >= 1 of the load log)."""

    generation: int
    start: str  # the smallest start of its files: where the reload begins in the total order
    files: tuple[tuple[str, datetime], ...]  # (key, ingested_at) of its ingestions
    source_file: str  # the file ``start`` comes from (lineage of the deletes)
    ingested_at: datetime


class ReloadPlan(NamedTuple):
    reloads: list[Reload]
    barrier: str | None
    settled: str | None


NO_PLAN = ReloadPlan([], None, None)


def plan_reloads(
    entries: list[LoadIngestion], spec: TableSpec, after: int | None, bronze_version: int | None
) -> ReloadPlan:
    """The reload plan of the load log ``entries`` (see the module docstring)."""
    if bronze_version is None:
        return ReloadPlan([], None, None)
    by_gen: dict[int, list[LoadIngestion]] = {}
    for e in entries:
        if e.version <= bronze_version:
            by_gen.setdefault(e.generation, []).append(e)
    reloads = []
    for gen, items in sorted(by_gen.items()):
        if gen == 0:
            continue  # the first baseline: nothing to replace
        first = min(items, key=lambda e: e.start)
        files = tuple((e.key, e.ingested_at) for e in items)
        reloads.append(Reload(gen, first.start, files, first.key, first.ingested_at))
    barrier = reloads[-1].start if reloads else None
    if barrier is None and not spec.primary_key and 0 in by_gen:
        # a keyless table's first baseline supersedes the inserts ordered before it too (a
        # resumed copy, in a newer snapshot than the slot's, holds them): no key tells them apart
        barrier = min(e.start for e in by_gen[0])
    new = [
        r for r in reloads if after is None or any(e.version > after for e in by_gen[r.generation])
    ]
    applied = [r.start for r in reloads if r not in new]
    return ReloadPlan(new, barrier, max(applied, default=None))
