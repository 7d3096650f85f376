"""Opening the lake's Delta tables: the one place that knows what "no table yet" looks like.

Contract: ``open_table(lake, key, version)`` returns the delta-rs ``DeltaTable`` at the lake key
(``bronze/<table>``, ``silver/<table>``, ``_state/tombstones/<table>``, …), pinned to
``version`` when given, or ``None`` when there is no Delta table at ``key`` (no folder, or a
folder without a ``_delta_log``). Every other error — a version the table does not have,
credentials, a corrupt log — propagates: only absence is an expected state.
``file_names(dt)`` names a table's data files (a part-file name is unique within a table) and
``files_dataset(dt, names)`` reads only the files named (partition columns included): what an
incremental reader compares and reads between two versions.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from lakehouse.storage import Lake

if TYPE_CHECKING:
    import pyarrow.dataset as pads
    from deltalake import DeltaTable


def open_table(lake: Lake, key: str, version: int | None = None) -> DeltaTable | None:
    """The Delta table at ``key`` (at ``version``), or None when there is none; see the module."""
    from deltalake import DeltaTable
    from deltalake.exceptions import TableNotFoundError

    try:
        return DeltaTable(lake.uri(key), storage_options=lake.storage_options, version=version)
    except TableNotFoundError:
        return None


def file_name(path: str) -> str:
    """A data file's name (its path's last part)."""
    return path.rstrip("/").rsplit("/", 1)[-1]


def file_names(dt: DeltaTable) -> set[str]:
    """The names of the data files of ``dt`` (at its version)."""
    return {file_name(u) for u in dt.file_uris()}


def files_dataset(dt: DeltaTable, names: set[str]) -> pads.FileSystemDataset:
    """The data files of ``dt`` named in ``names``, as one pyarrow dataset."""
    import pyarrow.dataset as pads

    dataset = dt.to_pyarrow_dataset()
    fragments = [f for f in dataset.get_fragments() if file_name(f.path) in names]
    return pads.FileSystemDataset(fragments, dataset.schema, dataset.format, dataset.filesystem)
