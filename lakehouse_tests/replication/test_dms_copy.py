"""The full load's fast path (``replication.dms_copy``: the source's ``COPY`` writes the DMS
rows) writes the same LOAD files, byte for byte, as the Polars path it replaces
(``Replicator.dms_frame`` + ``encode_dms_file``), for values that test the normalisation and the
quoting: timestamps with and without zone (fractions, infinite, BC, before year 1000), money
(negative, thousands), booleans and NULLs, text with delimiters, quotes, line breaks, empty
strings; a before-image and a change sequence column, a renamed column, gzip; files cut in
batches. Settings COPY cannot write fall back to Polars."""

from __future__ import annotations

import gzip

import psycopg
import pytest

from lakehouse.dms.settings import DmsS3Settings
from lakehouse.dms.table_mappings import TableMappings
from lakehouse.replication import dms_copy, full_load
from lakehouse.replication.replicator import Replicator
from lakehouse.storage import LocalLake
from lakehouse_tests.replication.test_replicator import DEMO, _task

pytestmark = pytest.mark.integration

ROWS = r"""
insert into odd values
 (1, 'plain', '2024-01-02 03:04:05.123456+02', '2024-01-02 03:04:05', '$1,234.50', true, 1.5,
  '{1,2}', '{"a": "b,c"}'),
 (2, 'a,b "q" ' || chr(10) || 'line', 'infinity', '-infinity', '-$0.99', false, null, null, null),
 (3, '', '0044-03-15 12:00:00+00 BC', '0999-12-31 23:59:59.5', null, null, -0.01, '{}', 'null'),
 (4, null, null, null, '$0.00', true, 0, '{NULL}', '[]'),
 (5, '"', '2024-06-30 23:59:59.999999-07', '2024-02-29 00:00:00.000001', '$1000000.00', false,
  99999999.99, '{3}', '{}')
"""


def _make(dsn: str) -> None:
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(
            "create table odd (id bigint primary key, t text, tz timestamptz, tn timestamp,"
            " m money, b bool, n numeric(10,2), a int[], j jsonb)"
        )
        conn.execute(ROWS)
        conn.execute(
            "insert into odd select g, repeat('x', g % 7), timestamptz '2023-05-06 07:08:09.5+03'"
            " + g * interval '1 ms', null, null, g % 2 = 0, g, null, null"
            " from generate_series(10, 400) g"
        )


def _load_files(lake) -> dict[str, bytes]:
    out = {}
    for o in lake.list("raw/"):
        if "/LOAD" in o.key:
            data = lake.read_bytes(o.key)
            out[o.key.rsplit("/", 1)[-1]] = gzip.decompress(data) if o.key.endswith(".gz") else data
    return out


def _added(rid, action, **extra) -> dict:
    return {"rule-type": "transformation", "rule-id": str(rid), "rule-name": f"r{rid}",
            "rule-target": "column", "rule-action": action,
            "object-locator": {"schema-name": "public", "table-name": "odd"}, **extra}  # fmt: skip


#: a column renamed, a before-image of the key, the change sequence, the operation and the
#: commit timestamp added by rules
MAPPED = TableMappings.from_json([
    {"rule-type": "selection", "rule-id": "1", "rule-name": "1", "rule-action": "include",
     "object-locator": {"schema-name": "public", "table-name": "%"}},
    {**_added(2, "rename", value="amount"),
     "object-locator": {"schema-name": "public", "table-name": "odd", "column-name": "m"}},
    _added(3, "add-before-image-columns", **{"before-image-def": {
        "column-prefix": "old_", "column-suffix": "", "column-filter": "pk-only"}}),
    _added(4, "add-column", value="seq", expression="$AR_H_CHANGE_SEQ",
           **{"data-type": {"type": "string", "length": 50}}),
    _added(5, "add-column", value="op_name", expression="$AR_H_OPERATION",
           **{"data-type": {"type": "string", "length": 10}}),
    _added(6, "add-column", value="at", expression="$AR_H_TIMESTAMP",
           **{"data-type": {"type": "datetime", "precision": 6}}),
])  # fmt: skip


