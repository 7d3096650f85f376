"""Existing AWS DMS output (real files in ``shared/fixtures/dms``, written by others) declared as
``dms_s3`` sources with their settings as AWS prints them: discovered, then to silver."""

from __future__ import annotations

import json
import shutil
from decimal import Decimal
from pathlib import Path

import polars as pl
import pytest
import yaml

from lakehouse.cli import main

FIXTURES = Path(__file__).resolve().parents[2].parent / "shared" / "fixtures" / "dms"


def _declare(defs: Path, name: str, dms_dir: Path, settings: dict) -> Path:
    folder = defs / name
    folder.mkdir(parents=True)
    (folder / "endpoint-settings.json").write_text(json.dumps({"S3Settings": settings}))
    path = folder / "defs.yaml"
    path.write_text(yaml.safe_dump({
        "type": "lakehouse.components.Dataset",
        "attributes": {"name": name, "sources": [{
            "kind": "dms_s3", "path": str(Path("..") / ".." / dms_dir.name),
            "endpoint_settings": "endpoint-settings.json"}]},
    }, sort_keys=False))  # fmt: skip
    return path


def _set_key(path: Path, table: str, key: list[str]) -> None:
    doc = yaml.safe_load(path.read_text())
    for t in doc["attributes"]["tables"]:
        if t["name"] == table:
            t["primary_key"] = key
            for c in t["columns"]:
                if c["name"] in key:
                    c["nullable"] = False
    path.write_text(yaml.safe_dump(doc, sort_keys=False))


@pytest.fixture
def dms_outputs(tmp_path):
    if not FIXTURES.is_dir():
        pytest.fail(f"DMS fixtures missing: {FIXTURES} (shared/fixtures/dms beside the repo)")
    hr = tmp_path / "hr_dms" / "HR" / "EMPLOYEES"  # <BucketFolder>/<schema>/<table>/, as DMS writes
    hr.mkdir(parents=True)
    for f in ("LOAD00000001.csv", "20190118-184518184.csv"):
        shutil.copy(FIXTURES / "dhawalkp-datalake" / f, hr / f)
    pq = tmp_path / "pq_dms" / "public" / "dms_test_table"
    pq.mkdir(parents=True)
    shutil.copy(
        FIXTURES / "segmentio-parquet-go" / "dms_test_table_LOAD00000001.parquet",
        pq / "LOAD00000001.parquet",
    )
    return tmp_path


