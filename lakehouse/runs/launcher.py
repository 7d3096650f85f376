"""``WarmRunLauncher``: Dagster's default launcher, minus the interpreter start-up per run.

Dagster's ``DefaultRunLauncher`` asks the code server to *spawn* a fresh interpreter for each run,
which imports Dagster and the definitions before the first step (seconds: the "launch" column
of ``bench/bench_freshness.py``'s run breakdown). This launcher keeps run processes
(``runs.worker``) that have done those imports: a spare started while the previous run was
going, and the processes of finished runs, which take the next runs (a run process serves up to
``worker.MAX_RUNS`` runs, one at a time). Launching a run hands a ready process the run's
``ExecuteRunArgs`` on stdin; when none is left ready or starting, a spare is started. Runs
execute with Dagster's own ``dagster api execute_run`` code, so events, failures and the UI are
unchanged.

- Ready: a process says so on its status pipe (``runs.worker``'s contract). At most
  ``MAX_IDLE`` ready processes are kept; the others are told to end (stdin closed).
- None ready (first run, or runs launched back to back): the run gets the spare anyway, which
  just has not finished importing yet, or a new one (never slower than a fresh process).
- A spare older than a code change runs the run in a fresh interpreter (see ``runs.worker``).
- A code location whose Python is not this one: the spare is not used; the run is started with
  the standard ``dagster api execute_run`` command line.
- ``terminate``: marks the run canceling and sends SIGTERM, which Dagster's run command turns
  into an interrupt (the run ends canceled); a process still there after ``terminate_grace_s``
  gets SIGKILL and the run is marked canceled for it. True only once the process is gone;
  False (and the run left as it was) when there is no live run process to signal, or it
  cannot be signalled or does not go. The UI's "Terminate" runs in the webserver, not in the
  daemon that launched the run, so the worker's pid is kept in the run's ``lakehouse/pid`` tag
  (set before the run is handed over, checked against ``/proc/<pid>/cmdline`` before
  signalling).
- Health (``run_monitoring`` in the dagster.yaml, ``runs.dagster_yaml``): a run process this
  launcher started is polled; any other (another process's launcher, a daemon restarted since)
  is found by the pid tag: alive and ours is RUNNING, gone is FAILED, so Dagster's monitoring
  daemon fails the run of a dead worker within its poll interval. The launching process also
  marks such a run failed (canceled, if it was canceling) on its next launch or health check.
- Dagster's internals change (``runs.compat.problems()``, checked at construction): the
  launcher logs a warning and hands every call to Dagster's ``DefaultRunLauncher``.

Configured in the ``dagster.yaml`` that ``lakehouse dev`` writes (``run_launcher:``).
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import threading
import time

from dagster._core.launcher.base import (
    CheckRunHealthResult,
    LaunchRunContext,
    RunLauncher,
    WorkerStatus,
)
from dagster._serdes import ConfigurableClass, ConfigurableClassData

log = logging.getLogger("lakehouse.runs")
WORKER = [sys.executable, "-m", "lakehouse.runs.worker"]
#: ready run processes kept for the next runs
MAX_IDLE = 2
#: the run tag holding the pid of the process that executes the run
PID_TAG = "lakehouse/pid"


def _is_run_process(pid: int) -> bool:
    """Whether ``pid`` is alive and one of ours (a warm worker, or ``dagster api execute_run``
    after a worker re-exec or a cold start): a recycled pid is never signalled."""
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as fh:
            cmdline = fh.read()
    except OSError:
        return False
    return b"lakehouse.runs.worker" in cmdline or b"execute_run" in cmdline


def _pid_of(run) -> int | None:
    try:
        return int(run.tags.get(PID_TAG, "")) or None
    except ValueError:
        return None


def _default_launcher_if_incompatible():
    """Dagster's ``DefaultRunLauncher`` when this Dagster lacks an internal the warm launcher
    uses (``runs.compat``), with a warning saying which; None when all is there."""
    from lakehouse.runs import compat

    found = compat.problems()
    if not found:
        return None
    from dagster import DefaultRunLauncher

    log.warning(
        "WarmRunLauncher: this Dagster lacks internals it uses (%s); runs start with Dagster's "
        "DefaultRunLauncher instead (a fresh interpreter per run)",
        "; ".join(found),
    )
    return DefaultRunLauncher()


class _Worker:
    """A run process and the read end of its status pipe. The process writes one byte each time
    it is about to read a run (imports done, then after each run), so it is ready when it has
    said so more times than it was handed runs: a byte said while a run was already waiting on
    its stdin (a spare handed a run while importing) is not readiness after that run."""

    def __init__(self, command: list[str] = WORKER) -> None:
        status, theirs = os.pipe()
        try:
            self.proc = subprocess.Popen(
                [*command, str(theirs)], stdin=subprocess.PIPE, text=True, pass_fds=(theirs,)
            )
        finally:
            os.close(theirs)
        os.set_blocking(status, False)
        self._status = status
        self._said = 0  # bytes read from the status pipe
        self.served = 0  # runs handed to it

    @property
    def alive(self) -> bool:
        return self.proc.poll() is None

    @property
    def starting(self) -> bool:
        """Still importing, no run handed to it yet."""
        return self.served == 0 and self._said == 0 and self.alive

    @property
    def busy(self) -> bool:
        """Running (or about to run) a run handed to it."""
        return self.served > 0 and self._said <= self.served and self.alive

    def poll_ready(self) -> bool:
        """Whether it waits for a run (what its status pipe said so far, read now)."""
        if self._status is not None:
            try:
                said = os.read(self._status, 64)
            except BlockingIOError:
                said = None
            if said:
                self._said += len(said)
            elif said == b"":  # it ended, or is ending
                self._close_status()
        return self._said > self.served and self.alive

    def hand(self, line: str) -> bool:
        """Give it a run; False when it cannot take one (gone)."""
        try:
            self.proc.stdin.write(line + "\n")
            self.proc.stdin.flush()
        except (BrokenPipeError, OSError, ValueError):
            return False
        self.served += 1
        return True

    def retire(self) -> None:
        """No more runs: it ends after the one it has, if any."""
        try:
            self.proc.stdin.close()
        except OSError:
            pass
        self._close_status()

    def _close_status(self) -> None:
        if self._status is not None:
            os.close(self._status)
            self._status = None


class WarmRunLauncher(RunLauncher, ConfigurableClass):
    def __init__(
        self,
        inst_data: ConfigurableClassData | None = None,
        prewarm: bool = True,
        terminate_grace_s: float = 20.0,
    ):
        self._inst_data = inst_data
        self._prewarm = prewarm
        self._grace = terminate_grace_s
        self._pool: list[_Worker] = []  # live run processes that are ours to hand runs to
        self._workers: dict[str, subprocess.Popen] = {}
        self._lock = threading.Lock()
        self._fallback = _default_launcher_if_incompatible()
        super().__init__()

    def register_instance(self, instance) -> None:
        super().register_instance(instance)
        if self._fallback is not None:
            self._fallback.register_instance(instance)

    @property
    def inst_data(self) -> ConfigurableClassData | None:
        return self._inst_data

    @classmethod
    def config_type(cls) -> dict:
        from dagster import Field

        return {
            "prewarm": Field(bool, is_required=False, default_value=True),
            "terminate_grace_s": Field(float, is_required=False, default_value=20.0),
        }

    @classmethod
    def from_config_value(cls, inst_data, config_value):
        return cls(inst_data=inst_data, **config_value)

    # ------------------------------------------------------------------ launching
    def _prune(self) -> None:
        """Forget the processes that ended (their status pipes closed: no descriptor leaks)."""
        for gone in [w for w in self._pool if not w.alive]:
            gone.retire()
            self._pool.remove(gone)

    def _spawn(self) -> _Worker:
        worker = _Worker()
        self._pool.append(worker)
        return worker

    def _worker_for(self, executable: str) -> _Worker | None:
        """A ready run process, else one still importing, else a new one; None for another
        interpreter (the same interpreter *path*: a venv's python is a symlink, and resolving it
        would take another venv built on the same base Python for this one)."""
        if os.path.abspath(executable) != os.path.abspath(sys.executable):
            return None
        self._prune()
        ready = [w for w in self._pool if w.poll_ready()]
        starting = [w for w in self._pool if w.starting]
        return (ready or starting or [None])[0] or self._spawn()

    def _keep_warm(self) -> None:
        """A spare starting when no process is ready or starting; ready ones beyond
        ``MAX_IDLE`` retired."""
        self._prune()
        ready = [w for w in self._pool if w.poll_ready()]
        for extra in ready[MAX_IDLE:]:
            extra.retire()
            self._pool.remove(extra)
        if self._prewarm and not ready and not any(w.starting for w in self._pool):
            self._spawn()

    def launch_run(self, context: LaunchRunContext) -> None:
        if self._fallback is not None:
            return self._fallback.launch_run(context)
        from dagster._grpc.types import ExecuteRunArgs
        from dagster._serdes import serialize_value

        run = context.dagster_run
        origin = context.job_code_origin or run.job_code_origin
        if origin is None:
            raise RuntimeError(f"run {run.run_id} has no code origin to execute")
        args = ExecuteRunArgs(
            job_origin=origin, run_id=run.run_id, instance_ref=self._instance.get_ref()
        )
        with self._lock:
            self._reap()
            worker = self._worker_for(origin.executable_path)
            if worker is not None:
                how = "a warm run process" if worker.served == 0 else "a run process reused"
                # the pid first: a run that starts at once is never without it (health checks
                # and terminate in other processes find its process by it)
                self._instance.add_run_tags(run.run_id, {PID_TAG: str(worker.proc.pid)})
                if not worker.hand(serialize_value(args)):
                    worker.retire()
                    self._pool.remove(worker)
                    worker = None
            if worker is None:
                proc = subprocess.Popen(list(args.get_command_args()))
                how = "a new process"
                self._instance.add_run_tags(run.run_id, {PID_TAG: str(proc.pid)})
            else:
                proc = worker.proc
                for done in [r for r, p in self._workers.items() if p is proc]:
                    del self._workers[done]  # its earlier runs, over: it was ready
            self._workers[run.run_id] = proc
            self._keep_warm()
        self._instance.report_engine_event(
            f"Run started in {how} (pid {proc.pid}).", run, cls=self.__class__
        )

    # ------------------------------------------------------------------ health and termination
    def _reap(self) -> None:
        """Forget finished workers; a run whose worker died without ending it is marked failed."""
        for run_id, proc in list(self._workers.items()):
            code = proc.poll()
            if code is None:
                continue
            del self._workers[run_id]
            run = self._instance.get_run_by_id(run_id)
            if run is not None and not run.is_finished:
                msg = f"run process {proc.pid} exited with code {code} before the run ended"
                if run.status.value == "CANCELING":
                    self._instance.report_run_canceled(run, message=msg)
                else:
                    self._instance.report_run_failed(run, message=msg)

    @property
    def supports_check_run_worker_health(self) -> bool:
        if self._fallback is not None:
            return self._fallback.supports_check_run_worker_health
        return True

    def check_run_worker_health(self, run) -> CheckRunHealthResult:
        if self._fallback is not None:
            return self._fallback.check_run_worker_health(run)
        proc = self._workers.get(run.run_id)
        if proc is not None:
            code = proc.poll()
            if code is None:
                return CheckRunHealthResult(WorkerStatus.RUNNING)
            status = WorkerStatus.SUCCESS if code == 0 else WorkerStatus.FAILED
            return CheckRunHealthResult(status, f"run process exited with code {code}")
        # launched by another process (or before a restart): its pid tag says where it runs
        pid = _pid_of(run)
        if pid is None:
            return CheckRunHealthResult(WorkerStatus.UNKNOWN, "no run process pid recorded")
        if _is_run_process(pid):
            return CheckRunHealthResult(WorkerStatus.RUNNING)
        return CheckRunHealthResult(WorkerStatus.FAILED, f"run process {pid} is gone")

    def terminate(self, run_id: str) -> bool:
        """SIGTERM (the run ends canceled), SIGKILL after ``terminate_grace_s``; True only once
        the run's process is gone, False when there is none to signal or it does not go."""
        if self._fallback is not None:
            return self._fallback.terminate(run_id)
        run = self._instance.get_run_by_id(run_id)
        if run is None or run.is_finished:
            return False
        pid = _pid_of(run)
        if pid is None or not _is_run_process(pid):
            log.warning("run %s: no live run process to terminate (pid %s)", run_id, pid)
            return False
        self._instance.report_run_canceling(run)
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            pass  # it ended just now
        except PermissionError:
            log.warning("run %s: not allowed to signal its process %s", run_id, pid)
            return False
        if not self._gone(pid, self._grace):
            log.warning(
                "run %s: process %s ignored SIGTERM for %ss: SIGKILL", run_id, pid, self._grace
            )
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            except PermissionError:
                return False
            if not self._gone(pid, 10.0):
                return False
            run = self._instance.get_run_by_id(run_id)
            if run is not None and not run.is_finished:  # killed: it could not say so itself
                self._instance.report_run_canceled(
                    run, message=f"run process {pid} killed (SIGKILL) after {self._grace}s"
                )
        return True

    def _gone(self, pid: int, timeout: float) -> bool:
        """Whether process ``pid`` ends within ``timeout`` (a child of ours is reaped)."""
        child = next((p for p in self._workers.values() if p.pid == pid), None)
        if child is not None:
            try:
                child.wait(timeout=timeout)
                return True
            except subprocess.TimeoutExpired:
                return False
        deadline = time.monotonic() + timeout
        while _is_run_process(pid):  # an exited, unreaped process has no cmdline: gone
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.1)
        return True

    def dispose(self) -> None:
        if self._fallback is not None:
            self._fallback.dispose()
        with self._lock:
            pool, self._pool = self._pool, []
        running = [w for w in pool if not w.poll_ready() and w.busy]
        for worker in pool:  # each ends after the run it has, if any
            worker.retire()
        for worker in pool:
            if worker in running:
                continue  # it ends after its run
            try:
                worker.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                worker.proc.kill()
