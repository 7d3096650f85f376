"""``lakehouse source up|down|status|seed|churn``: the source PostgreSQL of the datasets.

``up`` starts the embedded server (nothing with ``LAKEHOUSE_SOURCE_DSN``), ``seed`` fills the
datasets with demo data (``seed_dataset``: the database, and a generator's CSV drops in the
landing folder), ``churn`` runs random transactions against them (``source.churn.run_churn``).
"""

from __future__ import annotations

import time
from datetime import date

from lakehouse.commands.targets import datasets, served_with, settings, source_dsn
from lakehouse.profiles import Settings


def cmd_source(args) -> int:
    from lakehouse.source import embedded

    s = settings()
    if args.action == "up":
        return source_up(s)
    if args.action == "down":
        print("stopped" if embedded.stop(s.pgdata) else "not running")
        return 0
    if args.action == "status":
        running = embedded.is_running(s.pgdata)
        print(f"embedded PostgreSQL at {s.pgdata}: {'running' if running else 'stopped'}")
        return 0
    if args.action == "seed":
        for d in datasets(s, args.dataset, "demo"):
            seed_dataset(s, d, args.scale, progress=not args.quiet)
        return 0
    if args.action == "churn":
        for d in datasets(s, args.dataset, "churn"):
            stats = churn(s, d, rate=args.rate, duration=args.duration, progress=not args.quiet)
            print(f"{d}: {churn_line(stats)}")
        return 0
    raise SystemExit(f"unknown source action {args.action}")


def source_up(s: Settings) -> int:
    """Start the embedded server with a database per replicated dataset (print their DSNs)."""
    from lakehouse.source import embedded

    if s.source_dsn:
        print(f"using the external source database {s.source_dsn!r}; nothing to start")
        return 0
    base = embedded.start(s.pgdata, databases=served_with(s, "replicated"))
    for d in served_with(s, "replicated"):
        print(f"{d}: {embedded.with_database(base, d)}")
    return 0


def churn(s: Settings, dataset: str, *, rate: float, duration: float, progress: bool = False):
    """Random transactions on the dataset's source; a new workload each time (no replayed
    unique values)."""
    from lakehouse.source.churn import run_churn, workload_class

    workload_class(dataset)  # one without a workload fails before its source is started
    return run_churn(source_dsn(s, dataset), dataset, rate=rate, duration=duration,
                     progress=progress, seed=time.time_ns() % 2**31)  # fmt: skip


def churn_line(stats) -> str:
    return (
        f"{stats.transactions} transactions ({stats.rolled_back} rolled back, {stats.failed} failed): "
        f"{sum(stats.inserts.values())} inserts, {sum(stats.updates.values())} updates, "
        f"{sum(stats.deletes.values())} deletes, {sum(stats.pk_updates.values())} key updates"
    )


def seed_dataset(s: Settings, dataset: str, scale: str, *, progress: bool) -> dict[str, int]:
    """Seed the source database and, for autocorp, drop the CSV files into the landing folder."""
    from lakehouse.source.seed import generator_module, seed

    counts = seed(source_dsn(s, dataset), dataset, scale, progress=progress)
    for table, n in counts.items():
        print(f"  {dataset}.{table}: {n:,} rows")
    write_landing = getattr(generator_module(dataset), "write_landing", None)
    if write_landing is not None:  # demo CSV drops
        folder = s.landing_dir / dataset
        written = write_landing(folder, scale, date.today())
        print(f"  landing: {folder} ({', '.join(written)})")
    return counts


def is_seeded(s: Settings, dataset: str) -> bool:
    """The dataset's first database table exists in its source."""
    import psycopg

    from lakehouse.declarations import load_dataset

    first = load_dataset(dataset).database_tables[0]
    with psycopg.connect(source_dsn(s, dataset)) as conn:
        row = conn.execute("select to_regclass(%s)", (first.qualified_name,)).fetchone()
        return row[0] is not None