def test_real_dms_outputs_declared_as_dms_s3_sources_reach_silver(
    dms_outputs, tmp_path, monkeypatch, capsys
):
    from lakehouse.declarations import load_dataset
    from lakehouse.engine.silver import read_silver
    from lakehouse.profiles import Settings
    from lakehouse.runs.materialize import materialize

    defs = tmp_path / "defs"
    hr = _declare(defs, "hr", tmp_path / "hr_dms", {"AddColumnName": True, "CsvDelimiter": ","})
    pq = _declare(defs, "pq", tmp_path / "pq_dms",
                  {"DataFormat": "parquet", "TimestampColumnName": "DMS_TIMESTAMP"})  # fmt: skip
    monkeypatch.setenv("LAKEHOUSE_DEFS", str(defs))
    monkeypatch.setenv("LAKEHOUSE_ROOT", str(tmp_path / "lake"))
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "dagster"))
    assert main(["discover", "hr"]) == 0
    assert main(["discover", "pq"]) == 0
    out = capsys.readouterr().out
    assert "note: dms_s3: HR.EMPLOYEES: DMS files carry no key: set primary_key" in out
    _set_key(hr, "EMPLOYEES", ["EMPLOYEE_ID"])
    _set_key(pq, "dms_test_table", ["id"])
    employees = load_dataset("hr").table("EMPLOYEES")
    assert [(c.name, c.type) for c in employees.columns] == [
        ("EMPLOYEE_ID", "bigint"), ("FIRST_NAME", "string"), ("LAST_NAME", "string"),
        ("EMAIL", "string"), ("PHONE_NUMBER", "string"), ("HIRE_DATE", "timestamp"),
        ("JOB_ID", "string"), ("SALARY", "decimal(18,2)"), ("COMMISSION_PCT", "decimal(18,2)"),
        ("MANAGER_ID", "bigint"), ("DEPARTMENT_ID", "bigint"),
    ]  # fmt: skip
    assert [c.name for c in load_dataset("pq").table("dms_test_table").columns][:3] == [
        "id",
        "my_int",
        "my_smallint",
    ]

    monkeypatch.setenv("LAKEHOUSE_DATASETS", "hr,pq")
    settings = Settings.from_env()
    result = materialize(settings=settings)
    assert result.success
    checks = {(e.asset_key.path[-1], e.check_name) for e in result.get_asset_check_evaluations()}
    assert ("EMPLOYEES", "schema") in checks
    assert ("EMPLOYEES", "reconciliation") not in checks  # no source DSN: absent, not failing
    lake = settings.lake()
    silver = read_silver(lake, employees).sort("EMPLOYEE_ID")
    load = pl.read_csv(FIXTURES / "dhawalkp-datalake" / "LOAD00000001.csv", infer_schema=False)
    cdc = pl.read_csv(FIXTURES / "dhawalkp-datalake" / "20190118-184518184.csv", infer_schema=False)
    assert cdc["Op"].unique().to_list() == ["U"] and cdc.height == 17
    # 1,900 loaded; the 17 updates touch one loaded key and 16 keys the load did not hold (an
    # update of an unknown key is an upsert, as Hudi's DMS payload and AUTO CDC apply it)
    assert silver.height == 1900 + 16
    updated = {int(r["EMPLOYEE_ID"]): r["LAST_NAME"] for r in cdc.iter_rows(named=True)}
    names = dict(zip(silver["EMPLOYEE_ID"], silver["LAST_NAME"], strict=True))
    assert all(names[k] == v for k, v in updated.items())
    untouched = load.filter(~pl.col("EMPLOYEE_ID").cast(int).is_in(list(updated)))
    assert all(
        names[int(r["EMPLOYEE_ID"])] == r["LAST_NAME"] for r in untouched.iter_rows(named=True)
    )
    king = silver.filter(pl.col("EMPLOYEE_ID") == 100).row(0, named=True)
    assert (king["SALARY"], king["MANAGER_ID"], str(king["HIRE_DATE"])[:10]) == (
        Decimal("24000.00"),
        None,
        "1987-06-17",
    )

    table = read_silver(lake, load_dataset("pq").table("dms_test_table")).sort("id")
    import pyarrow.parquet as papq

    expected = pl.from_arrow(papq.read_table(
        FIXTURES / "segmentio-parquet-go" / "dms_test_table_LOAD00000001.parquet")).sort("id")  # fmt: skip
    assert table.height == 10
    for col in ("id", "my_int", "my_smallint", "my_numeric", "my_double", "my_varchar",
                "my_text", "my_bytea", "my_uuid", "my_json", "my_bool"):  # fmt: skip
        assert table[col].to_list() == expected[col].to_list(), col
    assert (
        table["my_timestamp"].dt.epoch("ms").to_list()
        == expected["my_timestamp"].dt.epoch("ms").to_list()
    )


