"""``lakehouse discover`` on a csv_drop dataset: what a second run does to pinned tables."""

from __future__ import annotations

import os

import pytest
import yaml

from lakehouse.cli import main


@pytest.fixture
def drop(tmp_path, monkeypatch):
    """A declared csv_drop dataset ``d``: (its landing folder, its defs.yaml path)."""
    monkeypatch.setenv("LAKEHOUSE_DEFS", str(tmp_path / "defs"))
    monkeypatch.setenv("LAKEHOUSE_ROOT", str(tmp_path / "lake"))
    landing = tmp_path / "landing"
    landing.mkdir()
    assert main(["init", "d", "--kind", "csv_drop", "--landing", str(landing)]) == 0
    return landing, tmp_path / "defs" / "d" / "defs.yaml"


def tables(path) -> dict:
    return {t["name"]: t for t in yaml.safe_load(path.read_text())["attributes"]["tables"]}


def types(path, table: str) -> dict:
    return {c["name"]: c["type"] for c in tables(path)[table]["columns"]}


def newer(path, text: str, age: int) -> None:
    path.write_text(text)
    os.utime(path, (1_700_000_000 + age, 1_700_000_000 + age))


def test_a_second_discover_keeps_or_widens_pinned_types_never_narrows(drop, capsys):
    landing, path = drop
    newer(landing / "pay-1.csv", "id,amount,zip,qty\n1,1.50,x1,1\n2,2.25,x2,2\n", 1)
    assert main(["discover", "d"]) == 0
    assert types(path, "pay") == {
        "id": "bigint", "amount": "decimal(18,2)", "zip": "string", "qty": "bigint",
    }  # fmt: skip
    # the newest file alone would say bigint, bigint, bigint, decimal; a new table appears too
    newer(landing / "pay-2.csv", "id,amount,zip,qty\n3,5,10001,1.5\n", 2)
    (landing / "newtable-1.csv").write_text("id,x\n1,a\n")
    capsys.readouterr()
    assert main(["discover", "d"]) == 0
    out = capsys.readouterr().out
    assert types(path, "pay") == {
        "id": "bigint", "amount": "decimal(18,2)", "zip": "string", "qty": "decimal(20,1)",
    }  # fmt: skip
    assert "csv_drop: pay: column 'qty' widened type bigint -> decimal(20,1)" in out
    assert "amount" not in out and "zip" not in out
    assert "newtable" in tables(path)
    # a value no wider type reads makes the column text
    newer(landing / "pay-3.csv", "id,amount,zip,qty\n4,n/a,1,2\n", 3)
    assert main(["discover", "d"]) == 0
    assert types(path, "pay")["amount"] == "string"


def test_a_utf16_file_is_discovered_and_a_file_not_read_is_one_note(drop, capsys, tmp_path):
    from lakehouse.declarations import load_dataset
    from lakehouse.dms.settings import DmsS3Settings
    from lakehouse.engine import bronze
    from lakehouse.storage import LocalLake

    landing, path = drop
    excel = "id\tname\r\n1\tJosé\r\n2\tZoë\r\n".encode("utf-16")  # Excel's "Unicode text"
    (landing / "excel-1.csv").write_bytes(excel)
    (landing / "good-1.csv").write_text("id,name\n1,a\n")
    (landing / "legacy-1.csv").write_bytes("id,prénom\n1,x\n".encode("cp1252"))
    capsys.readouterr()
    assert main(["discover", "d"]) == 0
    out = capsys.readouterr().out
    found = tables(path)
    assert sorted(found) == ["excel", "good"]
    assert found["excel"]["csv"] == {"delimiter": "\t", "encoding": "utf-16"}
    assert types(path, "excel") == {"id": "bigint", "name": "string"}
    (note,) = [line for line in out.splitlines() if "legacy" in line]
    assert note.startswith("  note: csv_drop: legacy-1.csv: not read (unreadable header: ")
    assert (
        "— fix: save it as UTF-8 CSV, or declare table 'legacy' (file_glob: 'legacy-*.csv'," in note
    )
    # bronze reads the file by the pinned options
    lake = LocalLake(tmp_path / "lake")
    lake.write_bytes("raw/csv/d/excel-1.csv", excel)
    spec = next(t for t in load_dataset("d").tables if t.name == "excel")
    assert (bronze.ingest(lake, spec, DmsS3Settings()).rows, spec.csv.encoding) == (2, "utf-16")


