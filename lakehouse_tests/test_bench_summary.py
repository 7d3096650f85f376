"""``bench/summary.py``: the table ``make bench`` ends with, from the RESULT lines of real
benchmark output shapes (ratio with and without ``x``, a goal without a ratio, a figure
without a goal, a RESULT repeated at a bench's end: one row), a benchmark that failed (ERROR,
exit 1) and one that printed no RESULT."""

from __future__ import annotations

import importlib.util
from pathlib import Path

SUMMARY = Path(__file__).absolute().parents[1] / "bench" / "summary.py"
LOG = """\
== bench/bench_declarations.py
RESULT declarations_discover: 1.23 s vs catalog read 0.045 s = 27.3x (goal ours <= 5 s) OK
EXIT bench/bench_declarations.py 0
== bench/bench_full_load.py
RESULT full load peak RSS: 650 MiB (goal <= 1024 MiB) OK
RESULT full load kill at 50 %: not timed (at most one batch is copied again)
EXIT bench/bench_full_load.py 0
== bench/bench_silver_apply.py
RESULT silver_apply: 160,000 changes/s vs bare MERGE 265,000 changes/s = 0.60 (goal >= 0.70) MISSED [n]
total 31s
RESULT silver_apply: 160,000 changes/s vs bare MERGE 265,000 changes/s = 0.60 (goal >= 0.70) MISSED [n]
EXIT bench/bench_silver_apply.py 0
== bench/bench_soak.py
Traceback (most recent call last):
EXIT bench/bench_soak.py 1
== bench/bench_events_api.py
EXIT bench/bench_events_api.py 0
"""


def _summary():
    spec = importlib.util.spec_from_file_location("bench_summary", SUMMARY)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_summary_table_of_a_bench_log(tmp_path, capsys):
    summary = _summary()
    log = tmp_path / "make-bench.log"
    log.write_text(LOG)
    assert summary.main([str(log)]) == 1  # a benchmark failed
    assert capsys.readouterr().out.splitlines() == [
        "| bench | ours | baseline | ratio | goal | result |",
        "|---|---|---|---|---|---|",
        "| declarations_discover | 1.23 s | catalog read 0.045 s | 27.3x | goal ours <= 5 s | OK |",
        "| full load peak RSS | 650 MiB |  |  | goal <= 1024 MiB | OK |",
        "| full load kill at 50 % | not timed (at most one batch is copied again) |  |  |  | — |",
        "| silver_apply | 160,000 changes/s | bare MERGE 265,000 changes/s | 0.60 | goal >= 0.70"
        " | MISSED |",
        "| bench_soak |  |  |  |  | ERROR (exit 1) |",
        "| bench_events_api |  |  |  |  | no RESULT line |",
    ]
    log.write_text(LOG.replace("EXIT bench/bench_soak.py 1", "EXIT bench/bench_soak.py 0"))
    assert summary.main([str(log)]) == 0
