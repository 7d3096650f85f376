"""The total order of changes and the resolution of a change batch (shared by SCD1 and SCD2).

Order (as Databricks APPLY CHANGES / Hudi's DMS payload): commit timestamp, then change
sequence (DMS ``$AR_H_CHANGE_SEQ``: LSN + position), then file kind (full load before CDC),
then file (a DMS file by its name's order — load counter, CDC ``yyyymmdd-hhmmssfff`` — its
folders, such as date partitions in any order, only breaking ties; any other file by its key),
then row position. A row without a commit timestamp (a CSV drop, DMS files
without ``TimestampColumnName``) is placed at its bronze ingestion (``_ingested_at``): a file
that arrives later is newer (a re-dropped, corrected CSV file; a DMS table reload rewriting its
LOAD files), files ingested together keep the rest of the order. ``sequence_expr`` packs it into one fixed-width, text-sortable
``_sequence`` string so a MERGE can compare it in one predicate; nulls sort first.

``explode_key_changes`` turns a primary-key update (``U`` whose ``_before_key`` differs from
its key) into a delete of the old key plus the update of the new key, at the same sequence; a
before-image that does not cast to the key's type is no key change.
``last_per_key`` keeps the latest change per key (a MERGE source must hold one row per key).

A change's *identity* (``change_id_expr``) is its position without the file: for a CDC change
with a change sequence, its commit timestamp and change sequence. DMS change sequences are unique
per change, so a change delivered again in another file (a DMS task restarted from an older
checkpoint re-sends changes under new file names) is the same change: it sorts after the
original (greater file name) but is not newer than it. Rows without a change sequence (full-load
rows, CDC files without the change-sequence column) are identified by their whole ``_sequence``.
``unique_changes`` keeps one row per key and identity (the first in the order).

The text layout itself, and its plain-Python counterparts (``sequence_text``,
``sequence_commit_ts``), are ``engine.core.order``'s.
"""

from __future__ import annotations

import polars as pl

from lakehouse.engine.core.order import (
    DMS_KINDS,
    DMS_NAME_PATTERN,
    FILE_TOKEN_SEP,
    NULL_SEQ,
    NULL_TS,
    SEQUENCE,
)
from lakehouse.registry.casting import cast_to_registry
from lakehouse.registry.model import TableSpec


def _tokened(files: pl.Series) -> pl.Series:
    """Each source file as ``<token>:<file>`` when its name is a DMS file's, else null (the
    pattern runs once per distinct file: a batch holds few files and many rows)."""
    distinct = files.unique().drop_nulls()
    load, day, time = (distinct.str.extract(DMS_NAME_PATTERN, i) for i in (1, 2, 3))
    token = pl.when(load.is_not_null()).then(load).otherwise(day + "-" + time.str.pad_end(10, "0"))
    tokened = pl.select(token + FILE_TOKEN_SEP + distinct).to_series()
    return files.replace_strict(distinct, tokened, default=None, return_dtype=pl.String)


def file_order_expr() -> pl.Expr:
    """``<file>`` of ``_sequence`` (``engine.core.order.file_order``): a DMS file's (kind
    ``load``/``cdc``, a DMS name) name token, ``:`` and its source file; else the source file."""
    both = pl.struct(pl.col("_file_kind"), pl.col("_source_file"))
    return both.map_batches(_file_order, return_dtype=pl.String, is_elementwise=True)


def _file_order(both: pl.Series) -> pl.Series:
    """``file_order_expr`` on a batch: a batch without DMS files (CSV drops) as it is."""
    kinds, files = both.struct.field("_file_kind"), both.struct.field("_source_file")
    dms = kinds.is_in(DMS_KINDS).fill_null(False)
    if not dms.any():
        return files
    tokened = _tokened(files)
    return (
        pl.select(pl.when(dms & tokened.is_not_null()).then(tokened).otherwise(files))
        .to_series()
        .alias("_source_file")
    )


_TS_TEXT = "%Y-%m-%dT%H:%M:%S%.6f"


def _instant_text(when: pl.Series) -> pl.Series:
    """``when`` as ``_TS_TEXT``; formatted once per distinct instant where they repeat (a file's
    ingestion time, a transaction's commit time: formatting costs ten times a lookup)."""
    distinct = when.unique()
    if len(distinct) * 4 >= len(when):  # (an empty batch too)
        return when.dt.strftime(_TS_TEXT)
    return when.replace_strict(distinct, distinct.dt.strftime(_TS_TEXT), return_dtype=pl.String)


