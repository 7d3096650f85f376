"""The instance's storage: Dagster's SQLite storage, its connections kept and committing without
an fsync per event.

Dagster's SQLite storages open a new engine and connection for each event of a run (a step's
start, output, materialization, check, log line), in WAL mode with SQLite's default
``synchronous=FULL``: per event a ``create_engine``, a connect, an fsync at the commit and a
checkpoint at the close (the last connection to a WAL database checkpoints it). A 31-step run
of no-op assets: 1.8 s, ~8 ms per event; with ``SqliteStorage`` 0.55 s.

``SqliteStorage`` is Dagster's three SQLite storages on the same files, in the same layout under
``base_dir`` (the ``DAGSTER_HOME``: ``history/runs.db``, ``history/runs/``, ``schedules/``),
with two changes:

- one engine per database file whose pool keeps its connections (per process, the
  ``ENGINES`` files used last; a run writes its own event file and the index);
- each connection runs ``PRAGMA synchronous=NORMAL`` once, SQLite's recommended setting for
  WAL: a commit is durable across a crash of any process (it is in the WAL, in the OS's cache);
  a power loss or kernel crash may roll back the last commits, never corrupt a database.

That is the trade for a local instance. One that must survive power loss uses Dagster's Postgres
storage (``storage: postgres:`` in its dagster.yaml, which ``runs.dagster_yaml`` keeps). The
storages override only the methods their SQL base classes open connections with (``connect``;
``run_connection``/``index_connection``); ``runs.compat.STORAGE`` lists what they use.
"""

from __future__ import annotations

import os
import threading
from collections import OrderedDict
from contextlib import contextmanager

from dagster._core.storage.base_storage import DagsterStorage
from dagster._core.storage.event_log import SqliteEventLogStorage
from dagster._core.storage.event_log.sqlite.sqlite_event_log import INDEX_SHARD_NAME
from dagster._core.storage.runs import SqliteRunStorage
from dagster._core.storage.schedules import SqliteScheduleStorage
from dagster._core.storage.sqlite import SQLITE_BUSY_TIMEOUT_SECONDS
from dagster._serdes import ConfigurableClass

PRAGMA = "PRAGMA synchronous=NORMAL"
#: database files whose engine a process keeps
ENGINES = 16


def _normal_sync(dbapi_connection, _record) -> None:
    dbapi_connection.execute(PRAGMA)


class Engines:
    """One pooled engine per SQLite URL; the ``size`` used last are kept, the others disposed."""

    def __init__(self, size: int = ENGINES) -> None:
        self._size = size
        self._engines: OrderedDict = OrderedDict()
        self._lock = threading.Lock()

    def get(self, url: str):
        from sqlalchemy import create_engine, event

        with self._lock:
            engine = self._engines.pop(url, None)
            if engine is None:
                engine = create_engine(
                    url, pool_use_lifo=True, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_SECONDS}
                )
                event.listen(engine, "connect", _normal_sync)
            self._engines[url] = engine
            while len(self._engines) > self._size:
                self._engines.popitem(last=False)[1].dispose()
            return engine

    @contextmanager
    def transaction(self, url: str):
        """A connection to ``url`` in a transaction, as Dagster's own ``connect`` yields one."""
        with self.get(url).connect() as conn, conn.begin():
            yield conn

    def dispose(self) -> None:
        with self._lock:
            while self._engines:
                self._engines.popitem()[1].dispose()


class _Kept:
    """A run or schedule storage whose ``connect`` is from a kept engine (module doc)."""

    def __init__(self, conn_string: str, inst_data=None) -> None:
        self._url, self._pool = conn_string, Engines()  # before Dagster's, which connects
        super().__init__(conn_string, inst_data)

    def connect(self):
        return self._pool.transaction(self._url)

    def dispose(self) -> None:
        self._pool.dispose()
        super().dispose()


class _RunStorage(_Kept, SqliteRunStorage):
    pass


class _ScheduleStorage(_Kept, SqliteScheduleStorage):
    pass