def test_a_dms_task_gaining_rules_mid_stream_declared_with_its_mapping_revisions(
    tmp_path, monkeypatch
):
    """Files written by the project's writer in real DMS's column order; the task gains an
    add-column ($AR_H_CHANGE_SEQ) and a before-image rule (prefix ``before_``) mid-stream: the
    dataset declares both mapping revisions and everything reaches silver, nothing quarantined."""
    from lakehouse.declarations import load_dataset
    from lakehouse.engine.core.keys import quarantine_key
    from lakehouse.engine.delta import open_table
    from lakehouse.engine.silver import read_silver
    from lakehouse.profiles import Settings
    from lakehouse.runs.materialize import materialize
    from lakehouse.storage import LocalLake
    from lakehouse_tests.engine import test_dms_layouts as scenario

    out = LocalLake(tmp_path / "dms_out")
    settings = scenario.DmsS3Settings(TimestampColumnName="ts")  # no header: counts decide
    before, after = scenario._layouts()
    scenario._write(out, "LOAD00000001.csv", before, settings, [
        ("I", 0, "1", "a", "1", None, None), ("I", 0, "2", "b", "2", None, None),
        ("I", 0, "3", "c", "3", None, None),
    ])  # fmt: skip
    scenario._write(out, "20240101-000001000.csv", before, settings, [
        ("U", 1, "1", "a1", "10", None, None), ("I", 1, "4", "d", "4", None, None),
    ])  # fmt: skip
    scenario._write(out, "20240101-000002000.csv", after, settings, [
        ("U", 2, "2", "b-late", "20", 2, "2"), ("U", 2, "2", "b-early", "21", 1, "2"),
        ("U", 3, "5", "c2", "30", 3, "3"), ("D", 3, "4", None, None, 4, "4"),
    ])  # fmt: skip
    defs = tmp_path / "defs" / "things"
    defs.mkdir(parents=True)
    (defs / "task-v1.json").write_text(json.dumps(scenario.FIRST))
    (defs / "task-v2.json").write_text(json.dumps(scenario.LATER))
    (defs / "defs.yaml").write_text(yaml.safe_dump({
        "type": "lakehouse.components.Dataset",
        "attributes": {"name": "t", "sources": [{
            "kind": "dms_s3", "path": str(tmp_path / "dms_out" / "raw" / "database"),
            "endpoint_settings": {"TimestampColumnName": "ts"},
            "table_mappings": ["task-v1.json", "task-v2.json"]}],
            "tables": [{"name": "things", "primary_key": ["id"], "columns": [
                {"name": "id", "type": "int", "nullable": False},
                {"name": "name", "type": "string"}, {"name": "qty", "type": "int"}]}]},
    }))  # fmt: skip
    for k, v in {"LAKEHOUSE_DEFS": str(tmp_path / "defs"), "LAKEHOUSE_DATASETS": "t",
                 "LAKEHOUSE_ROOT": str(tmp_path / "lake"),
                 "DAGSTER_HOME": str(tmp_path / "dagster")}.items():  # fmt: skip
        monkeypatch.setenv(k, v)
    settings = Settings.from_env()
    assert materialize(settings=settings).success
    spec = load_dataset("t", settings).table("things")
    lake = settings.lake()
    assert open_table(lake, quarantine_key(spec.name)) is None
    state = {r["id"]: (r["name"], r["qty"]) for r in read_silver(lake, spec).iter_rows(named=True)}
    assert state == {1: ("a1", 10), 2: ("b-late", 20), 5: ("c2", 30)}


@pytest.mark.parametrize(
    "rule, expected",
    [
        ({"rule-action": "add-before-image-columns",
          "before-image-def": {"column-prefix": "", "column-filter": "pk-only"}},
         "table_mappings[0]: table mappings rule-id '9' (rule-name 'r'): before-image-def has no column-prefix"),
        ({"rule-action": "explode"},
         "table_mappings[0]: table mappings rule-id '9' (rule-name 'r'): rule-action 'explode' is not supported"),
    ],
    ids=["before-image without prefix", "unknown rule action"],
)  # fmt: skip
def test_a_bad_table_mapping_is_a_declaration_error_at_load(tmp_path, rule, expected):
    from lakehouse.declarations import DeclarationError
    from lakehouse.declarations.load import read_declaration

    path = tmp_path / "x" / "defs.yaml"
    path.parent.mkdir()
    rule = {"rule-type": "transformation", "rule-id": "9", "rule-name": "r", "rule-target": "column",
            "object-locator": {"schema-name": "%", "table-name": "%"}, **rule}  # fmt: skip
    path.write_text(yaml.safe_dump({
        "type": "lakehouse.components.Dataset",
        "attributes": {"name": "x", "sources": [{"kind": "dms_s3", "path": "out",
                                                 "table_mappings": {"rules": [rule]}}]},
    }))  # fmt: skip
    with pytest.raises(DeclarationError) as err:
        read_declaration(path)
    assert str(err.value).startswith(f"{path}: sources[0] (dms_s3).{expected}"), str(err.value)


