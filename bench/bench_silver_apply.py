"""Silver apply: changes/s of ``silver.apply_changes`` vs a bare delta-rs MERGE, and its scaling.

Goals (issue):
1. ``silver_apply``: applying 100k mixed changes into a 1.2M-row silver table runs at >= 70 % of
   the rate of a bare delta-rs MERGE of the same, already resolved batch.
2. ``silver_scaling``: a 1k-change batch into silver tables of 1M and 10M rows: time(10M) /
   time(1M) <= 2 (the cost follows the change, not the table).

Setup (temp dir, removed at the end). Bronze is written directly with ``write_deltalake`` in
the bronze contract (registry columns + lineage ``_op, _commit_ts, _change_seq, _before_key,
_source_file, _source_row, _file_kind, _ingested_at``), no raw files:
- version 0: a full load, ``N`` ``I`` rows (``_file_kind='load'``, ``LOAD00000001.csv``);
- version 1: the CDC batch (``_file_kind='cdc'``, one ``YYYYMMDD-HHMMSSmmm.csv`` file) with
  increasing ``_commit_ts`` / ``_change_seq``; updates carry a ``_before_key`` (same key, as DMS
  writes with ``BI_`` columns), no key moves.
``apply_changes`` applies version 0 (the baseline load, not timed) before version 1 is written.

1. ``silver_apply``: table ``bench_item (id bigint pk, name string, qty int, updated_at
   timestamptz)``, ``--rows`` (1,200,000) loaded, ``--changes`` (100,000) changes: 50 % updates
   of uniformly random existing keys (drawn with replacement: a few keys change twice or more),
   15 % deletes (distinct keys, never updated in the batch), 35 % inserts of new keys, shuffled.
   The lake after the load + bronze version 1 is a template; every run works on a fresh copy.
   Interleaved, median of ``--repeats`` (3):
   - baseline: ``DeltaTable(copy of the loaded silver table).merge(resolved)`` with the same
     clauses as ours (``t.id = s.id``; delete when ``s.__op = 'D'``; update all columns / insert
     when ``s.__op <> 'D'``) and delta-rs defaults, where ``resolved`` is the batch already
     reduced to the last change per key with its ``_sequence`` (prepared before the clock
     starts): delta-rs' cost with no sequencing, no tombstones, no validation;
   - ours: ``apply_changes(lake, spec)`` end to end (find the applied bronze version, read the new
     bronze files, sequence, validate, resolve, tombstones, MERGE with the sequence guard).
   Ratio = baseline time / our time (= our changes/s / baseline changes/s).
2. ``silver_scaling``: narrow table ``bench_narrow (id bigint pk, name string, qty int)`` at 1M
   and 10M rows (``--scaling-rows``). The loaded silver table is written directly as
   ``apply_changes`` writes a first full load (same rows, ``_sequence``, schema, layout and
   ``lakehouse.bronze_version``; the full-load apply itself takes 2-4x longer, too long at 10M).
   If the 10M setup plus one batch would not fit the time budget (estimated from the 1M run), 5M
   rows are used and the RESULT note says so (the ratio is then against a 5x larger table). Each
   size gets ``--repeats`` successive bronze versions of ``--scaling-changes`` (1,000) changes
   (70 % updates / 10 % deletes of keys whose age from the newest key is exponential with mean
   20,000 keys, as recent rows change more, never a key deleted before; 20 % inserts above the
   newest key), each applied by a timed ``apply_changes``. Ratio = median time(big) / median
   time(1M), lower is better. ``EXTRA`` lines: the next resolved batch merged bare by delta-rs
   with its defaults and with ``streamed_exec=False`` (which lets delta-rs prune target files by
   the source's key range), one run each per size, with what each MERGE rewrote.

Budget: runs are planned against ``BUDGET_S`` (210 s) so the script ends within 4 minutes on a
loaded machine: fewer repeats (said so) before anything else. ``--profile`` runs are extra.

Run: ``.venv/bin/python bench/bench_silver_apply.py [--rows N] [--changes N] [--repeats R]
[--profile] [--scaling-rows 1000000,10000000] [--scaling-changes 1000] [--only apply|scaling]``.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from _common import fmt_int, fmt_times, profile, result_line, temp_dir

GOAL_APPLY = 0.90  # baseline time / our time
GOAL_SCALING = 1.2  # time(big) / time(small), lower is better
BUDGET_S = 210.0  # the whole script stays under 4 minutes
SCALING_SETUP_MAX_S = 90.0  # the big table's (estimated) setup; above it, fall back to half
SETUP_GROWTH = 2.0  # setup time grows faster than the rows (measured 10-20x for 10x)
LOAD_TS = datetime(2024, 1, 1, tzinfo=UTC)
CDC_TS = datetime(2024, 1, 2, tzinfo=UTC)
KEY_AGE_MEAN = 20_000  # scaling batch: mean age (in keys, from the newest) of a changed key


def _parse() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--rows", type=int, default=1_200_000, help="silver rows before the batch")
    p.add_argument("--changes", type=int, default=100_000, help="changes in the batch")
    p.add_argument("--repeats", type=int, default=3, help="runs of baseline and apply_changes")
    p.add_argument("--profile", action="store_true", help="cProfile one more apply of each bench")
    p.add_argument(
        "--scaling-rows",
        default="1000000,10000000",
        help="the two table sizes of the scaling bench (small,big)",
    )
    p.add_argument("--scaling-changes", type=int, default=1_000, help="changes per scaling batch")
    p.add_argument("--only", choices=("apply", "scaling"), help="run one of the two benchmarks")
    return p.parse_args()


# ----------------------------------------------------------------------------- data


def _spec(name: str, *, wide: bool):
    from lakehouse.registry.model import Column, TableSpec

    cols = [Column("id", "bigint", nullable=False), Column("name", "string"), Column("qty", "int")]
    if wide:
        cols.append(Column("updated_at", "timestamptz"))
    return TableSpec(dataset="bench", name=name, columns=tuple(cols), primary_key=("id",))


def _data(ids, *, wide: bool, version: int):
    """Registry columns for ``ids`` (numpy int64), as the source would hold them."""
    import polars as pl

    frame = pl.DataFrame({"id": ids}).with_columns(
        pl.format("item {}", pl.col("id")).alias("name")
        if version == 0
        else pl.format("item {} v{}", pl.col("id"), pl.lit(version)).alias("name"),
        ((pl.col("id") * 7 + version) % 1000).cast(pl.Int32).alias("qty"),
    )
    if wide:
        frame = frame.with_columns(
            (
                pl.lit(LOAD_TS if version == 0 else CDC_TS)
                + pl.duration(seconds=pl.col("id") % 86_400)
            )
            .cast(pl.Datetime("us", "UTC"))
            .alias("updated_at")
        )
    return frame


def _load_frame(spec, rows: int, *, wide: bool):
    """Bronze version 0: a full load of ids 1..rows."""
    import numpy as np
    import polars as pl

    frame = _data(np.arange(1, rows + 1, dtype=np.int64), wide=wide, version=0)
    return frame.with_columns(
        pl.lit("I").alias("_op"),
        pl.lit(LOAD_TS).cast(pl.Datetime("us", "UTC")).alias("_commit_ts"),
        pl.lit(None, pl.String).alias("_change_seq"),
        pl.lit(None, pl.String).alias("_before_key"),
        pl.lit(f"{spec.raw_prefix}LOAD00000001.csv").alias("_source_file"),
        pl.int_range(2, rows + 2, dtype=pl.Int64).alias("_source_row"),
        pl.lit("load").alias("_file_kind"),
        pl.lit(LOAD_TS).cast(pl.Datetime("us", "UTC")).alias("_ingested_at"),
    )


def _plan_changes(
    rng,
    table_max: int,
    changes: int,
    mix: tuple[float, float],
    age_mean: int | None,
    gone: set[int] | None = None,
):
    """(ops, ids) in change order. ``mix`` = (update share, delete share), the rest inserts.

    Updated keys are drawn with replacement (uniform over 1..table_max, or with an exponential age
    from ``table_max`` of mean ``age_mean``); deleted keys are distinct and never updated in the
    batch; inserted keys are new (above ``table_max``). ``gone``: keys deleted by earlier
    batches (never drawn; this batch's deletes are added to it)."""
    import numpy as np

    gone = set() if gone is None else gone
    n_upd = int(changes * mix[0])
    n_del = int(changes * mix[1])
    n_ins = changes - n_upd - n_del

    def draw(k: int):
        if age_mean is None:
            return rng.integers(1, table_max + 1, k)
        age = np.floor(rng.exponential(age_mean, k)).astype(np.int64)
        return np.clip(table_max - age, 1, table_max)

    upd = draw(n_upd)
    if gone:
        upd = upd[~np.isin(upd, np.fromiter(gone, dtype=np.int64))]
        while len(upd) < n_upd:
            more = draw(n_upd - len(upd))
            upd = np.concatenate([upd, more[~np.isin(more, np.fromiter(gone, dtype=np.int64))]])
    taken = set(upd.tolist()) | gone
    dels: list[int] = []
    while len(dels) < n_del:
        for key in draw(2 * (n_del - len(dels)) + 16).tolist():
            if key not in taken and len(dels) < n_del:
                taken.add(key)
                dels.append(key)
    gone.update(dels)
    ops = np.array(["U"] * n_upd + ["D"] * n_del + ["I"] * n_ins)
    ids = np.concatenate([upd, np.array(dels, dtype=np.int64), np.zeros(n_ins, dtype=np.int64)])
    order = rng.permutation(changes)
    ops, ids = ops[order], ids[order]
    ins = ops == "I"
    ids[ins] = np.arange(table_max + 1, table_max + 1 + n_ins, dtype=np.int64)
    return ops, ids


def _cdc_frame(spec, ops, ids, *, wide: bool, version: int, file_ts: datetime):
    """Bronze rows of one CDC file: ``ops``/``ids`` in commit order."""
    import polars as pl

    n = len(ops)
    base = _data(ids, wide=wide, version=version)
    fname = f"{spec.raw_prefix}{file_ts:%Y%m%d-%H%M%S}{file_ts.microsecond // 1000:03d}.csv"
    return base.with_columns(pl.Series("_op", ops, dtype=pl.String)).with_columns(
        (
            pl.lit(file_ts).cast(pl.Datetime("us", "UTC"))
            + pl.duration(microseconds=pl.int_range(0, n, dtype=pl.Int64) * 10)
        ).alias("_commit_ts"),
        pl.format("{}", pl.int_range(0, n, dtype=pl.Int64) + version * 10_000_000)
        .str.pad_start(35, "0")
        .alias("_change_seq"),
        pl.when(pl.col("_op") == "U")
        .then(pl.format('{{"id":"{}"}}', pl.col("id")))
        .otherwise(pl.lit(None, pl.String))
        .alias("_before_key"),
        pl.lit(fname).alias("_source_file"),
        pl.int_range(2, n + 2, dtype=pl.Int64).alias("_source_row"),
        pl.lit("cdc").alias("_file_kind"),
        pl.lit(file_ts).cast(pl.Datetime("us", "UTC")).alias("_ingested_at"),
    )


def _resolved(cdc, spec):
    """The batch as a bare MERGE wants it: last change per key, silver columns, ``__op``."""
    import polars as pl

    from lakehouse.engine.sequencing import SEQUENCE, with_sequence

    keep = [*spec.column_names, SEQUENCE, "_commit_ts", "_source_file"]
    out = (
        with_sequence(cdc)
        .unique(subset=list(spec.primary_key), keep="last", maintain_order=True)
        .select(*keep, pl.col("_op").alias("__op"))
    )
    return out


def _expected(resolved) -> dict[str, int]:

    counts = dict(resolved.group_by("__op").len().iter_rows())
    return {
        "inserted": counts.get("I", 0),
        "updated": counts.get("U", 0),
        "deleted": counts.get("D", 0),
    }


def _write_bronze(lake, spec, frame) -> None:
    from deltalake import write_deltalake

    write_deltalake(lake.uri(f"bronze/{spec.name}"), frame.to_arrow(), mode="append")


def _bare_merge(uri: str, source, *, streamed_exec: bool = True) -> dict:
    """delta-rs MERGE of a resolved batch with our clauses, no sequence guard."""
    from deltalake import DeltaTable

    data_cols = [c for c in source.column_names if c != "__op"]
    updates = {f'"{c}"': f's."{c}"' for c in data_cols}
    return (
        DeltaTable(uri)
        .merge(
            source,
            predicate='t."id" = s."id"',
            source_alias="s",
            target_alias="t",
            streamed_exec=streamed_exec,
        )
        .when_matched_delete(predicate="s.__op = 'D'")
        .when_matched_update(updates=updates, predicate="s.__op <> 'D'")
        .when_not_matched_insert(updates=updates, predicate="s.__op <> 'D'")
        .execute()
    )


def _check(what: str, got: dict, expected: dict) -> None:
    if got != expected:
        raise RuntimeError(f"{what}: {got} rows inserted/updated/deleted, expected {expected}")


def _counts(result) -> dict[str, int]:
    return {"inserted": result.inserted, "updated": result.updated, "deleted": result.deleted}


def _merge_counts(metrics: dict) -> dict[str, int]:
    return {
        "inserted": int(metrics.get("num_target_rows_inserted", 0)),
        "updated": int(metrics.get("num_target_rows_updated", 0)),
        "deleted": int(metrics.get("num_target_rows_deleted", 0)),
    }


def _rewrite(metrics: dict) -> str:
    """What a MERGE rewrote: files removed -> added, unchanged rows copied along."""
    return (
        f"{metrics.get('num_target_files_removed')} file(s) -> "
        f"{metrics.get('num_target_files_added')}, {fmt_int(metrics.get('num_target_rows_copied', 0))} "
        "unchanged rows copied"
    )


def _layout(uri: str) -> str:
    import pyarrow as pa
    from deltalake import DeltaTable

    actions = pa.table(DeltaTable(uri).get_add_actions(flatten=True))
    sizes = actions.column("size_bytes").to_pylist()
    return f"{len(sizes)} file(s), {sum(sizes) / 1e6:.0f} MB"


# ----------------------------------------------------------------------------- bench 1


def bench_apply(args, t_start: float) -> str:
    import numpy as np

    from lakehouse.engine import silver
    from lakehouse.storage.lake import LocalLake

    spec = _spec("bench_item", wide=True)
    repeats = max(1, args.repeats)
    rng = np.random.default_rng(7)
    with temp_dir("bench_silver_apply_") as tmp:
        template = LocalLake(tmp / "template")
        t0 = time.perf_counter()
        _write_bronze(template, spec, _load_frame(spec, args.rows, wide=True))
        t1 = time.perf_counter()
        loaded = silver.apply_changes(template, spec)
        if loaded.inserted != args.rows:
            raise RuntimeError(f"baseline load: {loaded.inserted} rows, expected {args.rows}")
        t2 = time.perf_counter()
        ops, ids = _plan_changes(rng, args.rows, args.changes, (0.50, 0.15), None)
        cdc = _cdc_frame(spec, ops, ids, wide=True, version=1, file_ts=CDC_TS)
        resolved = _resolved(cdc, spec)
        expected = _expected(resolved)
        source = resolved.to_arrow()
        silver_tpl = tmp / "silver_template"
        shutil.copytree(template.path / "silver" / spec.name, silver_tpl)
        _write_bronze(template, spec, cdc)
        print(
            f"setup: bronze load {args.rows:,} rows {t1 - t0:.1f}s, apply_changes (load) "
            f"{t2 - t1:.1f}s; silver {_layout(str(silver_tpl))}; batch {args.changes:,} changes "
            f"(U {int((ops == 'U').sum()):,}, D {int((ops == 'D').sum()):,}, "
            f"I {int((ops == 'I').sum()):,}) -> {resolved.height:,} keys {expected}"
        )

        base_times, ours_times = [], []
        for i in range(repeats):
            if i and time.perf_counter() - t_start > BUDGET_S * 0.45:
                print(f"note: stopping after {i} run(s) to stay within the time budget")
                break
            base_dir = tmp / f"base{i}"
            shutil.copytree(silver_tpl, base_dir)
            t0 = time.perf_counter()
            metrics = _bare_merge(str(base_dir), source)
            base_times.append(time.perf_counter() - t0)
            _check("bare merge", _merge_counts(metrics), expected)
            shutil.rmtree(base_dir)

            run = LocalLake(tmp / f"run{i}")
            shutil.copytree(template.path, run.path)
            t0 = time.perf_counter()
            result = silver.apply_changes(run, spec)
            ours_times.append(time.perf_counter() - t0)
            _check("apply_changes", _counts(result), expected)
            if result.changes != args.changes:
                raise RuntimeError(f"apply_changes read {result.changes} changes")
            shutil.rmtree(run.path)
            print(
                f"run {i + 1}: bare merge {base_times[-1]:.2f}s, apply_changes "
                f"{ours_times[-1]:.2f}s"
            )
        if args.profile:
            run = LocalLake(tmp / "prof")
            shutil.copytree(template.path, run.path)
            profile(lambda: silver.apply_changes(run, spec), title="apply_changes (100k batch)")

    runs = len(ours_times)
    base_rate = args.changes / statistics.median(base_times)
    ours_rate = args.changes / statistics.median(ours_times)
    print(
        f"bare merge: {fmt_int(base_rate)} changes/s, times {fmt_times(base_times)}; "
        f"apply_changes: {fmt_int(ours_rate)} changes/s, times {fmt_times(ours_times)}; "
        f"median of {runs}"
    )
    return result_line(
        "silver_apply",
        ours_rate,
        base_rate,
        unit="changes/s",
        baseline_name="bare delta-rs MERGE",
        goal=GOAL_APPLY,
        note=f"[median of {runs}, {args.changes:,} changes into {args.rows:,} rows]",
    )


# ----------------------------------------------------------------------------- bench 2


def _write_loaded_silver(lake, spec, load) -> None:
    """The silver table ``apply_changes`` writes for a full load of ``load`` (bronze version 0),
    written directly: what it would do for a first load with no deletes (sequence every row,
    drop the bronze-only lineage, one write of key-ordered rows — ``load`` is in key order — with
    the table's ``delta.targetFileSize`` and ``lakehouse.bronze_version`` = 0), without its
    validation and sort, which take ~4x longer at 10M rows and are not what is measured."""
    from deltalake import write_deltalake

    from lakehouse.engine.core.keys import silver_key
    from lakehouse.engine.increments import commit_props
    from lakehouse.engine.sequencing import with_sequence
    from lakehouse.engine.silver_writes import TABLE_CONFIG, silver_rows

    rows = silver_rows(with_sequence(load))
    write_deltalake(
        lake.uri(silver_key(spec.name)),
        rows.to_arrow(),
        configuration=TABLE_CONFIG,  # bounded files, as apply_changes writes them
        commit_properties=commit_props(0),
    )


def _scaling_size(args, tmp: Path, rows: int, deadline: float):
    """Load ``rows``, then time up to ``repeats`` successive batches, starting a batch only when
    the previous one's time still fits before ``deadline``; the EXTRA bare merges run only if
    they fit too. Returns (times, extras, setup seconds)."""
    import numpy as np

    from lakehouse.engine import silver
    from lakehouse.storage.lake import LocalLake

    spec = _spec("bench_narrow", wide=False)
    lake = LocalLake(tmp / f"lake_{rows}")
    rng = np.random.default_rng(rows)
    t0 = time.perf_counter()
    load = _load_frame(spec, rows, wide=False)
    _write_bronze(lake, spec, load)
    t1 = time.perf_counter()
    _write_loaded_silver(lake, spec, load)
    del load
    setup = time.perf_counter() - t0
    uri = lake.uri(f"silver/{spec.name}")
    print(
        f"setup {rows:,} rows: bronze {t1 - t0:.1f}s, silver {setup - (t1 - t0):.1f}s; "
        f"silver {_layout(uri)}"
    )
    table_max = rows
    gone: set[int] = set()
    times: list[float] = []
    rewrites: list[str] = []
    file_ts = CDC_TS

    def next_batch(version: int):
        nonlocal table_max, file_ts
        ops, ids = _plan_changes(
            rng, table_max, args.scaling_changes, (0.70, 0.10), KEY_AGE_MEAN, gone
        )
        file_ts += timedelta(minutes=1)
        cdc = _cdc_frame(spec, ops, ids, wide=False, version=version, file_ts=file_ts)
        table_max += int((ops == "I").sum())
        return cdc, _resolved(cdc, spec)

    def fits() -> bool:
        return time.perf_counter() + 1.2 * max(times) < deadline

    for i in range(max(1, args.repeats)):
        if i and not fits():
            print(f"note: {rows:,} rows: stopping after {i} batch(es) to stay within the budget")
            break
        cdc, resolved = next_batch(i + 1)
        _write_bronze(lake, spec, cdc)
        t0 = time.perf_counter()
        result = silver.apply_changes(lake, spec)
        times.append(time.perf_counter() - t0)
        _check(f"apply_changes {rows:,}", _counts(result), _expected(resolved))
        rewrites.append(_rewrite(result.metrics))
    print(
        f"  {rows:,} rows: apply_changes {args.scaling_changes:,} changes {fmt_times(times)}; "
        f"its MERGE rewrote {rewrites[-1]}"
    )
    if args.profile:
        cdc, _ = next_batch(100)
        _write_bronze(lake, spec, cdc)
        profile(
            lambda: silver.apply_changes(lake, spec),
            title=f"apply_changes ({args.scaling_changes:,} changes into {rows:,} rows)",
        )
    # diagnostics: the next batches, resolved, merged bare: delta-rs defaults (as ours), then
    # streamed_exec=False (delta-rs derives a file-pruning predicate from the source's keys)
    extras: dict[bool, tuple[float, dict]] = {}
    for streamed in (True, False):
        if not fits():
            print(f"note: {rows:,} rows: EXTRA streamed_exec={streamed} skipped (time budget)")
            continue
        _, resolved = next_batch(200 + int(streamed))
        t0 = time.perf_counter()
        metrics = _bare_merge(uri, resolved.to_arrow(), streamed_exec=streamed)
        extras[streamed] = (time.perf_counter() - t0, metrics)
        _check("bare merge", _merge_counts(metrics), _expected(resolved))
    return times, extras, setup


def bench_scaling(args, t_start: float) -> str:
    small, big = (int(x) for x in args.scaling_rows.split(","))
    end = t_start + BUDGET_S
    with temp_dir("bench_silver_scaling_") as tmp:
        # the small table gets a quarter of what is left, the big one the rest
        small_deadline = time.perf_counter() + (end - time.perf_counter()) / 4
        small_times, small_extras, small_setup = _scaling_size(args, tmp, small, small_deadline)
        shutil.rmtree(tmp / f"lake_{small}", ignore_errors=True)
        # size the big table up front from the small one: setup measured ~10-20x for 10x the
        # rows (page cache, memory), a batch at worst linear in the table
        wanted, left = big, end - time.perf_counter()
        for rows in (big, big // 2):
            factor = rows / small
            est_setup = small_setup * factor * SETUP_GROWTH
            est = est_setup + statistics.median(small_times) * factor
            big = rows
            if est_setup <= SCALING_SETUP_MAX_S and est <= left:
                break
        fell_back = wanted if big != wanted else 0
        if fell_back:
            print(
                f"note: {wanted:,} rows would not fit (setup ~{est_setup:.0f}s + a batch, "
                f"{left:.0f}s left): using {big:,} rows"
            )
        big_times, big_extras, _ = _scaling_size(args, tmp, big, end)

    t_small = statistics.median(small_times)
    t_big = statistics.median(big_times)
    ratio = t_big / t_small
    size_factor = big / small
    for streamed in (True, False):
        if streamed not in small_extras or streamed not in big_extras:
            continue
        (ts, ms), (tb, mb) = small_extras[streamed], big_extras[streamed]
        print(
            f"EXTRA bare delta-rs MERGE (streamed_exec={streamed}) of a resolved "
            f"{args.scaling_changes:,}-change batch: {small:,} rows {ts:.2f}s ({_rewrite(ms)}); "
            f"{big:,} rows {tb:.2f}s ({_rewrite(mb)}) = {tb / ts:.2f}x"
        )
    print(
        f"apply_changes {args.scaling_changes:,} changes: {small:,} rows {t_small:.2f}s "
        f"({t_small / args.scaling_changes * 1e3:.2f} ms/change), {big:,} rows {t_big:.2f}s "
        f"({t_big / args.scaling_changes * 1e3:.2f} ms/change); table {size_factor:.0f}x larger, "
        f"time {ratio:.2f}x"
    )
    verdict = "OK" if ratio <= GOAL_SCALING else "MISSED"
    note = f"median of {len(big_times)}/{len(small_times)} runs, table {size_factor:g}x"
    if fell_back:
        note += f", {fell_back:,} rows would not fit the time budget"
    return (
        f"RESULT silver_scaling: {args.scaling_changes:,} changes into {big:,} rows "
        f"{t_big:.2f}s vs into {small:,} rows {t_small:.2f}s = {ratio:.2f}x "
        f"(goal <= {GOAL_SCALING:.2f}x) {verdict} [{note}]"
    )


def main() -> int:
    args = _parse()
    t_start = time.perf_counter()
    lines = []
    if args.only in (None, "apply"):
        lines.append(bench_apply(args, t_start))
        print(lines[-1])
    if args.only in (None, "scaling"):
        lines.append(bench_scaling(args, t_start))
    print(f"total {time.perf_counter() - t_start:.0f}s")
    for line in lines:
        print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
