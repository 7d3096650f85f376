"""Source tables a replication task captured without a declaration (``new_tables: capture``).

Contract: one JSON object per task in the lake at ``_state/replication/<task>.captured.json``,
``{"schema.table": {"schema", "name", "primary_key", "columns": [{"name", "type",
"nullable"}]}}``, written by the replicator when a source table its include rules match joins
the task (``record``); the declarations read it back (``read``) and add each table not declared
as ``lakehouse discover`` would declare it, until the declaration names it itself. ``lake`` is
any object with ``exists``, ``read_text`` and ``write_text`` (``lakehouse.storage.Lake``).
"""

from __future__ import annotations

import json

from lakehouse.registry.model import TableSpec


def key(task: str) -> str:
    return f"_state/replication/{task}.captured.json"


def as_record(spec: TableSpec) -> dict:
    """What is kept of a captured table: its source name, key and columns."""
    return {
        "schema": spec.schema,
        "name": spec.source_table,
        "primary_key": list(spec.primary_key),
        "columns": [{"name": c.name, "type": c.type, "nullable": c.nullable} for c in spec.columns],
    }


def claim(lake, task: str, name: str) -> bool:
    """Claim the lake table name ``name`` for ``task`` (``_state/replication/claims/<name>``):
    True when it is the task's (claimed now or before), False when another task has it. Two
    tasks over one database whose rules both match a new table: the first to claim captures it,
    the other reports it. Atomic on a local lake (exclusive create); elsewhere check-then-write."""
    import os

    key = f"_state/replication/claims/{name}"
    path = getattr(lake, "_p", None)
    if path is None:
        if lake.exists(key):
            return lake.read_text(key) == task
        lake.write_text(key, task)
        return True
    target = path(key)
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(target, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
    except FileExistsError:
        return target.read_text() == task
    with os.fdopen(fd, "w") as f:
        f.write(task)
    return True


def read(lake, task: str) -> dict[str, dict]:
    """The task's captured tables by ``schema.table`` ({} when it captured none)."""
    k = key(task)
    return json.loads(lake.read_text(k)) if lake.exists(k) else {}


def record(lake, task: str, specs: list[TableSpec]) -> dict[str, dict]:
    """Add ``specs`` to the task's captured tables (a table captured again is replaced)."""
    captured = read(lake, task)
    captured.update({s.qualified_name: as_record(s) for s in specs})
    lake.write_text(key(task), json.dumps(captured, indent=1, sort_keys=True))
    return captured
