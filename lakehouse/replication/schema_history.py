"""Each captured table's source schema changes against its declaration, kept in the lake.

Contract: ``_state/replication/<task>.schema_history.json`` holds ``{"schema.table": [{"at":
ISO-8601 UTC, "change": text}]}``, oldest first. ``record(lake, task, qname, changes)`` appends
the changes not recorded yet for that table and returns them (so a finding is reported once,
whatever the process or restart); ``read(lake, task)`` gives the whole history.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

from lakehouse.storage import Lake


def key(task: str) -> str:
    return f"_state/replication/{task}.schema_history.json"


def read(lake: Lake, task: str) -> dict[str, list[dict]]:
    k = key(task)
    return json.loads(lake.read_text(k)) if lake.exists(k) else {}


def record(lake: Lake, task: str, qname: str, changes: list[str]) -> list[str]:
    history = read(lake, task)
    known = {e["change"] for e in history.get(qname, [])}
    new = [c for c in dict.fromkeys(changes) if c not in known]
    if new:
        at = datetime.now(UTC).isoformat(timespec="seconds")
        history.setdefault(qname, []).extend({"at": at, "change": c} for c in new)
        lake.write_text(key(task), json.dumps(history, indent=1, sort_keys=True))
    return new
