"""The ``lakehouse`` command line (``python -m lakehouse`` or the ``lakehouse`` entry point).

    lakehouse init NAME [--kind postgres|csv_drop|dms_s3] [--dsn-env VAR]
    lakehouse discover NAME [--check]
    lakehouse doctor NAME
    lakehouse source up|down|status
    lakehouse source seed --dataset autocorp|saas --scale small|medium|large
    lakehouse source churn --dataset saas --rate 200 --duration 30
    lakehouse replicate --once|--follow [--dataset NAME]
    lakehouse sync
    lakehouse materialize [--select 'group:saas_bronze']
    lakehouse query "SELECT * FROM silver.orders LIMIT 5"
    lakehouse status
    lakehouse demo
    lakehouse api serve [--host 127.0.0.1 --port 8080]
    lakehouse api keys add --source iot_sensors | list | revoke KEY_ID

Configuration comes from the profile resolver (``lakehouse.profiles``) only.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import time
from datetime import UTC, date, datetime

from lakehouse.profiles import Settings


def _settings() -> Settings:
    return Settings.from_env()


def _dsn(settings: Settings, dataset: str) -> str:
    from lakehouse.defs.resources import build_resources

    return build_resources(settings)["source_db"].dataset_dsn(dataset)


def _datasets(settings: Settings, name: str | None, what: str = "replicated") -> tuple[str, ...]:
    """``name``, or every served dataset that is ``replicated`` (a postgres source) or has
    ``demo`` data."""
    return (name,) if name else _served(settings, what)


def _served(settings: Settings, what: str) -> tuple[str, ...]:
    from lakehouse.declarations import declaration, served

    def keep(d: str) -> bool:
        decl = declaration(d, settings)
        return decl.decl.demo is not None if what == "demo" else bool(decl.sources_of("postgres"))

    return tuple(d for d in served(settings) if keep(d))


# ------------------------------------------------------------------------------------ source
def cmd_source(args) -> int:
    from lakehouse.source import embedded

    s = _settings()
    if args.action == "up":
        if s.source_dsn:
            print(f"using the external source database {s.source_dsn!r}; nothing to start")
            return 0
        base = embedded.start(s.pgdata, databases=_served(s, "replicated"))
        for d in _served(s, "replicated"):
            print(f"{d}: {embedded.with_database(base, d)}")
        return 0
    if args.action == "down":
        print("stopped" if embedded.stop(s.pgdata) else "not running")
        return 0
    if args.action == "status":
        running = embedded.is_running(s.pgdata)
        print(f"embedded PostgreSQL at {s.pgdata}: {'running' if running else 'stopped'}")
        return 0
    if args.action == "seed":
        for d in _datasets(s, args.dataset, "demo"):
            seed_dataset(s, d, args.scale, progress=not args.quiet)
        return 0
    if args.action == "churn":
        from lakehouse.source.churn import run_churn

        for d in _datasets(s, args.dataset, "demo"):
            stats = run_churn(
                _dsn(s, d),
                d,
                rate=args.rate,
                duration=args.duration,
                progress=not args.quiet,
                seed=time.time_ns() % 2**31,  # a new workload each time: no replayed unique values
            )
            print(f"{d}: {_churn_line(stats)}")
        return 0
    raise SystemExit(f"unknown source action {args.action}")


def _churn_line(stats) -> str:
    return (
        f"{stats.transactions} transactions ({stats.rolled_back} rolled back, {stats.failed} failed): "
        f"{sum(stats.inserts.values())} inserts, {sum(stats.updates.values())} updates, "
        f"{sum(stats.deletes.values())} deletes, {sum(stats.pk_updates.values())} key updates"
    )


def seed_dataset(s: Settings, dataset: str, scale: str, *, progress: bool) -> dict[str, int]:
    """Seed the source database and, for autocorp, drop the CSV files into the landing folder."""
    from lakehouse.source.seed import seed

    counts = seed(_dsn(s, dataset), dataset, scale, progress=progress)
    for table, n in counts.items():
        print(f"  {dataset}.{table}: {n:,} rows")
    from lakehouse.source.seed import generator_module

    write_landing = getattr(generator_module(dataset), "write_landing", None)
    if write_landing is not None:  # demo CSV drops
        folder = s.landing_dir / dataset
        written = write_landing(folder, scale, date.today())
        print(f"  landing: {folder} ({', '.join(written)})")
    return counts


def _is_seeded(s: Settings, dataset: str) -> bool:
    import psycopg

    from lakehouse.declarations import load_dataset

    first = load_dataset(dataset).database_tables[0]
    with psycopg.connect(_dsn(s, dataset)) as conn:
        row = conn.execute("select to_regclass(%s)", (first.qualified_name,)).fetchone()
        return row[0] is not None


# ------------------------------------------------------------------------------- replication
def cmd_replicate(args) -> int:
    import threading

    from lakehouse.replication.replicator import Replicator
    from lakehouse.replication.task import dataset_task

    s = _settings()
    lake = s.lake()
    names = _datasets(s, args.dataset)
    if not args.follow:
        for d in names:
            t0 = time.perf_counter()
            stats = Replicator(dataset_task(d, _dsn(s, d)), lake, progress=not args.quiet).run()
            print(
                f"{d}: full load {sum(stats.full_load_rows.values()):,} rows, "
                f"{stats.total_changes:,} changes in {stats.transactions:,} transactions, "
                f"{len(stats.files)} files, {time.perf_counter() - t0:.1f}s"
            )
        return 0
    stop = threading.Event()
    threads = []
    for d in names:
        rep = Replicator(dataset_task(d, _dsn(s, d)), lake)
        th = threading.Thread(
            target=rep.run,
            kwargs={"follow": True, "stop": stop},
            name=f"replicate-{d}",
            daemon=True,
        )
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
    return 0


def cmd_sync(args) -> int:
    from lakehouse.declarations import load_dataset
    from lakehouse.defs.raw import RAW_CSV_PREFIX
    from lakehouse.defs.resources import build_resources
    from lakehouse.filesync import sync_folder

    s = _settings()
    for d in _datasets(s, args.dataset):
        if not load_dataset(d).csv_tables:
            continue
        folder = build_resources(s)["landing"].dataset_folder(d)
        folder.mkdir(parents=True, exist_ok=True)
        rep = sync_folder(
            folder,
            s.lake(),
            f"{RAW_CSV_PREFIX}{d}/",
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


# ------------------------------------------------------------------------------------ dagster
DAGSTER_YAML = """\
# written by lakehouse: one run at a time merges into a table (pools bronze_<t>, silver_<t>, …),
# different tables run in parallel; queued runs start within a second and sensors are evaluated
# in parallel threads (freshness: every hop between a commit and silver is a sensor tick or a
# queued run). Runs start in a process that imported the stack beforehand (lakehouse.runs.launcher).
run_coordinator:
  module: dagster.core.run_coordinator
  class: QueuedRunCoordinator
  config:
    dequeue_interval_seconds: 1
