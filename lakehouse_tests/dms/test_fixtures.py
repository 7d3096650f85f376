"""Conformance of the DMS-format reader (and writer) with real AWS DMS files.

The files are in ``shared/fixtures/dms`` (origins in its SOURCES.md), next to the repository.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import polars as pl
import pyarrow as pa
import pytest
from polars.testing import assert_frame_equal

from lakehouse.dms.names import date_partition_folder, parse_file_name
from lakehouse.dms.reader import read_dms_file
from lakehouse.dms.settings import DmsS3Settings
from lakehouse.dms.writer import encode_dms_file

FIXTURES = Path(__file__).resolve().parents[2].parent / "shared" / "fixtures" / "dms"
HR_LOAD = "dhawalkp-datalake/LOAD00000001.csv"
HR_CDC = "dhawalkp-datalake/20190118-184518184.csv"
PARQUET_LOAD = "segmentio-parquet-go/dms_test_table_LOAD00000001.parquet"
HUDI_SETTINGS = "awslabs-hudi-odp/dms_s3_endpoint_setting.json"

HR_COLUMNS = [
    "EMPLOYEE_ID",
    "FIRST_NAME",
    "LAST_NAME",
    "EMAIL",
    "PHONE_NUMBER",
    "HIRE_DATE",
    "JOB_ID",
    "SALARY",
    "COMMISSION_PCT",
    "MANAGER_ID",
    "DEPARTMENT_ID",
]
HEADER = DmsS3Settings(AddColumnName=True)


def _bytes(rel: str) -> bytes:
    path = FIXTURES / rel
    if not path.is_file():
        pytest.fail(
            f"DMS fixture {path} is missing: the conformance files live in shared/fixtures/dms "
            "next to the repository (see its SOURCES.md)",
            pytrace=False,
        )
    return path.read_bytes()


def test_fixture_names_parse():
    assert parse_file_name(HR_LOAD) == ("load", "00000001")
    assert parse_file_name(HR_CDC) == ("cdc", "20190118-1845181840")
    assert parse_file_name(PARQUET_LOAD) == ("load", "00000001")


def test_full_load_csv_with_header():
    got = read_dms_file(_bytes(HR_LOAD), HR_LOAD, HEADER, HR_COLUMNS)
    f = got.frame
    assert got.kind == "load" and got.rejected == []
    assert f.columns == ["Op", *HR_COLUMNS]
    assert f.height == 1900
    assert set(f.schema.dtypes()) == {pl.String}
    assert f["Op"].unique().to_list() == ["I"]
    assert f["EMPLOYEE_ID"].n_unique() == 1900
    assert f.row(0, named=True) == {
        "Op": "I",
        "EMPLOYEE_ID": "100",
        "FIRST_NAME": "Steven",
        "LAST_NAME": "King",
        "EMAIL": "SKING",
        "PHONE_NUMBER": "515.123.4567",
        "HIRE_DATE": "1987-06-17 00:00:00",
        "JOB_ID": "AD_PRES",
        "SALARY": "24000.00",
        "COMMISSION_PCT": None,
        "MANAGER_ID": None,
        "DEPARTMENT_ID": "90",
    }
    assert f.row(-1, named=True)["EMPLOYEE_ID"] == "2049"
    assert f["COMMISSION_PCT"].null_count() == 1865  # empty fields are NULL, never ""
    assert (f.select(pl.all().eq("").sum()).row(0)) == (0,) * 12
    # no columns given: the header alone names them
    assert_frame_equal(read_dms_file(_bytes(HR_LOAD), HR_LOAD, HEADER).frame, f)


def test_full_load_csv_without_header_needs_columns():
    body = _bytes(HR_LOAD).split(b"\n", 1)[1]
    with_header = read_dms_file(_bytes(HR_LOAD), HR_LOAD, HEADER, HR_COLUMNS).frame
    assert_frame_equal(read_dms_file(body, HR_LOAD, DmsS3Settings(), HR_COLUMNS).frame, with_header)


def test_cdc_csv_with_header():
    got = read_dms_file(_bytes(HR_CDC), HR_CDC, HEADER, HR_COLUMNS)
    f = got.frame
    assert got.kind == "cdc" and got.rejected == []
    assert f.columns == ["Op", *HR_COLUMNS]
    assert f.height == 17
    assert f["Op"].to_list() == ["U"] * 17
    assert f.row(0) == (
        "U",
        "321",
        "William115",
        "Gietzupd2",
        "WGIETZ115",
        "515.123.8181",
        "1994-06-07 00:00:00",
        "AC_ACCOUNT",
        "8300.00",
        None,
        "205",
        "110",
    )
    assert f["EMPLOYEE_ID"].to_list() == ["321"] + [str(i) for i in range(2311, 2327)]


@pytest.mark.parametrize(("rel", "full_load"), [(HR_LOAD, True), (HR_CDC, False)])
def test_writer_reproduces_the_dms_csv_bytes(rel, full_load):
    original = _bytes(rel)
    frame = read_dms_file(original, rel, HEADER, HR_COLUMNS).frame
    assert encode_dms_file(frame, HEADER, full_load=full_load) == original


def test_full_load_parquet():
    s = DmsS3Settings(DataFormat="parquet", TimestampColumnName="DMS_TIMESTAMP")
    data = _bytes(PARQUET_LOAD)
    got = read_dms_file(data, PARQUET_LOAD, s)
    f = got.frame
    assert got.kind == "load" and got.rejected == []
    assert f.height == 10
    expected_arrow = {
        "DMS_TIMESTAMP": pa.string(),
        "id": pa.int64(),
        "my_int": pa.int32(),
        "my_smallint": pa.int16(),
        "my_numeric": pa.decimal128(15, 2),
        "my_real": pa.float32(),
        "my_double": pa.float64(),
        "my_money": pa.decimal128(38, 4),
        "my_varchar": pa.string(),
        "my_text": pa.string(),
        "my_bytea": pa.binary(),
        "my_timestamp": pa.timestamp("ms", tz="UTC"),
        "my_uuid": pa.string(),
        "my_json": pa.string(),
        "my_jsonb": pa.string(),
        "my_bool": pa.bool_(),
    }
    assert f.columns == ["Op", *expected_arrow]
    arrow = f.drop("Op").to_arrow(compat_level=pl.CompatLevel.oldest()).schema
    # polars hands strings/binaries back as their large variants
    widen = {pa.string(): pa.large_string(), pa.binary(): pa.large_binary()}
    assert {n: arrow.field(n).type for n in arrow.names} == {
        n: widen.get(t, t) for n, t in expected_arrow.items()
    }
    assert f["Op"].to_list() == ["I"] * 10
    assert f["id"].to_list() == list(range(1, 11))
    first = f.row(0, named=True)
    assert first["DMS_TIMESTAMP"] == "2022-07-26 06:46:18.616807"
    assert first["my_int"] == 1298498081
    assert first["my_numeric"] == Decimal("1427131847.59")
    assert first["my_money"] == Decimal("47632969758.5400")
    assert first["my_varchar"] == ""  # an empty string, not NULL
    assert first["my_bytea"] == b"whthctcu"
    assert first["my_timestamp"] == datetime(2021, 10, 31, 15, 34, 12, 458000, tzinfo=UTC)
    assert first["my_uuid"] == "181e9c5d-9b55-4535-8c6e-6c8c1234b807"
    assert first["my_bool"] is False

    # without a timestamp column in the settings DMS_TIMESTAMP is an ordinary (first) data column
    plain = read_dms_file(data, PARQUET_LOAD, DmsS3Settings(DataFormat="parquet"))
    assert_frame_equal(plain.frame, f)
    # the table's columns given: all known
    read_dms_file(data, PARQUET_LOAD, s, list(expected_arrow)[1:])
    with pytest.raises(ValueError, match="my_bool"):
        read_dms_file(data, PARQUET_LOAD, s, list(expected_arrow)[1:-1])


def test_parquet_fixture_survives_our_writer():
    s = DmsS3Settings(
        DataFormat="parquet",
        TimestampColumnName="DMS_TIMESTAMP",
        ParquetTimestampInMillisecond=True,
    )
    f = read_dms_file(_bytes(PARQUET_LOAD), PARQUET_LOAD, s).frame
    again = read_dms_file(encode_dms_file(f, s, full_load=True), PARQUET_LOAD, s).frame
    assert_frame_equal(again, f)


def test_awslabs_endpoint_settings():
    raw = json.loads(_bytes(HUDI_SETTINGS))
    s = DmsS3Settings.from_endpoint_settings(raw)
    assert s.DataFormat == "parquet"
    assert s.CompressionType == "NONE"
    assert s.DatePartitionEnabled is True
    assert s.DatePartitionSequence == "YYYYMMDD"
    assert s.DatePartitionDelimiter == "SLASH"
    assert s.CsvRowDelimiter == "\n"
    assert s.extra["BucketName"] == "odpf-demo-staging-EXAMPLE-BUCKET"
    assert s.extension == "parquet"
    assert date_partition_folder(datetime(2024, 1, 31, 23, 59, 59), s) == "2024/01/31/"
