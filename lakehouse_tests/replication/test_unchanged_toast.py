"""An update that leaves a TOASTed value unchanged, under REPLICA IDENTITY DEFAULT: PostgreSQL
does not send the value (logical decoding's ``u``), where AWS DMS and most CDC tools write
NULL. The replicator marks it (``_lakehouse_unchanged`` in the CDC file, ``_unchanged`` in
bronze) and silver keeps the key's value: from an earlier change of the same batch, or from
silver itself; a NULL written on purpose stays NULL. SCD2 versions hold the kept value too."""

from __future__ import annotations

import json
from dataclasses import replace

import psycopg
import pytest

from lakehouse.dms import reader as dms_reader
from lakehouse.engine.bronze import ingest
from lakehouse.engine.core.keys import history_key
from lakehouse.engine.delta import open_table
from lakehouse.engine.silver import apply_changes, read_silver
from lakehouse.replication.replicator import Replicator
from lakehouse.source.discovery import discover_one
from lakehouse.storage import LocalLake
from lakehouse_tests.replication.test_replicator import DEMO
from lakehouse_tests.replication.test_replicator import _task as _demo_task

pytestmark = pytest.mark.integration
CSV = DEMO.with_(CdcMaxBatchInterval=3600)  # one CDC file per run
BIG = "(select string_agg(md5(g::text || %s), '') from generate_series(1, 900) g)"  # ~29 kB


def _state(rows) -> dict:
    return {r[0]: (r[1], r[2]) for r in rows}


@pytest.mark.parametrize("SETTINGS", [CSV, CSV.with_(DataFormat="parquet")], ids=["csv", "parquet"])
def test_unchanged_toasted_values_are_kept_and_a_null_written_on_purpose_is_null(
    fresh_db, tmp_path, SETTINGS
):
    with psycopg.connect(fresh_db, autocommit=True) as conn:
        conn.execute("create table docs (id int primary key, big text, small int)")
        for i in (1, 5):
            conn.execute(f"insert into docs values (%s, {BIG}, 0)", (i, str(i)))
        conn.execute("insert into docs values (2, null, 0), (3, 'short', 0)")
        assert conn.execute(  # the value really lives out of line
            "select pg_column_toast_chunk_id(big) is not null from docs where id = 1"
        ).fetchone()[0]
    lake = LocalLake(tmp_path / "lake")
    task = _demo_task(fresh_db, SETTINGS, tables=("docs",))
    Replicator(task, lake).run()
    with psycopg.connect(fresh_db) as conn:
        spec = replace(discover_one(conn, "public", "docs", "t").spec, scd_type=2)
    ingest(lake, spec, SETTINGS)
    apply_changes(lake, spec)

    with psycopg.connect(fresh_db, autocommit=True) as conn:
        conn.execute("update docs set small = small + 1")  # 1 and 5: big not sent
        conn.execute("update docs set small = 50 where id = 1")  # again, same batch
        conn.execute(f"insert into docs values (4, {BIG}, 0)", ("4",))
        conn.execute("update docs set small = 1 where id = 4")  # kept from the batch's insert
        conn.execute("update docs set big = null, small = 9 where id = 5")  # NULL on purpose
    Replicator(task, lake).run()
    cdc = [o.key for o in lake.list("raw/database/public/docs/") if "LOAD" not in o.key]
    (key,) = cdc
    frame = dms_reader.read_dms_file(lake.read_bytes(key), key, SETTINGS, None).frame
    ids = frame["id"].cast(str).to_list()  # parquet files are typed, CSV ones text
    marks = dict(zip(ids, frame["_lakehouse_unchanged"].to_list(), strict=True))
    assert json.loads(marks["1"]) == ["big"] and marks["5"] is None  # 5's last: a real NULL
    ingest(lake, spec, SETTINGS)
    apply_changes(lake, spec)

    def source() -> dict:
        with psycopg.connect(fresh_db) as conn:
            return _state(conn.execute("select id, md5(big), small from docs").fetchall())

    def silver() -> dict:
        rows = read_silver(lake, spec).select("id", "big", "small").iter_rows()
        return {i: (None if b is None else _md5(b), s) for i, b, s in rows}

    assert silver() == source()
    assert silver()[5] == (None, 9) and silver()[1][0] is not None

    with psycopg.connect(fresh_db, autocommit=True) as conn:  # nothing earlier in the batch
        conn.execute("update docs set small = 77 where id in (1, 4)")
    Replicator(task, lake).run()
    ingest(lake, spec, SETTINGS)
    apply_changes(lake, spec)
    assert silver() == source()
    history = open_table(lake, history_key(spec.name)).to_pyarrow_table().to_pylist()
    ones = [r for r in history if r["id"] == 1]
    assert len(ones) == 4 and all(r["big"] is not None for r in ones)  # every version kept it
    assert "_unchanged" not in read_silver(lake, spec).columns
    apply_changes(lake, spec, full_refresh=True)  # a rebuild from bronze keeps them too
    assert silver() == source()


def _md5(text: str) -> str:
    import hashlib

    return hashlib.md5(text.encode()).hexdigest()
