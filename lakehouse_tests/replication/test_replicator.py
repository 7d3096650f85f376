"""The replicator against a real (embedded) PostgreSQL: full load, CDC, the DMS file contract."""

from __future__ import annotations

import threading

import polars as pl
import psycopg
import pytest

from lakehouse.dms import reader as dms_reader
from lakehouse.dms.settings import DmsS3Settings
from lakehouse.replication.replicator import Replicator
from lakehouse.replication.state import ReplicationState
from lakehouse.replication.task import ReplicationTask
from lakehouse.storage import LocalLake
from lakehouse_tests.replication.helpers import read_table_files, replay

pytestmark = pytest.mark.integration

DEMO = DmsS3Settings(
    AddColumnName=True,
    IncludeOpForFullLoad=True,
    TimestampColumnName="ts_dms",
    before_image_key=True,
    change_seq_column="seq",
    CdcMaxBatchInterval=0,
)


def _task(dsn, settings=DEMO, tables=("items",), name="t"):
    rules = tuple(
        {"rule-action": "include", "schema-name": "public", "table-name": t} for t in tables
    )
    return ReplicationTask(name, dsn, settings, selection_rules=rules)


@pytest.fixture
def db(fresh_db):
    with psycopg.connect(fresh_db, autocommit=True) as conn:
        conn.execute(
            """create table items (id int primary key, name text, price numeric(10,2),
               fee money, active bool, born date, seen timestamp, at timestamptz, doc jsonb)"""
        )
        conn.execute(
            """insert into items values
               (1, 'plain', 1.50, '$1,234.50', true, '2024-01-31', '2024-01-31 10:11:12.5', '2024-01-31 10:11:12+02', '{"a": 1}'),
               (2, 'with, comma "quote"' || chr(10) || 'newline', null, null, false, null, null, null, null),
               (3, '', 0, '-$3.00', null, null, null, null, '[]')"""
        )
    yield fresh_db


def test_full_load_rows_and_dms_text(db, tmp_path):
    lake = LocalLake(tmp_path / "lake")
    stats = Replicator(_task(db), lake).run()
    assert stats.full_load_rows["public.items"] == 3
    load, cdc = read_table_files(lake, "public", "items", DEMO)
    assert cdc.height == 0
    assert load.columns[:3] == ["Op", "ts_dms", "id"]
    assert load.columns[-3:-1] == ["BI_id", "seq"]
    rows = {r["id"]: r for r in load.iter_rows(named=True)}
    assert rows["1"]["fee"] == "1234.50"  # MONEY as a plain decimal
    assert rows["1"]["active"] == "true"
    assert rows["1"]["seen"] == "2024-01-31 10:11:12.500000"
    assert rows["1"]["at"] == "2024-01-31 08:11:12.000000"  # timestamptz in UTC
    assert rows["1"]["doc"] == '{"a": 1}'
    assert rows["2"]["name"] == 'with, comma "quote"\nnewline'
    assert rows["2"]["price"] is None  # NULL stays NULL
    assert rows["3"]["name"] == ""  # empty string stays an empty string
    assert rows["3"]["fee"] == "-3.00"
    assert set(load["Op"]) == {"I"}
    assert load["ts_dms"].n_unique() == 1  # the snapshot time
    keys = [o.key for o in lake.list("raw/database/public/items/")]
    assert keys == ["raw/database/public/items/LOAD00000001.csv"]


