"""``engine.delta.open_table``: the one way the engine opens a Delta table of the lake."""

from __future__ import annotations

import pyarrow as pa
import pytest
from deltalake import write_deltalake

from lakehouse.engine.delta import open_table


def test_a_missing_table_is_none(lake):
    assert open_table(lake, "silver/nothing") is None
    (lake.path / "silver" / "empty_folder").mkdir(parents=True)  # a folder without _delta_log
    assert open_table(lake, "silver/empty_folder") is None


def test_opens_the_latest_or_a_given_version(lake):
    write_deltalake(lake.uri("silver/t"), pa.table({"a": [1]}))
    write_deltalake(lake.uri("silver/t"), pa.table({"a": [2]}), mode="append")
    assert open_table(lake, "silver/t").version() == 1
    old = open_table(lake, "silver/t", version=0)
    assert old.version() == 0 and old.to_pyarrow_table()["a"].to_pylist() == [1]


def test_a_version_the_table_does_not_have_is_an_error_not_none(lake):
    write_deltalake(lake.uri("silver/t"), pa.table({"a": [1]}))
    with pytest.raises(Exception, match="(?i)version"):
        open_table(lake, "silver/t", version=7)
