"""The SCD2 history's closing update, as the SQL both engines' MERGEs run (``engine.history``
on delta-rs, ``engine.spark.scd2`` on Delta Lake's Spark API).

A closer row ``s`` (one per key with new versions in the batch: ``__first_seq`` its first new
version's ``_sequence``, ``__close_at`` when that version begins; ``__lseq``/``__lcts``/``__lsf``
the lineage of a full-load row identical to the current version, else null) meets the key's
current version ``t``: ``CLOSE_CONDITION`` says whether it changes it, ``CLOSE_SET`` how — ended
by the key's first newer version, or handed the identical row's lineage.
"""

from __future__ import annotations

from lakehouse.engine.core.order import SEQUENCE

CLOSE_CONDITION = f"s.__first_seq > t.{SEQUENCE} OR s.__lseq IS NOT NULL"
CLOSE_SET = {
    "__end_at": f"CASE WHEN s.__first_seq > t.{SEQUENCE} THEN s.__close_at ELSE t.__end_at END",
    "__is_current": f"NOT (s.__first_seq > t.{SEQUENCE}) OR s.__first_seq IS NULL",
    SEQUENCE: f"COALESCE(s.__lseq, t.{SEQUENCE})",
    "_commit_ts": "COALESCE(s.__lcts, t._commit_ts)",
    "_source_file": "COALESCE(s.__lsf, t._source_file)",
}