def test_a_table_declared_with_its_csv_options_and_no_columns_is_discovered(drop, capsys):
    landing, path = drop
    (landing / "excel-1.csv").write_bytes("id;name\n1;José\n".encode("utf-16-le"))
    path.write_text(
        path.read_text().replace("  tables: []", "")
        + "  tables:\n    - name: excel\n      file_glob: excel-*.csv\n"
        + '      csv: {delimiter: ";", encoding: utf-16-le}\n'
    )
    assert main(["discover", "d"]) == 0
    assert types(path, "excel") == {"id": "bigint", "name": "string"}
    assert tables(path)["excel"]["csv"] == {"delimiter": ";", "encoding": "utf-16-le"}


def test_renamed_header_columns_are_noted(drop, capsys):
    landing, path = drop
    (landing / "people-1.csv").write_text("id,Name,NAME,\n1,a,b,\n")
    (landing / "dup-1.csv").write_text("id,name,name\n1,a,b\n")
    capsys.readouterr()
    assert main(["discover", "d"]) == 0
    out = capsys.readouterr().out
    assert list(types(path, "people")) == ["id", "Name", "NAME_2", "column_4"]
    assert list(types(path, "dup")) == ["id", "name", "name_2"]
    assert "note: csv_drop: people: people-1.csv: header column 3 'NAME' pinned as 'NAME_2'" in out
    assert "people-1.csv: header column 4 '' pinned as 'column_4' (it is empty)" in out
    assert "dup: dup-1.csv: header column 3 'name' pinned as 'name_2' (it repeats an earlier" in out


def test_a_declared_tables_file_not_read_is_one_note_and_the_table_kept(drop, capsys):
    landing, path = drop
    (landing / "shop-1.csv").write_text("id,name\n1,a\n")
    assert main(["discover", "d"]) == 0
    before = tables(path)["shop"]
    (landing / "shop-2.csv").write_bytes("id,prénom\n2,x\n".encode("cp1252"))
    os.utime(landing / "shop-2.csv", (2_000_000_000, 2_000_000_000))
    capsys.readouterr()
    assert main(["discover", "d"]) == 0
    out = capsys.readouterr().out
    assert tables(path)["shop"] == before
    assert (
        "note: csv_drop: shop-2.csv: not read (unreadable header: column field 2: bytes b'\\xe9'"
        " are not valid utf-8 text (the declared encoding)) — fix: set table 'shop''s csv options"
        " (encoding, delimiter) to the file's, or save it as UTF-8 CSV"
    ) in out
    (landing / "shop-3.csv").write_text("id,name\n1,a\n1,b\n")
    os.utime(landing / "shop-3.csv", (2_000_000_001, 2_000_000_001))
    assert main(["discover", "d"]) == 0
    assert (
        "shop-3.csv: not read (primary key ['id'] is not unique and non-null in the sample)"
        " — fix: set table 'shop''s primary_key to columns unique and non-null in its files"
    ) in capsys.readouterr().out


def test_sync_without_arguments_copies_every_csv_drop_dataset_s_declared_files(
    drop, capsys, monkeypatch, tmp_path
):
    """``lakehouse sync``: the csv_drop datasets served (not only replicated ones), the files
    discover declared (extension in any case) and a table's own glob (``*.dat``)."""
    landing, path = drop
    monkeypatch.setenv("LAKEHOUSE_DATASETS", "d")
    (landing / "orders-1.CSV").write_text("id,v\n1,a\n")
    (landing / "prices-1.dat").write_text("sku,p\nx,1\n")
    (landing / ".hidden.csv").write_text("id\n1\n")
    assert main(["discover", "d"]) == 0
    doc = yaml.safe_load(path.read_text())
    doc["attributes"]["tables"].append(
        {"name": "prices", "file_glob": "prices-*.dat", "primary_key": ["sku"], "columns": [
            {"name": "sku", "type": "string", "nullable": False}, {"name": "p", "type": "int"}]}
    )  # fmt: skip
    path.write_text(yaml.safe_dump(doc))
    capsys.readouterr()
    assert main(["sync"]) == 0
    assert "d: 2 files copied" in capsys.readouterr().out
    copied = sorted(p.name for p in (tmp_path / "lake" / "raw" / "csv" / "d").iterdir())
    assert copied == ["orders-1.CSV", "prices-1.dat"]