def sequence_expr() -> pl.Expr:
    when = pl.coalesce(pl.col("_commit_ts"), pl.col("_ingested_at"))  # arrival, when unknown
    ts = when.map_batches(_instant_text, return_dtype=pl.String, is_elementwise=True)
    ts = ts.fill_null(NULL_TS)
    seq = pl.col("_change_seq").fill_null(NULL_SEQ).str.pad_start(35, "0")
    rank = pl.when(pl.col("_file_kind") == "cdc").then(pl.lit("1")).otherwise(pl.lit("0"))
    row = pl.col("_source_row").fill_null(0).cast(pl.String).str.pad_start(12, "0")
    return pl.concat_str([ts, seq, rank, file_order_expr(), row], separator="|").alias(SEQUENCE)


#: where the fixed layout puts its separators: after the commit timestamp and after a change
#: sequence of 35 characters (DMS's width, to which shorter ones are padded), and the width of
#: the identity then (timestamp | change sequence | rank)
_SEPARATORS = (len(NULL_TS), len(NULL_TS) + 1 + len(NULL_SEQ))
_ID_WIDTH = _SEPARATORS[1] + 2


def fixed_layout(frame: pl.DataFrame, column: str = SEQUENCE) -> bool:
    """Whether every ``_sequence`` in ``column`` has the fixed layout (a commit timestamp of 26
    characters, a change sequence of 35 at most), where ``change_id_expr(fixed=True)`` finds
    the identity by position."""
    seq = frame.get_column(column)
    return bool(
        seq.null_count() == 0 and all((seq.str.slice(at, 1) == "|").all() for at in _SEPARATORS)
    )


def change_id_expr(column: str = SEQUENCE, *, fixed: bool = False) -> pl.Expr:
    """The identity of the change whose ``_sequence`` is in ``column`` (module docstring):
    ``<commit ts>|<change seq>|1`` for a CDC change with a change sequence, else the whole
    ``_sequence``. ``fixed``: every value has the fixed layout (``fixed_layout``), so the
    identity is found by position (~5x faster than splitting)."""
    if fixed:
        col, at = pl.col(column), _SEPARATORS[0] + 1
        by_seq = (col.str.slice(_ID_WIDTH - 1, 2) == "1|") & (
            col.str.slice(at, len(NULL_SEQ)) != NULL_SEQ
        )
        return pl.when(by_seq).then(col.str.slice(0, _ID_WIDTH)).otherwise(col)
    parts = pl.col(column).str.splitn("|", 4)
    ts, seq, rank = (parts.struct.field(f"field_{i}") for i in range(3))
    head = pl.concat_str([ts, seq, rank], separator="|")
    by_seq = (rank == "1") & (seq != NULL_SEQ) & parts.struct.field("field_3").is_not_null()
    return pl.when(by_seq).then(head).otherwise(pl.col(column))


#: SQL (MERGE source ``s``, target ``t``) true when ``t``'s stored ``_sequence`` is the same change
#: as ``s``: equal, or ``s`` is identified by its change sequence and ``t._sequence`` starts with
#: ``s``'s identity and ``|`` (``same_change_bounds`` gives ``s`` those bounds)
SAME_CHANGE_SQL = (
    f"(t.{SEQUENCE} = s.{SEQUENCE} OR (t.{SEQUENCE} >= s.__same_lo AND t.{SEQUENCE} < s.__same_hi))"
)


def same_change_bounds() -> list[pl.Expr]:
    """``__same_lo`` and ``__same_hi`` for ``SAME_CHANGE_SQL``: the ``_sequence`` values starting
    with the row's identity and ``|`` (``}`` follows ``|``), or an empty range when the row is
    identified by its whole ``_sequence``."""
    ident = change_id_expr()
    by_seq = ident != pl.col(SEQUENCE)
    return [
        pl.when(by_seq).then(ident + "|").otherwise(pl.lit("")).alias("__same_lo"),
        pl.when(by_seq).then(ident + "}").otherwise(pl.lit("")).alias("__same_hi"),
    ]


#: SQL (MERGE source ``s``, target ``t``) true when ``s`` is newer than the change stored in
#: ``t`` and not that change delivered again: ``s._sequence > t._sequence AND NOT
#: SAME_CHANGE_SQL`` as one comparison (``newer_bound`` gives ``s`` the bound)
NEWER_SQL = f"t.{SEQUENCE} < s.__newer_than"


def newer_bound(fixed: bool = False) -> pl.Expr:
    """``__newer_than`` for ``NEWER_SQL``: the row's identity and ``|`` when it is identified by
    its change sequence, else its whole ``_sequence``. Equivalence: every ``_sequence`` of the
    same change starts with identity + ``|``, and a string at or above that bound and below
    ``_sequence`` starts with it too (``_sequence`` does), so "below ``_sequence`` and not in
    [identity + ``|``, identity + ``}``)" is "below identity + ``|``". ``fixed``: as for
    ``change_id_expr``."""
    ident = change_id_expr(fixed=fixed)
    by_seq = ident != pl.col(SEQUENCE)
    return pl.when(by_seq).then(ident + "|").otherwise(pl.col(SEQUENCE)).alias("__newer_than")


