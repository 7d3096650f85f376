"""The benchmarks stand on the package alone: ``bench/`` never imports the test package (it may
point at a test file in a docstring)."""

from __future__ import annotations

import ast
from pathlib import Path

BENCH = Path(__file__).absolute().parents[1] / "bench"


def test_bench_does_not_import_lakehouse_tests():
    offenders = []
    for path in sorted(BENCH.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
            offenders += [
                f"{path.name}: {n}" for n in names if n.split(".")[0] == "lakehouse_tests"
            ]
    assert BENCH.is_dir() and not offenders, offenders
