"""Declared datasets: discovery of a 500-table schema, and the code location's load time.

Setup (a temp dir, removed at the end): an embedded PostgreSQL with a schema of ``--tables``
tables (8 columns each: keys, foreign keys to the previous table, varchar/numeric/timestamptz/
jsonb/array/enum columns, a CHECK), declared as a third dataset beside the shipped two.

1. **Discovery**: ``lakehouse discover`` (one catalog query, merge, YAML written back and
   validated) vs **baseline**: the bare catalog read of the same columns
   (``information_schema.columns`` of the schema, fetched). Goal: ours ≤ 5 s (absolute: what a
   user waits for); the ratio is reported.
2. **Load**: the code location's ``build_definitions`` with the shipped declarations and the
   third dataset, and within it the declarations' share on a reload (what ``Reload
   definitions`` repeats: every ``defs.yaml`` read, its validated form taken from the cache when
   the file is unchanged, turned into registry specs). Goal: that share ≤ 0.5 s; a first load
   (YAML parsed) and the total (Dagster building the assets) are printed beside it.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import temp_dir  # noqa: E402


def _parse() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--tables", type=int, default=500)
    p.add_argument("--repeats", type=int, default=3)
    return p.parse_args()


def _schema(n: int) -> str:
    out = ["create type mood as enum ('ok', 'sad');"]
    for i in range(n):
        fk = f", parent_id bigint references t{i - 1:03d}(id)" if i else ", parent_id bigint"
        out.append(
            f"create table t{i:03d} (id bigint primary key{fk}, name varchar(80) not null,"
            f" amount numeric(12,2) check (amount >= 0), at timestamptz, doc jsonb,"
            f" tags text[], m mood);"
        )
    return "\n".join(out)


def main() -> int:
    args = _parse()
    import psycopg

    from lakehouse.cli import main as cli
    from lakehouse.source import embedded

    with temp_dir("bench_declarations_") as tmp:
        pgdata = tmp / "pg"
        dsn = embedded.start(pgdata, databases=("bench",))
        try:
            with psycopg.connect(dsn, autocommit=True) as conn:
                conn.execute(_schema(args.tables))
            os.environ.update(
                LAKEHOUSE_DEFS=str(tmp / "defs"), LAKEHOUSE_ROOT=str(tmp / "lake"),
                BENCH_DSN=dsn,
            )  # fmt: skip
            if cli(["-q", "init", "bench", "--dsn-env", "BENCH_DSN"]) != 0:
                raise RuntimeError("lakehouse init failed")
            ours, base = [], []
            for _ in range(args.repeats):
                t0 = time.perf_counter()
                with psycopg.connect(dsn) as conn:
                    rows = conn.execute(
                        "select table_name, column_name, data_type, is_nullable"
                        " from information_schema.columns where table_schema = 'public'"
                    ).fetchall()
                base.append(time.perf_counter() - t0)
                t0 = time.perf_counter()
                if cli(["-q", "discover", "bench"]) != 0:
                    raise RuntimeError("lakehouse discover failed")
                ours.append(time.perf_counter() - t0)
            if len(rows) != args.tables * 8:
                raise RuntimeError(f"baseline read {len(rows)} columns, expected {args.tables * 8}")
            from lakehouse.declarations import load_dataset
            from lakehouse.profiles import Settings

            settings = Settings.from_env()
            if len(load_dataset("bench", settings).tables) != args.tables:
                raise RuntimeError("discovery did not pin every table")
            d_ours, d_base = statistics.median(ours), statistics.median(base)
            print(f"discover {args.tables} tables: ours {d_ours:.2f}s {[round(t, 2) for t in ours]}"
                  f", catalog read {d_base:.3f}s")  # fmt: skip
            total, overhead, n_decls = _load_times(settings, args.repeats)
        finally:
            embedded.stop(pgdata)
    print(f"build_definitions, {n_decls} declarations ({args.tables + 17} tables): {total:.2f}s,"
          f" of which reading the declarations {overhead:.2f}s")  # fmt: skip
    ok1 = "OK" if d_ours <= 5.0 else "MISSED"
    ok2 = "OK" if overhead <= 0.5 else "MISSED"
    print(f"RESULT declarations_discover: {d_ours:.2f} s vs catalog read {d_base:.3f} s = "
          f"{d_ours / d_base:.1f}x (goal ours <= 5 s) {ok1}")  # fmt: skip
    print(f"RESULT declarations_load: {overhead:.2f} s of {total:.2f} s = "
          f"{overhead / total:.2f} of the location's load (goal declarations <= 0.5 s) {ok2}")  # fmt: skip
    return 0


def _load_times(settings, repeats: int) -> tuple[float, float, int]:
    """(build_definitions seconds, declarations' share seconds on a reload, declarations); the
    share of a first load (no validated declaration cached yet) is printed too."""
    import shutil

    import lakehouse.declarations as decls
    from lakehouse.definitions import build_definitions

    build_definitions(settings)  # imports warm
    total, share, cold = [], [], []
    for _ in range(repeats):
        shutil.rmtree(settings.state_dir / "_cache", ignore_errors=True)
        decls._cache.clear()  # a first load: every declaration parsed and validated
        t0 = time.perf_counter()
        decls.declarations(settings)
        cold.append(time.perf_counter() - t0)
        decls._cache.clear()  # a reload: the files are unchanged
        t0 = time.perf_counter()
        n = len(decls.declarations(settings))
        share.append(time.perf_counter() - t0)
        decls._cache.clear()
        t0 = time.perf_counter()
        build_definitions(settings)
        total.append(time.perf_counter() - t0)
    print(f"declarations on a first load (YAML parsed): {statistics.median(cold):.2f}s")
    return statistics.median(total), statistics.median(share), n


if __name__ == "__main__":
    sys.exit(main())
