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

A text column whose rows now come typed (``typed_from_text``: a column added at the source
reached the lake as text, then was declared with its type) is rewritten the same way, its
values cast by the registry's rules (``registry.casting``); a value that does not cast stops the
rewrite with a ``SchemaChangeError`` naming the table, the column, the value and the fix. A
typed column whose rows now come as text (``text_from_typed``: its declaration changed to
``string``, e.g. a zip code first taken for a number) becomes text, each value its text form
(what the typed cast dropped, such as leading zeros, is not restored: a resync or a new drop
brings it back); before, delta-rs cast the new text into the old type, silently.
"""

from __future__ import annotations

import json

import polars as pl
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
        if f.name in current.names and widens_in_lake(current.field(f.name).type, f.type)
    ]
    if not changed:
        return []
    from deltalake import CommitProperties, write_deltalake

    table = dt.to_pyarrow_table()
    for name in changed:
        old, new = current.field(name).type, incoming.field(name).type
        if typed_from_text(old, new):
            table = _cast_text(table, name, new, key)
        elif text_from_typed(old, new):
            text = pl.from_arrow(table.select([name])).get_column(name).cast(pl.String)
            table = table.set_column(
                table.schema.get_field_index(name), name, text.to_arrow().cast(new)
            )
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


def widens_in_lake(old: pa.DataType, new: pa.DataType) -> bool:
    """Whether a lake column of type ``old`` is rewritten for rows of type ``new``: wider
    (``registry.types.wider``), typed where it was text (``typed_from_text``), or text where
    it was typed (``text_from_typed``)."""
    return wider(old, new) or typed_from_text(old, new) or text_from_typed(old, new)


def text_from_typed(old: pa.DataType, new: pa.DataType) -> bool:
    """A registry type in the lake, text now: a column declared ``string`` after it landed."""
    return _is_text(new) and not _is_text(old) and _logical(old) is not None


def typed_from_text(old: pa.DataType, new: pa.DataType) -> bool:
    """Text in the lake, a registry type now: a column that arrived before it was declared."""
    return _is_text(old) and not _is_text(new) and _logical(new) is not None


def _is_text(t: pa.DataType) -> bool:
    return pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_string_view(t)


def _logical(t: pa.DataType) -> str | None:
    """The registry type stored as the Arrow type ``t`` (None: none the text cast gives)."""
    if pa.types.is_decimal(t):
        return f"decimal({t.precision},{t.scale})"
    if pa.types.is_timestamp(t):
        return "timestamptz" if t.tz else "timestamp"
    plain = {pa.int16(): "smallint", pa.int32(): "int", pa.int64(): "bigint",
             pa.float32(): "real", pa.float64(): "double", pa.bool_(): "bool",
             pa.date32(): "date", pa.binary(): "bytes", pa.large_binary(): "bytes"}  # fmt: skip
    return plain.get(t)


def _cast_text(table: pa.Table, name: str, to: pa.DataType, key: str) -> pa.Table:
    """``table`` with its text column ``name`` cast to ``to`` by the registry's rules."""
    from lakehouse.engine.core.results import SchemaChangeError
    from lakehouse.registry.casting import cast_to_registry
    from lakehouse.registry.model import Column

    text = pl.from_arrow(table.select([name])).with_columns(pl.col(name).cast(pl.String))
    typed, rejects = cast_to_registry(text, [Column(name, _logical(to))])
    if rejects.height:
        bad = rejects.row(0, named=True)
        raise SchemaChangeError(
            f"{key}: column {name!r} holds text that is not a {_logical(to)} "
            f"({bad['__reason']}) — fix: declare it as text again, or correct the value at the"
            " source and resync the table (lakehouse resync --table)"
        )
    column = typed.get_column(name).to_arrow().cast(to)
    return table.set_column(table.schema.get_field_index(name), name, column)
