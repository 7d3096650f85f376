"""Reading a silver table for its checks without holding the whole table.

Contract: ``silver_version(lake, spec)`` is the table's current version (None: no table);
``written_since(lake, spec, version)`` yields the rows of the data files added after
``version`` (every file when None; also every file when the table was rewritten since), one
frame per file, partition columns included: the rows a run wrote (a MERGE rewrites whole files,
so their untouched rows too); ``duplicated(lake, spec, columns, values)`` gives the values of
``columns`` that more than one row of the whole table holds, reading only those columns (or
taking them from ``values``, the whole table's, already read).
"""

from __future__ import annotations

from collections.abc import Iterator

import polars as pl
import pyarrow.dataset as pads

from lakehouse.engine.core.keys import silver_key
from lakehouse.engine.delta import file_names, files_dataset, open_table
from lakehouse.registry.model import TableSpec
from lakehouse.storage import Lake


def silver_version(lake: Lake, spec: TableSpec) -> int | None:
    dt = open_table(lake, silver_key(spec.name))
    return None if dt is None else dt.version()


def written_since(lake: Lake, spec: TableSpec, version: int | None) -> Iterator[pl.DataFrame]:
    dt = open_table(lake, silver_key(spec.name))
    if dt is None or (version is not None and version >= dt.version()):
        return
    old = set() if version is None else file_names(open_table(lake, silver_key(spec.name), version))
    dataset = files_dataset(dt, file_names(dt) - old)
    for fragment in dataset.get_fragments():  # one file at a time
        one = pads.FileSystemDataset([fragment], dataset.schema, dataset.format, dataset.filesystem)
        yield pl.from_arrow(one.to_table())


def duplicated(
    lake: Lake, spec: TableSpec, columns: list[str], values: pl.DataFrame | None = None
) -> pl.DataFrame:
    if values is None:
        dt = open_table(lake, silver_key(spec.name))
        if dt is None:
            return pl.DataFrame()
        values = pl.from_arrow(dt.to_pyarrow_table(columns=columns))
    if values.height == 0:
        return pl.DataFrame()
    return values.select(columns).filter(pl.struct(columns).is_duplicated()).unique()
