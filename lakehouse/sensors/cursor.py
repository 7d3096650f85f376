"""A cursor over object-store prefixes that finds new files without re-listing everything.

Data contract of the cursor (JSON): ``{name: {"after": key, "seen": {key: [size, mtime]}}}`` per watched
prefix. Two kinds of names live under one table prefix, and they do not sort together:
- names that grow over time (DMS CDC files ``yyyymmdd-hhmmssfff``, date folders, CSV drops
  named ``…-YYYYMMDD.csv``): listed with ``start_after = after``, so each tick lists only what is
  newer than the last key seen, however many millions of objects are older;
- names that are rewritten in place (DMS full-load ``LOAD00000001``, which sort after the CDC
  names): kept in ``seen`` with their size and last-modified time, so a reload (same key, new
  size or a later write) is found again.
Equal last-modified times do not matter for growing names (keys, not times, are compared) and
a deleted key is simply never listed again.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from lakehouse.storage import Lake, ObjectInfo


def _is_rewritable(key: str) -> bool:
    return key.rsplit("/", 1)[-1].upper().startswith("LOAD")


@dataclass
class Scan:
    new: dict[str, list[ObjectInfo]]
    cursor: str

    @property
    def names(self) -> list[str]:
        return sorted(n for n, objs in self.new.items() if objs)


def scan(lake: Lake, prefixes: dict[str, str], cursor: str | None, *, accept=None) -> Scan:
    """New objects under each named prefix since ``cursor`` (see the module docstring).

    ``accept(name, obj)`` filters objects (e.g. a CSV drop's file glob)."""
    state = json.loads(cursor) if cursor else {}
    new: dict[str, list[ObjectInfo]] = {}
    for name, prefix in prefixes.items():
        entry = state.get(name, {"after": None, "seen": {}})
        found = []
        for obj in lake.list(prefix, start_after=entry["after"]):
            if accept is not None and not accept(name, obj):
                continue
            if _is_rewritable(obj.key):
                version = [obj.size, round(obj.mtime, 6)]
                if entry["seen"].get(obj.key) == version:
                    continue
                entry["seen"][obj.key] = version
            else:
                entry["after"] = max(entry["after"] or "", obj.key)
            found.append(obj)
        # LOAD files sort after CDC names: keep "after" below them so CDC files keep coming
        new[name] = found
        state[name] = entry
    return Scan(new, json.dumps(state, sort_keys=True))


def keep_previous(cursor: str, previous: str | None, names: list[str]) -> str:
    """``cursor`` with the entries of ``names`` as they were in ``previous``: their files will be
    found again by the next scan (a sensor defers them)."""
    if not names:
        return cursor
    state, before = json.loads(cursor), json.loads(previous) if previous else {}
    for name in names:
        if name in before:
            state[name] = before[name]
        else:
            state.pop(name, None)
    return json.dumps(state, sort_keys=True)
