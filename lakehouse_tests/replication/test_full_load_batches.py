"""The full load streams: a table larger than one batch becomes several LOAD files cut at record
ends (values holding newlines and quotes included), every row exactly once; the cut finds the
end of the last complete CSV record."""

from __future__ import annotations

import psycopg
import pytest

from lakehouse.replication import full_load
from lakehouse.replication.full_load import record_end
from lakehouse.replication.replicator import Replicator
from lakehouse.storage import LocalLake
from lakehouse_tests.replication.test_table_set import _silver_equals_source, _task


@pytest.mark.parametrize(
    ("buf", "end"),
    [
        (b"", 0),
        (b"1,a", 0),
        (b"1,a\n2,b", 4),
        (b'1,"x\ny"\n2,"', 8),  # the newline inside quotes is not an end
        (b'1,"say ""hi""\n"\n2', 16),
        (b'1,"open\n', 0),
    ],
)
def test_record_end_is_after_the_last_newline_outside_quotes(buf, end):
    assert record_end(buf) == end


@pytest.mark.integration
def test_a_table_bigger_than_a_batch_is_several_files_and_every_row_once(
    fresh_db, tmp_path, monkeypatch
):
    with psycopg.connect(fresh_db, autocommit=True) as conn:
        conn.execute("create table items (id int primary key, v text)")
        conn.execute(
            """insert into items select g, case when g % 10 = 0 then 'a' || chr(10) || '"q"'
               else repeat('x', 50) end from generate_series(1, 5000) g"""
        )
    monkeypatch.setattr(full_load, "LOAD_BATCH_BYTES", 20_000)
    lake = LocalLake(tmp_path / "lake")
    stats = Replicator(_task(fresh_db, ("items",)), lake).run()
    files = [o.key for o in lake.list("raw/database/public/items/") if "LOAD" in o.key]
    assert len(files) >= 10  # ~280 kB of CSV in batches of 20 kB
    assert stats.full_load_rows == {"public.items": 5000}
    _silver_equals_source(fresh_db, lake, ("items",))


@pytest.mark.integration
def test_an_empty_table_is_one_empty_load_file(fresh_db, tmp_path):
    with psycopg.connect(fresh_db, autocommit=True) as conn:
        conn.execute("create table items (id int primary key, v text)")
    lake = LocalLake(tmp_path / "lake")
    Replicator(_task(fresh_db, ("items",)), lake).run()
    assert [o.key.rsplit("/", 1)[-1] for o in lake.list("raw/database/public/items/")] == [
        "LOAD00000001.csv"
    ]
