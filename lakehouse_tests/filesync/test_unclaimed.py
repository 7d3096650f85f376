"""Raw CSV-zone files that no csv_drop table's glob claims are found, so they can be reported."""

from __future__ import annotations

from lakehouse.filesync.unclaimed import unclaimed_files
from lakehouse.registry import Column, DatasetSpec, TableSpec
from lakehouse.storage import LocalLake


def _table(dataset: str, name: str, glob: str) -> TableSpec:
    return TableSpec(
        dataset=dataset,
        name=name,
        columns=(Column("id", "bigint"),),
        primary_key=("id",),
        source="csv_drop",
        file_glob=glob,
    )


def test_unclaimed_files(tmp_path):
    lake = LocalLake(tmp_path / "lake")
    shop = DatasetSpec("shop", (_table("shop", "customers", "customers-*.csv"),))
    crm = DatasetSpec("crm", (_table("crm", "leads", "leads_*.csv"),))
    for key in (
        "raw/csv/shop/customers-20240101.csv",  # claimed
        "raw/csv/shop/sub/customers-20240102.csv",  # claimed (bronze matches the name)
        "raw/csv/shop/Customers-20240101.csv",  # the glob is case-sensitive
        "raw/csv/shop/orders-20240101.csv",
        "raw/csv/shop/.customers-20240103.csv.tmp",  # hidden: an upload in progress
        "raw/csv/shop/leads_1.csv",  # another dataset's glob does not claim it
        "raw/csv/crm/leads_1.csv",  # claimed
        "raw/csv/crm/notes.txt",
        "raw/csv/other/customers-20240101.csv",  # no such dataset
        "raw/csv/stray.csv",
        "raw/database/public/x/LOAD00000001.csv",  # not the CSV zone
    ):
        lake.write_text(key, "id\n1\n")
    found = [o.key for o in unclaimed_files(lake, [shop, crm])]
    assert found == [
        "raw/csv/crm/notes.txt",
        "raw/csv/shop/Customers-20240101.csv",
        "raw/csv/shop/leads_1.csv",
        "raw/csv/shop/orders-20240101.csv",
    ]
    assert [o.key for o in unclaimed_files(lake, [shop])] == [
        "raw/csv/shop/Customers-20240101.csv",
        "raw/csv/shop/leads_1.csv",
        "raw/csv/shop/orders-20240101.csv",
    ]
    assert [o.key for o in unclaimed_files(lake, [shop, crm], whole_zone=True)] == [
        "raw/csv/crm/notes.txt",
        "raw/csv/other/customers-20240101.csv",
        "raw/csv/shop/Customers-20240101.csv",
        "raw/csv/shop/leads_1.csv",
        "raw/csv/shop/orders-20240101.csv",
        "raw/csv/stray.csv",
    ]
    assert unclaimed_files(lake, [shop, crm])[0].size == len("id\n1\n")
