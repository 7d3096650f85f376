"""Writing a Polars frame into a Delta table of a local lake: Polars' Parquet writer, delta-rs's commit.

Contract: ``write_frame(lake, key, frame, ...)`` appends ``frame`` to the table at ``key`` (creating
it, with ``configuration``, when there is none) in one commit and returns True, leaving what
``write_deltalake(mode="append")`` of the frame would: the same schema and protocol, the same rows
and the same per-file statistics (delta-rs reads them from the files). It returns False, having
changed nothing in the table, where that cannot hold; the caller then writes with
``write_deltalake``: a lake that is not a local folder, no rows, a column type outside ``writes_type``,
an append whose schema is not the table's (schema evolution), a partitioned table, or a table
with column mapping or constraints.

Why: Polars encodes Parquet on every core, delta-rs's writer on one (1.2M rows of the customers
drop: 0.32 s against 0.75 s). The files are written into ``<key>/_staging/<id>/`` and made a Delta
table there by delta-rs's ``convert_to_deltalake``, which computes their statistics; then they are
moved into the table and committed: a new table by moving the staged log in, an existing one by
``create_write_transaction`` of the same add actions (with ``replaces``, and remove actions for
the files the frame replaces: a copy-on-write, ``silver_rewrite``). Like delta-rs, data files
are not fsynced. A
crash leaves files no commit names (a staging folder older than ``STALE_S`` is removed by the next
write; files already moved are orphans, as after a crashed delta-rs write, for VACUUM).
"""

from __future__ import annotations

import json
import os
import shutil
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import polars as pl

from lakehouse.engine.delta import open_table
from lakehouse.storage import Lake, LocalLake

STAGING = "_staging"
STALE_S = 3600
#: delta-rs's target file size when the table names none
DEFAULT_FILE_BYTES = 104_857_600
#: Parquet (snappy) bytes per byte of a frame in memory, for sizing files (customers: ~0.4)
PARQUET_SHARE = 0.4
SAMPLE_ROWS = 10_000
_INTS = (pl.Int8, pl.Int16, pl.Int32, pl.Int64)
_OTHERS = (pl.Float32, pl.Float64, pl.Boolean, pl.String, pl.Binary, pl.Date)


def write_frame(
    lake: Lake,
    key: str,
    frame: pl.DataFrame,
    *,
    commit_properties=None,
    configuration: dict[str, str] | None = None,
    create_only: bool = False,
    replaces: tuple[object, list[str]] | None = None,
) -> bool:
    """Append ``frame`` to the Delta table at ``key`` (see the module); False: not written.
    ``create_only``: only where there is no table yet (``write_deltalake``'s ``mode="error"``).
    ``replaces``: (the table as read, paths of its data files): the commit also removes those
    files, and is made only at the next version (``commit_properties`` with no retries): if
    another commit came first, nothing is written (False). delta-rs checks no conflict for
    removes, so a retried commit could remove files a compaction already replaced."""
    if not isinstance(lake, LocalLake) or not frame.height:
        return False
    if not all(writes_type(t) for t in frame.dtypes):
        return False
    table_dir = lake.path / key
    target = open_table(lake, key) if replaces is None else replaces[0]
    if (target is not None and create_only) or (target is None and replaces is not None):
        return False
    if target is None and (table_dir / "_delta_log").exists():
        return False  # a log folder without a table: leave it to delta-rs
    if target is not None:
        meta = target.metadata()
        config = dict(meta.configuration)
        if meta.partition_columns or any(blocks_fast_write(k) for k in config):
            return False
    else:
        config = dict(configuration or {})
    staging = table_dir / STAGING / uuid.uuid4().hex
    _remove_stale(table_dir / STAGING)
    staging.mkdir(parents=True)
    try:
        names = _write_files(frame, staging, _file_rows(frame, config))
        removes = replaces[1] if replaces is not None else []
        return _commit(lake, key, target, staging, names, commit_properties, configuration, removes)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
        _remove_if_empty(table_dir / STAGING)