def test_an_unreadable_row_delimiter_is_a_declaration_error_at_load(tmp_path):
    """Not a quarantine of every file while the run succeeds: the declaration names the key."""
    from lakehouse.declarations import DeclarationError
    from lakehouse.declarations.load import read_declaration

    path = tmp_path / "x" / "defs.yaml"
    path.parent.mkdir()
    path.write_text(yaml.safe_dump({
        "type": "lakehouse.components.Dataset",
        "attributes": {"name": "x", "sources": [{"kind": "dms_s3", "path": "out",
                                                 "endpoint_settings": {"CsvRowDelimiter": ";;"}}]},
    }))  # fmt: skip
    with pytest.raises(DeclarationError) as err:
        read_declaration(path)
    assert str(err.value).startswith(
        f"{path}: sources[0] (dms_s3).endpoint_settings: CsvRowDelimiter ';;': the reader reads"
    ), str(err.value)
    assert str(err.value).count("— fix:") == 1, str(err.value)  # its own fix, not two
    assert str(err.value).endswith("— fix: an endpoint whose CsvRowDelimiter is \\n (AWS's"
                                   " default), \\r\\n or \\r")  # fmt: skip


def test_an_endpoint_settings_error_without_a_fix_of_its_own_gets_the_general_one(tmp_path):
    from lakehouse.declarations import DeclarationError
    from lakehouse.declarations.load import read_declaration

    path = tmp_path / "x" / "defs.yaml"
    path.parent.mkdir()
    path.write_text(yaml.safe_dump({
        "type": "lakehouse.components.Dataset",
        "attributes": {"name": "x", "sources": [{"kind": "dms_s3", "path": "out",
                                                 "endpoint_settings": {"CsvDelimiter": 5}}]},
    }))  # fmt: skip
    with pytest.raises(DeclarationError) as err:
        read_declaration(path)
    assert str(err.value) == (
        f"{path}: sources[0] (dms_s3).endpoint_settings: object of type 'int' has no len()"
        " — fix: the S3Settings AWS prints (aws dms describe-endpoints)"
    )


def test_cdc_path_is_a_declaration_error_at_load_not_ignored(tmp_path):
    """CdcPath (transaction-ordered CDC files of every table) has no per-table layout this
    reader knows: refused at load naming it, not accepted and never read."""
    from lakehouse.declarations import DeclarationError
    from lakehouse.declarations.load import read_declaration

    path = tmp_path / "x" / "defs.yaml"
    path.parent.mkdir()
    (path.parent / "endpoint.json").write_text(json.dumps(
        {"S3Settings": {"CdcPath": "MyChangedData", "PreserveTransactions": True}}))  # fmt: skip
    path.write_text(yaml.safe_dump({
        "type": "lakehouse.components.Dataset",
        "attributes": {"name": "x", "sources": [{"kind": "dms_s3", "path": "out",
                                                 "endpoint_settings": "endpoint.json"}]},
    }))  # fmt: skip
    with pytest.raises(DeclarationError) as err:
        read_declaration(path)
    assert str(err.value).startswith(
        f"{path}: sources[0] (dms_s3).endpoint_settings: CdcPath 'MyChangedData' is not supported"
    ), str(err.value)
    assert "\n" not in str(err.value)
    assert str(err.value).count("— fix:") == 1, str(err.value)  # its own fix, not two
    assert str(err.value).endswith("— fix: remove CdcPath and PreserveTransactions")


