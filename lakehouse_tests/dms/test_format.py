"""The DMS S3 file format: names, partition folders, writer bytes, reader, round trips."""

from __future__ import annotations

import gzip
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal

from lakehouse.dms.format import OP_COLUMN, DmsFormatError
from lakehouse.dms.names import (
    cdc_file_name,
    date_partition_folder,
    load_file_name,
    parse_file_name,
)
from lakehouse.dms.reader import read_dms_file
from lakehouse.dms.settings import DmsS3Settings
from lakehouse.dms.writer import encode_dms_file

CSV = DmsS3Settings()
PARQUET = DmsS3Settings(DataFormat="parquet")
TS = "2024-01-31 23:59:59.123456"


def _strings(**cols) -> pl.DataFrame:
    return pl.DataFrame(cols, schema={c: pl.String for c in cols})


# ------------------------------------------------------------------------------------ naming


def test_load_file_names():
    assert load_file_name(1, CSV) == "LOAD00000001.csv"
    assert load_file_name(10, CSV) == "LOAD0000000A.csv"
    assert load_file_name(0xABCDEF12, CSV) == "LOADABCDEF12.csv"
    assert load_file_name(2, CSV.with_(CompressionType="GZIP")) == "LOAD00000002.csv.gz"
    assert load_file_name(3, PARQUET.with_(CompressionType="GZIP")) == "LOAD00000003.parquet"
    with pytest.raises(ValueError):
        load_file_name(0, CSV)


def test_cdc_file_names():
    ts = datetime(2024, 1, 31, 23, 59, 59, 123456)
    assert cdc_file_name(ts, CSV) == "20240131-235959123.csv"
    assert cdc_file_name(ts.replace(tzinfo=UTC), PARQUET) == "20240131-235959123.parquet"
    assert cdc_file_name(datetime(2024, 2, 1, 1, 0, 0, 5000), CSV) == "20240201-010000005.csv"
    # an aware time is named in UTC
    plus2 = datetime(2024, 2, 1, 1, 59, 59, 123999, tzinfo=timezone(timedelta(hours=2)))
    assert cdc_file_name(plus2, CSV.with_(CompressionType="GZIP")) == "20240131-235959123.csv.gz"


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("LOAD00000001.csv", ("load", "00000001")),
        ("LOAD0000000A.csv.gz", ("load", "0000000A")),
        ("LOADFFFFFFFF.parquet", ("load", "FFFFFFFF")),
        ("dms_test_table_LOAD00000001.parquet", ("load", "00000001")),
        ("raw/database/public/t/LOAD00000002.csv", ("load", "00000002")),
        ("20190118-184518184.csv", ("cdc", "20190118-1845181840")),
        ("20190118-1845181841.csv.gz", ("cdc", "20190118-1845181841")),
        ("raw/db/public/t/2024/01/31/20240131-235959123.parquet", ("cdc", "20240131-2359591230")),
    ],
)
def test_parse_file_name(name, expected):
    assert parse_file_name(name) == expected


def test_parse_file_name_round_trips_the_writers_names_and_sorts():
    ts = datetime(2024, 1, 31, 23, 59, 59, 123456)
    assert parse_file_name(cdc_file_name(ts, CSV)) == ("cdc", "20240131-2359591230")
    assert parse_file_name(load_file_name(26, PARQUET)) == ("load", "0000001A")
    names = ["20240131-235959124.csv", "20240131-2359591231.csv", "20240131-235959123.csv"]
    ordered = sorted(names, key=lambda n: parse_file_name(n)[1])
    assert ordered == [
        "20240131-235959123.csv",
        "20240131-2359591231.csv",
        "20240131-235959124.csv",
    ]
    loads = [load_file_name(i, CSV) for i in (16, 2, 10, 255)]
    assert sorted(loads, key=lambda n: parse_file_name(n)[1]) == [
        load_file_name(i, CSV) for i in (2, 10, 16, 255)
    ]


@pytest.mark.parametrize(
    "name",
    [
        "LOAD0000000a.csv",  # hex must be upper case
        "LOAD000001.csv",
        "LOAD000000001.csv",
        "LOAD00000001.json",
        "LOAD00000001.parquet.gz",
        "20240131-2359.csv",
        "20240131-23595912345.csv",
        "2024013-235959123.csv",
        "20240131-235959123.csv.bak",
        "README.md",
        "",
    ],
)
def test_parse_file_name_rejects_junk(name):
    with pytest.raises(DmsFormatError):
        parse_file_name(name)


# ------------------------------------------------------------------------------ partitioning

PART_TS = datetime(2024, 1, 31, 5, 6, 7)


@pytest.mark.parametrize(
    ("sequence", "expected"),
    [
        ("YYYYMMDD", "2024/01/31/"),
        ("YYYYMMDDHH", "2024/01/31/05/"),
        ("YYYYMM", "2024/01/"),
        ("MMYYYYDD", "01/2024/31/"),
        ("DDMMYYYY", "31/01/2024/"),
    ],
)
def test_date_partition_sequences(sequence, expected):
    s = CSV.with_(DatePartitionEnabled=True, DatePartitionSequence=sequence)
    assert date_partition_folder(PART_TS, s) == expected


