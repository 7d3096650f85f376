"""Bad input through the real bronze → silver path (the Dagster assets, in-process): each bad
line or file gives a quarantine entry naming file, row, column and reason; the run succeeds, the
good rows of the same files land, and silver equals the source exactly afterwards.

The good rows are the real replicator's: a churn batch is replicated into real CDC files, and
the bad lines are *added* to those files (or bad files added beside them). A bad copy of a real
change is placed right after it, so wrongly accepting it would overwrite the good change and
show up as a difference with the source. Unit-level cases of the reader are in
``lakehouse_tests/engine/test_bronze.py``.
"""

from __future__ import annotations

import gzip
import re
from dataclasses import dataclass
from datetime import datetime, timedelta

import polars as pl
import psycopg
import pytest
from deltalake import DeltaTable

from lakehouse.declarations.dms import settings_for
from lakehouse.engine.bronze import ingest
from lakehouse.profiles import Settings
from lakehouse.runs.materialize import materialize
from lakehouse.source.churn import apply_random_changes
from lakehouse.source.seed import seed
from lakehouse_tests.reliability import helpers as h

pytestmark = pytest.mark.integration


@dataclass
class Expect:
    """One quarantine entry the corpus must produce."""

    table: str
    stage: str
    file: str
    row: int | None
    column: str | None
    reason: str  # a regular expression the reason must match


def _edit(lake, key: str, edit) -> None:
    """Rewrite a gzip CSV file: ``edit(records)`` returns the new records (raw fields)."""
    records = h.read_csv_records(gzip.decompress(lake.read_bytes(key)))
    lake.write_bytes(key, gzip.compress(h.write_csv_records(edit(records))))


def _bad_copy_after(lake, table: str, change, expect_row_offset: int = 1) -> tuple[str, int]:
    """Insert ``change(header, record)`` right after the first I/U record of the table's newest
    CDC file; returns (file, record number of the bad copy, header = 1)."""
    key = h.cdc_files(lake, table)[-1]
    where = {}

    def edit(records):
        header = records[0]
        i = next(i for i, r in enumerate(records) if r[0] in ("I", "U"))
        where["row"] = i + 2  # records[i] is record i + 1; the copy follows it
        return [*records[: i + 1], change(header, list(records[i])), *records[i + 1 :]]

    _edit(lake, key, edit)
    return key, where["row"]


def _set(column: str, value: str):
    def change(header, rec):
        rec[header.index(column)] = value
        return rec

    return change


def _later_key(lake, table: str, minutes: int) -> str:
    """A CDC file name ``minutes`` after the newest of ``table`` (``yyyymmdd-hhmmssfff``)."""
    folder, name = h.cdc_files(lake, table)[-1].rsplit("/", 1)
    t = datetime.strptime(name.split(".", 1)[0], "%Y%m%d-%H%M%S%f") + timedelta(minutes=minutes)
    return f"{folder}/{t:%Y%m%d-%H%M%S}{t.microsecond // 1000:03d}.csv.gz"


def _quarantine(lake) -> list[dict]:
    out = []
    for spec in h.database_tables():
        try:
            dt = DeltaTable(lake.uri(f"quarantine/{spec.name}"))
        except Exception:
            continue
        for r in pl.from_arrow(dt.to_pyarrow_table()).iter_rows(named=True):
            out.append({"table": spec.name, **r})
    return out


def _checks(result) -> dict[tuple[str, str], bool]:
    out = {}
    for ev in result.all_events:
        if ev.event_type_value == "ASSET_CHECK_EVALUATION":
            d = ev.event_specific_data
            out[(d.asset_key.to_user_string(), d.check_name)] = d.passed
    return out


def _metadata(result) -> dict[str, dict]:
    out = {}
    for ev in result.get_asset_materialization_events():
        mat = ev.event_specific_data.materialization
        out[mat.asset_key.to_user_string()] = {k: v.value for k, v in mat.metadata.items()}
    return out


