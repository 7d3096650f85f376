"""Bronze ingestion: lineage, exactly-once file tracking, bad input to quarantine, schema evolution."""

from __future__ import annotations

import gzip
import json
import os
from datetime import UTC, datetime

import polars as pl
import pytest
from deltalake import DeltaTable
from polars.testing import assert_frame_equal

from lakehouse.dms.settings import DmsS3Settings
from lakehouse.engine import bronze, bronze_rows
from lakehouse.engine.core.keys import quarantine_key
from lakehouse.registry import Column, TableSpec

SETTINGS = DmsS3Settings(
    AddColumnName=True, TimestampColumnName="ts", before_image_key=True, change_seq_column="seq"
)
SPEC = TableSpec(
    dataset="t",
    name="parts",
    columns=(
        Column("sku", "string", nullable=False),
        Column("qty", "int"),
        Column("price", "decimal(10,2)"),
        Column("added", "timestamp"),
    ),
    primary_key=("sku",),
)
PREFIX = SPEC.raw_prefix
HEADER = "Op,ts,sku,qty,price,added,BI_sku,seq\n"


def _row(op, sku, qty="1", price="1.00", n=1):
    ts = f"2024-01-01 00:00:0{n}.000000"
    return f"{op},{ts},{sku},{qty},{price},2024-01-01 00:00:00.000000,{sku},{n:035d}\n"


def _bronze(lake) -> pl.DataFrame:
    return pl.from_arrow(DeltaTable(lake.uri("bronze/parts")).to_pyarrow_table())


def _quarantine(lake) -> pl.DataFrame:
    return pl.from_arrow(DeltaTable(lake.uri(quarantine_key(SPEC.name))).to_pyarrow_table())


def test_lineage_columns_and_types(lake):
    lake.write_text(PREFIX + "LOAD00000001.csv", HEADER + _row("I", "a", n=1) + _row("I", "b", n=2))
    lake.write_text(
        PREFIX + "20240101-000001000.csv",
        HEADER + _row("U", "a", qty="5", n=3) + _row("D", "b", qty="", price="", n=4),
    )
    res = bronze.ingest(lake, SPEC, SETTINGS)
    assert res.rows == 4 and res.rows_by_op == {"I": 2, "U": 1, "D": 1}
    frame = _bronze(lake).sort("_source_file", "_source_row")
    assert frame.schema["qty"] == pl.Int32 and frame.schema["price"] == pl.Decimal(10, 2)
    assert frame.schema["added"] == pl.Datetime("us", "UTC")
    cdc = frame.filter(pl.col("_file_kind") == "cdc")
    assert cdc["_source_row"].to_list() == [2, 3]  # record numbers in the file, header is 1
    assert cdc["_op"].to_list() == ["U", "D"]
    assert json.loads(cdc["_before_key"][0]) == {"sku": "a"}
    assert cdc["_change_seq"][0] == f"{3:035d}"
    assert str(cdc["_commit_ts"][0]) == "2024-01-01 00:00:03+00:00"
    assert "Op" not in frame.columns and "BI_sku" not in frame.columns


def test_replay_is_a_no_op_and_a_rewritten_file_is_ingested_again(lake):
    lake.write_text(PREFIX + "LOAD00000001.csv", HEADER + _row("I", "a"))
    first = bronze.ingest(lake, SPEC, SETTINGS)
    again = bronze.ingest(lake, SPEC, SETTINGS)
    assert first.rows == 1 and again.rows == 0 and again.files == []
    # the file-list cache is lost: the Delta commit history still knows the files
    lake.delete("_state/bronze/parts.json")
    assert bronze.ingest(lake, SPEC, SETTINGS).rows == 0
    # a DMS reload rewrites LOAD00000001 with other content: ingested again
    lake.write_text(PREFIX + "LOAD00000001.csv", HEADER + _row("I", "a") + _row("I", "c", n=2))
    assert bronze.ingest(lake, SPEC, SETTINGS).rows == 2
    history = DeltaTable(lake.uri("bronze/parts")).history()
    files = [json.loads(h["lakehouse.files"]) for h in history if "lakehouse.files" in h]
    assert sorted(len(f) for f in files) == [1, 1]


