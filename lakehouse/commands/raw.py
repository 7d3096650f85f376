"""``lakehouse replicate`` and ``lakehouse sync``: the sources into the lake's raw zone.

- ``replicate --once|--follow``: PostgreSQL logical decoding into ``raw/`` in the AWS DMS S3
  format (``replication.replicator.Replicator``), once (catch up, print a summary per dataset)
  or continuously, one thread per dataset, until Ctrl-C;
- ``resync --dataset NAME [--table T …]``: copy the dataset's tables (or only ``T``) from the
  source again while CDC goes on (``replication.resync``): after a lost slot, or for a table
  that diverged; silver takes the copy as a reload;
- ``sync``: each dataset's landing folder into ``raw/csv/<dataset>/`` (the local DataSync,
  ``filesync.sync_folder``), for datasets with CSV tables.
"""

from __future__ import annotations

import time

from lakehouse.commands.errors import FIX, UserError
from lakehouse.commands.targets import datasets, settings, source_dsn


def cmd_replicate(args) -> int:
    from lakehouse.replication.replicator import Replicator
    from lakehouse.replication.slot_health import SlotLostError
    from lakehouse.replication.task import dataset_task

    s = settings()
    lake = s.lake()
    names = datasets(s, args.dataset)
    if args.follow:
        return _follow(s, names)
    for d in names:
        t0 = time.perf_counter()
        rep = Replicator(dataset_task(d, source_dsn(s, d)), lake, progress=not args.quiet)
        try:
            stats = rep.run()
        except SlotLostError as err:  # a state of the source, with its command: one line
            raise UserError(*str(err).split(FIX, 1)) from err
        print(
            f"{d}: full load {sum(stats.full_load_rows.values()):,} rows, "
            f"{stats.total_changes:,} changes in {stats.transactions:,} transactions, "
            f"{len(stats.files)} files, {time.perf_counter() - t0:.1f}s"
        )
    return 0


def cmd_resync(args) -> int:
    from lakehouse.replication.resync import resync
    from lakehouse.replication.task import dataset_task

    s = settings()
    t0 = time.perf_counter()
    task = dataset_task(args.dataset, source_dsn(s, args.dataset))
    stats = resync(task, s.lake(), args.table or None, progress=not args.quiet)
    print(
        f"{args.dataset}: copied {sum(stats.full_load_rows.values()):,} rows of"
        f" {', '.join(sorted(stats.full_load_rows))} again, then {stats.total_changes:,} changes,"
        f" {time.perf_counter() - t0:.1f}s"
    )
    return 0


def _follow(s, names: tuple[str, ...]) -> int:
    """Replicate every dataset in its own thread until Ctrl-C. A lost connection is retried by
    the replicator; a thread that fails for good stops the others and ends the command with
    its error (one line for a lost slot or connection, exit 2; else the traceback, exit 1)."""
    import threading

    from lakehouse.replication.replicator import ConnectionLostError, Replicator
    from lakehouse.replication.slot_health import SlotLostError
    from lakehouse.replication.task import dataset_task

    lake = s.lake()
    stop = threading.Event()
    failed: list[BaseException] = []

    def replicate(rep: Replicator) -> None:
        try:
            rep.run(follow=True, stop=stop)
        except BaseException as err:  # handed to the main thread, which exits non-zero
            failed.append(err)
            stop.set()

    threads = []
    for d in names:
        rep = Replicator(dataset_task(d, source_dsn(s, d)), lake)
        th = threading.Thread(target=replicate, args=(rep,), name=f"replicate-{d}", daemon=True)
        th.start()
        threads.append(th)
    print(f"replicating {', '.join(names)} continuously (Ctrl-C to stop)")
    try:
        while any(t.is_alive() for t in threads):
            time.sleep(0.5)
    except KeyboardInterrupt:
        stop.set()
    for t in threads:
        t.join(timeout=10)
    if failed:
        err = failed[0]
        if isinstance(err, SlotLostError | ConnectionLostError):
            raise UserError(*str(err).split(FIX, 1)) from err
        raise err
    return 0


def cmd_sync(args) -> int:
    from lakehouse.declarations import load_dataset
    from lakehouse.defs.raw import RAW_CSV_PREFIX
    from lakehouse.defs.resources import build_resources
    from lakehouse.filesync import sync_folder
    from lakehouse.filesync.sync import sync_globs

    s = settings()
    for d in datasets(s, args.dataset, "files"):
        tables = load_dataset(d).csv_tables
        if not tables:
            continue
        folder = build_resources(s)["landing"].dataset_folder(d)
        folder.mkdir(parents=True, exist_ok=True)
        rep = sync_folder(
            folder,
            s.lake(),
            f"{RAW_CSV_PREFIX}{d}/",
            include=sync_globs(tables),
            task=d,
            settle_seconds=0,
            progress=not args.quiet,
        )
        print(
            f"{d}: {len(rep.copied)} files copied ({rep.bytes_copied:,} bytes), {rep.skipped} unchanged, {len(rep.errors)} errors"
        )
        for e in rep.errors:
            print(f"  error: {e}")
    return 0
