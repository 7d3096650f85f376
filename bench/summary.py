"""One table of every ``RESULT`` line in a ``make bench`` log: bench, ours, baseline, ratio,
goal, verdict (OK / MISSED; ERROR for a benchmark that exited non-zero, ``—`` for a figure
without a goal). Exits 1 when a benchmark failed.

    .venv/bin/python bench/summary.py bench/results/make-bench.log
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

_RESULT = re.compile(r"^RESULT (?P<name>[^:]+): (?P<body>.*)$")
_GOAL = re.compile(r"\((?P<goal>goal [^)]*)\) (?P<verdict>OK|MISSED)\b")
_BENCH = re.compile(r"^== (?P<script>\S+)")
_EXIT = re.compile(r"^EXIT (?P<script>\S+) (?P<code>\d+)$")
COLUMNS = ("bench", "ours", "baseline", "ratio", "goal", "result")


def rows(lines: list[str]) -> list[tuple[str, ...]]:
    """The summary's rows, in log order."""
    out, script, seen = [], "", set()
    for line in lines:
        line = line.rstrip("\n")
        if m := _BENCH.match(line):
            script = Path(m["script"]).stem
        elif m := _EXIT.match(line):
            name = Path(m["script"]).stem
            if m["code"] != "0":
                out.append((name, "", "", "", "", f"ERROR (exit {m['code']})"))
            elif name not in seen:
                out.append((name, "", "", "", "", "no RESULT line"))
        elif m := _RESULT.match(line):
            seen.add(script)
            row = (m["name"], *_fields(m["body"]))
            if row not in out:  # a bench may repeat its RESULT lines at its end
                out.append(row)
    return out


def _fields(body: str) -> tuple[str, ...]:
    """ours, baseline, ratio, goal, verdict of a RESULT line's text after its name."""
    g = _GOAL.search(body)
    if g is None:  # a figure without a goal
        return body, "", "", "", "—"
    measure, ratio = body[: g.start()].strip(), ""
    if " = " in measure:
        measure, after = measure.rsplit(" = ", 1)
        ratio = after.split(" ", 1)[0]
    ours, _, baseline = measure.partition(" vs ")
    return ours, baseline, ratio, g["goal"], g["verdict"]


def table(found: list[tuple[str, ...]]) -> str:
    """The rows as a Markdown table (pasteable into bench/README.md)."""
    lines = ["| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    lines += ["| " + " | ".join(r) + " |" for r in found]
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print(__doc__, file=sys.stderr)
        return 2
    found = rows(Path(argv[0]).read_text().splitlines())
    print(table(found))
    return 1 if any(r[-1].startswith("ERROR") for r in found) else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