class _EventLogStorage(SqliteEventLogStorage):
    """Per shard (a run's id, or the index), the first connection is Dagster's own, which creates
    and migrates the shard's database; the next ones are the pool's, one thread at a time (as
    Dagster's). A run's file is touched after each write: Dagster's watcher of a run's events
    (the UI's live run log) watches the ``.db`` file, which a kept connection's commits leave
    alone (they go to the WAL, and no close checkpoints it)."""

    def __init__(self, base_dir: str, inst_data=None) -> None:
        self._pool, self._ready, self._one = Engines(), set(), threading.Lock()
        super().__init__(base_dir, inst_data)

    @contextmanager
    def _shard(self, shard, dagsters):
        if shard is None or shard not in self._ready:
            with dagsters() as conn:  # a None shard: Dagster's error
                yield conn
            self._ready.add(shard)
            return
        with self._one, self._pool.transaction(self.conn_string_for_shard(shard)) as conn:
            written = conn.connection.dbapi_connection.total_changes
            yield conn
            written = conn.connection.dbapi_connection.total_changes != written
        if written and shard != INDEX_SHARD_NAME:
            os.utime(self.path_for_shard(shard))  # for Dagster's watcher (the class doc)

    def run_connection(self, run_id: str | None = None):
        return self._shard(run_id, lambda: super(_EventLogStorage, self).run_connection(run_id))

    def index_connection(self):
        return self._shard(INDEX_SHARD_NAME, super().index_connection)

    def claim_concurrency_slot(
        self, concurrency_key: str, run_id: str, step_key: str, priority: int | None = None
    ):
        """Dagster's claim, then one that a slot freed while the step was queued can still serve.

        Dagster checks for a free slot, then queues the step unassigned: two transactions. A slot
        freed in between is offered to the queue before the step is in it, and the step waits
        for the next freed slot, for good if none comes (two runs of one table: seen blocked
        "by limit for pool" after the other run ended). The step's executor claims again every
        few seconds; an unassigned claim beside a free slot assigns the queue's next step
        (Dagster's ``assign_pending_steps``: priority, then age) and checks again."""
        status = super().claim_concurrency_slot(concurrency_key, run_id, step_key, priority)
        if status.is_assigned or not self.has_unassigned_slots(concurrency_key):
            return status
        self.assign_pending_steps([concurrency_key])
        return super().claim_concurrency_slot(concurrency_key, run_id, step_key, priority)

    def wipe(self) -> None:
        self._pool.dispose()  # Dagster's wipe deletes the run files
        self._ready.clear()
        super().wipe()

    def dispose(self) -> None:
        self._pool.dispose()
        super().dispose()


class SqliteStorage(DagsterStorage, ConfigurableClass):
    """Dagster's SQLite storage with its connections kept and no fsync per commit (module doc).
    dagster.yaml: ``storage: {custom: {module: lakehouse.runs.storage, class: SqliteStorage,
    config: {base_dir: {env: DAGSTER_HOME}}}}``."""

    def __init__(self, base_dir: str, inst_data=None) -> None:
        self.base_dir = base_dir
        self._data = inst_data
        self._runs = _RunStorage.from_local(os.path.join(base_dir, "history"))
        self._events = _EventLogStorage(os.path.join(base_dir, "history", "runs"))
        self._schedules = _ScheduleStorage.from_local(os.path.join(base_dir, "schedules"))
        super().__init__()

    @property
    def inst_data(self):
        return self._data

    @classmethod
    def config_type(cls):
        from dagster import StringSource

        return {"base_dir": StringSource}

    @classmethod
    def from_config_value(cls, inst_data, config_value):
        return cls(inst_data=inst_data, **config_value)

    def register_instance(self, instance) -> None:
        super().register_instance(instance)
        for storage in (self._runs, self._events, self._schedules):
            if not storage.has_instance:
                storage.register_instance(instance)

    @property
    def run_storage(self):
        return self._runs

    @property
    def event_log_storage(self):
        return self._events

    @property
    def schedule_storage(self):
        return self._schedules

    def dispose(self) -> None:
        for storage in (self._events, self._runs, self._schedules):
            storage.dispose()