def test_a_csv_from_elsewhere_dropped_discovered_and_in_silver(tmp_path, monkeypatch, capsys):
    """A CSV nobody here wrote (the Oracle HR export in shared/fixtures, dates as
    ``1987-06-17 00:00:00``, empty fields as NULL) dropped in a landing folder: discover proposes
    its table, glob, types and key; the file sync and bronze/silver take it as it is."""
    from lakehouse.declarations import load_dataset
    from lakehouse.engine.silver import read_silver
    from lakehouse.profiles import Settings
    from lakehouse.runs.materialize import materialize

    landing = tmp_path / "landing"
    landing.mkdir()
    shutil.copy(
        FIXTURES / "dhawalkp-datalake" / "LOAD00000001.csv", landing / "employees-20190118.csv"
    )
    (tmp_path / "defs" / "hr").mkdir(parents=True)
    (tmp_path / "defs" / "hr" / "defs.yaml").write_text(yaml.safe_dump({
        "type": "lakehouse.components.Dataset",
        "attributes": {"name": "hr", "sources": [{"kind": "csv_drop", "landing": str(landing)}]},
    }))  # fmt: skip
    for k, v in {"LAKEHOUSE_DEFS": str(tmp_path / "defs"), "LAKEHOUSE_DATASETS": "hr",
                 "LAKEHOUSE_ROOT": str(tmp_path / "lake"),
                 "DAGSTER_HOME": str(tmp_path / "dagster")}.items():  # fmt: skip
        monkeypatch.setenv(k, v)
    assert main(["discover", "hr"]) == 0
    assert "csv_drop: employees: new table (11 columns)" in capsys.readouterr().out
    settings = Settings.from_env()
    table = load_dataset("hr", settings).table("employees")
    assert (table.file_glob, table.primary_key) == ("employees-*.csv", ("EMPLOYEE_ID",))
    assert materialize(settings=settings).success
    silver = read_silver(settings.lake(), table).sort("EMPLOYEE_ID")
    source = pl.read_csv(FIXTURES / "dhawalkp-datalake" / "LOAD00000001.csv", infer_schema=False)
    assert silver.height == source.height == 1900
    assert (
        silver["LAST_NAME"].to_list()
        == source.sort(pl.col("EMPLOYEE_ID").cast(int))["LAST_NAME"].to_list()
    )
    king = silver.row(0, named=True)
    assert (king["EMPLOYEE_ID"], king["SALARY"], king["COMMISSION_PCT"], str(king["HIRE_DATE"])[:10]) == (
        100, Decimal("24000.00"), None, "1987-06-17"
    )  # fmt: skip


def test_a_dms_task_renaming_schema_table_and_column_is_discovered_by_source_names(
    tmp_path, monkeypatch
):
    """A task whose rules lowercase the schema, rename the table and prefix every table, rename a
    column, add the change sequence and ``before_`` key images: DMS writes ``sales/crm_orders/``
    with the file column ``total``. ``discover`` with the task's mappings declares the source
    table ``Sales.CustomerOrders`` with its source columns; silver holds the final state."""
    from lakehouse.declarations import load_dataset
    from lakehouse.dms.settings import DmsS3Settings
    from lakehouse.dms.table_mappings import TableMappings
    from lakehouse.dms.writer import encode_dms_file, layout_rows
    from lakehouse.engine.core.keys import quarantine_key
    from lakehouse.engine.delta import open_table
    from lakehouse.engine.silver import read_silver
    from lakehouse.profiles import Settings
    from lakehouse.runs.materialize import materialize
    from lakehouse_tests.dms.test_table_mappings import BEFORE_RULE, RENAMING, SEQ_RULE

    mappings = {"rules": [*RENAMING, SEQ_RULE, BEFORE_RULE]}
    tm = TableMappings.from_json(mappings)
    layout = tm.layout("Sales", "CustomerOrders", ["OrderId", "OrderTotal", "Note"], ["OrderId"])
    dms = DmsS3Settings(AddColumnName=True, TimestampColumnName="ts")
    folder = tmp_path / "dms_out" / "sales" / "crm_orders"  # where DMS writes it
    folder.mkdir(parents=True)

    def write(name, rows):  # (op, second, id, total, note, seq)
        frame = pl.DataFrame({"OrderId": [r[2] for r in rows], "OrderTotal": [r[3] for r in rows],
                              "Note": [r[4] for r in rows]}, schema={c: pl.String for c in
                              ("OrderId", "OrderTotal", "Note")})  # fmt: skip
        out = layout_rows(frame, layout, dms, op=[r[0] for r in rows],
                          ts=[f"2024-01-01 00:00:{r[1]:02d}.000000" for r in rows],
                          change_seq=[f"{r[5]:035d}" for r in rows])  # fmt: skip
        (folder / name).write_bytes(encode_dms_file(out, dms, full_load=name.startswith("LOAD")))

    write("LOAD00000001.csv", [("I", 0, "1", "10", "a", 0), ("I", 0, "2", "20", "b", 0)])
    write("20240101-000001000.csv", [("U", 1, "1", "11", "a2", 1), ("D", 1, "2", None, None, 2),
                                     ("I", 1, "3", "30", "c", 3)])  # fmt: skip
    assert "total" in (folder / "LOAD00000001.csv").read_text().splitlines()[0]
    defs = tmp_path / "defs" / "crm"
    defs.mkdir(parents=True)
    (defs / "task.json").write_text(json.dumps(mappings))
    (defs / "defs.yaml").write_text(yaml.safe_dump({
        "type": "lakehouse.components.Dataset",
        "attributes": {"name": "crm", "sources": [{
            "kind": "dms_s3", "path": str(tmp_path / "dms_out"),
            "endpoint_settings": {"AddColumnName": True, "TimestampColumnName": "ts"},
            "table_mappings": "task.json"}]},
    }))  # fmt: skip
    for k, v in {"LAKEHOUSE_DEFS": str(tmp_path / "defs"), "LAKEHOUSE_DATASETS": "crm",
                 "LAKEHOUSE_ROOT": str(tmp_path / "lake"),
                 "DAGSTER_HOME": str(tmp_path / "dagster")}.items():  # fmt: skip
        monkeypatch.setenv(k, v)
    assert main(["discover", "crm"]) == 0
    doc = yaml.safe_load((defs / "defs.yaml").read_text())
    (table,) = doc["attributes"]["tables"]
    assert (table["schema"], table["name"]) == ("Sales", "CustomerOrders")
    assert [c["name"] for c in table["columns"]] == ["OrderId", "OrderTotal", "Note"]
    _set_key(defs / "defs.yaml", "CustomerOrders", ["OrderId"])
    settings = Settings.from_env()
    spec = load_dataset("crm", settings).table("CustomerOrders")
    assert spec.raw_prefix == "sales/crm_orders/"
    assert materialize(settings=settings).success
    lake = settings.lake()
    assert open_table(lake, quarantine_key(spec.name)) is None
    rows = {r["OrderId"]: (r["OrderTotal"], r["Note"])
            for r in read_silver(lake, spec).iter_rows(named=True)}  # fmt: skip
    assert rows == {1: (11, "a2"), 3: (30, "c")}


