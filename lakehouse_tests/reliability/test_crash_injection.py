"""Crash injection: bronze and silver runs die at random points and at every write; silver still
equals the source exactly (every column of every row), bronze holds every raw row exactly once.

The replicator's half of the story (SIGKILL rounds of the replicator, a crash before every raw
file write) is ``lakehouse_tests/replication/test_exactly_once.py``; here the raw zone is written
by the real replicator and the bronze and silver runs are the ones killed.

- ``test_sigkill_bronze_and_silver_runs_at_random_points``: rounds of churn at the source (a
  background thread, the replicator following), then a worker process running bronze then silver
  for every table, SIGKILLed at a random point of a randomly chosen step (even rounds: a bronze
  step, odd rounds: a silver step), restarted the next round. Seeded RNG; rounds and outcomes
  are printed. ``LAKEHOUSE_CRASH_ROUNDS`` sets the number of rounds (default 10).
- ``test_a_crash_after_any_write_*``: deterministic, in-process: each run dies right after one
  write (a Delta commit, a MERGE, a state file) it has not died after before, until a run
  completes: every write point of an incremental batch is a crash point exactly once.
"""

from __future__ import annotations

import gzip
import os
import queue
import random
import signal
import threading
import time
from collections import Counter, defaultdict

import polars as pl
import psycopg
import pytest
from deltalake import DeltaTable

from lakehouse.source.churn import apply_random_changes
from lakehouse.source.seed import seed
from lakehouse.storage import LocalLake
from lakehouse_tests.reliability import helpers as h

pytestmark = [pytest.mark.integration, pytest.mark.xdist_group("reliability")]

ROUNDS = int(os.environ.get("LAKEHOUSE_CRASH_ROUNDS", "10"))
RNG_SEED = 20240611


# ------------------------------------------------------------------------------ SIGKILL rounds
class _Churn(threading.Thread):
    """Source churn with the replicator following, until stopped (then caught up)."""

    def __init__(self, dsn: str, lake, seed: int) -> None:
        super().__init__(daemon=True)
        self.dsn, self.lake, self.seed = dsn, lake, seed
        self.stop = threading.Event()
        self.changes = 0
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            n = 0
            while not self.stop.is_set():
                n += 1
                self.changes += apply_random_changes(
                    self.dsn, "saas", 2, seed=self.seed * 1000 + n
                ).changes
                h.replicate(self.dsn, self.lake)
                self.stop.wait(0.5)
        except BaseException as err:  # reported by the test
            self.error = err


def _read_lines(proc, out: queue.Queue) -> None:
    for line in proc.stdout:
        out.put((time.monotonic(), line.split()))
    out.put((time.monotonic(), None))


def _run_and_kill(lake_root, target: tuple[str, str], fraction: float, est: dict, pycache) -> str:
    """Start the worker; when it starts step ``target``, SIGKILL it after ``fraction`` of that
    step's expected duration. Returns where it was: ``in <phase> <table>`` (inside a step),
    ``after <phase> <table>`` (between steps) or ``completed`` (it finished first, also when
    it ended between the target's start and the kill: exit 0 is a completed round)."""
    proc = h.start_worker("apply", lake_root, pycache=pycache)
    lines: queue.Queue = queue.Queue()
    reader = threading.Thread(target=_read_lines, args=(proc, lines), daemon=True)
    reader.start()
    last, killed = None, False
    deadline = time.monotonic() + 300
    try:
        while time.monotonic() < deadline:
            try:
                _, words = lines.get(timeout=1)
            except queue.Empty:
                continue
            if words is None:
                break
            last = words
            if words[0] == "done":
                est[(words[1], words[2])] = float(words[3])
            if words[0] == "start" and (words[1], words[2]) == target:
                time.sleep(fraction * est[target])
                proc.send_signal(signal.SIGKILL)  # a no-op if the worker has exited already
                killed = True
                break
    finally:
        if proc.poll() is None and not killed:
            proc.kill()
        proc.wait(timeout=60)
    reader.join(timeout=30)
    while not lines.empty():
        _, words = lines.get()
        if words is None:
            break
        last = words
        if words[0] == "done":
            est[(words[1], words[2])] = float(words[3])
    # a worker that finished its last steps between the target's ``start`` line and the kill
    # (the signal found it exited, or it exited before the signal landed) completed its round
    if not killed or proc.returncode == 0:
        assert proc.returncode == 0, f"the worker failed on its own (exit {proc.returncode})"
        return "completed"
    assert proc.returncode == -signal.SIGKILL, f"the worker exited {proc.returncode}, not killed"
    if last is None or last[0] == "ready":
        return "before the first step"
    return f"{'in' if last[0] == 'start' else 'after'} {last[1]} {last[2]}"


def _assert_exactly_once(lake) -> None:
    dupes = h.bronze_duplicates(lake)
    assert not any(dupes.values()), f"bronze holds raw rows twice: {dupes}"
    assert h.bronze_rows(lake) == h.raw_file_rows(lake), "bronze lost or doubled raw rows"


