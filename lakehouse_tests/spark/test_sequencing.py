"""``engine.spark.sequencing.sequence_col`` gives, value for value, the ``_sequence`` of the
local engine (``engine.sequencing.sequence_expr``) and of ``engine.core.order.sequence_text``:
DMS file names in date-partition folders of any order, 9- and 10-digit CDC names, names that
are not DMS files', CSV drops, null kinds and files, no commit timestamp (the arrival)."""

from __future__ import annotations

from datetime import UTC, datetime

import polars as pl
import pytest

from lakehouse.engine.core.order import SEQUENCE
from lakehouse.engine.sequencing import sequence_expr
from lakehouse_tests.engine.test_sequencing import LINEAGE_SCHEMA, row_sequence_text
from lakehouse_tests.spark.helpers import to_polars, to_spark

pytestmark = pytest.mark.xdist_group("spark")

AT = datetime(2024, 3, 1, 12, 0, 0, 123456, tzinfo=UTC)
FILES = [
    "public/t/31/01/2024/20240131-120000000.csv",
    "public/t/01/02/2024/20240201-120000000.csv",
    "public/t/12/2023/31/20231231-120000000.csv.gz",
    "public/t/20240101-1234567890.parquet",
    "public/t/x_LOAD0000000A.csv",
    "public/t/LOAD00000001.csv",
    "LOAD1.csv",
    "load00000001.csv",
    "public/t/20240101-12345678.csv",
    "public/t/20240101-123456789.csv\n",
    "a\nb_20240101-123456789.csv",
    "20240101-\u0661\u0662345678.csv",
    "drop/orders.csv",
    None,
]
KINDS = ["load", "cdc", "csv", None]


def test_spark_sequence_is_the_local_sequence_value_for_value(spark):
    from lakehouse.engine.spark.sequencing import with_sequence

    rows = [
        {
            "_commit_ts": None if i % 3 else AT,
            "_ingested_at": AT if i % 2 else None,
            "_change_seq": None if i % 4 else "42",
            "_file_kind": kind,
            "_source_file": file,
            "_source_row": i,
        }
        for i, (kind, file) in enumerate((k, f) for k in KINDS for f in FILES)
    ]
    frame = pl.DataFrame(
        rows,
        schema=LINEAGE_SCHEMA,
    )
    local = frame.select("_source_row", sequence_expr()).sort("_source_row")
    got = to_polars(with_sequence(to_spark(spark, frame)).select("_source_row", SEQUENCE))
    assert got.sort("_source_row")[SEQUENCE].to_list() == local[SEQUENCE].to_list()
    text = [None if r["_source_file"] is None else row_sequence_text(r) for r in rows]
    assert local[SEQUENCE].to_list() == text
    # the DMS names order the partitioned files, not their folders
    assert text[1].split("|")[3].startswith("20240201-1200000000:")