def _touch(lake, key, second):
    t = datetime(2024, 1, 1, 0, 0, second, tzinfo=UTC).timestamp()
    os.utime(lake.path / key, (t, t))


def test_a_load_file_rewritten_with_the_same_size_is_ingested_again(lake):
    """A reload of unchanged data rewrites LOAD files with new timestamps of the same width: a
    full-load file is known by key, size and last-modified time (CDC files by key and size)."""
    body = HEADER + _row("I", "a", n=1)
    lake.write_text(PREFIX + "LOAD00000001.csv", body)
    lake.write_text(PREFIX + "20240101-000001000.csv", HEADER + _row("U", "a", n=2))
    _touch(lake, PREFIX + "LOAD00000001.csv", 1)
    assert bronze.ingest(lake, SPEC, SETTINGS).rows == 2
    lake.write_text(PREFIX + "LOAD00000001.csv", body.replace("00:00:01", "00:00:05"))
    _touch(lake, PREFIX + "LOAD00000001.csv", 5)
    lake.write_text(PREFIX + "20240101-000001000.csv", HEADER + _row("U", "a", n=2))  # replayed
    res = bronze.ingest(lake, SPEC, SETTINGS)
    assert [f.rsplit("/", 1)[-1] for f in res.files] == ["LOAD00000001.csv"]
    assert bronze.ingest(lake, SPEC, SETTINGS).files == []


def test_the_load_log_numbers_reloads_and_survives_a_lost_cache(lake):
    lake.write_text(PREFIX + "LOAD00000001.csv", HEADER + _row("I", "a", n=1))
    lake.write_text(PREFIX + "LOAD00000002.csv", HEADER)  # an empty full-load file
    _touch(lake, PREFIX + "LOAD00000002.csv", 3)
    bronze.ingest(lake, SPEC, SETTINGS)
    lake.write_text(PREFIX + "LOAD00000001.csv", HEADER + _row("I", "b", n=4))
    lake.write_text(PREFIX + "LOAD00000003.csv", HEADER + _row("I", "c", n=5))  # joins the reload
    bronze.ingest(lake, SPEC, SETTINGS)
    log = bronze.load_log(lake, SPEC)
    got = [(e.key.rsplit("/", 1)[-1], e.version, e.generation, e.start[:26]) for e in log]
    assert got == [
        ("LOAD00000001.csv", 0, 0, "2024-01-01T00:00:01.000000"),
        ("LOAD00000002.csv", 0, 0, "2024-01-01T00:00:03.000000"),  # no rows: its mtime
        ("LOAD00000001.csv", 1, 1, "2024-01-01T00:00:04.000000"),
        ("LOAD00000003.csv", 1, 1, "2024-01-01T00:00:05.000000"),
    ]
    # header is row 1; the file is ordered by its DMS name (token 00000001), then its key
    assert log[0].start.endswith(f"|00000001:{PREFIX}LOAD00000001.csv|000000000002")
    ingested = _bronze(lake).filter(pl.col("sku") == "b")["_ingested_at"][0]
    assert log[2].ingested_at == ingested
    lake.delete("_state/bronze/parts.json")  # the cache is rebuilt from the commit history
    assert bronze.load_log(lake, SPEC) == log


