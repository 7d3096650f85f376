"""What a quarantine entry is, on every engine: its columns and its identity.

``quarantine/<table>`` (Delta, append-only) holds ``COLUMNS`` (name → logical type) then
``_quarantined_at`` (UTC timestamp): ``_stage`` (bronze: parsing/casting; silver: registry
rules), ``_source_file``, ``_source_row`` (1-based record in the file; null for a whole file),
``_column``, ``_reason``, ``_raw``. An entry equal to a recorded one on ``IDENTITY`` (nulls
equal) is the same entry and is not written again: each engine appends only the entries not
yet recorded (``engine.quarantine.write_quarantine``, ``engine.spark.quarantine``), so a run
that dies between its quarantine append and its own commit records them once when re-run.
"""

from __future__ import annotations

#: the entry's columns and logical types (``_quarantined_at`` follows)
COLUMNS = {
    "_stage": "string",
    "_source_file": "string",
    "_source_row": "int64",
    "_column": "string",
    "_reason": "string",
    "_raw": "string",
}

#: what identifies an entry: an entry equal on these is already recorded
IDENTITY = ("_stage", "_source_file", "_source_row", "_column", "_reason")

STAGES = ("bronze", "silver")