def test_bad_input_corpus_is_quarantined_and_the_good_rows_land(fresh_db, tmp_path, monkeypatch):
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "dagster"))
    settings = Settings.from_env(
        {"LAKEHOUSE_ROOT": str(tmp_path / "lake"), "LAKEHOUSE_SOURCE_DSN": fresh_db,
         "LAKEHOUSE_DATASETS": "saas"}
    )  # fmt: skip
    lake = settings.lake()
    seed(fresh_db, "saas", "small")
    h.replicate(fresh_db, lake)
    h.apply_all(lake)
    # a batch of real changes touching every table the corpus needs
    apply_random_changes(fresh_db, "saas", 30, seed=21)
    with psycopg.connect(fresh_db) as conn:
        for table in (
            "core_customer",
            "core_product",
            "core_order",
            "core_orderitem",
            "core_invoice",
        ):
            conn.execute(
                f"update {table} set updated_at = now() where id = (select min(id::text)::uuid from {table})"
            )
        conn.execute(
            "insert into core_event (tenant_id, event_type, event_data, session_id)"
            " select id, 'click', '{}', 's' from core_tenant"
        )
    h.replicate(fresh_db, lake)

    expect: list[Expect] = []
    # a value breaking a registry rule (status not among the allowed values): silver stage
    key, row = _bad_copy_after(lake, "core_order", _set("status", "shipped"))
    expect.append(Expect("core_order", "silver", key, row, "status", r"status.*isin.*shipped"))
    # wrong column count: one field too many, then (inserted before it) one missing
    key, row = _bad_copy_after(lake, "core_customer", lambda header, rec: [*rec, "extra"])
    expect.append(
        Expect("core_customer", "bronze", key, row + 1, None, r"expected (\d+) fields, found \d+")
    )
    key, row = _bad_copy_after(lake, "core_customer", lambda header, rec: rec[:-1])
    expect.append(
        Expect("core_customer", "bronze", key, row, None, r"expected \d+ fields, found \d+")
    )
    # a null key
    key, row = _bad_copy_after(lake, "core_orderitem", _set("id", ""))
    expect.append(
        Expect("core_orderitem", "bronze", key, row, "id", r"primary key column 'id' is null")
    )
    # type drift: text in an int column
    key, row = _bad_copy_after(lake, "core_product", _set("stock_quantity", "lots"))
    expect.append(Expect("core_product", "bronze", key, row, "stock_quantity",
                         r"'lots' is not a valid int"))  # fmt: skip
    # malformed CSV: a quote that never closes, on the file's last line (the same mid-file:
    # test_an_unterminated_quote_mid_file_loses_no_good_row); the entry names the column
    rows = {}

    def unterminated(records):
        broken = list(records[1])
        broken[records[0].index("name")] = '"Unterminated'
        rows["n"] = len(records) + 1
        return [*records, broken]

    _edit(lake, key, unterminated)
    expect.append(
        Expect("core_product", "bronze", key, rows["n"], "name",
               r"expected \d+ fields, found \d+.*'name' is not closed")
    )  # fmt: skip
    # a truncated gzip file (a copy of a real one, cut in half, beside it)
    real = h.cdc_files(lake, "core_event")[-1]
    data = lake.read_bytes(real)
    key = _later_key(lake, "core_event", 1)
    lake.write_bytes(key, data[: len(data) // 2])
    expect.append(Expect("core_event", "bronze", key, None, None, r"gzip"))
    # a 0-byte file
    empty = _later_key(lake, "core_invoice", 2)
    lake.write_bytes(empty, b"")
    # a file of another table (events) dropped under core_tenant's prefix
    key = "raw/database/public/core_tenant/20300101-000000000.csv.gz"
    lake.write_bytes(key, lake.read_bytes(real))  # the real event file, not the truncated copy
    expect.append(Expect("core_tenant", "bronze", key, None, None,
                         r"not a file of table core_tenant.*event_type"))  # fmt: skip

    result = materialize("group:saas_bronze or group:saas_silver", settings=settings)
    assert result.success, "the run must keep going past bad input"
    meta = _metadata(result)
    checks = _checks(result)
    assert checks and all(checks.values()), checks  # schema, references and reconciliation

    # every bad line or file has exactly its quarantine entry, naming file, row, column, reason
    got = _quarantine(lake)
    for e in expect:
        hits = [
            q for q in got
            if (q["table"], q["_stage"], q["_source_file"], q["_source_row"], q["_column"])
            == (e.table, e.stage, e.file, e.row, e.column) and re.search(e.reason, q["_reason"])
        ]  # fmt: skip
        assert len(hits) == 1, (e, [q for q in got if q["table"] == e.table])
    assert len(got) == len(expect), got
    for table in ("core_order", "core_customer", "core_orderitem", "core_product", "core_event",
                  "core_tenant"):  # fmt: skip
        n = sum(1 for e in expect if e.table == table and e.stage == "bronze")
        assert meta[f"bronze/{table}"]["quarantined"] == n, (table, meta[f"bronze/{table}"])
    assert meta["silver/core_order"]["quarantined"] == 1

    # nothing good is lost, nothing bad got in: silver is the source, every column of every row
    h.assert_silver_equals_source(lake, fresh_db)
    # the bad files are recorded, not retried forever
    for spec in h.database_tables():
        assert ingest(lake, spec, settings_for("saas")).files == [], spec.name
    # the 0-byte file is an empty file: no rows; content arriving later under its key is read
    lake.write_bytes(empty, lake.read_bytes(h.cdc_files(lake, "core_invoice")[0]))
    invoice = next(s for s in h.database_tables() if s.name == "core_invoice")
    assert ingest(lake, invoice, settings_for("saas")).files == [empty]

    # and the pipeline goes on: the next batch lands as usual
    apply_random_changes(fresh_db, "saas", 20, seed=22)
    h.replicate(fresh_db, lake)
    h.apply_all(lake)
    h.assert_silver_equals_source(lake, fresh_db)


def _one_table_source(fresh_db, lake, table: str, changes_sql: str) -> None:
    """Seeded source, full load applied to ``table``, then ``changes_sql`` replicated into its
    own CDC files (not applied yet)."""
    seed(fresh_db, "saas", "small")
    h.replicate(fresh_db, lake)
    h.apply_all(lake, tables=[table])
    with psycopg.connect(fresh_db) as conn:
        conn.execute(changes_sql)
    h.replicate(fresh_db, lake)


def test_an_unterminated_quote_mid_file_loses_no_good_row(fresh_db, tmp_path):
    """Only the line with the stray quote is rejected (naming its column); every good change
    after it in the same file reaches silver."""
    from lakehouse.storage import LocalLake

    lake = LocalLake(tmp_path / "lake")
    _one_table_source(fresh_db, lake, "core_product", "update core_product set stock_quantity ="
                      " stock_quantity + 1 where id in (select id from core_product order by id limit 6)")  # fmt: skip

    def broken(header, rec):
        rec[header.index("name")] = '"Unterminated'
        return rec

    key, row = _bad_copy_after(lake, "core_product", broken)
    h.apply_all(lake, tables=["core_product"])
    q = [(x["_source_file"], x["_source_row"], x["_column"]) for x in _quarantine(lake)]
    assert q == [(key, row, "name")], q
    h.assert_silver_equals_source(lake, fresh_db, tables=["core_product"])


def test_a_file_under_a_sibling_tables_prefix_is_rejected_as_a_whole(fresh_db, tmp_path):
    """saas tables share id, tenant_id, customer_id, status, created_at, updated_at: a core_order
    file under core_subscription's prefix has the key and half of the columns, but also columns
    the subscription does not have while it lacks some of its own: one file-level entry, and
    nothing of it reaches bronze or silver."""
    from lakehouse.storage import LocalLake

    lake = LocalLake(tmp_path / "lake")
    _one_table_source(fresh_db, lake, "core_subscription", "update core_order set updated_at ="
                      " now() where id in (select id from core_order order by id limit 5)")  # fmt: skip
    key = "raw/database/public/core_subscription/20300101-000000000.csv.gz"
    lake.write_bytes(key, lake.read_bytes(h.cdc_files(lake, "core_order")[-1]))
    h.apply_all(lake, tables=["core_subscription"])
    got = _quarantine(lake)
    q = [(x["_stage"], x["_source_file"], x["_source_row"]) for x in got]
    assert q == [("bronze", key, None)], q[:3]
    assert re.search(r"not a file of table core_subscription.*order_number", got[0]["_reason"])
    assert key in got[0]["_reason"]
    bronze = DeltaTable(lake.uri("bronze/core_subscription")).schema()
    assert "order_number" not in [f.name for f in bronze.fields]
    h.assert_silver_equals_source(lake, fresh_db, tables=["core_subscription"])