def test_bad_input_corpus_goes_to_quarantine_and_the_rest_flows(lake):
    good = HEADER + _row("I", "ok1", n=1)
    corpus = {
        "20240101-000001000.csv": HEADER + _row("I", "g1") + "I,x,too,few\n" + _row("I", "g2", n=2),
        "20240101-000002000.csv": HEADER + _row("I", "t1", qty="abc") + _row("I", "t2", n=3),
        "20240101-000003000.csv": HEADER + _row("X", "badop") + _row("I", "g3", n=4),
        "20240101-000004000.csv": HEADER + _row("I", "", n=5),  # null key
        "20240101-000005000.csv": "",  # a 0-byte file
        "20240101-000006000.csv.gz": gzip.compress(good.encode())[:-12],  # truncated gzip
        "20240101-000007000.csv": "Op,ts,order_id,total\nI,2024-01-01 00:00:00,1,2\n",  # another table's shape
    }
    for name, body in corpus.items():
        lake.write_bytes(PREFIX + name, body if isinstance(body, bytes) else body.encode())
    res = bronze.ingest(lake, SPEC, SETTINGS)
    assert sorted(_bronze(lake)["sku"].to_list()) == ["g1", "g2", "g3", "t2"]
    q = _quarantine(lake)
    reasons = {
        (r["_source_file"].rsplit("/", 1)[-1], r["_source_row"], r["_column"]): r["_reason"]
        for r in q.iter_rows(named=True)
    }
    assert ("20240101-000001000.csv", 3, None) in reasons and "field" in reasons[
        ("20240101-000001000.csv", 3, None)
    ]
    assert (
        "'abc'" in reasons[("20240101-000002000.csv", 2, "qty")]
        and "int" in reasons[("20240101-000002000.csv", 2, "qty")]
    )
    assert "X" in reasons[("20240101-000003000.csv", 2, "Op")]
    assert "primary key" in reasons[("20240101-000004000.csv", 2, "sku")]
    assert "gzip" in reasons[("20240101-000006000.csv.gz", None, None)]
    assert "order_id" in reasons[("20240101-000007000.csv", None, None)]
    assert res.quarantined == q.height == 6
    assert set(q["_stage"]) == {"bronze"}
    # every file is recorded: nothing is retried forever, nothing is read twice
    assert bronze.ingest(lake, SPEC, SETTINGS).files == []


def test_a_column_added_at_the_source_appears_without_a_rebuild(lake):
    lake.write_text(PREFIX + "LOAD00000001.csv", HEADER + _row("I", "a"))
    bronze.ingest(lake, SPEC, SETTINGS)
    lake.write_text(
        PREFIX + "20240102-000000000.csv",
        "Op,ts,sku,qty,price,added,color,BI_sku,seq\n"
        f"U,2024-01-02 00:00:00.000000,a,2,1.00,2024-01-01 00:00:00.000000,red,a,{9:035d}\n",
    )
    bronze.ingest(lake, SPEC, SETTINGS)
    frame = _bronze(lake).sort("_source_file")
    assert "color" in frame.columns
    assert frame.filter(pl.col("_op") == "U")["color"].to_list() == ["red"]
    assert frame.filter(pl.col("_op") == "I")["color"].to_list() == [None]


def test_a_sibling_tables_file_with_the_key_and_most_columns_is_rejected_as_a_whole(lake):
    """Another table's file shares the key and most columns, but lacks one of the table's
    columns while it has one the table does not: one file-level entry, nothing in bronze."""
    lake.write_text(PREFIX + "LOAD00000001.csv", HEADER + _row("I", "a"))
    bronze.ingest(lake, SPEC, SETTINGS)
    key = PREFIX + "20240102-000000000.csv"
    lake.write_text(
        key,
        "Op,ts,sku,qty,price,weight,BI_sku,seq\n"
        f"U,2024-01-02 00:00:00.000000,a,2,1.00,3.5,a,{9:035d}\n",
    )
    res = bronze.ingest(lake, SPEC, SETTINGS)
    assert res.rows == 0 and res.quarantined == 1 and res.files == [key]
    q = _quarantine(lake).to_dicts()
    assert [(r["_stage"], r["_source_file"], r["_source_row"], r["_column"]) for r in q] == [
        ("bronze", key, None, None)
    ]
    reason = q[0]["_reason"]
    assert key in reason and "not a file of table parts" in reason
    assert "['weight']" in reason and "['added']" in reason
    assert "weight" not in _bronze(lake).columns
    assert _bronze(lake)["sku"].to_list() == ["a"]


