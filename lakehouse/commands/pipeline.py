"""``lakehouse materialize`` and ``lakehouse dev``: Dagster runs and the Dagster UI.

- ``materialize [--select …]``: the selected assets in-process (``runs.materialize``), one line
  per materialized asset or failure; exit 1 when the run failed;
- ``dev``: ``dagster dev`` (webserver + daemon: sensors and automation on) on the project's
  ``DAGSTER_HOME`` (``runs.instance.dagster_home``), the embedded source started first.
"""

from __future__ import annotations

import os
import sys

from lakehouse.commands.targets import settings


def cmd_materialize(args) -> int:
    from lakehouse.runs.materialize import materialize

    result = materialize(args.select, quiet=args.quiet)
    print_run(result)
    return 0 if result.success else 1


def print_run(result) -> None:
    """One line per materialized asset and per failed step or check."""
    from lakehouse.runs.materialize import run_lines

    print("\n".join(run_lines(result)))


def cmd_dev(args) -> int:
    """The Dagster UI with sensors and automation on (webserver + daemon via ``dagster dev``)."""
    import signal
    import subprocess

    from lakehouse.commands.source import source_up
    from lakehouse.runs.instance import dagster_home

    s = settings()
    home = dagster_home(s)
    if s.profile == "local" and not s.source_dsn:
        source_up(s)
    cmd = [sys.executable, "-m", "dagster", "dev", "-w", args.workspace,
           "-h", args.host, "-p", str(args.port)]  # fmt: skip
    print(f"DAGSTER_HOME={home}; UI at http://{args.host}:{args.port}")
    # a loaded laptop can take longer than gRPC's default 60 s to answer the daemon
    os.environ.setdefault("DAGSTER_GRPC_TIMEOUT_SECONDS", "300")
    # where a sensor asks for a reload when a dataset gains tables (``defs.reload``)
    host = "127.0.0.1" if args.host in ("0.0.0.0", "::") else args.host
    os.environ.setdefault("LAKEHOUSE_WEBSERVER_URL", f"http://{host}:{args.port}")
    proc = subprocess.Popen(cmd, preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    try:
        return proc.wait()
    except KeyboardInterrupt:
        proc.send_signal(signal.SIGINT)
        return proc.wait(timeout=30)
