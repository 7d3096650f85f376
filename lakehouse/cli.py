"""The ``lakehouse`` command line (``python -m lakehouse`` or the ``lakehouse`` entry point).

    lakehouse init NAME [--kind postgres|csv_drop|dms_s3] [--dsn-env VAR]
    lakehouse discover NAME [--check]
    lakehouse doctor NAME
    lakehouse source up|down|status
    lakehouse source seed --dataset autocorp|saas --scale small|medium|large
    lakehouse source churn --dataset saas --rate 200 --duration 30
    lakehouse replicate --once|--follow [--dataset NAME]
    lakehouse resync --dataset NAME [--table T …]
    lakehouse sync
    lakehouse materialize [--select 'group:saas_bronze']
    lakehouse query "SELECT * FROM silver.orders LIMIT 5"
    lakehouse status
    lakehouse demo
    lakehouse api serve [--host 127.0.0.1 --port 8080]
    lakehouse api keys add --source iot_sensors | list | revoke KEY_ID

A mistake in what was asked (a declaration, a setting, an unknown tenant or table, SQL that
does not parse) is one line on stderr, ``lakehouse: error: <what> — fix: <what to do>``, and
exit code 2; ``lakehouse --debug …`` prints the traceback too.

Configuration comes from the profile resolver (``lakehouse.profiles``) only. This module only
assembles the parser and dispatches; each command group is a module of ``lakehouse.commands``.
"""

from __future__ import annotations

import argparse
import logging
import sys
import traceback

from lakehouse.commands import api, declare, demo, pipeline, query, raw, source, status


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="lakehouse", description=__doc__.split("\n")[0])
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bars")
    p.add_argument("--debug", action="store_true", help="an error's traceback, too")
    sub = p.add_subparsers(dest="command", required=True)
    _source_parsers(sub)
    _declare_parsers(sub)
    _pipeline_parsers(sub)
    _api_parsers(sub)
    return p


def _source_parsers(sub) -> None:
    src = sub.add_parser("source", help="the source PostgreSQL")
    src.add_argument("action", choices=["up", "down", "status", "seed", "churn"])
    src.add_argument("--dataset", help="a declared dataset (default: all)")
    src.add_argument("--scale", choices=["small", "medium", "large"], default="small")
    src.add_argument("--rate", type=float, default=100.0, help="churn: changes per second")
    src.add_argument("--duration", type=float, default=10.0, help="churn: seconds")
    src.set_defaults(fn=source.cmd_source)

    rep = sub.add_parser("replicate", help="PostgreSQL → raw zone in the AWS DMS S3 format")
    mode = rep.add_mutually_exclusive_group()
    mode.add_argument("--once", action="store_true", help="catch up, then exit (default)")
    mode.add_argument("--follow", action="store_true", help="keep replicating until Ctrl-C")
    rep.add_argument("--dataset", help="a declared dataset (default: all)")
    rep.set_defaults(fn=raw.cmd_replicate)

    rs = sub.add_parser("resync", help="copy a dataset's tables from the source again (a reload)")
    rs.add_argument("--dataset", required=True, help="a declared dataset with a postgres source")
    rs.add_argument("--table", action="append", help="only this table (repeatable; default: all)")
    rs.set_defaults(fn=raw.cmd_resync)

    sy = sub.add_parser("sync", help="landing folder → raw/csv (the local DataSync)")
    sy.add_argument("--dataset", help="a declared dataset (default: all)")
    sy.set_defaults(fn=raw.cmd_sync)


def _declare_parsers(sub) -> None:
    ini = sub.add_parser("init", help="declare a new dataset (NAME/defs.yaml)")
    ini.add_argument("name")
    ini.add_argument("--kind", choices=["postgres", "csv_drop", "dms_s3"], default="postgres")
    ini.add_argument("--dsn-env", help="postgres: the variable holding the DSN (NAME_SOURCE_DSN)")
    ini.add_argument("--landing", help="csv_drop: the landing folder")
    ini.add_argument("--path", help="dms_s3: the DMS output folder or s3:// prefix")
    ini.set_defaults(fn=declare.cmd_init)

    dis = sub.add_parser("discover", help="pin a dataset's tables from its sources")
    dis.add_argument("name")
    dis.add_argument("--check", action="store_true", help="write nothing; exit 1 on drift")
    dis.set_defaults(fn=declare.cmd_discover)

    doc = sub.add_parser("doctor", help="can the source database be replicated? (fix SQL)")
    doc.add_argument("name")
    doc.set_defaults(fn=declare.cmd_doctor)


def _pipeline_parsers(sub) -> None:
    mat = sub.add_parser("materialize", help="materialize assets in-process")
    mat.add_argument("--select", help="an asset selection string, e.g. 'group:saas_bronze'")
    mat.set_defaults(fn=pipeline.cmd_materialize)

    q = sub.add_parser("query", help="SQL (Athena/Trino dialect) over the lake's tables")
    q.add_argument("sql")
    q.add_argument("--format", choices=["table", "csv", "json"], default="table")
    q.add_argument(
        "--tenant",
        help="run as this tenant (saas): only its rows are visible, nothing else is reachable",
    )
    q.set_defaults(fn=query.cmd_query)

    st = sub.add_parser("status", help="what is where")
    st.set_defaults(fn=status.cmd_status)

    dev = sub.add_parser("dev", help="the Dagster UI with sensors and automation on")
    dev.add_argument("--host", default="127.0.0.1")
    dev.add_argument("--port", type=int, default=3000)
    dev.add_argument("--workspace", default="workspace.yaml")
    dev.set_defaults(fn=pipeline.cmd_dev)

    demo_ = sub.add_parser("demo", help="the whole pipeline, end to end")
    demo_.add_argument("--scale", choices=["small", "medium", "large"], default="small")
    demo_.add_argument("--reseed", action="store_true")
    demo_.add_argument(
        "--churn", type=float, default=5.0, help="seconds of churn between runs (0: none)"
    )
    demo_.set_defaults(fn=demo.cmd_demo)


def _api_parsers(sub) -> None:
    api_ = sub.add_parser("api", help="the event ingestion API (POST /ingest)")
    api_sub = api_.add_subparsers(dest="api_command", required=True)
    serve = api_sub.add_parser("serve", help="serve the API (Starlette + uvicorn) until Ctrl-C")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8080)
    serve.set_defaults(fn=api.cmd_api_serve)
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
    keys.set_defaults(fn=api.cmd_api_keys)


def main(argv: list[str] | None = None) -> int:
    """Run one command; its exit code. A person's mistake (a declaration, a setting, a query)
    is one line on stderr and exit code 2 (``--debug``: with the traceback); anything else
    raises (the traceback, exit 1)."""
    from lakehouse.commands.errors import user_error
    from lakehouse.declarations import DeclarationError

    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        return args.fn(args)
    except DeclarationError as err:  # a person's mistake in a declaration: no traceback
        if args.debug:
            traceback.print_exc()
        print(f"lakehouse: {err}", file=sys.stderr)
        return 2
    except Exception as err:
        problem = user_error(err)
        if problem is None:
            raise
        if args.debug:
            traceback.print_exc()
        print(f"lakehouse: error: {problem}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