def test_an_older_file_lacking_a_column_is_read_with_nulls(lake):
    """A file from before a column was added (to the source and the registry) lacks it, and has
    no column the registry does not know: its rows land, the column null."""
    lake.write_text(
        PREFIX + "LOAD00000001.csv",
        f"Op,ts,sku,qty,price,BI_sku,seq\nI,2024-01-01 00:00:01.000000,a,1,1.00,a,{1:035d}\n",
    )
    res = bronze.ingest(lake, SPEC, SETTINGS)
    assert res.rows == 1 and res.quarantined == 0
    assert _bronze(lake)["added"].to_list() == [None]


@pytest.mark.parametrize(
    ("header", "why"),
    [
        ("Op,ts,qty,price,added,BI_sku,seq", "primary key column(s) ['sku']"),
        ("Op,ts,sku,qty,price,color,BI_sku,seq", "['color']"),  # added, but 'added' missing
        ("Op,ts,sku,BI_sku,seq", "most of its columns"),
    ],
)
def test_shape_check_rejections(header, why):
    from lakehouse.dms.format import DmsFormatError

    with pytest.raises(DmsFormatError, match="not a file of table parts") as e:
        bronze_rows.check_shape(SPEC, header.split(","), "raw/x/f.csv", SETTINGS)
    assert why in str(e.value) and "raw/x/f.csv" in str(e.value)
    # accepted: the full shape, the full shape plus added columns, an older file lacking one,
    # a column named like a lineage column (bronze overwrites it: not a table column)
    for ok in (
        "sku,qty,price,added",
        "sku,qty,price,added,color,size",
        "Op,sku,qty,price",
        "Op,_commit_ts,sku,qty,price",
    ):
        bronze_rows.check_shape(SPEC, ok.split(","), "raw/x/f.csv", SETTINGS)


def test_a_crash_between_the_quarantine_write_and_the_bronze_commit_records_nothing_twice(
    lake, monkeypatch
):
    import deltalake

    from lakehouse.engine import delta_write

    lake.write_text(PREFIX + "20240101-000001000.csv", HEADER + _row("I", "g1") + "I,x,few\n")
    lake.write_bytes(PREFIX + "20240101-000002000.csv.gz", b"\x1f\x8bnot gzip")
    real, real_commit = deltalake.write_deltalake, delta_write._commit

    def dies_at_the_bronze_commit(uri, *a, **kw):
        if "bronze/" in str(uri):
            raise RuntimeError("crash")
        return real(uri, *a, **kw)

    def commit_dies(lake, key, *a, **kw):  # the commit of Polars-written files
        raise RuntimeError("crash")

    monkeypatch.setattr(deltalake, "write_deltalake", dies_at_the_bronze_commit)
    monkeypatch.setattr(delta_write, "_commit", commit_dies)
    for _ in range(2):
        with pytest.raises(RuntimeError):
            bronze.ingest(lake, SPEC, SETTINGS)
    monkeypatch.setattr(deltalake, "write_deltalake", real)
    monkeypatch.setattr(delta_write, "_commit", real_commit)
    res = bronze.ingest(lake, SPEC, SETTINGS)
    assert res.quarantined == 2 and res.rows == 1
    q = _quarantine(lake)
    assert sorted(q["_source_row"].to_list(), key=str) == [3, None]
    assert bronze.ingest(lake, SPEC, SETTINGS).files == []