def _both(dsn, tmp_path, monkeypatch, make_task) -> tuple[dict, dict]:
    """The LOAD files of a full load by the COPY path and by the Polars path."""
    _make(dsn)
    monkeypatch.setattr(full_load, "LOAD_BATCH_BYTES", 4_000)  # several files per table
    fast_lake, slow_lake = LocalLake(tmp_path / "fast"), LocalLake(tmp_path / "slow")
    Replicator(make_task("f"), fast_lake).run()
    with monkeypatch.context() as m:
        m.setattr(full_load, "dms_select", lambda *a: None)
        Replicator(make_task("s"), slow_lake).run()
    fast, slow = _load_files(fast_lake), _load_files(slow_lake)
    assert len(fast) >= 3 and len(slow) >= 3
    return fast, slow


def _rows(files: dict[str, bytes], header: bool) -> list[str]:
    """Every file's lines in file order, without their header line, each load timestamp
    (``yyyy-mm-dd hh:mm:ss.ffffff`` of today's load; the rows' own values are other dates)
    blanked: the two loads each read their clock. (The two paths cut files at other bytes.)"""
    import re
    from datetime import UTC, datetime

    today = datetime.now(UTC).strftime("%Y-%m-%d")
    out = []
    for name in sorted(files):
        text = re.sub(rf"{today} \d\d:\d\d:\d\d\.\d{{6}}", "TS", files[name].decode())
        assert text.endswith("\n") or not text, name
        out += text.split("\n")[1 if header else 0 : -1]
    return out


@pytest.mark.parametrize(
    "settings",
    [
        DEMO,
        DEMO.with_(CompressionType="GZIP", IncludeOpForFullLoad=False),
        DmsS3Settings(),  # no header, no timestamp, nothing added
        DmsS3Settings(AddColumnName=True, CsvDelimiter="|", TimestampColumnName="ts"),
    ],
    ids=["demo", "gzip-no-op", "bare", "pipe"],
)
def test_the_copy_writes_the_load_files_the_polars_path_writes(
    fresh_db, tmp_path, monkeypatch, settings
):
    fast, slow = _both(fresh_db, tmp_path, monkeypatch,
                       lambda name: _task(fresh_db, settings, ("odd",), name=name))  # fmt: skip
    assert _rows(fast, settings.AddColumnName) == _rows(slow, settings.AddColumnName)
    if settings.AddColumnName:  # every file has the header
        assert {f.split(b"\n", 1)[0] for f in [*fast.values(), *slow.values()]} == {
            next(iter(slow.values())).split(b"\n", 1)[0]
        }


def test_renamed_and_added_columns_in_the_copy(fresh_db, tmp_path, monkeypatch):
    from dataclasses import replace

    fast, slow = _both(fresh_db, tmp_path, monkeypatch, lambda name: replace(
        _task(fresh_db, DEMO, ("odd",), name=name), table_mappings=MAPPED))  # fmt: skip
    header = fast["LOAD00000001.csv"].decode().split("\n", 1)[0]
    assert header == "Op,ts_dms,id,t,tz,tn,amount,b,n,a,j,old_id,seq,op_name,at"
    assert _rows(fast, True) == _rows(slow, True)


def test_settings_copy_cannot_write_go_through_polars():
    from lakehouse.dms.table_mappings import DmsLayout
    from lakehouse.registry import Column, TableSpec

    spec = TableSpec(dataset="t", name="x", columns=(Column("id", "int"),), primary_key=("id",))
    layout = DmsLayout(("id",))
    for s in (DmsS3Settings(DataFormat="parquet"), DmsS3Settings(CsvNullValue="NULL"),
              DmsS3Settings(CsvRowDelimiter="\r\n"),
              DmsS3Settings(Rfc4180=False)):  # fmt: skip
        assert dms_copy.dms_select(spec, layout, s, "2024-01-01 00:00:00.000000") is None
    assert dms_copy.dms_select(spec, layout, DmsS3Settings(), "x") is not None
