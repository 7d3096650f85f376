"""``discover`` of a ``dms_s3`` source (``replication.dms_discovery``) through the CLI."""

from __future__ import annotations

from pathlib import Path

import yaml

from lakehouse.cli import main


def _dataset(tmp_path: Path, monkeypatch, settings: dict, tables: list | None = None) -> Path:
    defs = tmp_path / "defs" / "shop"
    defs.mkdir(parents=True)
    attributes = {"name": "shop", "sources": [{"kind": "dms_s3", "path": str(tmp_path / "dms"),
                                               "endpoint_settings": settings}]}  # fmt: skip
    if tables is not None:
        attributes["tables"] = tables
    path = defs / "defs.yaml"
    path.write_text(yaml.safe_dump({"type": "lakehouse.components.Dataset",
                                    "attributes": attributes}, sort_keys=False))  # fmt: skip
    for k, v in {"LAKEHOUSE_DEFS": str(tmp_path / "defs"), "LAKEHOUSE_DATASETS": "shop",
                 "LAKEHOUSE_ROOT": str(tmp_path / "lake")}.items():  # fmt: skip
        monkeypatch.setenv(k, v)
    return path


def _write(tmp_path: Path, name: str, text: str) -> None:
    folder = tmp_path / "dms" / "public" / "cust"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_text(text)


def _columns(path: Path) -> dict:
    (table,) = yaml.safe_load(path.read_text())["attributes"]["tables"]
    return {c["name"]: c.get("nullable", True) for c in table["columns"]}


def test_a_sample_without_nulls_does_not_pin_not_null(tmp_path, monkeypatch, capsys):
    """A DMS file cannot prove NOT NULL: discover declares every column nullable; a column
    declared NOT NULL (the key) stays so, and --check sees no drift either way."""
    _write(tmp_path, "LOAD00000001.csv", "id,email,score\n1,a@x,10\n2,b@x,20\n")
    path = _dataset(tmp_path, monkeypatch, {"AddColumnName": True})
    assert main(["discover", "shop"]) == 0
    assert _columns(path) == {"id": True, "email": True, "score": True}
    doc = yaml.safe_load(path.read_text())
    (table,) = doc["attributes"]["tables"]
    table["primary_key"] = ["id"]
    table["columns"][0]["nullable"] = False
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    capsys.readouterr()
    assert main(["discover", "shop", "--check"]) == 0, capsys.readouterr().out
    assert main(["discover", "shop"]) == 0
    assert _columns(path) == {"id": False, "email": True, "score": True}


def test_a_fresh_dms_s3_declaration_loads_and_breaks_no_other_dataset(
    tmp_path, monkeypatch, capsys
):
    """`init --kind dms_s3` writes a declaration that loads as written (it names no file that
    is not there), so a second init and the other datasets' commands work; discover before the
    path is set says so in one line."""
    from lakehouse.declarations.load import read_declaration

    monkeypatch.setenv("LAKEHOUSE_DEFS", str(tmp_path / "defs"))
    monkeypatch.setenv("LAKEHOUSE_ROOT", str(tmp_path / "lake"))
    monkeypatch.setenv("LAKEHOUSE_DATASETS", "second")
    assert main(["init", "first", "--kind", "dms_s3"]) == 0
    assert main(["init", "second", "--kind", "dms_s3"]) == 0
    decl = read_declaration(tmp_path / "defs" / "first" / "defs.yaml")
    assert decl.spec.name == "first" and decl.decl.sources[0].kind == "dms_s3"
    assert sorted(p.name for p in (tmp_path / "defs" / "first").iterdir()) == ["defs.yaml"]
    capsys.readouterr()
    assert main(["discover", "first"]) == 2
    assert capsys.readouterr().err.startswith(
        "lakehouse: error: the dms_s3 source's path s3://<bucket>/<BucketFolder> is the template's"
    )


T_DECLARED = [{"name": "cust", "primary_key": ["id"], "columns": [
    {"name": "id", "type": "bigint", "nullable": False}, {"name": "v", "type": "string"}]}]  # fmt: skip


def test_a_headerless_table_declared_by_hand_is_found_by_its_declared_columns(
    tmp_path, monkeypatch, capsys
):
    """AddColumnName off (AWS's default): the files cannot name their columns, so a table
    declared by hand is found with its declared columns when the records' field count fits
    (no 'declared but not found' drift forever); a count that does not fit is said."""
    _write(tmp_path, "LOAD00000001.csv", "1,a\n2,b\n")
    _write(tmp_path, "20240101-000000000.csv", "U,1,a2\n")
    path = _dataset(tmp_path, monkeypatch, {}, tables=T_DECLARED)
    assert main(["discover", "shop", "--check"]) == 0, capsys.readouterr().out
    assert main(["discover", "shop"]) == 0
    assert _columns(path) == {"id": False, "v": True}
    doc = yaml.safe_load(path.read_text())
    doc["attributes"]["tables"][0]["columns"].append({"name": "w", "type": "string"})
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    capsys.readouterr()
    assert main(["discover", "shop", "--check"]) == 1
    out = capsys.readouterr().out
    assert "public.cust: public/cust/LOAD00000001.csv has no header and records of 2 fields;" \
        " the declared columns give 3" in out  # fmt: skip


def test_status_counts_a_dms_s3_tables_files_where_they_are_and_skips_postgres_lines(
    tmp_path, monkeypatch
):
    """`lakehouse status` for a dms_s3 dataset: the raw files are counted in the DMS output
    (not under the lake's raw prefix), and neither the embedded server nor a replication state
    is reported for a dataset that has no postgres source; a postgres source with its own DSN
    variable does not name the embedded server either."""
    from lakehouse.commands.status import status_report
    from lakehouse.profiles import Settings

    _write(tmp_path, "LOAD00000001.csv", "1,a\n2,b\n")
    _write(tmp_path, "20240101-000000000.csv", "U,1,a2\n")
    _dataset(tmp_path, monkeypatch, {}, tables=T_DECLARED)
    monkeypatch.delenv("LAKEHOUSE_SOURCE_DSN", raising=False)
    report = status_report(Settings.from_env())
    lines = report.splitlines()
    (cust,) = [ln for ln in lines if ln.strip().startswith("cust ")]
    assert cust.split()[:2] == ["cust", "2"], report
    assert f"shop: reads the DMS output at {tmp_path / 'dms'} (no replication)" in lines
    assert "embedded PostgreSQL" not in report and "full load" not in report
    pg = tmp_path / "defs" / "pg"
    pg.mkdir()
    (pg / "defs.yaml").write_text(yaml.safe_dump({"type": "lakehouse.components.Dataset",
        "attributes": {"name": "pg", "sources": [{"kind": "postgres", "dsn_env": "PG_DSN"}],
                       "tables": [{"name": "items", "primary_key": ["id"], "columns": [
                           {"name": "id", "type": "int", "nullable": False}]}]}}))  # fmt: skip
    monkeypatch.setenv("LAKEHOUSE_DATASETS", "shop,pg")
    report = status_report(Settings.from_env())
    assert "embedded PostgreSQL" not in report and "pg: full load not done" in report
    doc = yaml.safe_load((pg / "defs.yaml").read_text())
    del doc["attributes"]["sources"][0]["dsn_env"]
    (pg / "defs.yaml").write_text(yaml.safe_dump(doc))
    assert "source: embedded PostgreSQL stopped" in status_report(Settings.from_env())