@pytest.mark.parametrize(
    ("delimiter", "sep"), [("SLASH", "/"), ("UNDERSCORE", "_"), ("DASH", "-"), ("NONE", "")]
)
def test_date_partition_delimiters(delimiter, sep):
    s = CSV.with_(DatePartitionEnabled=True, DatePartitionDelimiter=delimiter)
    assert date_partition_folder(PART_TS, s) == f"2024{sep}01{sep}31/"
    s = s.with_(DatePartitionSequence="DDMMYYYY")
    assert date_partition_folder(PART_TS, s) == f"31{sep}01{sep}2024/"


def test_date_partition_disabled_and_utc():
    assert date_partition_folder(PART_TS, CSV) == ""
    s = CSV.with_(DatePartitionEnabled=True, DatePartitionSequence="YYYYMMDDHH")
    aware = datetime(2024, 2, 1, 1, 30, tzinfo=timezone(timedelta(hours=2)))
    assert date_partition_folder(aware, s) == "2024/01/31/23/"


# ------------------------------------------------------------------------- writer: exact bytes

SAMPLE = _strings(
    Op=["I", "U", "D", "U"],
    id=["1", "2", "3", "4"],
    name=["a", "", 'say "hi"', "l1\nl2"],
    note=["x", None, "a,b", "NULL"],
)


def test_writer_bytes_cdc_default():
    assert encode_dms_file(SAMPLE, CSV, full_load=False) == (
        b'I,1,a,x\nU,2,"",\nD,3,"say ""hi""","a,b"\nU,4,"l1\nl2",NULL\n'
    )


def test_writer_bytes_full_load_default_has_no_op_and_no_header():
    assert encode_dms_file(SAMPLE, CSV, full_load=True) == (
        b'1,a,x\n2,"",\n3,"say ""hi""","a,b"\n4,"l1\nl2",NULL\n'
    )


def test_writer_bytes_full_load_with_op_header_and_timestamp():
    s = CSV.with_(IncludeOpForFullLoad=True, AddColumnName=True, TimestampColumnName="_ts")
    frame = (
        SAMPLE.head(2)
        .with_columns(pl.lit(TS).alias("_ts"))
        .select("Op", "_ts", "id", "name", "note")
    )
    assert encode_dms_file(frame, s, full_load=True) == (
        b"Op,_ts,id,name,note\n"
        b"I,2024-01-31 23:59:59.123456,1,a,x\n"
        b'U,2024-01-31 23:59:59.123456,2,"",\n'
    )


def test_writer_bytes_custom_null_delimiter_and_row_delimiter():
    s = CSV.with_(CsvNullValue="NULL", CsvDelimiter="|", CsvRowDelimiter="\r\n", AddColumnName=True)
    assert encode_dms_file(SAMPLE, s, full_load=False) == (
        b"Op|id|name|note\r\n"
        b"I|1|a|x\r\n"
        b'U|2|""|NULL\r\n'  # NULL unquoted, the empty string quoted
        b'D|3|"say ""hi"""|a,b\r\n'  # a comma is plain text with another delimiter
        b'U|4|"l1\nl2"|"NULL"\r\n'  # the text NULL is quoted so it is not read back as NULL
    )


def test_writer_cdc_inserts_only_has_no_op():
    s = CSV.with_(CdcInsertsOnly=True)
    assert encode_dms_file(SAMPLE.head(1), s, full_load=False) == b"1,a,x\n"
    s = s.with_(IncludeOpForFullLoad=True)
    assert encode_dms_file(SAMPLE.head(1), s, full_load=False) == b"I,1,a,x\n"


def test_writer_requires_op_for_cdc():
    with pytest.raises(DmsFormatError, match="Op"):
        encode_dms_file(SAMPLE.drop("Op"), CSV, full_load=False)


def test_writer_gzip_is_deterministic():
    s = CSV.with_(CompressionType="GZIP")
    a, b = encode_dms_file(SAMPLE, s, full_load=False), encode_dms_file(SAMPLE, s, full_load=False)
    assert a == b
    assert a[:2] == b"\x1f\x8b" and a[4:8] == b"\0\0\0\0"  # mtime 0
    assert gzip.decompress(a) == encode_dms_file(SAMPLE, CSV, full_load=False)


def test_writer_empty_frame():
    assert encode_dms_file(SAMPLE.head(0), CSV, full_load=False) == b""
    s = CSV.with_(AddColumnName=True)
    assert encode_dms_file(SAMPLE.head(0), s, full_load=False) == b"Op,id,name,note\n"
    s = s.with_(CsvNullValue="NULL")
    assert encode_dms_file(SAMPLE.head(0), s, full_load=False) == b"Op,id,name,note\n"


# ---------------------------------------------------------------------------- CSV round trip

