"""``WarmRunLauncher``: Dagster's default launcher, minus the interpreter start-up per run.

Dagster's ``DefaultRunLauncher`` asks the code server to *spawn* a fresh interpreter for each run,
which imports Dagster and the definitions before the first step: 4-5 s on a quiet machine here,
7-12 s under the churn of ``bench/bench_freshness.py`` (measured: the "launch" column of its run
breakdown), i.e. more than half of a commit's way to silver. This launcher keeps one spare run
process (``runs.worker``) that has done those imports while the previous run was going; launching
a run hands it the run's ``ExecuteRunArgs`` on stdin and starts the next spare. Runs execute with
Dagster's own ``dagster api execute_run`` code, so events, failures and the UI are unchanged.

- No spare ready (first run, or runs launched back to back): the run gets a worker anyway,
  which just has not finished importing yet (never slower than a fresh process).
- A spare older than a code change runs the run in a fresh interpreter (see ``runs.worker``).
- A code location whose Python is not this one: the spare is not used; the run is started with
  the standard ``dagster api execute_run`` command line.
- ``terminate``: marks the run canceling and sends SIGTERM, which Dagster's run command turns
  into an interrupt (the run ends canceled). The UI's "Terminate" runs in the webserver, not in
  the daemon that launched the run, so the worker's pid is kept in the run's ``lakehouse/pid``
  tag (checked against ``/proc/<pid>/cmdline`` before signalling). A worker that dies before
  reporting the end of its run gets the run marked failed (canceled, if it was canceling) on the
  daemon's next launch or health check.

Configured in the ``dagster.yaml`` that ``lakehouse dev`` writes (``run_launcher:``).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading

from dagster._core.launcher.base import (
    CheckRunHealthResult,
    LaunchRunContext,
    RunLauncher,
    WorkerStatus,
)
from dagster._serdes import ConfigurableClass, ConfigurableClassData

WORKER = [sys.executable, "-m", "lakehouse.runs.worker"]
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


class WarmRunLauncher(RunLauncher, ConfigurableClass):
    def __init__(self, inst_data: ConfigurableClassData | None = None, prewarm: bool = True):
        self._inst_data = inst_data
        self._prewarm = prewarm
        self._spare: subprocess.Popen | None = None
        self._workers: dict[str, subprocess.Popen] = {}
        self._lock = threading.Lock()
        super().__init__()

    @property
    def inst_data(self) -> ConfigurableClassData | None:
        return self._inst_data

    @classmethod
    def config_type(cls) -> dict:
        from dagster import Field

        return {"prewarm": Field(bool, is_required=False, default_value=True)}

    @classmethod
    def from_config_value(cls, inst_data, config_value):
        return cls(inst_data=inst_data, **config_value)

    # ------------------------------------------------------------------ launching
    def _spawn(self) -> subprocess.Popen:
        return subprocess.Popen(WORKER, stdin=subprocess.PIPE, text=True, start_new_session=False)

    def _worker_for(self, executable: str) -> subprocess.Popen | None:
        # the same interpreter *path* (a venv's python is a symlink: resolving it would take
        # another venv built on the same base Python for this one)
        if os.path.abspath(executable) != os.path.abspath(sys.executable):
            return None
        spare, self._spare = self._spare, None
        if spare is not None and spare.poll() is None:
            return spare
        return self._spawn()

    def launch_run(self, context: LaunchRunContext) -> None:
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
            how = "a warm run process"
            if worker is not None:
                try:
                    worker.stdin.write(serialize_value(args) + "\n")
                    worker.stdin.close()
                except (BrokenPipeError, OSError):
                    worker = None
            if worker is None:
                worker = subprocess.Popen(list(args.get_command_args()))
                how = "a new process"
            self._workers[run.run_id] = worker
            if self._prewarm:
                self._spare = self._spawn()
        self._instance.add_run_tags(run.run_id, {PID_TAG: str(worker.pid)})
        self._instance.report_engine_event(
            f"Run started in {how} (pid {worker.pid}).", run, cls=self.__class__
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
        return True

    def check_run_worker_health(self, run) -> CheckRunHealthResult:
        proc = self._workers.get(run.run_id)
        if proc is None:
            return CheckRunHealthResult(WorkerStatus.UNKNOWN, "not launched by this process")
        code = proc.poll()
        if code is None:
            return CheckRunHealthResult(WorkerStatus.RUNNING)
        status = WorkerStatus.SUCCESS if code == 0 else WorkerStatus.FAILED
        return CheckRunHealthResult(status, f"run process exited with code {code}")

    def terminate(self, run_id: str) -> bool:
        run = self._instance.get_run_by_id(run_id)
        if run is None or run.is_finished:
            return False
        self._instance.report_run_canceling(run)
        pid = int(run.tags.get(PID_TAG, "0"))
        if not pid or not _is_run_process(pid):
            return False
        os.kill(pid, signal.SIGTERM)
        return True

    def dispose(self) -> None:
        with self._lock:
            spare, self._spare = self._spare, None
        if spare is not None and spare.poll() is None:
            spare.stdin.close()  # an empty stdin: the spare exits without running anything
            try:
                spare.wait(timeout=10)
            except subprocess.TimeoutExpired:
                spare.kill()