run_launcher:
  module: lakehouse.runs.launcher
  class: WarmRunLauncher
concurrency:
  pools:
    default_limit: 1
sensors:
  use_threads: true
  num_workers: 4
telemetry:
  enabled: false
"""
_OURS = "# written by lakehouse"


def _ours_but_outdated(cfg: str) -> bool:
    """A dagster.yaml an older lakehouse wrote (a user's own file is never touched)."""
    with open(cfg) as fh:
        text = fh.read()
    return text.startswith(_OURS) and text != DAGSTER_YAML


def dagster_home(s: Settings) -> str:
    """DAGSTER_HOME (default ``<state>/dagster``) with the project's dagster.yaml in it."""
    home = os.environ.get("DAGSTER_HOME") or str(s.state_dir / "dagster")
    os.makedirs(home, exist_ok=True)
    cfg = os.path.join(home, "dagster.yaml")
    if not os.path.exists(cfg) or _ours_but_outdated(cfg):
        with open(cfg, "w") as fh:
            fh.write(DAGSTER_YAML)
    os.environ["DAGSTER_HOME"] = home
    return home


def _instance(s: Settings):
    from dagster import DagsterInstance

    dagster_home(s)
    return DagsterInstance.get()


def cmd_dev(args) -> int:
    """The Dagster UI with sensors and automation on (webserver + daemon via ``dagster dev``)."""
    import signal
    import subprocess

    s = _settings()
    home = dagster_home(s)
    if s.profile == "local" and not s.source_dsn:
        cmd_source(argparse.Namespace(action="up"))
    cmd = [
        sys.executable,
        "-m",
        "dagster",
        "dev",
        "-w",
        args.workspace,
        "-h",
        args.host,
        "-p",
        str(args.port),
    ]
    print(f"DAGSTER_HOME={home}; UI at http://{args.host}:{args.port}")
    # a loaded laptop can take longer than gRPC's default 60 s to answer the daemon
    os.environ.setdefault("DAGSTER_GRPC_TIMEOUT_SECONDS", "300")
    proc = subprocess.Popen(cmd, preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    try:
        return proc.wait()
    except KeyboardInterrupt:
        proc.send_signal(signal.SIGINT)
        return proc.wait(timeout=30)


QUIET_LOGS = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}


def materialize(
    selection: str | None = None, settings: Settings | None = None, *, quiet: bool = True
):
    """Materialize the selected assets in-process on the persistent Dagster instance."""
    import dagster as dg

    from lakehouse.definitions import build_definitions

    s = settings or _settings()
    defs = build_definitions(s)
    job = defs.resolve_implicit_global_asset_job_def()
    sel = dg.AssetSelection.from_string(selection) if selection else None
    with _instance(s) as instance:
        if sel is not None:
            keys = sel.resolve(defs.resolve_asset_graph())
            return job.execute_in_process(
                instance=instance,
                asset_selection=list(keys),
                run_config=QUIET_LOGS if quiet else None,
                raise_on_error=False,
            )
        return job.execute_in_process(
            instance=instance, run_config=QUIET_LOGS if quiet else None, raise_on_error=False
        )


def cmd_materialize(args) -> int:
    result = materialize(args.select, quiet=args.quiet)
    _print_run(result)
    return 0 if result.success else 1


def _print_run(result) -> None:
    """One line per materialized asset and per failed step or check."""
    for ev in result.get_asset_materialization_events():
        mat = ev.event_specific_data.materialization
        meta = {
            k: v.value
            for k, v in mat.metadata.items()
            if k in ("rows", "files", "inserted", "updated", "deleted", "quarantined", "changes")
        }
        print(f"  materialized {mat.asset_key.to_user_string():<40} {meta}")
    for ev in result.all_events:
        if ev.event_type_value == "STEP_FAILURE":
            print(f"  FAILED step {ev.step_key}: {ev.event_specific_data.error.message.strip()}")
        if ev.event_type_value == "ASSET_CHECK_EVALUATION" and not ev.event_specific_data.passed:
            ev_data = ev.event_specific_data
            print(
                f"  check failed: {ev_data.asset_key.to_user_string()} {ev_data.check_name} ({ev_data.severity.value})"
            )
    print("run succeeded" if result.success else "run FAILED")


def cmd_query(args) -> int:
    from lakehouse.query.sql import query_command

    print(
        query_command(args.sql, _settings().lake(), output_format=args.format, tenant=args.tenant)
    )
    return 0


def cmd_status(args) -> int:
    print(status_report(_settings()))
    return 0


def status_report(s: Settings) -> str:
    """A summary of the source, the replication tasks, raw files and bronze tables."""
    import polars as pl
    from deltalake import DeltaTable

    from lakehouse.declarations import load_dataset, served
    from lakehouse.replication.state import ReplicationState
    from lakehouse.replication.task import slot_name
    from lakehouse.source import embedded

    lake = s.lake()
    lines = [f"profile {s.profile}, lake {s.root}"]
    if not s.source_dsn:
        lines.append(
            f"source: embedded PostgreSQL {'running' if embedded.is_running(s.pgdata) else 'stopped'} ({s.pgdata})"
        )
    for d in served(s):
        ds = load_dataset(d)
        if not ds.tables:
            continue
        st = ReplicationState.load(lake, d, slot_name(d))
        lines.append(
            f"\n{d}: full load {'done' if st.full_load_done else 'not done'}, "
            f"{st.cdc_files_written} CDC files written, checkpoint LSN {st.checkpoint_lsn:X}"
        )
        lines.append(
            f"  {'table':<24}{'raw files':>10}{'bronze rows':>13}{'I':>10}{'U':>8}{'D':>8}{'quarantined':>13}"
        )
        for t in ds.tables:
            nraw = (
                len(lake.list(t.raw_prefix))
                if t.source == "database"
                else sum(
                    1
                    for o in lake.list(t.raw_prefix)
                    if __import__("fnmatch").fnmatch(o.key.rsplit("/", 1)[-1], t.file_glob)
                )
            )
            ops, total, q = {}, 0, 0
            try:
                frame = pl.from_arrow(
                    DeltaTable(
                        lake.uri(f"bronze/{t.name}"), storage_options=lake.storage_options
                    ).to_pyarrow_table(columns=["_op"])
                )
                total = frame.height
                ops = dict(frame.group_by("_op").len().iter_rows())
            except Exception:
                pass
            try:
                q = (
                    DeltaTable(
                        lake.uri(f"quarantine/{t.name}"), storage_options=lake.storage_options
                    )
                    .to_pyarrow_table(columns=["_reason"])
                    .num_rows
                )
            except Exception:
                pass
            lines.append(
                f"  {t.name:<24}{nraw:>10}{total:>13,}{ops.get('I', 0):>10,}{ops.get('U', 0):>8,}{ops.get('D', 0):>8,}{q:>13,}"
            )
    lines += _unclaimed_lines(lake, s)
    return "\n".join(lines)


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


def _count(lake, key: str) -> int:
    """Rows of the Delta table at ``key`` (0 when it does not exist)."""
    from deltalake import DeltaTable

    try:
        return DeltaTable(lake.uri(key), storage_options=lake.storage_options).count()
    except Exception:
        return 0


def cmd_demo(args) -> int:
    """Start the source, seed it, replicate, sync, materialize every asset, print a summary."""
    s = _settings()
    t0 = time.perf_counter()
    print(f"== lakehouse demo (profile {s.profile}, lake {s.root})")
    cmd_source(argparse.Namespace(action="up"))
    for d in _served(s, "demo"):
        if _is_seeded(s, d) and not args.reseed:
            print(f"== {d}: already seeded (use --reseed to start over)")
        else:
            print(f"== seeding {d} at scale {args.scale}")
            seed_dataset(s, d, args.scale, progress=True)
    print("== materializing every asset (replication, file sync, bronze, silver, gold, checks)")
    result = materialize(settings=s)
    _print_run(result)
    ok = result.success
    if ok and args.churn > 0:
        from lakehouse.source.churn import run_churn

        for d in _served(s, "demo"):
            stats = run_churn(
                _dsn(s, d), d, rate=200, duration=args.churn, seed=time.time_ns() % 2**31
            )
            print(f"== churn on {d}: {_churn_line(stats)}")
        print("== materializing again (change data capture into bronze, silver and gold)")
        result = materialize(settings=s)
        _print_run(result)
        ok = result.success
    print("\n" + status_report(s))
    if ok:
        from lakehouse.query.sql import query_command

        sql = (
            "SELECT t.name AS tenant, count(*) AS completed_orders, sum(o.total) AS revenue "
            "FROM silver.orders o JOIN silver.tenants t ON t.id = o.tenant_id "
            "WHERE o.status = 'completed' GROUP BY t.name ORDER BY revenue DESC"
        )
        from lakehouse.catalog.local import default_alias_dataset, friendly_names
        from lakehouse.declarations import served

        aliases = default_alias_dataset()
        views = friendly_names().get(aliases or "", {})
        if aliases in served(s) and {"orders", "tenants"} <= set(views):
            print(f"\n== SQL over the lake (DuckDB catalog, Athena dialect):\n   {sql}")
            print(query_command(sql, s.lake()))
    print(
        f"\n== demo {'finished' if ok else 'FAILED'} in {time.perf_counter() - t0:.0f}s at {datetime.now(UTC):%H:%M:%S} UTC"
    )
    print("   browse it: make dev (Dagster UI), or: lakehouse status")
    return 0 if ok else 1


# ------------------------------------------------------------------------------- declarations
def cmd_init(args) -> int:
    from lakehouse.commands.declare import init

    path = init(_settings(), args.name, args.kind, dsn_env=args.dsn_env, landing=args.landing,
                path=args.path)  # fmt: skip
    print(f"declared {args.name}: {path}")
    print(f"next: lakehouse discover {args.name}   (then: lakehouse doctor {args.name}, make dev)")
    return 0


def cmd_discover(args) -> int:
    from lakehouse.commands.declare import discover

    report, notes = discover(_settings(), args.name, write=not args.check)
    for line in report:
        print(f"  {line}")
    for line in notes:
        print(f"  note: {line}")
    if args.check:
        print("no drift" if not report else f"{len(report)} difference(s): run without --check")
        return 1 if report else 0
    print(f"{args.name}: declaration updated ({len(report)} change(s))")
    return 0


def cmd_doctor(args) -> int:
    from lakehouse.commands.declare import doctor

    report, ok = doctor(_settings(), args.name)
    print(report)
    return 0 if ok else 1


# ------------------------------------------------------------------------------------ parser
def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="lakehouse", description=__doc__.split("\n")[0])
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bars")
    sub = p.add_subparsers(dest="command", required=True)

    src = sub.add_parser("source", help="the source PostgreSQL")
    src.add_argument("action", choices=["up", "down", "status", "seed", "churn"])
    src.add_argument("--dataset", help="a declared dataset (default: all)")
    src.add_argument("--scale", choices=["small", "medium", "large"], default="small")
    src.add_argument("--rate", type=float, default=100.0, help="churn: changes per second")
    src.add_argument("--duration", type=float, default=10.0, help="churn: seconds")
    src.set_defaults(fn=cmd_source)

    rep = sub.add_parser("replicate", help="PostgreSQL → raw zone in the AWS DMS S3 format")
    mode = rep.add_mutually_exclusive_group()
    mode.add_argument("--once", action="store_true", help="catch up, then exit (default)")
    mode.add_argument("--follow", action="store_true", help="keep replicating until Ctrl-C")
    rep.add_argument("--dataset", help="a declared dataset (default: all)")
    rep.set_defaults(fn=cmd_replicate)

    sy = sub.add_parser("sync", help="landing folder → raw/csv (the local DataSync)")
    sy.add_argument("--dataset", help="a declared dataset (default: all)")
    sy.set_defaults(fn=cmd_sync)

    ini = sub.add_parser("init", help="declare a new dataset (NAME/defs.yaml)")
    ini.add_argument("name")
    ini.add_argument("--kind", choices=["postgres", "csv_drop", "dms_s3"], default="postgres")
    ini.add_argument("--dsn-env", help="postgres: the variable holding the DSN (NAME_SOURCE_DSN)")
    ini.add_argument("--landing", help="csv_drop: the landing folder")
    ini.add_argument("--path", help="dms_s3: the DMS output folder or s3:// prefix")
    ini.set_defaults(fn=cmd_init)

    dis = sub.add_parser("discover", help="pin a dataset's tables from its sources")
    dis.add_argument("name")
    dis.add_argument("--check", action="store_true", help="write nothing; exit 1 on drift")
    dis.set_defaults(fn=cmd_discover)

    doc = sub.add_parser("doctor", help="can the source database be replicated? (fix SQL)")
    doc.add_argument("name")
    doc.set_defaults(fn=cmd_doctor)

    mat = sub.add_parser("materialize", help="materialize assets in-process")
    mat.add_argument("--select", help="an asset selection string, e.g. 'group:saas_bronze'")
    mat.set_defaults(fn=cmd_materialize)

    q = sub.add_parser("query", help="SQL (Athena/Trino dialect) over the lake's tables")
    q.add_argument("sql")
    q.add_argument("--format", choices=["table", "csv", "json"], default="table")
    q.add_argument(
        "--tenant",
        help="run as this tenant (saas): only its rows are visible, nothing else is reachable",
    )
    q.set_defaults(fn=cmd_query)

    st = sub.add_parser("status", help="what is where")
    st.set_defaults(fn=cmd_status)

    dev = sub.add_parser("dev", help="the Dagster UI with sensors and automation on")
    dev.add_argument("--host", default="127.0.0.1")
    dev.add_argument("--port", type=int, default=3000)
    dev.add_argument("--workspace", default="workspace.yaml")
    dev.set_defaults(fn=cmd_dev)

    demo = sub.add_parser("demo", help="the whole pipeline, end to end")
    demo.add_argument("--scale", choices=["small", "medium", "large"], default="small")
    demo.add_argument("--reseed", action="store_true")
    demo.add_argument(
        "--churn", type=float, default=5.0, help="seconds of churn between runs (0: none)"
    )
    demo.set_defaults(fn=cmd_demo)

    api = sub.add_parser("api", help="the event ingestion API (POST /ingest)")
    api_sub = api.add_subparsers(dest="api_command", required=True)
    serve = api_sub.add_parser("serve", help="serve the API (Starlette + uvicorn) until Ctrl-C")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8080)
    serve.set_defaults(fn=cmd_api_serve)
    keys = api_sub.add_parser("keys", help="API keys (stored as sha256 hashes)")
    keys.add_argument("action", choices=["add", "list", "revoke"])
    keys.add_argument("key_id", nargs="?", help="revoke: the key id")
    keys.add_argument(
        "--source",
        action="append",
        default=[],
        help="add: a source the key may write (repeat; '*' for all)",
    )
    keys.add_argument("--rate", type=float, help="add: requests/s for this key (default: server's)")
    keys.add_argument("--burst", type=float, help="add: token-bucket size for this key")
    keys.set_defaults(fn=cmd_api_keys)
    return p


