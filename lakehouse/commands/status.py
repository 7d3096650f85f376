"""``lakehouse status``: what is where (``status_report``, also printed at the end of the demo).

The report: the profile and lake root; the embedded source's state (only when a served
dataset's postgres source uses it: no ``dsn_env`` and no ``LAKEHOUSE_SOURCE_DSN``); per served
dataset with tables, for one the lakehouse replicates its replication state (full load, CDC
files, checkpoint LSN) and its slot graded by the dataset's ``replication_slot`` thresholds
(lag in bytes and time, WAL status, ``max_slot_wal_keep_size``), for one read from an existing
DMS output (dms_s3) where that output is; then one line per table (raw files where the table's
files are, bronze rows by operation, quarantined rows; 0 for a table not written yet); then the
raw CSV files no table claims.
"""

from __future__ import annotations

from lakehouse.commands.targets import settings
from lakehouse.profiles import Settings

_HEADER = f"  {'table':<24}{'raw files':>10}{'bronze rows':>13}{'I':>10}{'U':>8}{'D':>8}{'quarantined':>13}"


def cmd_status(args) -> int:
    print(status_report(settings()))
    return 0


def status_report(s: Settings) -> str:
    """A summary of the source, the replication tasks, raw files and bronze tables."""
    from lakehouse.declarations import load_dataset, served
    from lakehouse.replication.state import ReplicationState
    from lakehouse.replication.task import slot_name
    from lakehouse.source import embedded

    lake = s.lake()
    lines = [f"profile {s.profile}, lake {s.root}"]
    if _uses_embedded(s):
        running = "running" if embedded.is_running(s.pgdata) else "stopped"
        lines.append(f"source: embedded PostgreSQL {running} ({s.pgdata})")
    for d in served(s):
        ds = load_dataset(d)
        if not ds.tables:
            continue
        if ds.reads_dms_output:
            roots = sorted({t.raw_root for t in ds.database_tables if t.raw_root})
            lines.append(f"\n{d}: reads the DMS output at {', '.join(roots)} (no replication)")
        elif ds.database_tables:
            st = ReplicationState.load(lake, d, slot_name(d))
            lines.append(
                f"\n{d}: full load {'done' if st.full_load_done else 'not done'}, "
                f"{st.cdc_files_written} CDC files written, checkpoint LSN {st.checkpoint_lsn:X}"
            )
            if st.full_load_done:
                lines.append(_slot_line(s, ds))
            lines += resync_lines(st)
        else:
            lines.append(f"\n{d}:")
        lines += _captured_lines(lake, d)
        lines.append(_HEADER)
        lines += [_table_line(lake, t) for t in ds.tables]
    lines += _unclaimed_lines(lake, s)
    return "\n".join(lines)


def _uses_embedded(s: Settings) -> bool:
    """Whether a served dataset's postgres source is the embedded server (no ``dsn_env``, no
    ``LAKEHOUSE_SOURCE_DSN``)."""
    from lakehouse.declarations import declaration, served

    if s.source_dsn:
        return False
    return any(
        src.dsn_env is None for d in served(s) for src in declaration(d, s).sources_of("postgres")
    )


def resync_lines(state) -> list[str]:
    """The task's table resyncs under way (``replication.table_resync``): chunks staged so far."""
    return [f"  resync of {q} under way: {p['rows']:,} rows in {len(p['files'])} chunk file(s)"
            " staged; the next replication run goes on"
            for q, p in sorted(state.resync_progress.items())]  # fmt: skip


def _captured_lines(lake, dataset: str) -> list[str]:
    """Source tables the task captured that ``defs.yaml`` does not name yet (``new_tables``)."""
    from lakehouse.declarations import declaration
    from lakehouse.registry import captured

    declared = {t.name for t in declaration(dataset).decl.tables}
    found = sorted(q for q, r in captured.read(lake, dataset).items() if r["name"] not in declared)
    if not found:
        return []
    return [f"  captured, not in defs.yaml yet: {', '.join(found)} — pin them (types, key,"
            f" overrides): lakehouse discover {dataset}"]  # fmt: skip


def _slot_line(s: Settings, ds) -> str:
    """The task's slot, graded by the dataset's thresholds (``replication.slot_health``)."""
    import psycopg

    from lakehouse.commands.targets import source_dsn
    from lakehouse.replication.slot_health import assess, slot_health
    from lakehouse.replication.task import dataset_task, resync_command

    try:
        task = dataset_task(ds.name, source_dsn(s, ds.name))
        pubs = f"{task.publication},{task.insert_only_publication}"
        health = slot_health(task.dsn, task.slot, pubs)
    except (psycopg.OperationalError, ValueError) as err:
        return f"  slot: not read ({str(err).splitlines()[0]})"
    graded = assess(health, ds.slot, fix=resync_command(ds.name))
    age = "-" if health.lag_seconds is None else f"{health.lag_seconds:.0f} s"
    keep = health.max_slot_wal_keep_size
    return (
        f"  slot {graded.severity.upper()}: {graded.message} (oldest pending commit {age},"
        f" wal_status {health.wal_status or '-'}, max_slot_wal_keep_size"
        f" {'unbounded' if keep is None else f'{keep >> 20} MB'})"
    )


def _table_line(lake, t) -> str:
    """Raw files, bronze rows per operation and quarantined rows of table ``t``."""
    import polars as pl
    from deltalake import DeltaTable

    from lakehouse.engine.bronze import raw_files

    files = raw_files(lake, t)  # where its files are: the lake or the DMS output (dms_s3)
    ops, total, q = {}, 0, 0
    try:
        bronze = DeltaTable(lake.uri(f"bronze/{t.name}"), storage_options=lake.storage_options)
        frame = pl.from_arrow(bronze.to_pyarrow_table(columns=["_op"]))
        total = frame.height
        ops = dict(frame.group_by("_op").len().iter_rows())
    except Exception:
        pass
    try:
        quarantine = DeltaTable(
            lake.uri(f"quarantine/{t.name}"), storage_options=lake.storage_options
        )
        q = quarantine.to_pyarrow_table(columns=["_reason"]).num_rows
    except Exception:
        pass
    return (
        f"  {t.name:<24}{len(files):>10}{total:>13,}{ops.get('I', 0):>10,}"
        f"{ops.get('U', 0):>8,}{ops.get('D', 0):>8,}{q:>13,}"
    )


def _unclaimed_lines(lake, s: Settings) -> list[str]:
    """Raw CSV files no declared table claims (nothing is ignored silently)."""
    from lakehouse.declarations import all_datasets, served
    from lakehouse.filesync.unclaimed import unclaimed_files

    objs = unclaimed_files(lake, all_datasets(served(s), s), whole_zone=True)
    if not objs:
        return []
    lines = [f"unclaimed raw files ({len(objs)}): no table's file_glob matches them"]
    lines += [f"  {o.key}" for o in objs[:20]]
    return lines + ([f"  … {len(objs) - 20} more"] if len(objs) > 20 else [])
