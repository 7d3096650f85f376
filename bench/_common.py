"""Shared helpers of the benchmarks (see ``bench/README.md``).

Every benchmark measures its baseline in the same run, on the same data, and reports a ratio:
the machines are shared and noisy, so absolute rates are only indicative, ratios are the signal.
"""

from __future__ import annotations

import contextlib
import cProfile
import io
import pstats
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path


def median_time(fn: Callable[[], object], repeats: int = 3) -> tuple[float, list[float]]:
    """Run ``fn`` ``repeats`` times; (median seconds, every time in run order)."""
    times = []
    for _ in range(max(1, repeats)):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), times


def timed(fn: Callable[[], object]) -> tuple[float, object]:
    """(seconds, result) of one call."""
    t0 = time.perf_counter()
    out = fn()
    return time.perf_counter() - t0, out


def fmt_int(x: float) -> str:
    return f"{round(x):,}"


def fmt_times(times: list[float]) -> str:
    return "[" + ", ".join(f"{t:.2f}s" for t in times) + "]"


def result_line(
    name: str,
    ours: float,
    baseline: float,
    *,
    unit: str,
    baseline_name: str,
    goal: float,
    note: str = "",
) -> str:
    """``RESULT <name>: <ours> <unit> vs <baseline_name> <baseline> <unit> = <ratio> (goal >= g) OK|MISSED``."""
    ratio = ours / baseline if baseline else 0.0
    verdict = "OK" if ratio >= goal else "MISSED"
    line = (
        f"RESULT {name}: {fmt_int(ours)} {unit} vs {baseline_name} {fmt_int(baseline)} {unit} "
        f"= {ratio:.2f} (goal >= {goal:.2f}) {verdict}"
    )
    return f"{line} {note}".rstrip()


@contextlib.contextmanager
def temp_dir(prefix: str) -> Iterator[Path]:
    """A fresh temp dir, removed afterwards (even on error)."""
    path = Path(tempfile.mkdtemp(prefix=prefix))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def profile(fn: Callable[[], object], *, top: int = 15, title: str = "") -> object:
    """Run ``fn`` under cProfile and print the ``top`` functions by cumulative time."""
    prof = cProfile.Profile()
    prof.enable()
    try:
        out = fn()
    finally:
        prof.disable()
    buf = io.StringIO()
    stats = pstats.Stats(prof, stream=buf)
    stats.sort_stats("cumulative").print_stats(top)
    print(f"--- profile {title} (top {top} by cumtime)")
    # drop pstats' preamble lines up to the header row
    text = buf.getvalue()
    start = text.find("   ncalls")
    print(text[start:] if start >= 0 else text)
    return out


# ----------------------------------------------------------------------------- customers CSV

CUSTOMER_COLUMNS = (
    "customer_id",
    "first_name",
    "last_name",
    "email",
    "phone",
    "address",
    "city",
    "state",
    "zip_code",
    "created_at",
)


def write_customers_csv(path: Path, rows: int, seed: int = 42) -> Path:
    """The customers CSV drop (header + ``rows`` rows, columns as autocorp ``customers``).

    Uses the dataset's generator when it is there and works; otherwise a fast numpy/polars
    stand-in with the same columns and value shapes (unique ids and emails, ``YYYY-MM-DD
    HH:MM:SS`` timestamps)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        from lakehouse.datasets.autocorp.generator import write_customers_csv as gen

        gen(path, rows, seed)
        with open(path, encoding="utf-8") as fh:
            header = fh.readline().strip().split(",")
        if tuple(header) == CUSTOMER_COLUMNS:
            return path
        print(f"note: the autocorp generator wrote header {header}: using the bench generator")
    except Exception as err:
        print(
            f"note: autocorp write_customers_csv unavailable ({err!r}): using the bench generator"
        )
    _fallback_customers(rows, seed).write_csv(path, datetime_format="%Y-%m-%d %H:%M:%S")
    return path


def _fallback_customers(rows: int, seed: int):
    import numpy as np
    import polars as pl

    rng = np.random.default_rng(seed)
    first = np.array(["James", "Mary", "Robert", "Patricia", "John", "Jennifer", "Michael",
                      "Linda", "David", "Elizabeth", "William", "Barbara", "Richard", "Susan"])  # fmt: skip
    last = np.array(["Smith", "Johnson", "Williams", "Brown", "Jones", "Garcia", "Miller",
                     "Davis", "Rodriguez", "Martinez", "Hernandez", "Lopez", "O'Brien"])  # fmt: skip
    streets = np.array(["Main St", "Oak Ave", "Pine Rd", "Maple Dr", "Cedar Ln", "Elm St"])
    cities = np.array(["Springfield", "Riverside", "Franklin", "Greenville", "Bristol", "Clinton"])
    states = np.array(["CA", "TX", "NY", "FL", "IL", "PA", "OH", "GA", "NC", "MI"])
    ids = np.arange(1, rows + 1)
    fn = first[rng.integers(0, len(first), rows)]
    ln = last[rng.integers(0, len(last), rows)]
    frame = pl.DataFrame(
        {
            "customer_id": ids,
            "first_name": fn,
            "last_name": ln,
            "n": ids,
            "phone_n": rng.integers(2_000_000_000, 9_999_999_999, rows),
            "house": rng.integers(1, 9999, rows),
            "street": streets[rng.integers(0, len(streets), rows)],
            "city": cities[rng.integers(0, len(cities), rows)],
            "state": states[rng.integers(0, len(states), rows)],
            "zip_code": rng.integers(10_000, 99_999, rows).astype(str),
            "secs": rng.integers(0, 5 * 365 * 86400, rows),
        }
    )
    return frame.select(
        "customer_id",
        "first_name",
        "last_name",
        pl.concat_str(
            pl.col("first_name").str.to_lowercase(),
            pl.lit("."),
            pl.col("last_name").str.to_lowercase().str.replace("'", ""),
            pl.col("n").cast(pl.String),
            pl.lit("@example.com"),
        ).alias("email"),
        pl.col("phone_n")
        .cast(pl.String)
        .str.replace(r"^(\d{3})(\d{3})(\d{4})$", "($1) $2-$3")
        .alias("phone"),
        pl.concat_str(pl.col("house").cast(pl.String), pl.lit(" "), pl.col("street")).alias(
            "address"
        ),
        "city",
        "state",
        "zip_code",
        (pl.datetime(2020, 1, 1) + pl.duration(seconds=pl.col("secs"))).alias("created_at"),
    )