def test_a_column_dms_could_not_capture_keeps_silvers_value(tmp_path, monkeypatch):
    """UseCsvNoSupValue: DMS writes CsvNoSupValue for a column outside supplemental logging in
    an update. That column keeps silver's previous value (it is not data, and on an int column
    not a reason to quarantine the update); the update's other columns apply."""
    from lakehouse.declarations import load_dataset
    from lakehouse.engine.core.keys import quarantine_key
    from lakehouse.engine.delta import open_table
    from lakehouse.engine.silver import read_silver
    from lakehouse.profiles import Settings
    from lakehouse.runs.materialize import materialize

    folder = tmp_path / "dms_out" / "public" / "t"
    folder.mkdir(parents=True)
    (folder / "LOAD00000001.csv").write_text("1,hello,1,100\n2,world,2,200\n")
    (folder / "20240101-000000000.csv").write_text("U,1,NOSUP,5,100\nU,2,world,9,NOSUP\n")
    defs = tmp_path / "defs" / "t"
    defs.mkdir(parents=True)
    (defs / "defs.yaml").write_text(yaml.safe_dump({
        "type": "lakehouse.components.Dataset",
        "attributes": {"name": "t", "sources": [{
            "kind": "dms_s3", "path": str(tmp_path / "dms_out"),
            "endpoint_settings": {"UseCsvNoSupValue": True, "CsvNoSupValue": "NOSUP"}}],
            "tables": [{"name": "t", "primary_key": ["id"], "columns": [
                {"name": "id", "type": "bigint", "nullable": False},
                {"name": "note", "type": "string"}, {"name": "qty", "type": "int"},
                {"name": "price", "type": "int"}]}]},
    }))  # fmt: skip
    for k, v in {"LAKEHOUSE_DEFS": str(tmp_path / "defs"), "LAKEHOUSE_DATASETS": "t",
                 "LAKEHOUSE_ROOT": str(tmp_path / "lake"),
                 "DAGSTER_HOME": str(tmp_path / "dagster")}.items():  # fmt: skip
        monkeypatch.setenv(k, v)
    settings = Settings.from_env()
    assert materialize(settings=settings).success
    spec = load_dataset("t", settings).table("t")
    lake = settings.lake()
    assert open_table(lake, quarantine_key(spec.name)) is None
    rows = read_silver(lake, spec).sort("id").select("id", "note", "qty", "price").rows()
    assert rows == [(1, "hello", 5, 100), (2, "world", 9, 200)]
