"""CSV schema discovery: each logical type inferred from a sample, nullable but the key, a key
proposed only when unambiguous, and the pinned declaration reads the sample back cleanly."""

from __future__ import annotations

import pytest

from lakehouse.declarations.model import ColumnDecl
from lakehouse.dms.settings import DmsS3Settings
from lakehouse.engine import bronze
from lakehouse.engine.csv_records import unique_names
from lakehouse.filesync.discovery import discover_csv, infer_csv_table
from lakehouse.registry import Column
from lakehouse.registry.model import CsvOptions
from lakehouse.storage import LocalLake

SAMPLE = (
    "customer_id;code;qty;price;ratio;active;born;seen;seen_tz;ref;note;empty\r\n"
    "1;A1;10;12.50;1.5e3;true;2000-01-02;2024-01-01 10:00:00;2024-01-01 10:00:00+02:00;"
    "6f1c4a56-2b0e-4c3e-9d59-0d1c6c2b7a10;héllo;NULL\r\n"
    "2;A2;-3;0.125;2;no;1999-12-31;2024-01-02 11:30:00.5;2024-01-02 11:30:00-05:00;"
    "0b7e4f0e-8a77-4f51-b0e3-5f1b2f8a9c01;NULL;NULL\r\n"
    "3;A3;NULL;7;-0.5;F;2001-02-28;2024-01-03T12:00:00;2024-01-03 12:00:00+00:00;"
    "a3bb189e-8bf9-3888-9912-ace4e6543002;x;NULL\r\n"
).encode("latin-1")
OPTIONS = CsvOptions(delimiter=";", encoding="latin-1", null_value="NULL")


def test_each_type_nullability_and_the_key(tmp_path):
    path = tmp_path / "customers-sample.csv"
    path.write_bytes(SAMPLE)
    spec = infer_csv_table(
        path, OPTIONS, dataset="shop", name="customers", file_glob="customers-*.csv"
    )
    # every column nullable but the key's: three rows cannot prove a column is never null
    assert spec.columns == (
        Column("customer_id", "bigint", nullable=False),
        Column("code", "string"),
        Column("qty", "bigint"),
        Column("price", "decimal(18,3)"),
        Column("ratio", "double"),
        Column("active", "bool"),
        Column("born", "date"),
        Column("seen", "timestamp"),
        Column("seen_tz", "timestamptz"),
        Column("ref", "uuid"),
        Column("note", "string"),
        Column("empty", "string"),
    )
    assert (spec.primary_key, spec.source, spec.file_glob, spec.csv) == (
        ("customer_id",),
        "csv_drop",
        "customers-*.csv",
        OPTIONS,
    )
    assert spec.description == "Discovered from a sample of 3 rows."
    # pinned, the declaration reads the sample with no quarantined row
    lake = LocalLake(tmp_path / "lake")
    lake.write_bytes("raw/csv/shop/customers-1.csv", SAMPLE)
    res = bronze.ingest(lake, spec, DmsS3Settings())
    assert (res.rows, res.quarantined) == (3, 0)


def test_an_ambiguous_key_is_proposed_not_chosen():
    sample = b"order_id,line_id,sku\n1,10,a\n2,11,b\n"
    found = discover_csv(sample, CsvOptions(), name="lines")
    assert (found.key_candidates, found.primary_key) == (("order_id", "line_id", "sku"), ())
    spec = infer_csv_table(sample, CsvOptions(), dataset="d", name="lines", file_glob="l*.csv")
    assert spec.primary_key == ()
    assert spec.description == (
        "Discovered from a sample of 2 rows. Key candidates (none chosen): order_id, line_id, sku."
    )
    # the table's own name decides between id columns; a given key is checked
    assert discover_csv(sample, CsvOptions(), name="orders").primary_key == ("order_id",)
    given = infer_csv_table(
        sample, CsvOptions(), dataset="d", name="x", file_glob="x*", primary_key=("sku",)
    )
    assert given.primary_key == ("sku",) and given.column("sku").nullable is False
    with pytest.raises(ValueError, match=r"primary key \['k'\] is not unique"):
        discover_csv(b"k,v\n1,a\n1,b\n", CsvOptions(), primary_key=("k",))


def test_no_header_names_columns_by_position():
    found = discover_csv(b"1|x\n2|\n", CsvOptions(delimiter="|", header=False))
    assert found.columns == (
        Column("column_1", "bigint", nullable=False),
        Column("column_2", "string", nullable=True),
    )
    assert found.primary_key == ("column_1",)


def test_a_sample_without_nulls_does_not_make_a_column_not_nullable():
    sample = b"id,name,phone\n1,Ann,555-1\n2,Bob,555-2\n"
    found = discover_csv(sample, CsvOptions(), name="cust")
    assert [(c.name, c.nullable) for c in found.columns] == [
        ("id", False), ("name", True), ("phone", True),
    ]  # fmt: skip
    # a declared column keeps its declared nullability unless the sample holds a null in it
    declared = (Column("id", "bigint", False), Column("name", "string", False),
                Column("phone", "string", False))  # fmt: skip
    found = discover_csv(b"id,name,phone\n3,Cy,\n", CsvOptions(), name="cust", declared=declared)
    assert [(c.name, c.nullable) for c in found.columns] == [
        ("id", False), ("name", False), ("phone", True),
    ]  # fmt: skip


def test_no_header_keeps_the_declared_names_by_position():
    declared = (Column("id", "bigint", False), Column("name", "string"), Column("zip", "string"))
    sample = b"1;Ann;02134\n2;Bob;10001\n"
    options = CsvOptions(delimiter=";", header=False)
    found = discover_csv(sample, options, primary_key=("id",), declared=declared)
    assert found.columns == declared and found.primary_key == ("id",)
    # the values of each position are checked against its column's declared type (an unknown
    # declared type: inferred)
    declared = (Column("a", "bigint"), Column("b", "bigint"), ColumnDecl(name="c", type="varchar"))
    assert discover_csv(b"1,x,2\n", CsvOptions(header=False), declared=declared).columns == (
        Column("a", "bigint"),
        Column("b", "string"),
        Column("c", "bigint"),
    )


def test_a_header_name_empty_or_repeated_in_any_case_gets_a_unique_name():
    assert unique_names(["id", "Name", "NAME", "", None, "name", " "]) == [
        "id", "Name", "NAME_2", "column_4", "column_5", "name_3", "column_7",
    ]  # fmt: skip
    found = discover_csv(b"id,name,name,\n1,a,b,\n2,c,d,\n", CsvOptions(), name="t")
    assert [c.name for c in found.columns] == ["id", "name", "name_2", "column_4"]
    assert found.renamed == ((3, "name", "name_2"), (4, "", "column_4"))
    assert found.primary_key == ("id",) and found.rows == 2
    case = discover_csv(b"id,Name,NAME\n1,a,b\n", CsvOptions())
    assert ([c.name for c in case.columns], case.renamed) == (
        ["id", "Name", "NAME_2"], ((3, "NAME", "NAME_2"),),
    )  # fmt: skip
    plain = discover_csv(b"id,name\n1,a\n", CsvOptions())
    assert plain.renamed == () and [c.name for c in plain.columns] == ["id", "name"]
