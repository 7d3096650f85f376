"""Bronze full load: rows/s of the customers CSV drop into bronze Delta vs polars reading the CSV.

Goal (issue): a full load of the 1.2M-row customers table/CSV into bronze runs at >= 50 % of the
rate of ``pl.read_csv`` on the same file.

Setup (temp dir, removed at the end): a ``customers-20240101.csv`` (header + N rows, default
1,200,000; autocorp ``customers`` columns) written into a ``LocalLake`` under
``raw/csv/autocorp/``; the table is autocorp's ``customers_csv`` (``source="csv_drop"``,
``file_glob="customers-*.csv"``, key ``customer_id``).

Measured, interleaved (baseline i, ours i), median of ``--repeats`` (default 3):
- baseline: ``pl.read_csv(path)`` (defaults: schema inference, all threads);
- ours: ``bronze.ingest(lake, spec, settings)`` end to end (list the raw files, read the CSV,
  cast to the registry types, lineage columns, one Delta commit), from an empty bronze table each
  time (``bronze/``, ``quarantine/`` and ``_state/`` are removed before every run).

Then the drop's first silver apply (issue "speed to the limit", goal 2), interleaved the same way:
- baseline: a bare ``write_deltalake`` of the rows silver ends with (read back once, before the
  clock) into an empty table;
- ours: ``silver.apply_changes(lake, spec)`` of that bronze into an empty silver table
  (``silver/`` and its state removed before every run): read bronze, sequence, rules, resolve,
  the first write. Goal: ratio >= 0.80. A third line gives the drop's wall time to silver
  (bronze + first apply medians; goal <= 2 s).

Run: ``.venv/bin/python bench/bench_bronze_load.py [--rows N] [--repeats R] [--profile]``.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import time

from _common import fmt_int, fmt_times, profile, result_line, temp_dir, write_customers_csv

GOAL = 0.50
GOAL_FIRST_APPLY = 0.80  # bare write_deltalake time / our first apply time
GOAL_WALL_S = 2.0  # the drop's bronze + first silver apply, seconds
CSV_KEY = "raw/csv/autocorp/customers-20240101.csv"


def _parse() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--rows", type=int, default=1_200_000, help="rows in the customers CSV")
    p.add_argument("--repeats", type=int, default=3, help="runs of baseline and bronze ingest")
    p.add_argument("--profile", action="store_true", help="cProfile one more bronze ingest")
    return p.parse_args()


def _customers_spec():
    """autocorp's ``customers_csv`` spec, or the same declared here if the dataset lacks it."""
    try:
        from lakehouse.declarations import load_dataset

        return load_dataset("autocorp").table("customers_csv")
    except Exception as err:
        print(f"note: autocorp customers_csv spec unavailable ({err!r}): declaring it here")
    from lakehouse.registry.model import Column, TableSpec

    vc = [("first_name", False), ("last_name", False), ("email", False), ("phone", True),
          ("address", True), ("city", True), ("state", True), ("zip_code", True)]  # fmt: skip
    columns = (
        Column("customer_id", "int", nullable=False),
        *(Column(n, "string", nullable=nullable) for n, nullable in vc),
        Column("created_at", "timestamp"),
    )
    return TableSpec(
        dataset="autocorp",
        name="customers_csv",
        columns=columns,
        primary_key=("customer_id",),
        source="csv_drop",
        file_glob="customers-*.csv",
    )


