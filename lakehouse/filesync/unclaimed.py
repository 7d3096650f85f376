"""Unclaimed CSV drops: files in the raw CSV zone that no ``csv_drop`` table reads.

Contract: ``unclaimed_files(lake, datasets)`` lists the objects under ``raw/csv/<dataset>/`` of
each given dataset (subfolders included) that no ``csv_drop`` table of that dataset claims
(``engine.csv_drop.claims``: its name matches the table's ``file_glob``, exactly as bronze picks
its files), sorted by key, so they can be reported rather than silently never read. Hidden
objects (a name starting with ``.``) are not reported. With ``whole_zone=True``, objects under
``raw/csv/`` outside the given datasets' folders (a folder of no known dataset, a file directly
under ``raw/csv/``) are reported too.
"""

from __future__ import annotations

from collections.abc import Iterable

from lakehouse.engine.csv_drop import claims
from lakehouse.registry.model import DatasetSpec
from lakehouse.storage import Lake, ObjectInfo

RAW_CSV_PREFIX = "raw/csv/"


def unclaimed_files(
    lake: Lake, datasets: Iterable[DatasetSpec], *, whole_zone: bool = False
) -> list[ObjectInfo]:
    """The raw CSV-zone objects no csv_drop table claims (see the module docstring)."""
    by_prefix = {f"{RAW_CSV_PREFIX}{d.name}/": d.csv_tables for d in datasets}
    prefixes = [RAW_CSV_PREFIX] if whole_zone else sorted(by_prefix)
    out = []
    for prefix in prefixes:
        for obj in lake.list(prefix):
            if obj.key.rsplit("/", 1)[-1].startswith("."):
                continue
            folder = next((p for p in by_prefix if obj.key.startswith(p)), None)
            tables = by_prefix.get(folder, ())
            if not any(claims(t, obj.key) for t in tables):
                out.append(obj)
    return sorted(out)