SPECIAL = ["", ",", '"', '""', "\n", "\r\n", "\r", "NULL", "\\N", "a,b", 'x"y', " ", "\t", "|", ";"]
SPECIAL += ["é", "日本語", "\ufeffbom", "🦆", " lead", "trail "]
CELL = st.one_of(
    st.none(),
    st.sampled_from(SPECIAL),
    st.text(st.characters(blacklist_categories=("Cs",)), max_size=8),
)


@st.composite
def csv_cases(draw):
    s = DmsS3Settings(
        AddColumnName=draw(st.booleans()),
        CompressionType=draw(st.sampled_from(["NONE", "GZIP"])),
        CsvDelimiter=draw(st.sampled_from([",", "|", "\t", ";"])),
        CsvNullValue=draw(st.sampled_from(["", "NULL", "\\N"])),
        CsvRowDelimiter=draw(st.sampled_from(["\n", "\r\n"])),
        IncludeOpForFullLoad=draw(st.booleans()),
        TimestampColumnName=draw(st.sampled_from(["", "_dms_ts"])),
    )
    full_load = draw(st.booleans())
    nrows = draw(st.integers(0, 12))
    names = [f"c{i}" for i in range(draw(st.integers(1, 4)))]
    ops = (
        ["I"] * nrows
        if full_load
        else draw(st.lists(st.sampled_from("IUD"), min_size=nrows, max_size=nrows))
    )
    cols = {OP_COLUMN: ops}
    if s.TimestampColumnName:
        cols[s.TimestampColumnName] = [TS] * nrows
    for n in names:
        cols[n] = draw(st.lists(CELL, min_size=nrows, max_size=nrows))
    return s, full_load, names, _strings(**cols)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(csv_cases())
def test_csv_round_trip(case):
    s, full_load, names, frame = case
    data = encode_dms_file(frame, s, full_load=full_load)
    kind = "load" if full_load else "cdc"
    name = load_file_name(1, s) if full_load else cdc_file_name(datetime(2024, 1, 31), s)
    got = read_dms_file(data, f"raw/t/{name}", s, names)
    assert got.kind == kind
    assert got.rejected == []
    assert_frame_equal(got.frame, frame)
    if s.AddColumnName:  # with a header the columns are not needed
        assert_frame_equal(read_dms_file(data, name, s).frame, frame)


def test_csv_round_trip_keeps_empty_string_apart_from_null_in_a_big_file():
    # large enough for the multi-block, multi-threaded parse path
    n = 300_000
    frame = _strings(
        Op=["U"] * n,
        id=[str(i) for i in range(n)],
        v=[None if i % 3 == 0 else "" if i % 3 == 1 else f'q"{i},\n' for i in range(n)],
    )
    got = read_dms_file(
        encode_dms_file(frame, CSV, full_load=False), "20240101-000000000.csv", CSV, ["id", "v"]
    )
    assert_frame_equal(got.frame, frame)
    assert got.frame["v"].null_count() == n // 3


def test_leading_bom_is_data():
    frame = _strings(Op=["I"], a=["\ufeffx"])
    data = encode_dms_file(frame, CSV, full_load=True)
    assert data == "\ufeffx\n".encode()
    assert_frame_equal(read_dms_file(data, "LOAD00000001.csv", CSV, ["a"]).frame, frame)


def test_cdc_inserts_only_round_trip():
    s = CSV.with_(CdcInsertsOnly=True, TimestampColumnName="ts")
    frame = _strings(Op=["I", "I"], ts=[TS, TS], id=["1", "2"])
    data = encode_dms_file(frame, s, full_load=False)
    assert data.startswith(TS.encode())
    assert_frame_equal(read_dms_file(data, "20240101-000000000.csv", s, ["id"]).frame, frame)


def test_cdc_inserts_and_updates_without_op_for_full_load_has_no_op():
    """AWS: CdcInsertsAndUpdates without IncludeOpForFullLoad writes CDC records with no Op
    (an insert and an update look alike); they are read as upserts (Op I), by layout too."""
    from lakehouse.dms.table_mappings import DmsLayout

    s = CSV.with_(CdcInsertsAndUpdates=True)
    assert encode_dms_file(SAMPLE.head(1), s, full_load=False) == b"1,a,x\n"
    got = read_dms_file(
        b"1,a2\n3,c\n", "20240102-000000000.csv", s, layouts=[DmsLayout(("id", "name"))]
    )
    assert got.rejected == []
    assert got.frame.rows() == [("I", "1", "a2"), ("I", "3", "c")]
    s = s.with_(IncludeOpForFullLoad=True)
    assert encode_dms_file(SAMPLE.head(1), s, full_load=False) == b"I,1,a,x\n"


# ------------------------------------------------------------------------------ reader layout


def test_reader_without_header_names_op_timestamp_data_and_change_seq():
    s = CSV.with_(TimestampColumnName="ts", change_seq_column="_seq")
    got = read_dms_file(
        b"U,2024-01-01 00:00:00.000001,1,,0001\n", "20240101-000000000.csv", s, ["id", "BI_id"]
    )
    assert got.frame.columns == ["Op", "ts", "id", "BI_id", "_seq"]
    assert got.frame.row(0) == ("U", "2024-01-01 00:00:00.000001", "1", None, "0001")


