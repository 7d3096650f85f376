"""A silver table's keys against its source table's: lost keys, ghost keys, a checksum of each.

- ``source_keys(dsn, table, like)``: the source's key columns, read with one ``COPY`` as text
  (PostgreSQL's ``::text``) into Polars: no Python object per row. A column is parsed as
  ``Int64`` where silver's (``like``: silver's key frame) is an integer, else kept as text.
- ``lake_keys(frame, table)``: silver's key columns the same way (integers as they are, the
  others cast to text: Polars' text).
- ``compare(source, lake)``: ``Reconciled``: row counts, the keys missing in silver and the
  ghosts (each counted, and sampled: the smallest ``SAMPLE`` key texts, the columns' texts joined
  by ``|``), both checksums; it passes when both sides hold the same keys, each once. The
  checksum is the md5 of the sorted key texts, each followed by a newline: in SQL,
  ``md5(string_agg(k || E'\\n', '' ORDER BY k COLLATE "C"))``.

Its budget (``due``/``record``, state in ``_state/reconciliation/<table>.json``): a table whose
last reconciliation took ``CHEAP_S`` or more is reconciled again only after ``BUDGET`` times that
long, so the check takes at most about a tenth of the time of a table that runs constantly (a
10M-row table: once every ~80 s, not every run); a cheaper one is reconciled every time.

Memory and time are those of the key columns (a 10M-row bigint key: 8 s and 0.85 GiB, of which
PostgreSQL's COPY ~5 s), never a Python set of them.
"""

from __future__ import annotations

import hashlib
import io
import json
from dataclasses import dataclass

import polars as pl

from lakehouse.registry.model import TableSpec

SAMPLE = 10
#: a reconciliation that took less (seconds) is run every time
CHEAP_S = 1.0
#: otherwise the next one waits this many times as long as the last one took
BUDGET = 10


def _state_key(table: TableSpec) -> str:
    return f"_state/reconciliation/{table.name}.json"


def due(lake, table: TableSpec, now: float) -> tuple[bool, str]:
    """Whether ``table`` is to be reconciled at ``now`` (epoch seconds) under the budget, and
    why not (empty when due)."""
    key = _state_key(table)
    if not lake.exists(key):
        return True, ""
    last = json.loads(lake.read_text(key))
    at, took = float(last["at"]), float(last["seconds"])
    wait = BUDGET * took if took >= CHEAP_S else 0.0
    if now >= at + wait:
        return True, ""
    return False, (
        f"reconciled {now - at:.0f} s ago in {took:.1f} s; next after {wait:.0f} s"
        f" ({BUDGET}x its time)"
    )


def record(lake, table: TableSpec, at: float, seconds: float) -> None:
    """Remember a reconciliation of ``table`` that started at ``at`` and took ``seconds``."""
    lake.write_text(_state_key(table), json.dumps({"at": at, "seconds": seconds}))


@dataclass
class Reconciled:
    source_rows: int
    silver_rows: int
    source_checksum: str
    silver_checksum: str
    missing: int
    ghosts: int
    missing_sample: list[str]
    ghost_sample: list[str]

    @property
    def passed(self) -> bool:
        """The same keys, each once: a key silver repeats is a row too many."""
        return not self.missing and not self.ghosts and self.source_rows == self.silver_rows


def _typed(dtype: pl.DataType) -> pl.DataType:
    """How a key column is compared: integers as Int64, everything else as text."""
    return pl.Int64 if dtype.is_integer() else pl.String


def lake_keys(frame: pl.DataFrame, table: TableSpec) -> pl.DataFrame:
    """Silver's key columns of ``frame``, as compared (module doc)."""
    if not frame.width:  # no silver table yet: no keys
        return pl.DataFrame(schema=dict.fromkeys(table.primary_key, pl.String))
    return frame.select(pl.col(k).cast(_typed(frame.schema[k])) for k in table.primary_key)


def source_keys(dsn: str, table: TableSpec, like: pl.DataFrame) -> pl.DataFrame:
    """The key columns of the source table of ``table`` at ``dsn``, typed as ``like``'s
    (``lake_keys``) (module doc)."""
    import psycopg

    cols = ", ".join(f'"{k}"::text' for k in table.primary_key)
    sql = (
        f'copy (select {cols} from "{table.schema}"."{table.source_table}") to stdout (format csv)'
    )
    schema = {k: like.schema[k] for k in table.primary_key}
    buf = io.BytesIO()
    with psycopg.connect(dsn) as conn, conn.cursor().copy(sql) as copy:
        for data in copy:
            buf.write(data)
    if not buf.getbuffer().nbytes:
        return pl.DataFrame(schema=schema)
    buf.seek(0)
    return pl.read_csv(
        buf,  # read in place (``getvalue`` would copy every key's bytes once more)
        has_header=False,
        new_columns=list(schema),
        schema=schema,
        empty_string_is_null=False,  # a key is never NULL: an empty field is the empty text
    )


def texts(keys: pl.DataFrame) -> pl.Series:
    """Each key's text: its columns' texts joined by ``|``."""
    return keys.select(pl.concat_str([pl.col(c).cast(pl.String) for c in keys.columns],
                                     separator="|")).to_series()  # fmt: skip


def checksum(keys: pl.DataFrame) -> str:
    """md5 over the sorted key texts, each followed by a newline."""
    h = hashlib.md5()
    if keys.height:
        h.update(texts(keys).sort().str.join("\n").item().encode())
        h.update(b"\n")
    return h.hexdigest()


def _sample(keys: pl.DataFrame) -> list[str]:
    return texts(keys).sort().head(SAMPLE).to_list()


def compare(source: pl.DataFrame, lake: pl.DataFrame) -> Reconciled:
    """``source``'s keys are distinct (a primary key's); ``lake``'s may not be. When every source
    key is in silver and the counts are equal, silver holds exactly those keys: no ghosts, one
    checksum for both (the usual case costs one join and one sort)."""
    on = source.columns
    missing = source.join(lake, on=on, how="anti")
    same = not missing.height and source.height == lake.height
    ghosts = missing.clear() if same else lake.join(source, on=on, how="anti")
    source_checksum = checksum(source)
    return Reconciled(
        source_rows=source.height,
        silver_rows=lake.height,
        source_checksum=source_checksum,
        silver_checksum=source_checksum if same else checksum(lake),
        missing=missing.height,
        ghosts=ghosts.height,
        missing_sample=_sample(missing),
        ghost_sample=_sample(ghosts),
    )
