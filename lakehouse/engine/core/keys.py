"""Where a table's Delta tables live in the lake, by table name (a registry table's ``name``,
an event source's ``table``).

Contract: ``bronze/<table>`` (the change log), ``silver/<table>`` (current state),
``silver/<table>_history`` (SCD2 versions), ``_state/tombstones/<table>`` (deletes: key +
``_sequence``), ``quarantine/<table>`` (rows set aside). The same keys on every engine: the
Spark engine resolves them against its zone roots (``spark.tables.LakeLocations``).
``BRONZE_VERSION_KEY`` names the bronze version a silver commit has applied.
"""

from __future__ import annotations

#: silver commit metadata: the bronze version a commit has applied (the next run reads after it)
BRONZE_VERSION_KEY = "lakehouse.bronze_version"


def bronze_key(table: str) -> str:
    return f"bronze/{table}"


def silver_key(table: str) -> str:
    return f"silver/{table}"


def history_key(table: str) -> str:
    return f"silver/{table}_history"


def tombstone_key(table: str) -> str:
    return f"_state/tombstones/{table}"


def quarantine_key(table: str) -> str:
    return f"quarantine/{table}"