def test_write_quarantine_skips_entries_already_recorded(lake):
    from lakehouse.engine.quarantine import write_quarantine

    now = datetime(2024, 1, 1, tzinfo=UTC)
    row = dict(_source_file="f1", _source_row=2, _column="qty", _reason="bad", _raw="x")
    whole = dict(_source_file="f2", _source_row=None, _column=None, _reason="gzip", _raw=None)
    assert write_quarantine(lake, SPEC.name, [row, whole], "bronze", now) == 2
    assert write_quarantine(lake, SPEC.name, [row, whole], "bronze", now) == 2  # a retried batch
    assert _quarantine(lake).height == 2
    # the same source row at another stage, for another reason, or another row is new
    other = [
        row,
        {**row, "_reason": "other"},
        {**row, "_source_row": 3},
    ]
    write_quarantine(lake, SPEC.name, other, "silver", now)
    write_quarantine(lake, SPEC.name, other, "bronze", now)
    q = _quarantine(lake)
    assert q.height == 2 + 3 + 2
    assert q.group_by("_stage", "_source_file", "_source_row", "_reason").len()["len"].max() == 1


def test_csv_drop_table(lake):
    spec = TableSpec(
        dataset="d",
        name="people_csv",
        columns=(Column("id", "int", nullable=False), Column("name", "string")),
        primary_key=("id",),
        source="csv_drop",
        file_glob="people-*.csv",
    )
    lake.write_text("raw/csv/d/people-20240101.csv", "id,name\n1,ann\n2,bob\nx,bad\n")
    lake.write_text("raw/csv/d/other-20240101.csv", "nothing,to,see\n")
    res = bronze.ingest(lake, spec, SETTINGS)
    assert res.rows == 2 and res.quarantined == 1
    frame = pl.from_arrow(DeltaTable(lake.uri("bronze/people_csv")).to_pyarrow_table())
    assert set(frame["_file_kind"]) == {"csv"} and set(frame["_op"]) == {"I"}


def test_the_delta_schema_stays_the_same_across_appends(lake):
    lake.write_text(PREFIX + "LOAD00000001.csv", HEADER + _row("I", "a"))
    bronze.ingest(lake, SPEC, SETTINGS)
    first = DeltaTable(lake.uri("bronze/parts")).schema().to_json()
    lake.write_text(PREFIX + "20240101-000001000.csv", HEADER + _row("U", "a", qty="7", n=2))
    bronze.ingest(lake, SPEC, SETTINGS)
    assert DeltaTable(lake.uri("bronze/parts")).schema().to_json() == first
    types = {f["name"]: f["type"] for f in json.loads(first)["fields"]}
    assert types["sku"] == types["_source_file"] == types["_before_key"] == "string"
    assert types["added"] == types["_ingested_at"] == "timestamp"
    assert sorted(_bronze(lake)["qty"].to_list()) == [1, 7]


TS_VALUES = [
    "2024-01-01 10:00:00", "2024-01-01 10:00:00.5", "2024-01-01 10:00:00.123456", "2024-01-01T10:00:00",
    "2024-01-01T10:00:00.25", "2024-01-01", " 2024-01-01 10:00:00 ", "2024-01-01 10:00:00+02",
    "2024-01-01 10:00:00+02:00", "2024-01-01 10:00:00xyz", "2024-13-01 10:00:00", "2024-01-01 10:00",
    "", "abc", None,
]  # fmt: skip
INT_VALUES = ["1", " 2", "3 ", "+4", "-5", "x", "1.0", "", None, "99999999999"]
DATE_VALUES = ["2024-01-31", " 2024-01-31", "2024-1-1", "2024-02-30", "x", None]


def _full_cast(monkeypatch, frame, columns, rows=None):
    from lakehouse.registry import casting

    with monkeypatch.context() as m:
        m.setattr(casting, "_first_pass_expr", lambda *a: None)
        return casting.cast_to_registry(frame, columns, row_numbers=rows)