def main() -> int:
    args = _parse()
    import polars as pl

    from lakehouse.declarations.dms import settings_for
    from lakehouse.engine import bronze
    from lakehouse.storage.lake import LocalLake

    spec = _customers_spec()
    settings = settings_for("autocorp")  # csv_drop files: the table's CsvOptions
    repeats = max(1, args.repeats)

    with temp_dir("bench_bronze_") as tmp:
        lake = LocalLake(tmp / "lake")
        path = lake.path / CSV_KEY
        t0 = time.perf_counter()
        write_customers_csv(path, args.rows)
        size = path.stat().st_size
        print(
            f"setup: {args.rows:,}-row customers CSV ({size / 1e6:.0f} MB) written in "
            f"{time.perf_counter() - t0:.1f}s; table {spec.dataset}.{spec.name}"
        )

        def reset() -> None:
            for sub in ("bronze", "quarantine", "_state"):
                shutil.rmtree(lake.path / sub, ignore_errors=True)

        def ingest():
            result = bronze.ingest(lake, spec, settings)
            if result.rows != args.rows or result.quarantined:
                raise RuntimeError(
                    f"bronze ingest: {result.rows} rows, {result.quarantined} quarantined "
                    f"(expected {args.rows}, 0): {result.errors[:3]}"
                )
            return result

        base_times, ours_times = [], []
        for i in range(repeats):
            t0 = time.perf_counter()
            frame = pl.read_csv(path)
            base_times.append(time.perf_counter() - t0)
            if frame.height != args.rows:
                raise RuntimeError(f"pl.read_csv: {frame.height} rows, expected {args.rows}")
            del frame
            reset()
            t0 = time.perf_counter()
            ingest()
            ours_times.append(time.perf_counter() - t0)
            print(
                f"run {i + 1}: pl.read_csv {base_times[-1]:.2f}s, bronze.ingest "
                f"{ours_times[-1]:.2f}s"
            )
        from deltalake import DeltaTable

        from lakehouse.engine.core.keys import bronze_key

        dt = DeltaTable(lake.uri(bronze_key(spec.name)))
        print(f"bronze: Delta version {dt.version()}, {len(dt.file_uris())} data file(s)")
        if args.profile:
            reset()
            profile(ingest, title="bronze.ingest (customers_csv)")

        apply_times, write_times = _first_apply(lake, spec, args.rows, repeats, args.profile)

    base_rate = args.rows / statistics.median(base_times)
    ours_rate = args.rows / statistics.median(ours_times)
    print(
        f"pl.read_csv: {fmt_int(base_rate)} rows/s, times {fmt_times(base_times)}; "
        f"bronze.ingest: {fmt_int(ours_rate)} rows/s, times {fmt_times(ours_times)}; "
        f"median of {repeats}"
    )
    print(
        result_line(
            "bronze_load",
            ours_rate,
            base_rate,
            unit="rows/s",
            baseline_name="pl.read_csv",
            goal=GOAL,
            note=f"[median of {repeats}, {args.rows:,} rows]",
        )
    )
    a, w = statistics.median(apply_times), statistics.median(write_times)
    print(f"first silver apply: times {fmt_times(apply_times)}; bare write_deltalake: times "
          f"{fmt_times(write_times)}; median of {repeats}")  # fmt: skip
    print(result_line("first_silver_apply", args.rows / a, args.rows / w, unit="rows/s",
                      baseline_name="bare write_deltalake", goal=GOAL_FIRST_APPLY,
                      note=f"[median of {repeats}, {args.rows:,} rows]"))  # fmt: skip
    wall = statistics.median(ours_times) + a
    verdict = "OK" if wall <= GOAL_WALL_S else "MISSED"
    print(f"RESULT csv_drop_to_silver: {wall:.2f} s (bronze {statistics.median(ours_times):.2f} s"
          f" + first apply {a:.2f} s) (goal <= {GOAL_WALL_S:.0f} s) {verdict}")  # fmt: skip
    return 0


def _first_apply(lake, spec, rows: int, repeats: int, with_profile: bool):
    """(our first-apply times, bare write times), interleaved; bronze is in place."""
    from deltalake import write_deltalake

    from lakehouse.engine import silver
    from lakehouse.engine.core.keys import silver_key
    from lakehouse.engine.delta import open_table

    def reset() -> None:
        for sub in ("silver", "_state/tombstones", "_bench_write"):
            shutil.rmtree(lake.path / sub, ignore_errors=True)

    def apply():
        result = silver.apply_changes(lake, spec)
        if result.inserted != rows:
            raise RuntimeError(f"first silver apply: {result.inserted} rows, expected {rows}")

    reset()
    apply()
    same_rows = open_table(lake, silver_key(spec.name)).to_pyarrow_table()
    ours, bare = [], []
    for i in range(repeats):
        reset()
        t0 = time.perf_counter()
        write_deltalake(str(lake.path / "_bench_write"), same_rows)
        bare.append(time.perf_counter() - t0)
        reset()
        t0 = time.perf_counter()
        apply()
        ours.append(time.perf_counter() - t0)
        print(f"run {i + 1}: write_deltalake {bare[-1]:.2f}s, first apply_changes {ours[-1]:.2f}s")
    if with_profile:
        reset()
        profile(apply, title="silver.apply_changes (first apply of the drop)")
    reset()
    return ours, bare


if __name__ == "__main__":
    sys.exit(main())