def test_cdc_ops_keys_transactions_rollbacks(db, tmp_path):
    lake = LocalLake(tmp_path / "lake")
    rep_task = _task(db)
    Replicator(rep_task, lake).run()
    with psycopg.connect(db, autocommit=True) as conn:
        with conn.transaction():
            conn.execute("insert into items (id, name) values (10, 'ten')")
            conn.execute("update items set name = 'one' where id = 1")
            conn.execute("update items set id = 20 where id = 2")  # primary-key update
            conn.execute("delete from items where id = 3")
        with pytest.raises(psycopg.errors.DivisionByZero), conn.transaction():
            conn.execute("insert into items (id, name) values (99, 'rolled back')")
            conn.execute("select 1/0")
        conn.execute("insert into items (id, name) values (11, 'eleven')")
    stats = Replicator(rep_task, lake).run()
    assert stats.full_load_rows == {}  # the full load is not repeated
    assert stats.changes["public.items"] == 5
    _, cdc = read_table_files(lake, "public", "items", DEMO)
    cdc = cdc.sort("seq")
    assert cdc.select("Op", "id", "BI_id").rows() == [
        ("I", "10", "10"),
        ("U", "1", "1"),
        ("U", "20", "2"),  # the before-image reveals the old key
        ("D", "3", "3"),
        ("I", "11", "11"),
    ]
    first_txn = cdc.head(4)
    assert first_txn["ts_dms"].n_unique() == 1  # commit time, equal within a transaction
    assert cdc["ts_dms"][4] >= cdc["ts_dms"][0]
    delete = cdc.filter(pl.col("Op") == "D").row(0, named=True)
    assert all(delete[c] is None for c in ("name", "price", "fee", "active", "doc"))  # key only
    assert "99" not in cdc["id"].to_list()  # rollbacks produce nothing
    assert cdc["seq"].str.len_chars().unique().to_list() == [35]
    assert cdc["seq"].is_unique().all()
    # replaying full load + CDC gives the source table
    load, _ = read_table_files(lake, "public", "items", DEMO)
    state = replay(load, cdc, "id", "seq")
    assert sorted(state) == ["1", "10", "11", "20"]
    assert state["1"]["name"] == "one"


def test_aws_default_settings_no_header_no_op_in_full_load(db, tmp_path):
    lake = LocalLake(tmp_path / "lake")
    settings = DmsS3Settings(CdcMaxBatchInterval=0)
    Replicator(_task(db, settings), lake).run()
    with psycopg.connect(db, autocommit=True) as conn:
        conn.execute("delete from items where id = 1")
    Replicator(_task(db, settings), lake).run()
    files = [o.key for o in lake.list("raw/database/public/items/")]
    load_bytes = lake.read_bytes(files[-1])
    assert files[-1].endswith("LOAD00000001.csv")
    assert load_bytes.startswith(b"1,plain,1.50,1234.50,true,2024-01-31,")  # no header, no Op
    cdc_bytes = lake.read_bytes(files[0])
    assert cdc_bytes == b"D,1,,,,,,,,\n"  # Op first, key only, NULL as empty unquoted


def test_parquet_gzip_and_date_partitions(db, tmp_path):
    lake = LocalLake(tmp_path / "lake")
    settings = DEMO.with_(DataFormat="parquet", CompressionType="GZIP", DatePartitionEnabled=True)
    Replicator(_task(db, settings), lake).run()
    with psycopg.connect(db, autocommit=True) as conn:
        conn.execute("update items set price = 9.99 where id = 1")
    Replicator(_task(db, settings), lake).run()
    keys = [o.key for o in lake.list("raw/database/public/items/")]
    assert keys[-1].endswith("LOAD00000001.parquet")
    cdc_key = keys[0]
    parts = cdc_key.split("/")
    assert len(parts) == 8 and len(parts[4]) == 4 and len(parts[5]) == 2  # .../yyyy/mm/dd/name
    f = dms_reader.read_dms_file(lake.read_bytes(cdc_key), cdc_key, settings)
    assert f.frame.schema["price"] == pl.Decimal(10, 2)
    assert f.frame.schema["id"] == pl.Int32
    assert str(f.frame["price"][0]) == "9.99"


def test_table_without_primary_key_is_insert_only(fresh_db, tmp_path):
    with psycopg.connect(fresh_db, autocommit=True) as conn:
        conn.execute("create table events (kind text, n int)")
        conn.execute("insert into events values ('a', 1)")
    lake = LocalLake(tmp_path / "lake")
    task = _task(fresh_db, tables=("events",))
    rep = Replicator(task, lake)
    rep.run()
    assert any("no primary key" in w for w in rep.stats.warnings)
    with psycopg.connect(fresh_db, autocommit=True) as conn:
        conn.execute("insert into events values ('b', 2)")
        conn.execute("update events set n = 3 where kind = 'a'")  # must not fail at the source
        conn.execute("delete from events where kind = 'b'")
    Replicator(task, lake).run()
    _, cdc = read_table_files(lake, "public", "events", DEMO)
    assert cdc.select("Op", "kind").rows() == [("I", "b")]


