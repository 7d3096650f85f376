"""Replay and order: the same raw files ingested twice, and raw files arriving out of order, give
the same silver: equal to the source, row for row and column for column.

The raw zone is written once by the real replicator (a full load, then two churn batches, each
replicated into its own CDC files, each with a subscription changed then deleted); each test
copies those files into its own lake in the order it wants and runs the real bronze and silver
apply after each delivery.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import polars as pl
import psycopg
import pytest
from deltalake import DeltaTable

from lakehouse.engine.silver import apply_changes
from lakehouse.source.churn import apply_random_changes
from lakehouse.source.seed import seed
from lakehouse.storage import LocalLake
from lakehouse_tests.reliability import helpers as h

pytestmark = [pytest.mark.integration, pytest.mark.xdist_group("reliability_replay")]


@pytest.fixture(scope="module")
def raw_zone(pg_dsn, tmp_path_factory):
    """(source DSN, lake holding the raw zone, [full-load keys, batch 1 keys, batch 2 keys])."""
    dsn = h.new_database(pg_dsn)
    try:
        seed(dsn, "saas", "small")
        lake = LocalLake(tmp_path_factory.mktemp("replay") / "source_lake")
        h.replicate(dsn, lake)
        batches = [sorted(o.key for o in lake.list("raw/"))]
        for i in range(2):
            apply_random_changes(dsn, "saas", 25, seed=300 + i)
            with psycopg.connect(dsn) as conn:
                sid = conn.execute(
                    "select id from core_subscription where status in ('trial', 'active')"
                    " order by id limit 1"
                ).fetchone()[0]
                conn.execute(
                    "update core_subscription set status = 'cancelled', updated_at = now(),"
                    " end_date = current_date where id = %s",
                    (sid,),
                )
                conn.execute(
                    "update core_invoice set subscription_id = null where subscription_id = %s",
                    (sid,),
                )
                conn.execute("delete from core_subscription where id = %s", (sid,))
            h.replicate(dsn, lake)
            seen = {k for b in batches for k in b}
            batches.append(sorted(o.key for o in lake.list("raw/") if o.key not in seen))
        tables = {k.split("/")[3] for k in batches[1] + batches[2]}
        assert len(tables) >= 7, f"the churn must touch (nearly) every table: {tables}"
        yield dsn, lake, batches
    finally:
        h.drop_database(pg_dsn, dsn)


def _deliver(src, dst, keys, rename=lambda k: k) -> None:
    for k in keys:
        dst.write_bytes(rename(k), src.read_bytes(k))


def _later_name(key: str, shift: timedelta = timedelta(hours=1)) -> str:
    """The CDC file name ``yyyymmdd-hhmmssfff`` moved by ``shift`` (a DMS restart re-sending)."""
    folder, name = key.rsplit("/", 1)
    stamp, ext = name.split(".", 1)
    t = datetime.strptime(stamp, "%Y%m%d-%H%M%S%f") + shift
    return f"{folder}/{t:%Y%m%d-%H%M%S}{t.microsecond // 1000:03d}.{ext}"


def _history(lake) -> pl.DataFrame:
    """The SCD2 versions of core_subscription, without lineage."""
    frame = pl.from_arrow(
        DeltaTable(lake.uri("silver/core_subscription_history")).to_pyarrow_table()
    )
    return frame.drop([c for c in frame.columns if c in ("_source_file", "_sequence")])


def _cdc_rows_in_bronze(lake, keys) -> int:
    n = 0
    for spec in h.database_tables():
        files = pl.from_arrow(
            DeltaTable(lake.uri(f"bronze/{spec.name}")).to_pyarrow_table(columns=["_source_file"])
        )
        n += files.filter(pl.col("_source_file").is_in(keys)).height
    return n


@pytest.fixture(scope="module")
def replayed(raw_zone, tmp_path_factory):
    """A lake fed in order, then everything again under the same names, then every CDC file
    again under a later name, then rebuilt by a full refresh; what each stage left."""
    dsn, src, batches = raw_zone
    lake = LocalLake(tmp_path_factory.mktemp("replayed") / "lake")
    out = {}
    for batch in batches:
        _deliver(src, lake, batch)
        h.apply_all(lake)
    cdc = [k for b in batches[1:] for k in b]
    out["in order"] = h.compare_with_source(lake, dsn)
    out["history"] = _history(lake)
    out["cdc rows"] = _cdc_rows_in_bronze(lake, cdc)

    # 1. every file delivered again under its own name (identical bytes, a new mtime)
    _deliver(src, lake, [k for b in batches for k in b])
    h.apply_all(lake)
    out["same names again"] = h.compare_with_source(lake, dsn)
    out["cdc rows again"] = _cdc_rows_in_bronze(lake, cdc)

    # 2. every CDC file delivered again under a later name: what a DMS task restarted from an
    #    old checkpoint does; bronze now holds every change twice
    copies = [_later_name(k) for k in cdc]
    _deliver(src, lake, cdc, rename=_later_name)
    out["copies appended"] = h.apply_all(lake)[0]
    out["copy rows in bronze"] = _cdc_rows_in_bronze(lake, copies)
    out["later names"] = h.compare_with_source(lake, dsn)
    out["history after replay"] = _history(lake)

    # 3. rebuilt from that bronze (every change twice) by a full refresh
    for spec in h.database_tables():
        apply_changes(lake, spec, full_refresh=True)
    out["full refresh"] = h.compare_with_source(lake, dsn)
    return out


def test_the_same_raw_files_ingested_twice_give_the_same_silver(replayed):
    r = replayed
    for stage in ("in order", "same names again", "later names", "full refresh"):
        bad = [str(d) for d in r[stage] if not d.ok]
        assert not bad, f"{stage}: silver differs from the source:\n" + "\n".join(bad)
    assert sum(d.source for d in r["in order"]) > 1000
    # the same names: no CDC row is appended twice; later names: every CDC row once more
    assert r["cdc rows again"] == r["cdc rows"] > 0
    assert r["copy rows in bronze"] == r["cdc rows"] == r["copies appended"]


def test_a_replayed_cdc_file_adds_no_history_version(replayed):
    before, after = replayed["history"], replayed["history after replay"]
    added = after.join(before, on=after.columns, how="anti", nulls_equal=True)
    dupes = after.group_by(after.columns).len().filter(pl.col("len") > 1)
    assert (after.height, dupes.height) == (before.height, 0), (
        f"{after.height - before.height} versions added, e.g. {dupes.head(3).to_dicts()} "
        f"{added.head(3).to_dicts()}"
    )


def test_raw_files_out_of_order_give_the_same_silver(raw_zone, tmp_path):
    dsn, src, (load, *cdc) = raw_zone
    # the newest CDC batch first, the older one in a later run, the full load last
    newest_first = LocalLake(tmp_path / "newest_first")
    for batch in [*reversed(cdc), load]:
        _deliver(src, newest_first, batch)
        h.apply_all(newest_first)
    h.assert_silver_equals_source(newest_first, dsn)
    # the full load first, then the CDC batches newest first, one run each
    cdc_reversed = LocalLake(tmp_path / "cdc_reversed")
    for batch in [load, *reversed(cdc)]:
        _deliver(src, cdc_reversed, batch)
        h.apply_all(cdc_reversed)
    h.assert_silver_equals_source(cdc_reversed, dsn)