# ------------------------------------------------------------------------------- event API
def cmd_api_serve(args) -> int:
    from lakehouse.events.app import serve

    s = _settings()
    print(
        f"event API on http://{args.host}:{args.port} (POST /ingest, GET /health), lake {s.root}",
        file=sys.stderr,
    )
    serve(args.host, args.port, settings=s)
    return 0


def cmd_api_keys(args) -> int:
    from lakehouse.events.keys import ApiKeyStore
    from lakehouse.events.schemas import all_sources

    store = ApiKeyStore.from_settings(_settings())
    if args.action == "add":
        unknown = [x for x in args.source if x != "*" and x not in all_sources()]
        if not args.source or unknown:
            raise SystemExit(
                f"--source must name registered sources {sorted(all_sources())} or '*'"
                + (f"; unknown: {unknown}" if unknown else "")
            )
        key_id, plaintext = store.add(args.source, rate=args.rate, burst=args.burst)
        print(
            f"# key {key_id} for {', '.join(sorted(set(args.source)))}; shown once, only its "
            "sha256 is stored",
            file=sys.stderr,
        )
        print(plaintext)
        return 0
    if args.action == "list":
        for e in store.list():
            print(
                f"{e['id']}  sources={','.join(e['sources'])}  created={e['created_at']}"
                f"{'  REVOKED' if e.get('revoked') else ''}"
            )
        return 0
    if not args.key_id:
        raise SystemExit("revoke needs a key id (see: lakehouse api keys list)")
    ok = store.revoke(args.key_id)
    print("revoked" if ok else f"no key {args.key_id}")
    return 0 if ok else 1


def main(argv: list[str] | None = None) -> int:
    from lakehouse.declarations import DeclarationError

    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        return args.fn(args)
    except DeclarationError as err:  # a person's mistake in a declaration: no traceback
        print(f"lakehouse: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