def _assert_history_current_matches_silver(lake) -> None:
    hist = pl.from_arrow(
        DeltaTable(lake.uri("silver/core_subscription_history")).to_pyarrow_table()
    )
    silver = pl.from_arrow(DeltaTable(lake.uri("silver/core_subscription")).to_pyarrow_table())
    current = hist.filter(pl.col("__is_current")).select(silver.columns)
    assert current["id"].is_unique().all(), "two current versions of one subscription"
    assert current.sort("id").equals(silver.sort("id")), (
        "the current history rows differ from silver"
    )


@pytest.mark.slow  # rounds of worker processes (make test runs it, make test-fast does not)
def test_sigkill_bronze_and_silver_runs_at_random_points(fresh_db, tmp_path, tmp_path_factory):
    seed(fresh_db, "saas", "small")
    lake = LocalLake(tmp_path / "lake")
    h.replicate(fresh_db, lake)
    pycache = tmp_path_factory.getbasetemp() / "pycache"
    rng = random.Random(RNG_SEED)
    names = [t.name for t in h.database_tables()]
    est: dict = defaultdict(lambda: 0.3)  # expected seconds per (phase, table), learnt as we go
    outcomes, log = Counter(), []
    t0 = time.monotonic()
    for r in range(ROUNDS):
        churn = _Churn(fresh_db, lake, seed=r + 1)
        churn.start()
        target = ("bronze" if r % 2 == 0 else "silver", rng.choice(names))
        fraction = rng.uniform(0.0, 1.2)
        where = _run_and_kill(lake.path, target, fraction, est, pycache)
        churn.stop.set()
        churn.join(timeout=120)
        assert churn.error is None, churn.error
        outcomes[where.rsplit(" ", 1)[0]] += 1  # "in bronze", "after silver", "completed", …
        log.append(
            f"round {r + 1}: target {target[0]} {target[1]} at {fraction:.2f} of its step, "
            f"{churn.changes} source changes meanwhile, "
            + (where if where == "completed" else f"killed {where}")
        )
    # restart once more, uninterrupted, after a last catch-up of the raw zone
    h.replicate(fresh_db, lake)
    h.apply_all(lake)
    print(
        f"\ncrash injection: {ROUNDS} rounds (seed {RNG_SEED}) in {time.monotonic() - t0:.0f}s: "
        f"{dict(outcomes)}"
    )
    print("\n".join(log))
    mid_step = outcomes["in bronze"] + outcomes["in silver"]
    assert mid_step >= ROUNDS * 0.6, f"too few runs were killed inside a step: {dict(outcomes)}"
    assert outcomes["in bronze"] and outcomes["in silver"], dict(outcomes)
    h.assert_silver_equals_source(lake, fresh_db)
    _assert_exactly_once(lake)
    _assert_history_current_matches_silver(lake)


# ------------------------------------------------------------------------- every write point
class _Crash(BaseException):
    """The process 'dies' right after a write (not an Exception: nothing may catch it)."""


class _DieAfterNewWrite:
    """Patches the write calls of the engine (``deltalake.write_deltalake``, the commit of
    ``delta_write``, a MERGE's ``execute``, ``LocalLake.write_bytes``): each run dies right after the first write point
    (label and occurrence within the run) it has not died after before. The writes are real."""

    def __init__(self, monkeypatch, root: str) -> None:
        import deltalake
        from deltalake.table import TableMerger

        self.root, self.done, self.seen, self.points = root.rstrip("/") + "/", set(), Counter(), []
        self.step = ""
        from lakehouse.engine import delta_write

        write, execute, put = deltalake.write_deltalake, TableMerger.execute, LocalLake.write_bytes
        commit = delta_write._commit
        crash = self._after

        def write_deltalake(uri, *a, **kw):
            out = write(uri, *a, **kw)
            crash(f"commit {str(uri).replace(self.root, '')}")
            return out

        def merge_execute(merger):
            out = execute(merger)
            crash(
                f"merge {merger._table.table_uri().removeprefix('file://').replace(self.root, '').rstrip('/')}"
            )
            return out

        def write_bytes(lake, key, data):
            put(lake, key, data)
            crash(f"put {key}")

        def commit_files(lake, key, *a, **kw):  # Polars-written files: delta_write's commit
            out = commit(lake, key, *a, **kw)
            if out:
                crash(f"commit {key}")
            return out

        monkeypatch.setattr(deltalake, "write_deltalake", write_deltalake)
        monkeypatch.setattr(delta_write, "_commit", commit_files)
        monkeypatch.setattr(TableMerger, "execute", merge_execute)
        monkeypatch.setattr(LocalLake, "write_bytes", write_bytes)

    def _after(self, write: str) -> None:
        label = f"{self.step}: {write}"
        self.seen[label] += 1
        point = (label, self.seen[label])
        if point not in self.done:
            self.done.add(point)
            self.points.append(label)
            raise _Crash(label)

    def _on_step(self, phase, table, event, seconds, n) -> None:
        self.step = f"{phase} {table}"

    def run_until_complete(self, lake) -> int:
        crashes = 0
        while True:
            self.seen.clear()
            try:
                h.apply_all(lake, on_step=self._on_step)
                return crashes
            except _Crash:
                crashes += 1
                assert crashes < 500, "no progress"


