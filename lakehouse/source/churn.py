"""Churn on a seeded source database: a dataset's workload run in transactions, counted.

A workload (``Workload``: weighted operations, each a method taking a ``Tx``) belongs beside its
dataset (``lakehouse/datasets/<name>/workload.py``) and is named by the declaration's
``demo.workload`` (``module:Class``); a dataset that declares none cannot be churned
(``workload_class`` raises a ``DeclarationError`` saying so). ``apply_random_changes`` runs n
transactions as fast as possible, ``run_churn`` paces them at a rate for a duration.

Data contract:
- Work comes in multi-statement transactions of 2–6 *operations* (an operation is one business
  action: "place an order with its lines", "advance an order", "change a SKU", …; several
  statements each). Transaction number n (1-based) with ``n % 20 == 0`` is rolled back on purpose
  (5 %); an operation that fails unexpectedly aborts its transaction (counted in ``failed``).
- Rows are picked with a skew toward the newest (an exponential draw over the ~2,000 most recent
  keys of a table, mean ≈ 1/20 of them), so recent rows change much more than old ones.
- Primary-key updates (``pk_updates``), where no foreign key blocks them (which ones: the
  workload's module docstring).
- Deletes keep referential rules true (cascades are counted); totals stay consistent (each
  workload recomputes what its changes affect).
- ``ChurnStats`` counts *committed* row changes from each statement's rowcount (so they match the
  database): ``inserts``/``updates``/``deletes``/``pk_updates`` per table (a primary-key update is
  counted in ``pk_updates`` only). Hence, per table, ``inserts − deletes`` = the change of
  ``count(*)``. Updates by ``updated_at`` touch-ups after an insert in the same transaction count
  as updates (they are real UPDATE statements in the WAL).
"""

from __future__ import annotations

import random
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field

import psycopg

ROLLBACK_EVERY = 20
RECENT_KEYS = 2_000


@dataclass
class ChurnStats:
    """Committed row changes per table and transaction outcomes (see the module docstring)."""

    inserts: Counter = field(default_factory=Counter)
    updates: Counter = field(default_factory=Counter)
    deletes: Counter = field(default_factory=Counter)
    pk_updates: Counter = field(default_factory=Counter)
    transactions: int = 0  # committed
    rolled_back: int = 0  # deliberately rolled back
    failed: int = 0  # aborted by an unexpected error (and rolled back)
    errors: list = field(default_factory=list)  # the first few unexpected errors

    def merge(self, other: ChurnStats) -> None:
        for name in ("inserts", "updates", "deletes", "pk_updates"):
            getattr(self, name).update(getattr(other, name))

    @property
    def changes(self) -> int:
        """All committed row changes."""
        return sum(
            sum(c.values()) for c in (self.inserts, self.updates, self.deletes, self.pk_updates)
        )

    def net(self, table: str) -> int:
        """Committed ``inserts − deletes`` of ``table`` (= its change of ``count(*)``)."""
        return self.inserts[table] - self.deletes[table]


class Recent:
    """The newest keys of a table, oldest first; ``pick`` is skewed toward the end."""

    def __init__(self, keys: list) -> None:
        self.keys = list(keys)

    def pick(self, rng: random.Random, avoid: set | None = None):
        for _ in range(8):
            if not self.keys:
                return None
            back = int(rng.expovariate(1.0) * max(1.0, len(self.keys) / 20))
            key = self.keys[-1 - min(back, len(self.keys) - 1)]
            if not avoid or key not in avoid:
                return key
        return None

    def add(self, key) -> None:
        self.keys.append(key)

    def discard(self, key) -> None:
        if key in self.keys:
            self.keys.remove(key)

    def replace(self, old, new) -> None:
        if old in self.keys:
            self.keys[self.keys.index(old)] = new


class Tx:
    """One transaction's statements, row counts and deferred key-cache updates."""

    def __init__(self, conn: psycopg.Connection, rng: random.Random) -> None:
        self.conn = conn
        self.rng = rng
        self.stats = ChurnStats()
        self.gone: defaultdict[str, set] = defaultdict(set)  # table → keys deleted/renamed here
        self._on_commit: list = []

    def run(self, query: str, params=None, *, kind: str | None = None, table: str | None = None):
        cur = self.conn.execute(query, params)
        if kind:
            getattr(self.stats, kind)[table] += max(cur.rowcount, 0)
        return cur

    def one(self, query: str, params=None, **kw):
        row = self.run(query, params, **kw).fetchone()
        return row[0] if row else None

    def later(self, fn, *args) -> None:
        """Apply a key-cache change when (and only if) the transaction commits."""
        self._on_commit.append((fn, args))

    def commit_caches(self) -> None:
        for fn, args in self._on_commit:
            fn(*args)


