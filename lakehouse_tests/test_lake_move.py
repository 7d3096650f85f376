"""``Lake.move`` on a local folder and on a real S3 API (moto server): the object is whole at
its new key (an existing one replaced), gone from the old, and listed once."""

from __future__ import annotations

import pytest

from lakehouse.storage import LocalLake, S3Lake


def _moves(lake) -> None:
    lake.write_bytes("_state/staged/LOAD00000001.csv", b"1,a\n2,b\n")
    lake.write_bytes("raw/t/LOAD00000001.csv", b"old\n")
    lake.move("_state/staged/LOAD00000001.csv", "raw/t/LOAD00000001.csv")
    assert lake.read_bytes("raw/t/LOAD00000001.csv") == b"1,a\n2,b\n"
    assert not lake.exists("_state/staged/LOAD00000001.csv")
    assert [o.key for o in lake.list("")] == ["raw/t/LOAD00000001.csv"]
    lake.write_bytes("_state/staged/LOAD00000002.csv", b"3,c\n")
    lake.move("_state/staged/LOAD00000002.csv", "raw/new/folder/LOAD00000002.csv")
    assert lake.read_bytes("raw/new/folder/LOAD00000002.csv") == b"3,c\n"


def test_move_in_a_local_lake(tmp_path):
    _moves(LocalLake(tmp_path / "lake"))


@pytest.mark.integration
def test_move_in_s3(moto_s3):
    boto3 = pytest.importorskip("boto3")
    boto3.client("s3", endpoint_url=moto_s3, region_name="us-east-1").create_bucket(
        Bucket="lake-bucket"
    )
    _moves(S3Lake("s3://lake-bucket/lake", endpoint_url=moto_s3))