def test_selection_rules_include_and_exclude(fresh_db, tmp_path):
    with psycopg.connect(fresh_db, autocommit=True) as conn:
        for t in ("orders", "audit_log", "audit_x"):
            conn.execute(f"create table {t} (id int primary key)")
    task = ReplicationTask(
        "sel",
        fresh_db,
        DEMO,
        selection_rules=(
            {"rule-action": "include", "schema-name": "public", "table-name": "%"},
            {"rule-action": "exclude", "schema-name": "public", "table-name": "audit_%"},
        ),
    )
    rep = Replicator(task, LocalLake(tmp_path / "lake"))
    rep.run()
    assert sorted(rep.specs) == ["public.orders"]


def test_concurrent_writes_during_full_load_are_neither_lost_nor_doubled(fresh_db, tmp_path):
    with psycopg.connect(fresh_db, autocommit=True) as conn:
        conn.execute("create table items (id int primary key, name text)")
        conn.execute("insert into items select g, 'x' || g from generate_series(1, 200000) g")
    stop = threading.Event()

    def writer():
        with psycopg.connect(fresh_db, autocommit=True) as conn:
            n = 200000
            while not stop.is_set():
                n += 1
                conn.execute("insert into items values (%s, 'late')", (n,))
                conn.execute("update items set name = 'upd' where id = %s", (n - 100000,))

    th = threading.Thread(target=writer)
    th.start()
    lake = LocalLake(tmp_path / "lake")
    try:
        Replicator(_task(fresh_db), lake).run()
    finally:
        stop.set()
        th.join()
    Replicator(_task(fresh_db), lake).run()
    load, cdc = read_table_files(lake, "public", "items", DEMO)
    assert cdc.height > 0, "the writer ran during the full load, so CDC must hold changes"
    inserted = cdc.filter(pl.col("Op") == "I")["id"]
    assert not inserted.is_in(load["id"].implode()).any(), (
        "a row in the snapshot was also captured as an insert"
    )
    with psycopg.connect(fresh_db) as conn:
        source = dict(conn.execute("select id::text, name from items").fetchall())
    state = replay(load, cdc, "id", "seq")
    assert {k: v["name"] for k, v in state.items()} == source


def test_state_records_checkpoint_and_no_pending(db, tmp_path):
    lake = LocalLake(tmp_path / "lake")
    Replicator(_task(db), lake).run()
    with psycopg.connect(db, autocommit=True) as conn:
        conn.execute("insert into items (id) values (5)")
    Replicator(_task(db), lake).run()
    st = ReplicationState.load(lake, "t", "lakehouse_t")
    assert st.full_load_done and st.pending is None
    assert st.checkpoint_lsn > st.consistent_lsn
    with psycopg.connect(db) as conn:
        confirmed = conn.execute(
            "select confirmed_flush_lsn::text from pg_replication_slots where slot_name = 'lakehouse_t'"
        ).fetchone()[0]
    from lakehouse.replication.pgoutput import lsn_to_int

    # confirmed up to the checkpoint, never short of it; it may be further on: once every
    # message was confirmed, psycopg2 reports a keepalive's wal_end (WAL of other databases)
    assert lsn_to_int(confirmed) >= st.checkpoint_lsn
    with psycopg.connect(db, autocommit=True) as conn:
        conn.execute("insert into items (id) values (6)")
    Replicator(_task(db), lake).run()
    _load, cdc = read_table_files(lake, "public", "items", DEMO)
    assert sorted(cdc["id"].to_list()) == [
        "5",
        "6",
    ]  # nothing lost past the checkpoint, nothing twice


def test_a_change_committed_right_after_the_slot_is_newer_than_the_full_load(
    fresh_db, tmp_path, monkeypatch
):
    """A change that commits after the slot's consistent point (so it is streamed, not in the
    snapshot) but before the snapshot transaction starts must sort after the full-load rows:
    the full-load timestamp is taken before the slot is created."""
    with psycopg.connect(fresh_db, autocommit=True) as conn:
        conn.execute("create table items (id int primary key, name text)")
        conn.execute("insert into items values (1, 'before')")
    original = Replicator.replication_connection

    def racing_connection(self):
        repl = original(self)
        cursor = repl.cursor

        class Cursor:
            def __init__(self):
                self._cur = cursor()

            def execute(self, sql, *args):
                self._cur.execute(sql, *args)
                if sql.startswith("CREATE_REPLICATION_SLOT"):
                    with psycopg.connect(fresh_db, autocommit=True) as other:
                        other.execute("update items set name = 'racing' where id = 1")

            def __getattr__(self, name):
                return getattr(self._cur, name)

        repl.cursor = Cursor
        return repl

    monkeypatch.setattr(Replicator, "replication_connection", racing_connection)
    lake = LocalLake(tmp_path / "lake")
    Replicator(_task(fresh_db), lake).run()
    load, cdc = read_table_files(lake, "public", "items", DEMO)
    assert load["name"].to_list() == ["before"]  # the snapshot predates the update
    (update,) = cdc.filter(pl.col("Op") == "U").iter_rows(named=True)
    assert update["name"] == "racing"
    assert update["ts_dms"] > load["ts_dms"][0], (update["ts_dms"], load["ts_dms"][0])