def recent_keys(conn: psycopg.Connection, query: str) -> Recent:
    """Keys from ``query`` (newest first, at most RECENT_KEYS) as a ``Recent`` (oldest first)."""
    rows = conn.execute(f"{query} limit {RECENT_KEYS}").fetchall()
    return Recent([r[0] if len(r) == 1 else tuple(r) for r in reversed(rows)])


class Workload:
    """Weighted operations on one dataset; each operation is a method taking a ``Tx``."""

    OPS: tuple[tuple[str, int], ...] = ()

    def __init__(self, conn: psycopg.Connection, seed: int) -> None:
        from faker import Faker

        self.fake = Faker("en_US")
        self.fake.seed_instance(seed)
        self._names = [op for op, _ in self.OPS]
        self._weights = [w for _, w in self.OPS]

    def step(self, tx: Tx) -> None:
        getattr(self, tx.rng.choices(self._names, self._weights)[0])(tx)


# --- driver --------------------------------------------------------------------------------------


def workload_class(dataset: str) -> type[Workload]:
    """The churn workload of a dataset with demo data: its declaration's ``demo.workload``
    (``module:Class``); a ``DeclarationError`` when it declares none."""
    import importlib

    from lakehouse.declarations import DeclarationError
    from lakehouse.source.seed import _demo

    decl = _demo(dataset)
    if decl.decl.demo.workload is None:
        raise DeclarationError(
            [f"{decl.path}: demo: dataset {dataset!r} declares no churn workload — fix: add"
             " demo.workload: module:Class (a lakehouse.source.churn.Workload) to its defs.yaml,"
             " or churn another dataset"]
        )  # fmt: skip
    module, _, name = decl.decl.demo.workload.partition(":")
    return getattr(importlib.import_module(module), name)


class _Runner:
    def __init__(self, dsn: str, dataset: str, seed: int) -> None:
        workload = workload_class(dataset)  # validates the name
        self.conn = psycopg.connect(dsn)
        self.rng = random.Random(seed)
        self.workload = workload(self.conn, seed)
        self.conn.commit()
        self.stats = ChurnStats()
        self.number = 0

    def transaction(self) -> int:
        """Run one transaction; return its attempted row changes."""
        self.number += 1
        tx = Tx(self.conn, self.rng)
        try:
            for _ in range(self.rng.randint(2, 6)):
                self.workload.step(tx)
        except psycopg.Error as exc:
            self.conn.rollback()
            self.stats.failed += 1
            if len(self.stats.errors) < 10:
                self.stats.errors.append(f"{type(exc).__name__}: {exc}")
            return tx.stats.changes
        if self.number % ROLLBACK_EVERY == 0:
            self.conn.rollback()
            self.stats.rolled_back += 1
        else:
            self.conn.commit()
            tx.commit_caches()
            self.stats.merge(tx.stats)
            self.stats.transactions += 1
        return tx.stats.changes

    def close(self) -> None:
        self.conn.close()


def apply_random_changes(dsn: str, dataset: str, n_transactions: int, seed: int = 0) -> ChurnStats:
    """Run ``n_transactions`` churn transactions as fast as possible (see the module docstring)."""
    runner = _Runner(dsn, dataset, seed)
    try:
        for _ in range(n_transactions):
            runner.transaction()
    finally:
        runner.close()
    return runner.stats


def run_churn(
    dsn: str,
    dataset: str,
    *,
    rate: float,
    duration: float,
    seed: int = 0,
    progress: bool = False,
    max_changes: int | None = None,
) -> ChurnStats:
    """Churn at about ``rate`` row changes per second for ``duration`` seconds (or until
    ``max_changes`` committed changes); rolled-back changes count toward the pace."""
    if rate <= 0:
        raise ValueError("rate must be positive")
    runner = _Runner(dsn, dataset, seed)
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=max_changes or int(rate * duration), desc=f"churn {dataset}", unit="chg")
    start = time.monotonic()
    attempted = 0
    try:
        while time.monotonic() - start < duration:
            if max_changes is not None and runner.stats.changes >= max_changes:
                break
            before = runner.stats.changes
            attempted += runner.transaction()
            if bar is not None:
                bar.update(runner.stats.changes - before)
            ahead = start + attempted / rate - time.monotonic()
            if ahead > 0:
                time.sleep(min(ahead, max(0.0, duration - (time.monotonic() - start))))
    finally:
        runner.close()
        if bar is not None:
            bar.close()
    return runner.stats
