"""A column type widened at the source, widened in the lake's Delta tables.

Contract: ``widen(lake, key, incoming)`` compares the Delta table at ``key`` with the Arrow
schema of the rows about to be written there; when ``incoming`` holds a wider type for one of
its columns (a larger integer, a decimal with more digits on both sides of the point, a
timestamp gaining its time zone: what ``ALTER COLUMN … TYPE`` does to int→bigint,
numeric(p,s)→numeric(p',s'), timestamp→timestamptz) the table is rewritten with the wider types,
its rows cast (none is lost: each old value fits), in one overwrite commit recording the
columns (``lakehouse.widened``). Returns the widened columns ([] when none, or no table). A
narrower or other change is left to the write (``silver_writes.check_types`` names it). Delta
has no in-place type change in delta-rs, hence the rewrite; a reader of the table's changes
sees its files replaced and reads it again (``increments``), which applying twice allows.
"""

from __future__ import annotations

import json

import pyarrow as pa

from lakehouse.engine.delta import open_table
from lakehouse.registry.types import wider
from lakehouse.storage import Lake


def widen(lake: Lake, key: str, incoming: pa.Schema) -> list[str]:
    dt = open_table(lake, key)
    if dt is None:
        return []
    current = pa.schema(dt.schema().to_arrow())
    changed = [
        f.name
        for f in incoming
        if f.name in current.names and wider(current.field(f.name).type, f.type)
    ]
    if not changed:
        return []
    from deltalake import CommitProperties, write_deltalake

    table = dt.to_pyarrow_table()
    target = pa.schema(
        [
            table.schema.field(n).with_type(incoming.field(n).type) if n in changed else f
            for n, f in zip(table.schema.names, table.schema, strict=True)
        ]
    )
    meta = dt.metadata()
    write_deltalake(
        lake.uri(key),
        table.cast(target),
        mode="overwrite",
        schema_mode="overwrite",
        partition_by=list(meta.partition_columns) or None,
        configuration=dict(meta.configuration) or None,
        storage_options=lake.storage_options,
        commit_properties=CommitProperties(
            custom_metadata={"lakehouse.widened": json.dumps(changed)}
        ),
    )
    return changed