def test_reader_without_header_or_columns_names_columns_by_position():
    got = read_dms_file(b"I,1,a\n", "20240101-000000000.csv", CSV)
    assert got.frame.columns == ["Op", "column_1", "column_2"]


def test_reader_with_header_puts_op_and_timestamp_first_and_fills_op():
    s = CSV.with_(AddColumnName=True, TimestampColumnName="ts")
    got = read_dms_file(b"id,ts,name\n1,x,a\n", "LOAD00000001.csv", s, ["id", "name"])
    assert got.frame.columns == ["Op", "ts", "id", "name"]
    assert got.frame.row(0) == ("I", "x", "1", "a")
    # a header that lacks a column the table has now (an older file) is fine
    got = read_dms_file(b"Op,id\nD,1\n", "20240101-000000000.csv", s, ["id", "name"])
    assert got.frame.columns == ["Op", "id"] and got.frame.row(0) == ("D", "1")


def test_reader_kind_override_and_format_from_settings():
    got = read_dms_file(b"U,1\n", "some/object", CSV, ["id"], kind="cdc")
    assert got.kind == "cdc" and got.frame.row(0) == ("U", "1")
    with pytest.raises(DmsFormatError, match="some/object"):
        read_dms_file(b"U,1\n", "some/object", CSV, ["id"])


# --------------------------------------------------------------------------------- bad input


def test_wrong_field_count_rows_are_rejected_and_the_rest_kept():
    data = b"I,1,a\nU,2\nD,3,c,extra\nI,4,d\n"
    got = read_dms_file(data, "k/20240101-000000000.csv", CSV, ["id", "name"])
    assert got.frame["id"].to_list() == ["1", "4"]
    assert [(r.key, r.row, r.raw) for r in got.rejected] == [
        ("k/20240101-000000000.csv", 2, "U,2"),
        ("k/20240101-000000000.csv", 3, "D,3,c,extra"),
    ]
    assert "expected 3" in got.rejected[0].reason and "found 2" in got.rejected[0].reason
    assert "found 4" in got.rejected[1].reason
    assert got.row_numbers.to_list() == [1, 4]
    # the header line counts
    s = CSV.with_(AddColumnName=True)
    got = read_dms_file(b"Op,id,name\n" + data, "20240101-000000000.csv", s, ["id", "name"])
    assert [r.row for r in got.rejected] == [3, 4]
    assert got.row_numbers.to_list() == [2, 5]


def test_wrong_field_count_in_a_big_file_gets_its_row_number():
    n = 200_000
    lines = [f"U,{i},name {i}" for i in range(n)]
    lines[150_000] = "U,150000"
    got = read_dms_file(
        ("\n".join(lines) + "\n").encode(), "20240101-000000000.csv", CSV, ["id", "name"]
    )
    assert got.frame.height == n - 1
    assert [(r.row, r.raw) for r in got.rejected] == [(150_001, "U,150000")]
    assert got.row_numbers[150_000] == 150_002 and got.row_numbers.len() == n - 1


def test_bad_op_rows_are_rejected():
    data = b"I,1,a\nU,2\nX,3,c\n,4,d\nD,5,e\n"
    got = read_dms_file(data, "20240101-000000000.csv", CSV, ["id", "name"])
    assert got.frame["id"].to_list() == ["1", "5"]
    assert [(r.row, r.column) for r in got.rejected] == [(2, None), (3, "Op"), (4, "Op")]
    assert "'X'" in got.rejected[1].reason and got.rejected[1].raw == "X,3,c"
    assert "None" in got.rejected[2].reason
    assert got.row_numbers.to_list() == [1, 5]


def test_bad_op_in_parquet():
    frame = pl.DataFrame({"Op": ["I", "Z"], "id": [1, 2]}, schema={"Op": pl.String, "id": pl.Int32})
    got = read_dms_file(
        encode_dms_file(frame, PARQUET, full_load=False), "20240101-000000000.parquet", PARQUET
    )
    assert got.frame["id"].to_list() == [1]
    assert [(r.row, r.column) for r in got.rejected] == [(2, "Op")]
    assert "'Z'" in got.rejected[0].reason