def test_rules_added_to_a_running_task_change_the_layout_and_every_file_reaches_silver(
    fresh_db, tmp_path
):
    """Mid-stream the task gains an add-column ($AR_H_CHANGE_SEQ) and a before-image rule
    (prefix ``before_``): the later files are data, change sequence, before-image, with no
    header; bronze reads each file by its own layout and silver equals the source."""
    from lakehouse.dms.table_mappings import TableMappings, known_layouts
    from lakehouse.engine import bronze, silver
    from lakehouse.registry import Column, TableSpec
    from lakehouse_tests.engine.test_dms_layouts import FIRST, LATER

    with psycopg.connect(fresh_db, autocommit=True) as conn:
        conn.execute("create table things (id int primary key, name text, qty int)")
        conn.execute("insert into things values (1, 'a', 1), (2, 'b', 2), (3, 'c', 3)")
    lake = LocalLake(tmp_path / "lake")
    settings = DmsS3Settings(TimestampColumnName="ts", CdcMaxBatchInterval=0)
    rules = ({"rule-action": "include", "schema-name": "public", "table-name": "things"},)

    def task(mappings):
        return ReplicationTask(
            "t", fresh_db, settings, rules, table_mappings=TableMappings.from_json(mappings)
        )

    Replicator(task(FIRST), lake).run()
    with psycopg.connect(fresh_db, autocommit=True) as conn:
        conn.execute("update things set name = 'a1', qty = 10 where id = 1")
        conn.execute("insert into things values (4, 'd', 4)")
    Replicator(task(FIRST), lake).run()
    earlier = _keys(lake)
    with psycopg.connect(fresh_db, autocommit=True) as conn:
        with conn.transaction():  # one commit timestamp: the change sequence orders them
            conn.execute("update things set name = 'b1' where id = 2")
            conn.execute("update things set name = 'b2', qty = 20 where id = 2")
        conn.execute("update things set id = 5, name = 'c5' where id = 3")  # key update
        conn.execute("delete from things where id = 4")
    Replicator(task(LATER), lake).run()

    def lines(keys):
        return [line for k in keys for line in lake.read_bytes(k).decode().splitlines()]

    later = sorted(set(_keys(lake)) - set(earlier))
    assert [line.count(",") + 1 for line in lines(earlier[:-1])] == [5, 5]  # Op,ts,data
    rows = [line.split(",") for line in lines(later)]
    assert [len(r) for r in rows] == [7, 7, 7, 7]  # Op,ts,data,_seq,before_id
    assert [(r[0], r[2], r[6]) for r in rows] == [
        ("U", "2", "2"),
        ("U", "2", "2"),
        ("U", "5", "3"),  # the before-image reveals the old key
        ("D", "4", "4"),
    ]
    assert rows[0][1] == rows[1][1] and rows[0][5] < rows[1][5]  # same commit, ordered by seq

    spec = TableSpec(
        dataset="t",
        name="things",
        columns=(
            Column("id", "int", nullable=False),
            Column("name", "string"),
            Column("qty", "int"),
        ),
        primary_key=("id",),
    )
    layouts = known_layouts(
        "public", "things", spec.column_names, spec.primary_key, mappings=[FIRST, LATER]
    )
    result = bronze.ingest(lake, spec, settings, layouts=layouts)
    assert (result.quarantined, result.errors, result.rows) == (0, [], 3 + 2 + 4)
    silver.apply_changes(lake, spec)
    got = sorted(silver.read_silver(lake, spec).select("id", "name", "qty").rows())
    assert got == [(1, "a1", 10), (2, "b2", 20), (5, "c5", 3)]


def _keys(lake):
    return sorted(o.key for o in lake.list("raw/database/public/things/"))
