"""Which bronze rows a silver run applies: incremental reads of a bronze Delta table.

Contract: every silver commit records in its commit metadata the bronze version it has applied
(``BRONZE_VERSION_KEY``, ``commit_props``); ``applied_bronze_version`` reads it back from the
table's latest commits (maintenance commits carry none), and ``read_bronze_changes`` returns the
rows of the bronze data files added after that version (all rows when None) with the version
they reach: bronze's current version, or with ``max_rows`` an earlier one when the backlog holds
more rows (whole commits, by the row counts of the Delta add actions), so a big full load is
applied in several commits of bounded memory. A bronze table compacted since (an old file gone)
is re-read whole: applying a change twice is a no-op, so this is safe. Used by
``engine.silver`` and ``events.silver``.
"""

from __future__ import annotations

from typing import NamedTuple

import polars as pl
import pyarrow as pa

from lakehouse.engine.core.keys import BRONZE_VERSION_KEY, bronze_key
from lakehouse.engine.delta import file_name, file_names, files_dataset, open_table
from lakehouse.storage import Lake


def commit_props(bronze_version: int | None, *, retries: int | None = None):
    """delta-rs commit properties recording ``bronze_version`` (-1 for none); ``retries=0``:
    the commit fails if the table has a newer version than the one it was read at."""
    from deltalake import CommitProperties

    return CommitProperties(
        custom_metadata={BRONZE_VERSION_KEY: str(-1 if bronze_version is None else bronze_version)},
        max_commit_retries=retries,
    )


def applied_bronze_version(lake: Lake, key: str, dt=None) -> int | None:
    """The bronze version recorded by the latest commit of the silver table at ``key`` (``dt``:
    that table, already open)."""
    dt = dt if dt is not None else open_table(lake, key)
    if dt is None:
        return None
    for limit in (1, 20):  # newest first; maintenance commits carry no bronze version
        for entry in dt.history(limit):
            if BRONZE_VERSION_KEY in entry:
                return int(entry[BRONZE_VERSION_KEY])
    return None


class BronzeChanges(NamedTuple):
    """Rows read (``frame``), the bronze version they reach (``version``: what the silver commit
    records), and bronze's latest version (``latest``; more is pending when it is greater)."""

    frame: pl.DataFrame
    version: int | None
    latest: int | None


def read_bronze_changes(
    lake: Lake, table: str, after_version: int | None, max_rows: int | None = None
) -> BronzeChanges:
    """Bronze rows of ``table`` added after ``after_version`` (all rows when None). With
    ``max_rows``, only the commits up to the latest version whose added files hold at most
    ``max_rows`` rows (at least one commit): a big backlog is read in several calls."""
    bronze = open_table(lake, bronze_key(table))
    if bronze is None:
        return BronzeChanges(pl.DataFrame(), None, None)
    current = bronze.version()
    if after_version is not None and after_version >= current:
        return BronzeChanges(pl.DataFrame(), current, current)
    old_files = set()
    if after_version is not None:
        old_files = file_names(open_table(lake, bronze_key(table), after_version))
    now_files = file_names(bronze)
    if not old_files <= now_files:  # bronze was compacted: re-read everything (idempotent)
        after_version, old_files, max_rows = None, set(), None
    upto, new = current, now_files - old_files
    if max_rows is not None:
        rows = _rows_per_file(bronze)
        if sum(rows.get(f, 0) for f in new) > max_rows:
            upto, new = _cut(lake, table, after_version, current, old_files, rows, max_rows)
            bronze = open_table(lake, bronze_key(table), upto)
    if after_version is None and upto == current:
        # the whole table: Polars' own Delta scan (several times pyarrow's dataset + conversion)
        frame = pl.scan_delta(bronze, storage_options=lake.storage_options or None).collect()
        return BronzeChanges(frame, current, current)
    frame = pl.from_arrow(files_dataset(bronze, new).to_table())
    return BronzeChanges(frame, upto, current)


def _rows_per_file(bronze) -> dict[str, int]:
    """Rows of each data file of ``bronze`` (its add actions' statistics)."""
    adds = pa.table(bronze.get_add_actions(flatten=True)).select(["path", "num_records"])
    return {file_name(p): n or 0 for p, n in zip(*adds.to_pydict().values(), strict=True)}


def _cut(lake, table, after, current, old_files, rows, max_rows) -> tuple[int, set[str]]:
    """The latest version ``v`` in ``(after, current)`` whose files added since ``after`` hold at
    most ``max_rows`` rows (the first version after ``after`` when none does), by bisection;
    ``v`` and those files."""
    seen: dict[int, set[str]] = {}

    def added(version: int) -> set[str]:
        if version not in seen:
            seen[version] = file_names(open_table(lake, bronze_key(table), version)) - old_files
        return seen[version]

    first = 0 if after is None else after + 1
    best, lo, hi = first, first, current - 1  # current itself holds too many
    while lo <= hi:
        mid = (lo + hi) // 2
        if sum(rows.get(f, 0) for f in added(mid)) <= max_rows:
            best, lo = mid, mid + 1
        else:
            hi = mid - 1
    if best < current and not any(rows.get(f, 0) for f in added(best)):
        best += 1  # commits without rows: take the next one too, so every batch has rows
    return best, added(best)