def writes_type(dtype: pl.DataType) -> bool:
    """A type Polars writes to Parquet as delta-rs would read and write it."""
    if isinstance(dtype, pl.Datetime):
        return dtype.time_unit == "us"
    return isinstance(dtype, pl.Decimal) or any(dtype == t for t in (*_INTS, *_OTHERS))


def blocks_fast_write(setting: str) -> bool:
    """A table setting the files or the commit would have to honour (names, constraints)."""
    return setting.startswith("delta.constraints.") or (setting == "delta.columnMapping.mode")


def _file_rows(frame: pl.DataFrame, config: dict[str, str]) -> int:
    """Rows per file for the table's target file size (estimated from the frame's size)."""
    target = int(config.get("delta.targetFileSize") or DEFAULT_FILE_BYTES)
    sample = frame.head(SAMPLE_ROWS)  # sizing views of a whole frame walks its buffers
    per_row = max(1.0, sample.estimated_size() / sample.height * PARQUET_SHARE)
    files = -(-frame.height // max(1, int(target / per_row)))
    return -(-frame.height // files)  # even files, no small remainder


def _write_files(frame: pl.DataFrame, folder: Path, rows: int) -> list[str]:
    """The frame's files of ``rows`` rows each, written side by side (one file alone leaves
    cores idle between Polars' per-file steps)."""
    starts = range(0, frame.height, rows)
    names = [f"part-{i:05d}-{uuid.uuid4()}-c000.snappy.parquet" for i in range(len(starts))]

    def write(i: int) -> None:
        frame.slice(starts[i], rows).write_parquet(folder / names[i], compression="snappy")

    if len(names) == 1:
        write(0)
    else:
        with ThreadPoolExecutor(min(len(names), os.cpu_count() or 1)) as pool:
            list(pool.map(write, range(len(names))))
    return names


def _commit(
    lake, key, target, staging: Path, names, commit_properties, configuration, removes=()
) -> bool:
    from deltalake import DeltaTable, convert_to_deltalake
    from deltalake.exceptions import CommitFailedError
    from deltalake.transaction import RemoveAction

    table_dir = lake.path / key
    convert_to_deltalake(
        str(staging),
        configuration=configuration if target is None else None,
        commit_properties=commit_properties,
    )
    if target is None:
        for name in names:
            os.replace(staging / name, table_dir / name)
        os.rename(staging / "_delta_log", table_dir / "_delta_log")  # fails if one appeared
        return True
    staged = DeltaTable(str(staging))
    if staged.schema().to_json() != target.schema().to_json():
        return False  # schema evolution: delta-rs's writer
    adds = _add_actions(staging)
    now_ms = int(time.time() * 1000)
    gone = [RemoveAction(path=p, data_change=True, deletion_timestamp=now_ms) for p in removes]
    for name in names:
        os.replace(staging / name, table_dir / name)
    try:
        target.create_write_transaction(
            [*adds, *gone],
            mode="append",
            schema=target.schema(),
            commit_properties=commit_properties,
        )
    except CommitFailedError:
        if not removes:
            raise
        for name in names:  # another commit came first: the files no commit names go
            (table_dir / name).unlink(missing_ok=True)
        return False
    return True


def _add_actions(staging: Path) -> list:
    """The add actions of the staged table's one commit, as delta-rs wrote them."""
    from deltalake.transaction import AddAction

    adds = []
    log = staging / "_delta_log" / f"{0:020d}.json"
    for line in log.read_text().splitlines():
        add = json.loads(line).get("add") if line.strip() else None
        if add:
            adds.append(
                AddAction(
                    path=add["path"],
                    size=add["size"],
                    partition_values={},
                    modification_time=add["modificationTime"],
                    data_change=True,
                    stats=add["stats"],
                )
            )
    return adds


def _remove_stale(folder: Path) -> None:
    """Remove staging folders a crashed write left more than ``STALE_S`` ago."""
    if not folder.is_dir():
        return
    cutoff = time.time() - STALE_S
    for entry in folder.iterdir():
        try:
            if entry.stat().st_mtime < cutoff:
                shutil.rmtree(entry, ignore_errors=True)
        except FileNotFoundError:
            continue


def _remove_if_empty(folder: Path) -> None:
    try:
        folder.rmdir()
    except OSError:
        pass