def test_truncated_or_corrupt_gzip_names_the_key():
    gz = gzip.compress(b"I,1,a\n" * 1000)
    with pytest.raises(DmsFormatError, match="raw/t/20240101-000000000.csv.gz"):
        read_dms_file(gz[: len(gz) // 2], "raw/t/20240101-000000000.csv.gz", CSV, ["id", "name"])
    bad = gz[:-8] + b"\0" * 8  # wrong CRC and length
    with pytest.raises(DmsFormatError, match="gzip"):
        read_dms_file(bad, "raw/t/20240101-000000000.csv.gz", CSV, ["id", "name"])


def test_corrupt_parquet_names_the_key():
    with pytest.raises(DmsFormatError, match="LOAD00000001.parquet"):
        read_dms_file(b"PAR1 not really", "t/LOAD00000001.parquet", PARQUET)


@pytest.mark.parametrize("data", [b"", gzip.compress(b"", mtime=0)])
def test_empty_file(data):
    s = CSV.with_(TimestampColumnName="ts")
    got = read_dms_file(data, "20240101-000000000.csv", s, ["id", "name"])
    assert got.rejected == []
    assert got.frame.height == 0 and got.row_numbers.len() == 0
    assert got.frame.schema == pl.Schema({c: pl.String for c in ["Op", "ts", "id", "name"]})
    assert read_dms_file(data, "LOAD00000001.parquet", PARQUET).frame.columns == ["Op"]


def test_header_with_unknown_column_is_another_tables_file():
    s = CSV.with_(AddColumnName=True)
    with pytest.raises(DmsFormatError) as e:
        read_dms_file(b"Op,id,other\nI,1,x\n", "raw/t/20240101-000000000.csv", s, ["id", "name"])
    assert "other" in str(e.value) and "raw/t/20240101-000000000.csv" in str(e.value)
    assert e.value.column == "other"
    # before-image columns of known columns are not foreign
    got = read_dms_file(b"Op,id,BI_id\nU,2,1\n", "20240101-000000000.csv", s, ["id", "name"])
    assert got.frame.row(0) == ("U", "2", "1")


def test_cdc_file_without_op_column_is_an_error():
    s = CSV.with_(AddColumnName=True)
    with pytest.raises(DmsFormatError, match="Op"):
        read_dms_file(b"id\n1\n", "20240101-000000000.csv", s, ["id"])


# ------------------------------------------------------------- fast (Polars) CSV path vs precise


def _precise(monkeypatch, *args, **kwargs):
    """``read_dms_file`` with the Polars fast path off: the pyarrow reader decides everything."""
    from lakehouse.dms import csv_reader

    with monkeypatch.context() as m:
        m.setattr(csv_reader, "read_csv_fast", lambda *a: None)
        return read_dms_file(*args, **kwargs)


def _fast_used(monkeypatch) -> list[bool]:
    """Records, for each CSV read, whether the Polars fast path gave the frame."""
    from lakehouse.dms import csv_reader

    used, real = [], csv_reader.read_csv_fast

    def spy(*a):
        out = real(*a)
        used.append(out is not None)
        return out

    monkeypatch.setattr(csv_reader, "read_csv_fast", spy)
    return used


def _same_read(monkeypatch, data: bytes, key: str, s: DmsS3Settings, columns):
    try:
        want, want_err = _precise(monkeypatch, data, key, s, columns), None
    except DmsFormatError as e:
        want, want_err = None, str(e)
    try:
        got, got_err = read_dms_file(data, key, s, columns), None
    except DmsFormatError as e:
        got, got_err = None, str(e)
    assert got_err == want_err, data
    if want is not None:
        assert_frame_equal(got.frame, want.frame)
        assert got.row_numbers.to_list() == want.row_numbers.to_list()
        assert got.rejected == want.rejected
    return got


@pytest.mark.parametrize(
    ("s", "data"),
    [
        (CSV, b'I,"a,b",""\nU,"l1\nl2",x\nD,,"q""uote"\n'),
        (CSV.with_(CsvRowDelimiter="\r\n"), b'I,"a\r\nb",1\r\nU,,""\r\n'),
        (CSV.with_(CsvDelimiter="|"), b'I|"a|b"|\nU|2|\n'),
        (CSV.with_(AddColumnName=True), b'Op,"i,d",v\nI,1,\nU,2,x\n'),
        (CSV.with_(Rfc4180=False), b'I,a"b,c\nU,"x,y\n'),
    ],
)
def test_fast_path_reads_what_the_precise_reader_reads(monkeypatch, s, data):
    columns = None if s.AddColumnName else ["id", "v"]
    used = _fast_used(monkeypatch)
    got = _same_read(monkeypatch, data, "20240101-000000000.csv", s, columns)
    assert got.rejected == [] and used[-1]  # well-formed: no pyarrow parse


@pytest.mark.parametrize(
    "data",
    [
        b"I,1,a\nU,2,\nD,3\n",  # a short row where the last column may be empty
        b"I,1,a\nU,2,b\n\n",  # an empty line at the end
        b"I,1,a\n\nU,2,b\n",  # an empty line inside
        b"I,1,a\nU,2,b,",  # an extra empty field on a last row without row end
        b"I,1,a\nU,2,b,\n",  # an extra empty field
        b'I,1,"a"b\nU,2,c\n',  # text after a closing quote
        b'I,1,a"b\nU,2,c\n',  # a quote inside an unquoted field
        b'I,1,"x"y"q,\n",\nU,2,c\n',  # quotes that pair up across fields
        b'I,"x"y"",1\nU,2,c\n',  # text after a closing quote, then a quote pair
        b'I,1,"x"y""\nU,2,\n',
        b'I,1,"open\nU,2,c\n',  # a quote left open at the end
        b"I,1,a\rU,2,b\n",  # a bare CR
        b"I,1,\xff\n",  # not UTF-8
        b"\xef\xbb\xbfI,1,a\n",  # a leading BOM
    ],
)
def test_malformed_csv_is_read_as_the_precise_reader_reads_it(monkeypatch, data):
    _same_read(monkeypatch, data, "20240101-000000000.csv", CSV, ["id", "name"])
    s = CSV.with_(AddColumnName=True)
    _same_read(monkeypatch, b"Op,id,name\n" + data, "20240101-000000000.csv", s, None)


def test_header_without_row_end_is_still_unreadable(monkeypatch):
    s = CSV.with_(AddColumnName=True)
    with pytest.raises(DmsFormatError):
        read_dms_file(b"Op,id,name", "20240101-000000000.csv", s, None)
    got = _same_read(monkeypatch, b"Op,id,name\n", "20240101-000000000.csv", s, None)
    assert got.frame.height == 0


def test_fast_path_short_row_in_a_big_file_with_a_nullable_last_column(monkeypatch):
    n = 100_000
    lines = [f"U,{i}," if i % 2 else f"U,{i},v{i}" for i in range(n)]
    lines[70_001] = "U,70001"  # one field short: Polars would pad it with a null
    data = ("\n".join(lines) + "\n").encode()
    got = _same_read(monkeypatch, data, "20240101-000000000.csv", CSV, ["id", "name"])
    assert [(r.row, r.raw) for r in got.rejected] == [(70_002, "U,70001")]
    assert got.frame.height == n - 1 and got.frame["name"].null_count() == n // 2 - 1


def test_quoted_newlines_keep_record_numbers(monkeypatch):
    s = CSV.with_(AddColumnName=True)
    data = b'Op,id,name\nI,1,"two\nlines"\nI,2,b\nX,3,"a\n\nb"\nI,4,d\n'
    used = _fast_used(monkeypatch)
    got = read_dms_file(data, "20240101-000000000.csv", s, ["id", "name"])
    assert used == [True]
    assert got.frame["id"].to_list() == ["1", "2", "4"]
    assert got.row_numbers.to_list() == [2, 3, 5]  # record numbers, the header is 1
    assert [(r.row, r.column) for r in got.rejected] == [(4, "Op")]


@pytest.mark.parametrize("header", [True, False])
@pytest.mark.parametrize("row_end", ["\n", "\r\n"])
def test_a_quote_that_never_closes_rejects_only_its_line(monkeypatch, header, row_end):
    s = CSV.with_(AddColumnName=header, CsvRowDelimiter=row_end)
    lines = [
        "Op,id,name,qty",
        f'I,1,"two{row_end}lines",3',  # a value on two lines: kept
        'U,2,"Unterm,4',  # runs on into the next line, where a quote closes it: 5 fields
        'U,3,"x, y",5',
        "I,4,d,6",
        'U,5,"open',  # runs on to the end of the file: 3 fields
        "D,6,x,8",
    ]
    if not header:
        lines = lines[1:]
    data = (row_end.join(lines) + row_end).encode()
    got = _same_read(monkeypatch, data, "k/20240101-000000000.csv", s, ["id", "name", "qty"])
    assert got.frame["id"].to_list() == ["1", "3", "4", "6"]
    assert got.frame["name"].to_list() == [f"two{row_end}lines", "x, y", "d", "x"]
    h = int(header)
    assert got.row_numbers.to_list() == [1 + h, 3 + h, 4 + h, 6 + h]  # record numbers
    assert [(r.key, r.row, r.column, r.raw) for r in got.rejected] == [
        ("k/20240101-000000000.csv", 2 + h, "name", 'U,2,"Unterm,4'),
        ("k/20240101-000000000.csv", 5 + h, "name", 'U,5,"open'),
    ]
    assert [r.reason for r in got.rejected] == [
        "expected 4 fields, found 3: the quote opening column 'name' is not closed on its line",
        "expected 4 fields, found 3: the quote opening column 'name' is not closed on its line",
    ]


def test_a_quote_that_never_closes_in_a_big_file(monkeypatch):
    n = 50_000
    lines = [f'U,{i},"name, {i}"' if i % 3 else f"U,{i},n{i}" for i in range(n)]
    lines[1000] = 'U,1000,"never closed'
    lines[30_000] = 'U,30000,x"y'  # a quote inside an unquoted field is text
    lines[40_000] = 'U,40000,"a",extra'  # too many fields, on its line
    data = ("\n".join(lines) + "\n").encode()
    got = read_dms_file(data, "20240101-000000000.csv", CSV, ["id", "name"])
    assert [(r.row, r.column, r.raw) for r in got.rejected] == [
        (1001, "name", 'U,1000,"never closed'),
        (40_001, None, 'U,40000,"a",extra'),
    ]
    assert got.frame.height == n - 2 and got.row_numbers.len() == n - 2
    assert got.frame.row(29_999) == ("U", "30000", 'x"y')  # line 1000 is out
    assert got.row_numbers[29_999] == 30_001


def test_a_multi_line_value_with_the_right_field_count_is_a_value():
    # the rule: only a record with the wrong field count is split at its first line
    data = b'I,1,"a\nb"\nU,2,"c\n\nd"\n'
    got = read_dms_file(data, "20240101-000000000.csv", CSV, ["id", "name"])
    assert got.rejected == []
    assert got.frame["name"].to_list() == ["a\nb", "c\n\nd"]
    assert got.row_numbers.to_list() == [1, 2]


TOKENS = ["a", "", ",", ",", '"', '""', '"""', 'a"b', '"x"y', "\n", "\r\n", "\r", " ", "é", ";"]


@settings(
    max_examples=400,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(
    st.sampled_from(
        [
            CSV,
            CSV.with_(AddColumnName=True),
            CSV.with_(CsvRowDelimiter="\r\n"),
            CSV.with_(Rfc4180=False),
        ]
    ),
    st.lists(
        st.lists(
            st.one_of(
                st.sampled_from(["1", "", '""', '"a,b"', '"l\nm"', "I", "U"]),
                st.lists(st.sampled_from(TOKENS), max_size=3).map("".join),
            ),
            min_size=1,
            max_size=5,
        ),
        max_size=6,
    ),
    st.booleans(),
)
def test_any_csv_is_read_as_the_precise_reader_reads_it(monkeypatch, s, rows, row_end):
    lines = ([f"Op{s.CsvDelimiter}id{s.CsvDelimiter}v"] if s.AddColumnName else []) + [
        s.CsvDelimiter.join(["I", *r]) for r in rows
    ]
    data = (s.CsvRowDelimiter.join(lines) + (s.CsvRowDelimiter if row_end else "")).encode()
    columns = None if s.AddColumnName else ["id", "v"]
    _same_read(monkeypatch, data, "20240101-000000000.csv", s, columns)


# ------------------------------------------------------------------------------------ Parquet

TYPED = pl.DataFrame(
    {
        "Op": ["I", "U", "D"],
        "_ts": [TS, TS, None],
        "i32": [1, None, -(2**31)],
        "i64": [2**40, None, -1],
        "dec": [Decimal("12345678.90"), None, Decimal("-0.01")],
        "dt": [
            datetime(2024, 1, 31, 23, 59, 59, 123456, tzinfo=UTC),
            None,
            datetime(1970, 1, 1, tzinfo=UTC),
        ],
        "flag": [True, None, False],
        "txt": ["", None, 'a,"b"\n日本'],
        "day": [date(2024, 1, 31), None, date(1, 1, 1)],
    },
    schema={
        "Op": pl.String,
        "_ts": pl.String,
        "i32": pl.Int32,
        "i64": pl.Int64,
        "dec": pl.Decimal(10, 2),
        "dt": pl.Datetime("us", "UTC"),
        "flag": pl.Boolean,
        "txt": pl.String,
        "day": pl.Date,
    },
)


@pytest.mark.parametrize("compression", ["NONE", "GZIP"])
@pytest.mark.parametrize("version", ["parquet-1-0", "parquet-2-0"])
@pytest.mark.parametrize("full_load", [True, False])
def test_parquet_round_trip(compression, version, full_load):
    s = PARQUET.with_(
        CompressionType=compression, ParquetVersion=version, TimestampColumnName="_ts"
    )
    data = encode_dms_file(TYPED, s, full_load=full_load)
    assert data[:4] == b"PAR1"
    assert data == encode_dms_file(TYPED, s, full_load=full_load)  # deterministic
    name = "LOAD00000001.parquet" if full_load else "20240101-000000000.parquet"
    got = read_dms_file(data, name, s, TYPED.columns[2:])
    expected = TYPED.with_columns(pl.lit("I").alias("Op")) if full_load else TYPED
    assert_frame_equal(got.frame, expected)
    assert got.frame["txt"].to_list()[:2] == ["", None]


def test_parquet_timestamps_in_milliseconds():
    s = PARQUET.with_(ParquetTimestampInMillisecond=True)
    got = read_dms_file(encode_dms_file(TYPED, s, full_load=False), "20240101-000000000.parquet", s)
    assert got.frame.schema["dt"] == pl.Datetime("ms", "UTC")
    assert got.frame["dt"][0] == datetime(2024, 1, 31, 23, 59, 59, 123000, tzinfo=UTC)


def test_parquet_gzip_codec_and_uncompressed_default():
    import io

    import pyarrow.parquet as pq

    def codec(s):
        md = pq.ParquetFile(io.BytesIO(encode_dms_file(TYPED, s, full_load=False))).metadata
        return md.row_group(0).column(0).compression

    assert codec(PARQUET) == "UNCOMPRESSED"
    assert codec(PARQUET.with_(CompressionType="GZIP")) == "GZIP"


@settings(max_examples=50, deadline=None)
@given(
    st.lists(st.tuples(CELL, st.one_of(st.none(), st.integers(-(2**31), 2**31 - 1))), max_size=20)
)
def test_parquet_round_trip_strings(rows):
    frame = pl.DataFrame(
        {"Op": ["U"] * len(rows), "s": [r[0] for r in rows], "n": [r[1] for r in rows]},
        schema={"Op": pl.String, "s": pl.String, "n": pl.Int32},
    )
    got = read_dms_file(
        encode_dms_file(frame, PARQUET, full_load=False), "20240101-000000000.parquet", PARQUET
    )
    assert_frame_equal(got.frame, frame)


# ------------------------------------------------------------------------------ endpoint settings


@pytest.mark.parametrize(
    "printed, row_end, delimiter",
    [("\\r\\n", "\r\n", ","), ("\\n", "\n", ","), ("\\r", "\r", "\\t")],
)
def test_delimiters_as_aws_prints_them_are_unescaped(printed, row_end, delimiter):
    """``aws dms describe-endpoints`` prints CRLF as ``"\\\\r\\\\n"`` and a tab as ``"\\\\t"``."""
    s = DmsS3Settings.from_endpoint_settings(
        {"CsvRowDelimiter": printed, "CsvDelimiter": delimiter}
    )
    assert s.CsvRowDelimiter == row_end
    assert s.CsvDelimiter == ("\t" if delimiter == "\\t" else ",")
    data = f"1{s.CsvDelimiter}a{row_end}2{s.CsvDelimiter}b{row_end}".encode()
    got = read_dms_file(data, "LOAD00000001.csv", s, ["id", "v"])
    assert got.rejected == [] and got.frame.rows() == [("I", "1", "a"), ("I", "2", "b")]


def test_a_row_delimiter_the_reader_cannot_read_is_a_settings_error():
    with pytest.raises(ValueError, match=r"^CsvRowDelimiter '\|': the reader reads rows ended by"):
        DmsS3Settings.from_endpoint_settings({"CsvRowDelimiter": "|"})


def test_no_sup_value_is_a_null_marked_unchanged_in_cdc_files_only():
    s = DmsS3Settings.from_endpoint_settings({"UseCsvNoSupValue": True, "CsvNoSupValue": "NS"})
    got = read_dms_file(b"U,1,NS,5\nU,2,x,NS\nI,3,y,7\n", "20240101-000000000.csv", s,
                        ["id", "note", "qty"]).frame  # fmt: skip
    assert got.rows() == [
        ("U", "1", None, "5", '["note"]'),
        ("U", "2", "x", None, '["qty"]'),
        ("I", "3", "y", "7", None),
    ]
    load = read_dms_file(b"1,NS,5\n", "LOAD00000001.csv", s, ["id", "note", "qty"]).frame
    assert load.rows() == [("I", "1", "NS", "5")]
    # without CsvNoSupValue DMS writes NULL (AWS): nothing to mark; off: NS is data
    for off in ({"UseCsvNoSupValue": True}, {"CsvNoSupValue": "NS"}):
        s = DmsS3Settings.from_endpoint_settings(off)
        got = read_dms_file(b"U,1,NS\n", "20240101-000000000.csv", s, ["id", "note"]).frame
        assert got.rows() == [("U", "1", "NS")]


def test_a_column_named_like_a_dms_column_is_a_format_error_naming_it_not_a_polars_error():
    """Header, header-less by layout, Parquet: a name twice is a ``DmsFormatError`` with the
    column and the fix (it was polars' DuplicateError, naming neither file nor fix)."""
    import io

    import pyarrow as pa
    import pyarrow.parquet as pq

    from lakehouse.dms.format import DmsFormatError
    from lakehouse.dms.table_mappings import DmsLayout

    s = DmsS3Settings(AddColumnName=True, IncludeOpForFullLoad=True, TimestampColumnName="ts")
    data = b"Op,ts,id,Op,note\nI,2024-01-01 00:00:00.000000,1,created,a\n"
    with pytest.raises(DmsFormatError) as err:
        read_dms_file(data, "public/t/LOAD00000001.csv", s, ["id", "Op", "note"])
    assert err.value.column == "Op" and "public/t/LOAD00000001.csv" in str(err.value)
    assert "appear more than once in its header" in str(err.value)
    assert "— fix: keep that column out of the files (exclude_columns" in str(err.value)
    bare = s.with_(AddColumnName=False)
    layout = DmsLayout(("id", "ts", "note"))  # a data column named like the timestamp column
    with pytest.raises(DmsFormatError, match=r"\['ts'\] appear more than once in its layout"):
        read_dms_file(b"I,t,1,x,a\n", "LOAD00000001.csv", bare, layouts=[layout])
    table = pa.Table.from_arrays([pa.array(["I"]), pa.array(["1"]), pa.array(["x"])],
                                 names=["Op", "id", "Op"])  # fmt: skip
    buf = io.BytesIO()
    pq.write_table(table, buf)
    with pytest.raises(DmsFormatError, match=r"\['Op'\] appear more than once in its schema"):
        read_dms_file(buf.getvalue(), "LOAD00000001.parquet", s.with_(DataFormat="parquet"),
                      ["id"])  # fmt: skip