@pytest.mark.parametrize(
    "first", ["2024-01-01 10:00:00", "2024-01-01T10:00:00", "2024-01-01 10:00:00.5", None]
)
def test_cast_first_pass_then_the_other_formats_gives_the_full_cast(monkeypatch, first):
    from lakehouse.registry.casting import cast_to_registry

    n = len(TS_VALUES) + 1  # the first value decides the first-pass format
    frame = pl.DataFrame(
        {
            "ts": [first, *TS_VALUES],
            "i": [INT_VALUES[k % len(INT_VALUES)] for k in range(n)],
            "d": [DATE_VALUES[k % len(DATE_VALUES)] for k in range(n)],
        },
        schema={"ts": pl.String, "i": pl.String, "d": pl.String},
    )
    columns = (Column("ts", "timestamp"), Column("i", "int"), Column("d", "date"))
    rows = pl.Series("r", range(10, 10 + n))
    typed, rejects = cast_to_registry(frame, columns, row_numbers=rows)
    want_typed, want_rejects = _full_cast(monkeypatch, frame, columns, rows)
    assert_frame_equal(typed, want_typed)
    assert_frame_equal(rejects, want_rejects)
    # 'xyz' after the time, month 13, a time without seconds and 'abc' are not timestamps
    rejected = set(rejects["__row"])
    for bad in ("2024-01-01 10:00:00xyz", "2024-13-01 10:00:00", "2024-01-01 10:00", "abc"):
        assert 10 + 1 + TS_VALUES.index(bad) in rejected


def test_cast_timestamps_in_every_format(monkeypatch):
    from datetime import UTC, datetime

    from lakehouse.registry.casting import cast_to_registry

    values = ["2024-01-01 10:00:00", "2024-01-01T10:00:00.25", "2024-01-01", " 2024-01-01 10:00:00 ",
              "2024-01-01 10:00:00+02", "2024-01-01 10:00:00.123456", "nope"]  # fmt: skip
    frame = pl.DataFrame({"ts": values})
    typed, rejects = cast_to_registry(frame, [Column("ts", "timestamp")])
    assert typed["ts"].to_list() == [
        datetime(2024, 1, 1, 10, tzinfo=UTC),
        datetime(2024, 1, 1, 10, 0, 0, 250000, tzinfo=UTC),
        datetime(2024, 1, 1, tzinfo=UTC),
        datetime(2024, 1, 1, 10, tzinfo=UTC),
        datetime(2024, 1, 1, 8, tzinfo=UTC),
        datetime(2024, 1, 1, 10, 0, 0, 123456, tzinfo=UTC),
    ]
    assert rejects["__row"].to_list() == [7] and "'nope'" in rejects["__reason"][0]


def test_a_big_run_commits_batch_by_batch_and_resumes_after_a_crash(lake, tmp_path, monkeypatch):
    """Memory bounded by a batch: files are appended in batches of at most ``batch_bytes``, one
    commit each listing its files; a run killed after some batches resumes with the rest, and
    bronze ends with the rows and load log of a single-commit run."""
    from lakehouse.storage import LocalLake

    files = {PREFIX + f"LOAD0000000{i}.csv": HEADER + _row("I", f"k{i}", n=i) for i in range(1, 6)}
    files[PREFIX + "20240101-000009000.csv"] = HEADER + _row("U", "k1", qty="7", n=9)
    one = LocalLake(tmp_path / "one")
    for target in (lake, one):
        for key, body in files.items():
            target.write_text(key, body)
            _touch(target, key, 1)
    size = len(HEADER + _row("I", "k1"))
    real_append, calls = bronze._append, []

    def dying_append(*args):
        calls.append(args[3])
        if len(calls) == 3:
            raise RuntimeError("killed")
        return real_append(*args)

    monkeypatch.setattr(bronze, "_append", dying_append)
    with pytest.raises(RuntimeError, match="killed"):
        bronze.ingest(lake, SPEC, SETTINGS, batch_bytes=2 * size)
    assert [len(ids) for ids in calls] == [2, 2, 2]  # two files per batch
    monkeypatch.setattr(bronze, "_append", real_append)
    seen = []
    rest = bronze.ingest(lake, SPEC, SETTINGS, batch_bytes=2 * size, progress=seen.append)
    assert [f.rsplit("/", 1)[-1] for f in rest.files] == [
        "LOAD00000005.csv", "20240101-000009000.csv"
    ]  # fmt: skip
    assert rest.rows == 2 and rest.version == 2 and seen == []  # one batch left: no progress
    whole = bronze.ingest(one, SPEC, SETTINGS)
    assert whole.version == 0 and whole.rows == 6
    drop = ["_ingested_at"]
    assert_frame_equal(
        _bronze(lake).drop(drop).sort("_source_file"), _bronze(one).drop(drop).sort("_source_file")
    )
    got = [(e.key, e.generation, e.start) for e in bronze.load_log(lake, SPEC)]
    assert got == [(e.key, e.generation, e.start) for e in bronze.load_log(one, SPEC)]
    history = DeltaTable(lake.uri("bronze/parts")).history()
    assert sorted(len(json.loads(h["lakehouse.files"])) for h in history) == [2, 2, 2]


