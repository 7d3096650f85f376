"""The replicator's durable state, stored in the lake at ``_state/replication/<task>.json``.

Contract (what makes replication exactly-once):
- ``full_load_done``: the snapshot copy finished; ``consistent_lsn`` is the slot's consistent
  point, where change data capture starts.
- ``checkpoint_lsn``: end LSN of the last transaction whose changes are in durable raw files.
  The slot is confirmed up to this LSN only after this state is written.
- ``pending``: the batch being written (its end LSN and files). After a crash, a restart
  replays from ``checkpoint_lsn`` and cuts its first batch exactly at ``pending.end_lsn``, so the
  same files are written again with the same names and content (never a gap, never a double).
- ``last_name_ms``: the timestamp (ms) used in the last CDC file name; the next name is strictly
  later, so two batches never share a name even within one millisecond.
- ``load_ts``, ``load_progress``: a full load under way (its rows' timestamp; per table the
  files written, the last key copied, a file being written, whether it is done): a crash
  resumes it after the last durable file (``replication.full_load``).
- ``resync``: tables (``schema.table``) to copy again at the next run (``replication.resync``).
- ``resync_progress``: per table, a chunked resync under way (``replication.table_resync``): its
  staged files, the last key copied, a file being written, whether every chunk is staged.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field

from lakehouse.storage import Lake


@dataclass
class PendingBatch:
    end_lsn: int
    name_ms: int
    files: list[str]


@dataclass
class ReplicationState:
    task: str
    slot: str
    full_load_done: bool = False
    consistent_lsn: int = 0
    checkpoint_lsn: int = 0
    last_name_ms: int = 0
    load_files: dict[str, list[str]] = field(default_factory=dict)
    pending: PendingBatch | None = None
    cdc_files_written: int = 0
    resync: list[str] = field(default_factory=list)
    load_ts: str = ""
    load_progress: dict[str, dict] = field(default_factory=dict)
    resync_progress: dict[str, dict] = field(default_factory=dict)

    @staticmethod
    def key(task: str) -> str:
        return f"_state/replication/{task}.json"

    @classmethod
    def load(cls, lake: Lake, task: str, slot: str) -> ReplicationState:
        key = cls.key(task)
        if not lake.exists(key):
            return cls(task=task, slot=slot)
        data = json.loads(lake.read_text(key))
        pending = data.pop("pending", None)
        state = cls(**data)
        state.pending = PendingBatch(**pending) if pending else None
        return state

    def save(self, lake: Lake) -> None:
        lake.write_text(self.key(self.task), json.dumps(asdict(self), indent=1, sort_keys=True))
