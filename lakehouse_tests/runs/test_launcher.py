"""The warm run launcher with a real Dagster instance (the dagster.yaml of ``runs.dagster_yaml``)
and real run processes: runs execute, the spare is used, termination ends a run canceled; and
with stand-in processes: a process that ignores SIGTERM is killed, a run without a live process
is not reported terminated, health is read from the pid tag in another process."""

import signal
import subprocess
import sys
import time

import dagster as dg
import pytest

from lakehouse.profiles import Settings
from lakehouse.runs import worker
from lakehouse.runs.launcher import WarmRunLauncher

pytestmark = pytest.mark.xdist_group("dagster_runs")


@pytest.fixture
def instance(tmp_path, monkeypatch):
    from lakehouse.runs.instance import open_instance

    env = {"LAKEHOUSE_ROOT": str(tmp_path / "lake"), "LAKEHOUSE_DATASETS": "autocorp"}
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "dagster"))
    inst = open_instance(Settings.from_env(env))
    yield inst
    inst.run_launcher.dispose()
    inst.dispose()


def _new_run(instance, key: str):
    from dagster._core.definitions.reconstruct import ReconstructableRepository

    recon = ReconstructableRepository.for_module(
        "lakehouse.definitions", "defs"
    ).get_reconstructable_job("__ASSET_JOB")
    job = recon.get_definition()
    selection = frozenset([dg.AssetKey(key.split("/"))])
    return instance.create_run_for_job(
        job_def=job.get_subset(asset_selection=selection),
        asset_selection=selection,
        job_code_origin=recon.get_python_origin(),
    )


def _wait(instance, run_id: str, launcher: WarmRunLauncher, timeout: float = 180):
    deadline = time.time() + timeout
    while time.time() < deadline:
        launcher._reap()
        run = instance.get_run_by_id(run_id)
        if run.is_finished:
            return run
        time.sleep(0.5)
    raise AssertionError(f"run {run_id} did not finish: {instance.get_run_by_id(run_id).status}")


def _engine_messages(instance, run_id: str) -> list[str]:
    return [e.message for e in instance.all_logs(run_id, of_type=dg.DagsterEventType.ENGINE_EVENT)]


def test_runs_execute_in_the_prewarmed_spare_and_processes_are_reused(instance):
    launcher = instance.run_launcher
    assert isinstance(launcher, WarmRunLauncher)
    first = _new_run(instance, "bronze/customers_csv")  # no files yet: an empty, quick ingest
    instance.launch_run(first.run_id, workspace=None)
    runs_in = launcher._workers[first.run_id]
    spares = [w for w in launcher._pool if w.proc is not runs_in]
    assert len(spares) == 1 and spares[0].alive  # the next run's process, importing already
    spare = spares[0].proc
    assert _wait(instance, first.run_id, launcher).status == dg.DagsterRunStatus.SUCCESS

    # two runs at once: one in the first run's process (ready again), one in the spare. Of two
    # tables: two runs of one table wait on its pool, where Dagster's pending-step queue can
    # miss a slot freed between a step's check and its enqueue (seen under load: blocked for good)
    second = _new_run(instance, "bronze/customers_csv")
    third = _new_run(instance, "bronze/sales_orders_csv")
    _until(lambda: all(w.poll_ready() for w in launcher._pool))
    instance.launch_run(second.run_id, workspace=None)
    assert len(launcher._pool) == 2  # one still ready: no spare started
    instance.launch_run(third.run_id, workspace=None)
    assert len(launcher._pool) == 3  # none ready or starting: a spare
    assert {launcher._workers[second.run_id], launcher._workers[third.run_id]} == {runs_in, spare}
    for run in (second, third):
        assert _wait(instance, run.run_id, launcher).status == dg.DagsterRunStatus.SUCCESS
    assert any(
        f"a run process reused (pid {runs_in.pid})" in m
        for m in _engine_messages(instance, second.run_id)
        + _engine_messages(instance, third.run_id)
    )
    assert any(
        f"warm run process (pid {spare.pid})" in m
        for m in _engine_messages(instance, second.run_id)
        + _engine_messages(instance, third.run_id)
    )
    assert runs_in.poll() is None and spare.poll() is None  # kept for the next runs
    _until(lambda: all(w.poll_ready() for w in launcher._pool))
    launcher._keep_warm()
    assert len(launcher._pool) == 2  # ready ones beyond MAX_IDLE are told to end
    mats = instance.fetch_materializations(
        dg.AssetKey(["bronze", "customers_csv"]), limit=10
    ).records
    assert {m.run_id for m in mats} == {first.run_id, second.run_id}
    mats = instance.fetch_materializations(
        dg.AssetKey(["bronze", "sales_orders_csv"]), limit=10
    ).records
    assert {m.run_id for m in mats} == {third.run_id}
    kept = [w.proc for w in launcher._pool]
    gone = launcher._pool[0]
    gone.proc.kill()  # a process that ends on its own: forgotten, its status pipe closed
    gone.proc.wait(timeout=10)
    launcher._keep_warm()
    assert gone not in launcher._pool and gone._status is None
    launcher.dispose()  # told to end: they do
    assert [p.wait(timeout=10) for p in kept[1:]] == [0]