def test_file_batches_weigh_compressed_files():
    from lakehouse.storage import ObjectInfo

    objs = [ObjectInfo("a.csv", 40, 0.0), ObjectInfo("b.csv.gz", 10, 0.0), ObjectInfo("c", 100, 0)]
    assert [[o.key for o in b] for b in bronze.file_batches(objs, 100)] == [
        ["a.csv", "b.csv.gz"], ["c"]
    ]  # fmt: skip
    assert [[o.key for o in b] for b in bronze.file_batches(objs, 99)] == [
        ["a.csv"],
        ["b.csv.gz"],
        ["c"],
    ]


def test_an_s3_raw_root_beside_a_local_lake_uses_the_process_s3_endpoint(tmp_path, monkeypatch):
    """A dms_s3 path on an S3-compatible endpoint (moto, MinIO) with a local lake root: the raw
    files are read through LAKEHOUSE_S3_ENDPOINT (a local lake has no endpoint to lend)."""
    from lakehouse.storage import LocalLake, S3Lake

    spec = TableSpec("d", "t", (Column("id", "bigint", nullable=False),), ("id",),
                     raw_root="s3://dms-bucket/task")  # fmt: skip
    monkeypatch.setenv("LAKEHOUSE_S3_ENDPOINT", "http://127.0.0.1:9")
    monkeypatch.setenv("AWS_REGION", "eu-west-1")
    raw = bronze.raw_lake(LocalLake(tmp_path / "lake"), spec)
    assert isinstance(raw, S3Lake)
    assert (raw.endpoint_url, raw.region) == ("http://127.0.0.1:9", "eu-west-1")
    s3 = S3Lake("s3://lake/x", endpoint_url="http://127.0.0.1:8", region="us-east-2")
    raw = bronze.raw_lake(s3, spec)
    assert (raw.endpoint_url, raw.region) == ("http://127.0.0.1:8", "us-east-2")


def test_a_file_naming_a_column_twice_is_quarantined_with_the_fix_and_the_rest_flows(lake):
    """A source column named like a DMS column (here ``Op``) in a file's header: which ``Op``
    is DMS's cannot be told, so the file is quarantined whole naming the column and the fix (it
    failed the step with polars' DuplicateError); the table's other files flow."""
    clash = "Op,ts,sku,Op,qty,price,added,BI_sku,seq\n"
    row = "I,2024-01-01 00:00:01.000000,a,created,1,1.00,2024-01-01 00:00:00.000000,a,"
    lake.write_text(PREFIX + "LOAD00000001.csv", clash + row + f"{1:035d}\n")
    lake.write_text(PREFIX + "20240101-000001000.csv", HEADER + _row("I", "b", n=2))
    res = bronze.ingest(lake, SPEC, SETTINGS)
    assert _bronze(lake)["sku"].to_list() == ["b"]
    q = _quarantine(lake)
    assert res.quarantined == q.height == 1 and q["_source_row"].to_list() == [None]
    reason = q["_reason"][0]
    assert "LOAD00000001.csv" in reason and "column 'Op'" in reason, reason
    assert "appear more than once in its header" in reason and "— fix: " in reason, reason
    assert "exclude_columns" in reason and "\n" not in reason