def _inject_bad_rows(lake) -> str:
    """Into the newest core_order CDC file, first: a copy of its first insert or update with a
    status the registry forbids (silver quarantine), then a ragged line (bronze quarantine)."""
    key = h.cdc_files(lake, "core_order")[-1]
    header, *rows = h.read_csv_records(gzip.decompress(lake.read_bytes(key)))
    bad = list(next(r for r in rows if r[0] in ("I", "U")))
    bad[header.index("status")] = "shipped"
    records = [header, bad, ["I", "ragged", "line"], *rows]
    lake.write_bytes(key, gzip.compress(h.write_csv_records(records)))
    return key


@pytest.fixture(scope="module")
def crashed_after_every_write(pg_dsn, tmp_path_factory):
    dsn = h.new_database(pg_dsn)
    mp = pytest.MonkeyPatch()
    try:
        seed(dsn, "saas", "small")
        lake = LocalLake(tmp_path_factory.mktemp("every_write") / "lake")
        h.replicate(dsn, lake)
        h.apply_all(lake)
        # an incremental batch touching every table, with a subscription changed then deleted
        apply_random_changes(dsn, "saas", 30, seed=9)
        with psycopg.connect(dsn) as conn:
            sid = conn.execute(
                "select id from core_subscription where status in ('trial', 'active') order by id limit 1"
            ).fetchone()[0]
            conn.execute(
                "update core_subscription set status = 'cancelled', end_date = current_date,"
                " updated_at = now() where id = %s",
                (sid,),
            )
            conn.execute(
                "update core_invoice set subscription_id = null where subscription_id = %s", (sid,)
            )
            conn.execute("delete from core_subscription where id = %s", (sid,))
            conn.execute("update core_tenant set updated_at = now()")
            conn.execute(
                "update core_product set stock_quantity = stock_quantity + 1 where id ="
                " (select min(id::text)::uuid from core_product)"
            )
        h.replicate(dsn, lake)
        bad_file = _inject_bad_rows(lake)
        t0 = time.monotonic()
        dier = _DieAfterNewWrite(mp, lake.root)
        crashes = dier.run_until_complete(lake)
        mp.undo()
        print(
            f"\ncrash after every write: {crashes} crashes in {time.monotonic() - t0:.0f}s: {dier.points}"
        )
        yield dict(
            lake=lake, dsn=dsn, crashes=crashes, points=dier.points, sid=str(sid), bad_file=bad_file
        )
    finally:
        mp.undo()
        h.drop_database(pg_dsn, dsn)


def _silver_ids(lake) -> list[str]:
    return pl.from_arrow(
        DeltaTable(lake.uri("silver/core_subscription")).to_pyarrow_table(columns=["id"])
    )["id"].to_list()


def test_a_crash_after_any_write_loses_and_doubles_nothing(crashed_after_every_write):
    c = crashed_after_every_write
    kinds = {p.split(": ")[1].split()[0] for p in c["points"]}
    assert {"commit", "merge", "put"} <= kinds, c["points"]
    assert "silver core_subscription: merge silver/core_subscription_history" in c["points"]
    assert "silver core_order: commit quarantine/core_order" in c["points"]
    assert c["crashes"] >= 20, c["points"]
    # the scenarios of the two tests below are there: a subscription changed then deleted in the
    # batch (its versions in the history), bad rows of one file quarantined at both stages
    hist = pl.from_arrow(
        DeltaTable(c["lake"].uri("silver/core_subscription_history")).to_pyarrow_table()
    )
    assert c["sid"] in hist["id"].to_list() and c["sid"] not in _silver_ids(c["lake"])
    q = pl.from_arrow(DeltaTable(c["lake"].uri("quarantine/core_order")).to_pyarrow_table())
    assert set(q["_stage"]) == {"bronze", "silver"}, q.to_dicts()
    assert set(q["_source_file"]) == {c["bad_file"]}
    h.assert_silver_equals_source(c["lake"], c["dsn"])
    _assert_exactly_once(c["lake"])
    _assert_history_current_matches_silver(c["lake"])


def test_a_crash_after_any_write_leaves_each_history_version_once(crashed_after_every_write):
    c = crashed_after_every_write
    hist = pl.from_arrow(
        DeltaTable(c["lake"].uri("silver/core_subscription_history")).to_pyarrow_table()
    )
    dupes = hist.group_by("id", "_sequence").len().filter(pl.col("len") > 1)
    assert dupes.height == 0, f"duplicate history versions: {dupes.to_dicts()}"


def test_a_crash_after_any_write_leaves_each_quarantine_entry_once(crashed_after_every_write):
    c = crashed_after_every_write
    q = pl.from_arrow(DeltaTable(c["lake"].uri("quarantine/core_order")).to_pyarrow_table())
    dupes = q.group_by("_stage", "_source_file", "_source_row").len().filter(pl.col("len") > 1)
    assert dupes.height == 0, f"quarantined twice: {dupes.to_dicts()}"