def _until(condition, timeout: float = 120.0) -> None:
    deadline = time.time() + timeout
    while not condition():
        assert time.time() < deadline, "timed out"
        time.sleep(0.2)


def test_terminate_ends_the_run_canceled_even_from_another_process(instance):
    """The UI terminates from the webserver, whose launcher did not launch the run: a launcher
    with no memory of the run (as the webserver's) finds its process by the run's pid tag."""
    launcher = instance.run_launcher
    run = _new_run(instance, "bronze/customers_csv")
    instance.launch_run(run.run_id, workspace=None)
    pid = launcher._workers[run.run_id].pid
    assert instance.get_run_by_id(run.run_id).tags["lakehouse/pid"] == str(pid)
    webserver = WarmRunLauncher(prewarm=False)
    webserver.register_instance(instance)
    started = time.monotonic()
    assert webserver.terminate(run.run_id)
    # the process ended by itself (a canceled run ends it), not killed after the grace period
    assert time.monotonic() - started < webserver._grace
    assert _wait(instance, run.run_id, launcher).status == dg.DagsterRunStatus.CANCELED
    assert not webserver.terminate(run.run_id)  # finished: nothing to terminate


def test_a_worker_sees_code_changes_after_it_started():
    assert worker.changed_since(time.time() + 3600) == []
    changed = worker.changed_since(0)
    assert any(p.name == "launcher.py" for p in changed)


_STAND_IN_WORKER = """
import os, pathlib, sys, time
status, here, n = int(sys.argv[-1]), pathlib.Path(sys.argv[-2]), 0
while True:
    os.write(status, b"r")  # ready for a run, as runs.worker says it
    if not sys.stdin.readline():
        break
    n += 1
    (here / f"started-{n}").touch()
    while not (here / f"finish-{n}").exists():
        time.sleep(0.02)
"""


def test_a_process_handed_a_run_while_importing_is_not_ready_during_that_run(tmp_path):
    """A spare is handed a run before it has said it is ready; the byte it says then (imports
    done) is for that run, not readiness after it: only the byte after the run is."""
    from lakehouse.runs.launcher import _Worker

    worker = _Worker([sys.executable, "-c", _STAND_IN_WORKER, str(tmp_path)])
    try:
        assert worker.starting and worker.hand("run 1")  # handed while "importing"
        _until(lambda: (tmp_path / "started-1").exists(), timeout=30)
        assert not worker.poll_ready() and worker.busy  # its first byte was said, and read now
        (tmp_path / "finish-1").touch()
        _until(worker.poll_ready, timeout=30)
        assert not worker.busy and worker.hand("run 2") and not worker.poll_ready()
        _until(lambda: (tmp_path / "started-2").exists(), timeout=30)
        assert worker.busy
        (tmp_path / "finish-2").touch()
        _until(worker.poll_ready, timeout=30)
    finally:
        worker.retire()
        assert worker.proc.wait(timeout=10) == 0


