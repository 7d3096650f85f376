"""Which bronze rows a silver run applies: incremental reads of a bronze Delta table.

Contract: every silver commit records in its commit metadata the bronze version it has applied
(``BRONZE_VERSION_KEY``, ``commit_props``); ``applied_bronze_version`` reads it back from the
table's latest commits (maintenance commits carry none), and ``read_bronze_changes`` returns the
rows of the bronze data files added after that version (all rows when None) with bronze's
current version. A bronze table compacted since (an old file gone) is re-read whole: applying a
change twice is a no-op, so this is safe. Used by ``engine.silver`` and ``events.silver``.
"""

from __future__ import annotations

import polars as pl
import pyarrow.dataset as pads

from lakehouse.engine.core.keys import BRONZE_VERSION_KEY, bronze_key
from lakehouse.engine.delta import open_table
from lakehouse.storage import Lake


def commit_props(bronze_version: int | None):
    """delta-rs commit properties recording ``bronze_version`` (-1 for none)."""
    from deltalake import CommitProperties

    return CommitProperties(
        custom_metadata={BRONZE_VERSION_KEY: str(-1 if bronze_version is None else bronze_version)}
    )


def applied_bronze_version(lake: Lake, key: str) -> int | None:
    """The bronze version recorded by the latest commit of the silver table at ``key``."""
    dt = open_table(lake, key)
    if dt is None:
        return None
    for entry in dt.history(20):  # newest first; maintenance commits carry no bronze version
        if BRONZE_VERSION_KEY in entry:
            return int(entry[BRONZE_VERSION_KEY])
    return None


def read_bronze_changes(
    lake: Lake, table: str, after_version: int | None
) -> tuple[pl.DataFrame, int | None]:
    """Bronze rows of ``table`` added after ``after_version`` (all rows when None) and the
    current version (None when there is no bronze table)."""
    bronze = open_table(lake, bronze_key(table))
    if bronze is None:
        return pl.DataFrame(), None
    current = bronze.version()
    if after_version is not None:
        if after_version >= current:
            return pl.DataFrame(), current
        old_files = {
            _base(u) for u in open_table(lake, bronze_key(table), after_version).file_uris()
        }
        now_files = {_base(u) for u in bronze.file_uris()}
        if old_files <= now_files:  # else bronze was compacted: re-read everything (idempotent)
            new = now_files - old_files
            dataset = bronze.to_pyarrow_dataset()
            fragments = [f for f in dataset.get_fragments() if _base(f.path) in new]
            dataset = pads.FileSystemDataset(
                fragments, dataset.schema, dataset.format, dataset.filesystem
            )
            return pl.from_arrow(dataset.to_table()), current
    # the whole table: Polars' own Delta scan (several times pyarrow's dataset + conversion)
    return pl.scan_delta(bronze, storage_options=lake.storage_options or None).collect(), current


def _base(path: str) -> str:
    """A data file's name (Delta part-file names are unique within a table)."""
    return path.rstrip("/").rsplit("/", 1)[-1]
