"""Opening the lake's Delta tables: the one place that knows what "no table yet" looks like.

Contract: ``open_table(lake, key, version)`` returns the delta-rs ``DeltaTable`` at the lake key
(``bronze/<table>``, ``silver/<table>``, ``_state/tombstones/<table>``, …), pinned to
``version`` when given, or ``None`` when there is no Delta table at ``key`` (no folder, or a
folder without a ``_delta_log``). Every other error — a version the table does not have,
credentials, a corrupt log — propagates: only absence is an expected state.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from lakehouse.storage import Lake

if TYPE_CHECKING:
    from deltalake import DeltaTable


def open_table(lake: Lake, key: str, version: int | None = None) -> DeltaTable | None:
    """The Delta table at ``key`` (at ``version``), or None when there is none; see the module."""
    from deltalake import DeltaTable
    from deltalake.exceptions import TableNotFoundError

    try:
        return DeltaTable(lake.uri(key), storage_options=lake.storage_options, version=version)
    except TableNotFoundError:
        return None