def test_a_reused_worker_loads_the_definitions_anew_for_each_run():
    """Dagster caches the last reconstructed job per process; a reused run process must not run
    the definitions of an earlier run (a declaration edited since)."""
    from dagster._core.definitions.reconstruct import ReconstructableJob, ReconstructableRepository

    recon = ReconstructableRepository.for_module(
        "lakehouse.definitions", "defs"
    ).get_reconstructable_job("__ASSET_JOB")
    first = recon.get_definition()
    assert recon.get_definition() is first  # Dagster's cache
    worker.forget_definitions()
    assert ReconstructableJob.get_definition.cache_info().currsize == 0
    assert recon.get_definition() is not first


def test_another_interpreter_gets_no_spare():
    launcher = WarmRunLauncher(prewarm=False)
    assert launcher._worker_for("/opt/other-venv/bin/python") is None  # → the standard command


# ------------------------------------------------------------------ stand-in run processes
def _stand_in(ignore_sigterm: bool) -> subprocess.Popen:
    """A process that looks like a run process (``execute_run`` in its command line)."""
    code = (
        "import signal, time\n"
        + ("signal.signal(signal.SIGTERM, signal.SIG_IGN)\n" if ignore_sigterm else "")
        + "print('ready', flush=True)\ntime.sleep(120)\n"
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", code, "execute_run"], stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout.readline().strip() == "ready"
    return proc


@pytest.fixture
def quick_instance():
    @dg.op
    def noop():
        return None

    @dg.job
    def job():
        noop()

    with dg.instance_for_test() as inst:
        launcher = WarmRunLauncher(prewarm=False, terminate_grace_s=1.0)
        launcher.register_instance(inst)
        yield inst, launcher, lambda: inst.create_run_for_job(job_def=job)


def test_terminate_kills_a_process_that_ignores_sigterm_and_reports_the_run_canceled(
    quick_instance,
):
    instance, launcher, new_run = quick_instance
    run = new_run()
    proc = _stand_in(ignore_sigterm=True)
    try:
        instance.add_run_tags(run.run_id, {"lakehouse/pid": str(proc.pid)})
        started = time.monotonic()
        assert launcher.terminate(run.run_id)
        assert proc.wait(timeout=10) == -signal.SIGKILL
        assert 1.0 <= time.monotonic() - started < 15
        assert instance.get_run_by_id(run.run_id).status == dg.DagsterRunStatus.CANCELED
    finally:
        proc.kill()
        proc.wait()


def test_terminate_is_false_without_a_live_run_process(quick_instance):
    instance, launcher, new_run = quick_instance
    no_pid = new_run()
    assert not launcher.terminate(no_pid.run_id)
    gone = new_run()
    proc = _stand_in(ignore_sigterm=False)
    proc.kill()
    proc.wait()
    instance.add_run_tags(gone.run_id, {"lakehouse/pid": str(proc.pid)})
    assert not launcher.terminate(gone.run_id)
    for run in (no_pid, gone):  # nothing was marked canceling that nobody can cancel
        assert instance.get_run_by_id(run.run_id).status == dg.DagsterRunStatus.NOT_STARTED


def test_health_of_a_run_launched_elsewhere_is_read_from_its_pid_tag(quick_instance):
    """What the monitoring daemon sees (run_monitoring in the dagster.yaml): RUNNING while the
    run's process lives, FAILED once it is gone, so a dead worker's run is failed."""
    instance, launcher, new_run = quick_instance
    run = new_run()
    assert launcher.check_run_worker_health(run).status.value == "UNKNOWN"  # no pid recorded
    proc = _stand_in(ignore_sigterm=False)
    instance.add_run_tags(run.run_id, {"lakehouse/pid": str(proc.pid)})
    run = instance.get_run_by_id(run.run_id)
    from dagster._core.launcher import WorkerStatus

    assert launcher.check_run_worker_health(run).status == WorkerStatus.RUNNING
    proc.kill()
    proc.wait()
    assert launcher.check_run_worker_health(run).status == WorkerStatus.FAILED