def with_sequence(changes: pl.DataFrame) -> pl.DataFrame:
    return changes.with_columns(sequence_expr())


def explode_key_changes(changes: pl.DataFrame, spec: TableSpec) -> pl.DataFrame:
    """Split primary-key updates into (delete old key, update new key); see module docstring."""
    keys = list(spec.primary_key)
    if (
        not keys
        or "_before_key" not in changes.columns
        or changes["_before_key"].null_count() == changes.height
    ):
        return changes
    old = changes.select(
        pl.col("_before_key").str.json_decode(pl.Struct({k: pl.String for k in keys})).alias("__bk")
    ).unnest("__bk")
    # a before-image that does not cast (bronze quarantines those; older bronze may hold some)
    # is no key change: keep one row per change, null where the cast failed
    cast, _ = cast_to_registry(old, [spec.column(k) for k in keys])
    old_typed = (
        pl.DataFrame({"__row": pl.int_range(1, changes.height + 1, eager=True)})
        .join(cast, on="__row", how="left", maintain_order="left")
        .select(keys)
    )
    moved = pl.any_horizontal(
        [old_typed[k].is_not_null() & (old_typed[k] != changes[k]) for k in keys]
    ) & (changes["_op"] == "U")
    moved = pl.select(moved.fill_null(False)).to_series()
    if not moved.any():
        return changes
    deletes = (
        changes.filter(moved)
        .with_columns([old_typed.filter(moved)[k].alias(k) for k in keys])
        .with_columns(pl.lit("D").alias("_op"))
    )
    nulls = [c for c in changes.columns if c not in keys and not c.startswith("_")]
    deletes = deletes.with_columns([pl.lit(None, changes.schema[c]).alias(c) for c in nulls])
    return pl.concat([changes, deletes], how="vertical")


def one_per_key(changes: pl.DataFrame, spec: TableSpec) -> bool:
    """Whether every key has one change in ``changes`` (a hash check, no sort): then
    ``unique_changes`` and ``last_per_key`` have nothing to drop (a full load's first batch)."""
    keys = list(spec.primary_key)
    if len(keys) == 1:  # a count of distinct values: ~20x cheaper than marking duplicates
        return changes[keys[0]].n_unique() == changes.height
    return bool(keys) and not changes.select(keys).is_duplicated().any()


def unique_changes(changes: pl.DataFrame, spec: TableSpec) -> pl.DataFrame:
    """One row per key and change identity (the first in the order), sorted by ``_sequence``
    (unless every key has one change: then as given — no caller needs the order then):
    a change delivered again under another file name counts once."""
    if changes.height and one_per_key(changes, spec):
        return changes
    ordered = changes.sort(SEQUENCE)
    if not spec.primary_key or ordered.height == 0:
        return ordered
    keys = list(spec.primary_key)

    def first(sub: pl.DataFrame) -> pl.Series:
        change_id = change_id_expr(fixed=fixed_layout(sub))
        return sub.select(pl.struct(*keys, change_id).is_first_distinct()).to_series()

    return _kept(ordered, keys, first)


def last_per_key(changes: pl.DataFrame, spec: TableSpec) -> pl.DataFrame:
    """One row per key: the change with the greatest ``_sequence``."""
    if changes.height and one_per_key(changes, spec):
        return changes
    keys = list(spec.primary_key)
    if not keys:
        return changes.sort(SEQUENCE).unique(subset=keys, keep="last", maintain_order=True)
    return _kept(
        changes.sort(SEQUENCE),
        keys,
        lambda sub: sub.select(pl.struct(keys).is_last_distinct()).to_series(),
    )


def _kept(ordered: pl.DataFrame, keys: list[str], pick) -> pl.DataFrame:
    """``ordered`` without the rows ``pick`` drops among the rows of a key that has several
    (``pick(sub)``: a mask of the rows of ``sub`` to keep), in order. Only those rows are hashed
    with their identities: most keys of a batch have one change."""
    repeated = (
        ordered.get_column(keys[0]).is_duplicated()
        if len(keys) == 1
        else ordered.select(keys).is_duplicated()
    )
    if not repeated.any():
        return ordered
    at = repeated.arg_true()
    keep = (~repeated).scatter(at, pick(ordered.filter(repeated)))
    return ordered.filter(keep)
