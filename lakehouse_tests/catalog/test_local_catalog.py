"""The local catalog: DuckDB views over real Delta tables written by delta-rs."""

from __future__ import annotations

import shutil
import uuid
from datetime import UTC, date, datetime
from decimal import Decimal

import duckdb
import pyarrow as pa
import pytest
from deltalake import DeltaTable, write_deltalake

from lakehouse.catalog import connect, discover_tables, friendly_names, refresh_catalog
from lakehouse.catalog.local import catalog_views, default_catalog_path
from lakehouse.catalog.snapshots import snapshot_sql
from lakehouse.storage import LocalLake

TS = pa.timestamp("us", tz="UTC")
MONEY = pa.decimal128(10, 2)


def _uuid(n: int) -> str:
    return str(uuid.UUID(int=n))


def tenants() -> pa.Table:
    now = datetime(2024, 1, 1, tzinfo=UTC)
    return pa.table(
        {
            "id": [_uuid(1), _uuid(2)],
            "name": ["Acme", "Globex"],
            "slug": ["acme", "globex"],
            "domain": [None, "globex.test"],
            "is_active": [True, True],
            "settings": ["{}", "{}"],
            "created_at": pa.array([now, now], TS),
            "updated_at": pa.array([now, now], TS),
        }
    )


def customers(ids: range) -> pa.Table:
    return pa.table(
        {
            "id": [_uuid(100 + i) for i in ids],
            "tenant_id": [_uuid(1 + i % 2) for i in ids],
            "email": [f"c{i}@x.test" for i in ids],
            "created_at": pa.array([datetime(2024, 1 + i % 3, 5, tzinfo=UTC) for i in ids], TS),
        }
    )


def autocorp_customers() -> pa.Table:
    return pa.table({"customer_id": [1, 2, 3], "email": ["a@a", "b@b", "c@c"]})


@pytest.fixture
def lake(tmp_path) -> LocalLake:
    lake = LocalLake(tmp_path / "lake")
    write_deltalake(lake.table_uri("bronze", "core_order"), _orders())
    write_deltalake(lake.table_uri("silver", "core_tenant"), tenants())
    write_deltalake(lake.table_uri("silver", "core_customer"), customers(range(4)))
    write_deltalake(
        lake.table_uri("silver", "core_customer"), customers(range(4, 6)), mode="append"
    )
    write_deltalake(lake.table_uri("gold", "tenant_revenue"), _empty_metric())
    return lake


def _orders() -> pa.Table:
    return pa.table(
        {
            "id": [_uuid(500), _uuid(501)],
            "tenant_id": [_uuid(1), _uuid(2)],
            "status": ["completed", "pending"],
            "total": pa.array([Decimal("10.50"), Decimal("3.25")], MONEY),
            "_op": ["I", "I"],
        }
    )


def _empty_metric() -> pa.Table:
    return pa.table(
        {
            "tenant_id": pa.array([], pa.string()),
            "month": pa.array([], pa.date32()),
            "revenue": pa.array([], MONEY),
            "computed_at": pa.array([], TS),
        }
    )


def _views(con, schema: str) -> set[str]:
    rows = con.execute(
        "SELECT view_name FROM duckdb_views() WHERE schema_name = ? AND NOT internal", [schema]
    ).fetchall()
    return {r[0] for r in rows}


def _types(con, view: str) -> dict[str, str]:
    return {r[0]: r[1] for r in con.execute(f"DESCRIBE {view}").fetchall()}


def test_discovers_delta_tables_per_zone(lake):
    (lake.path / "silver" / "not_a_table").mkdir(parents=True)
    (lake.path / "silver" / "not_a_table" / "x.parquet").write_bytes(b"")
    assert discover_tables(lake) == {
        "bronze": ["core_order"],
        "silver": ["core_customer", "core_tenant"],
        "gold": ["tenant_revenue"],
    }


def test_views_per_zone_schema_and_aliases(lake):
    con = duckdb.connect()
    counts = refresh_catalog(lake, con)

    assert _views(con, "lakehouse_bronze") == {"core_order"}
    assert _views(con, "lakehouse_silver") == {"core_customer", "core_tenant"}
    assert _views(con, "lakehouse_gold") == {"tenant_revenue"}
    assert _views(con, "silver") == {"core_customer", "core_tenant", "customers", "tenants"}
    assert _views(con, "saas") == {"customers", "tenants"}
    assert _views(con, "saas_compat") == {"core_order"}
    assert counts["lakehouse_silver.core_customer"] == 6
    assert counts["silver.customers"] == 6
    assert counts["lakehouse_gold.tenant_revenue"] == 0

    got = con.execute("SELECT id, email FROM lakehouse_silver.core_customer ORDER BY id").fetchall()
    expected = customers(range(6))
    assert got == list(zip(expected["id"].to_pylist(), expected["email"].to_pylist(), strict=True))
    assert con.execute("SELECT count(*) FROM silver.tenants").fetchone()[0] == 2
    # the delta schema's types survive: decimal, UTC timestamps
    assert _types(con, "lakehouse_bronze.core_order")["total"] == "DECIMAL(10,2)"
    assert _types(con, "silver.customers")["created_at"] == "TIMESTAMP WITH TIME ZONE"


def test_compat_view_adds_total_amount_without_rewriting_data(lake):
    con = duckdb.connect()
    refresh_catalog(lake, con)
    rows = con.execute(
        "SELECT total, total_amount FROM saas_compat.core_order ORDER BY total"
    ).fetchall()
    assert rows == [(Decimal("3.25"), Decimal("3.25")), (Decimal("10.50"), Decimal("10.50"))]
    cols = [r[0] for r in con.execute("DESCRIBE lakehouse_bronze.core_order").fetchall()]
    assert "total_amount" not in cols


def test_empty_table_view_has_columns_and_no_rows(lake):
    con = duckdb.connect()
    refresh_catalog(lake, con)
    described = [r[:2] for r in con.execute("DESCRIBE gold.tenant_revenue").fetchall()]
    assert described == [
        ("tenant_id", "VARCHAR"),
        ("month", "DATE"),
        ("revenue", "DECIMAL(10,2)"),
        ("computed_at", "TIMESTAMP WITH TIME ZONE"),
    ]
    assert con.execute("SELECT count(*) FROM lakehouse_gold.tenant_revenue").fetchone() == (0,)


def test_view_is_pinned_to_its_snapshot_until_refresh(lake, tmp_path):
    path = tmp_path / "catalog.duckdb"
    con = duckdb.connect(str(path))
    refresh_catalog(lake, con)
    uri = lake.table_uri("silver", "core_customer")
    write_deltalake(uri, customers(range(6, 9)), mode="append")
    assert con.execute("SELECT count(*) FROM silver.customers").fetchone() == (6,)

    counts = refresh_catalog(lake, con)
    assert counts["lakehouse_silver.core_customer"] == 9
    assert con.execute("SELECT count(*) FROM silver.customers").fetchone() == (9,)

    write_deltalake(uri, customers(range(2)), mode="overwrite")  # old files stay until vacuum
    assert con.execute("SELECT count(*) FROM silver.customers").fetchone() == (9,)
    refresh_catalog(lake, con)
    assert con.execute("SELECT count(*) FROM silver.customers").fetchone() == (2,)
    recorded = catalog_views(con)[("lakehouse_silver", "core_customer")]
    assert recorded[1] == DeltaTable(uri).version() == 3
    con.close()

    # the views live in the file: another connection reads them without a refresh
    with duckdb.connect(str(path), read_only=True) as again:
        assert again.execute("SELECT count(*) FROM saas.customers").fetchone() == (2,)


def test_refresh_drops_views_of_removed_tables(lake):
    con = duckdb.connect()
    refresh_catalog(lake, con)
    shutil.rmtree(lake.path / "silver" / "core_tenant")
    counts = refresh_catalog(lake, con)
    assert "silver.tenants" not in counts
    assert _views(con, "silver") == {"core_customer", "customers"}
    assert _views(con, "lakehouse_silver") == {"core_customer"}


def test_schema_evolution_old_rows_get_null(lake):
    uri = lake.table_uri("silver", "core_tenant")
    extra = tenants().append_column("plan", pa.array(["pro", None]))
    extra = extra.set_column(0, "id", pa.array([_uuid(3), _uuid(4)]))
    write_deltalake(uri, extra, mode="append", schema_mode="merge")
    con = duckdb.connect()
    refresh_catalog(lake, con)
    rows = con.execute("SELECT id, plan FROM lakehouse_silver.core_tenant ORDER BY id").fetchall()
    assert rows == [(_uuid(1), None), (_uuid(2), None), (_uuid(3), "pro"), (_uuid(4), None)]
    cols = [r[0] for r in con.execute("DESCRIBE silver.tenants").fetchall()]
    assert cols == [f.name for f in tenants().schema] + ["plan"]


def test_hive_partitions_typed_by_the_delta_schema(tmp_path):
    lake = LocalLake(tmp_path / "lake")
    table = pa.table(
        {
            "id": [1, 2, 3, 4, 5],
            "region": ["a b/c", None, "x=y%", "01", "01"],
            "day": pa.array([date(2024, 1, 1)] * 4 + [date(2024, 1, 2)], pa.date32()),
        }
    )
    write_deltalake(lake.table_uri("silver", "events"), table, partition_by=["region", "day"])
    con = duckdb.connect()
    refresh_catalog(lake, con)
    rows = con.execute("SELECT id, region, day FROM silver.events ORDER BY id").fetchall()
    assert rows == list(zip(*(table[c].to_pylist() for c in ("id", "region", "day")), strict=True))
    types = [r[1] for r in con.execute("DESCRIBE lakehouse_silver.events").fetchall()]
    assert types == ["BIGINT", "VARCHAR", "DATE"]


def test_friendly_alias_wins_only_in_the_silver_alias_schema(lake):
    write_deltalake(lake.table_uri("silver", "customers"), autocorp_customers())
    con = duckdb.connect()
    refresh_catalog(lake, con)

    def columns(view: str) -> list[str]:
        return [r[0] for r in con.execute(f"DESCRIBE {view}").fetchall()]

    assert columns("lakehouse_silver.customers") == ["customer_id", "email"]  # the real table
    assert "tenant_id" in columns("silver.customers")  # the saas alias (seed 001 runs unchanged)
    assert "tenant_id" in columns("saas.customers")

    plain = duckdb.connect()
    refresh_catalog(lake, plain, alias_dataset=None)
    assert [r[0] for r in plain.execute("DESCRIBE silver.customers").fetchall()] == [
        "customer_id",
        "email",
    ]
    assert "tenants" not in _views(plain, "silver")
    assert _views(plain, "saas") == {"customers", "tenants"}


def test_friendly_names_cover_every_saas_table():
    assert sorted(friendly_names()["saas"].values()) == sorted(
        [
            "core_tenant",
            "core_customer",
            "core_product",
            "core_order",
            "core_orderitem",
            "core_event",
            "core_subscription",
            "core_invoice",
        ]
    )


def test_project_names_the_zone_schemas(lake):
    con = duckdb.connect()
    counts = refresh_catalog(lake, con, project="acme_dev")
    assert "acme_dev_silver.core_customer" in counts
    assert con.execute("SELECT count(*) FROM acme_dev_silver.core_customer").fetchone() == (6,)
    with pytest.raises(ValueError, match="project"):
        refresh_catalog(lake, con, project="lakehouse-poc")


def test_in_process_arrow_datasets_give_the_same_rows(lake, tmp_path):
    mem = duckdb.connect()
    counts = refresh_catalog(lake, mem, in_process=True)
    files = duckdb.connect()
    assert counts == refresh_catalog(lake, files)
    for view in ("silver.customers", "saas_compat.core_order", "gold.tenant_revenue"):
        q = f"SELECT * FROM {view} ORDER BY ALL"
        assert mem.execute(q).fetchall() == files.execute(q).fetchall()
    refresh_catalog(lake, mem, in_process=True)  # re-registers; old datasets are released
    registered = mem.execute(
        "SELECT count(*) FROM duckdb_views() WHERE temporary AND view_name LIKE '__delta_%'"
    ).fetchone()[0]
    assert registered == len(discover_tables(lake)["silver"]) + 2
    with pytest.raises(ValueError, match="in-memory"):
        refresh_catalog(lake, duckdb.connect(str(tmp_path / "c.duckdb")), in_process=True)


def test_connect_defaults_to_a_file_under_the_root_in_utc(lake):
    con = connect(lake)
    try:
        assert con.execute("SELECT current_setting('TimeZone')").fetchone() == ("UTC",)
        assert con.execute("SELECT count(*) FROM saas.customers").fetchone() == (6,)
    finally:
        con.close()
    assert default_catalog_path(lake) == lake.path / "catalog.duckdb"
    assert default_catalog_path(lake).exists()
    mem = connect(lake, ":memory:")
    assert mem.execute("SELECT count(*) FROM silver.core_customer").fetchone() == (6,)


def test_refresh_with_a_path_opens_and_closes_the_file(lake, tmp_path):
    path = tmp_path / "c.duckdb"
    counts = refresh_catalog(lake, path)
    assert counts["saas.tenants"] == 2
    with duckdb.connect(str(path)) as con:
        assert con.execute("SELECT count(*) FROM saas.tenants").fetchone() == (2,)


def test_snapshot_sql_selects_exactly_one_version(lake):
    uri = lake.table_uri("silver", "core_customer")
    con = duckdb.connect()
    for version, rows in ((0, 4), (1, 6)):
        sql = snapshot_sql(con, DeltaTable(uri, version=version))
        assert con.execute(f"SELECT count(*) FROM ({sql})").fetchone() == (rows,)


def test_connect_falls_back_to_memory_when_another_process_holds_the_file(lake, tmp_path):
    import subprocess
    import sys

    path = tmp_path / "held.duckdb"
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import duckdb, sys; c = duckdb.connect(sys.argv[1]); print('held', flush=True); "
            "sys.stdin.read()",
            str(path),
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "held"
        con = connect(lake, path)
        try:
            assert con.execute("SELECT count(*) FROM silver.customers").fetchall() == [(6,)]
            assert con.execute(
                "SELECT path FROM duckdb_databases() WHERE database_name = current_database()"
            ).fetchall() == [(None,)]
        finally:
            con.close()
    finally:
        holder.communicate("", timeout=30)


def test_a_table_with_an_empty_column_name_is_skipped_and_the_others_stay_queryable(lake, caplog):
    """A CSV header with a trailing delimiter gives a column named '': SQL cannot name it, and
    its view's SQL would not parse. That table has no view and an error says why; every other
    view is refreshed, and the catalog opens for any query."""
    write_deltalake(
        lake.table_uri("silver", "items"), pa.table({"id": [1], "name": ["a"], "": ["x"]})
    )
    write_deltalake(
        lake.table_uri("bronze", "items"), pa.table({"id": [1], "": ["x"], "_op": ["I"]})
    )
    con = duckdb.connect()
    with caplog.at_level("ERROR", logger="lakehouse.catalog.local"):
        counts = refresh_catalog(lake, con)
    assert not any(".items" in view for view in counts)
    assert {"silver.core_customer", "bronze.core_order", "lakehouse_gold.tenant_revenue"} <= set(
        counts
    )
    assert con.execute("SELECT count(*) FROM silver.core_customer").fetchall() == [(6,)]
    errors = [r.getMessage() for r in caplog.records if r.levelname == "ERROR"]
    assert sorted(e.split(" has an empty name")[0] for e in errors) == [
        "catalog: table bronze/items has no view: column 2 (after 'id')",
        "catalog: table silver/items has no view: column 3 (after 'name')",
    ]
    assert all("has an empty name, which SQL cannot name — fix: " in e for e in errors)
    opened = connect(lake, ":memory:")
    assert opened.execute("SELECT 1").fetchall() == [(1,)]


def test_a_table_duckdb_cannot_read_is_skipped_and_the_others_stay_queryable(lake, caplog):
    """A data file that is no Parquet (truncated by a crash, say): that table has no view and
    an error names it; the refresh of the others goes on."""
    write_deltalake(lake.table_uri("silver", "broken"), pa.table({"id": [1, 2]}))
    data = next((lake.path / "silver" / "broken").glob("*.parquet"))
    data.write_bytes(data.read_bytes()[:20])
    con = duckdb.connect()
    with caplog.at_level("ERROR", logger="lakehouse.catalog.local"):
        counts = refresh_catalog(lake, con)
    assert "silver.broken" not in counts and "silver.core_customer" in counts
    assert con.execute("SELECT count(*) FROM silver.core_customer").fetchall() == [(6,)]
    (error,) = [r.getMessage() for r in caplog.records if r.levelname == "ERROR"]
    assert error.startswith("catalog: table silver/broken has no view: DuckDB cannot read")


def _logged_table(folder, names: list[str], files: list[pa.Table]) -> None:
    """A Delta table of long columns ``names`` whose log is written here, as a writer other
    than delta-rs 1.6 may leave it (Parquet files whose column names differ in case from the
    schema's, or a schema with names differing only in case)."""
    import json

    import pyarrow.parquet as pq

    (folder / "_delta_log").mkdir(parents=True)
    fields = [{"name": n, "type": "long", "nullable": True, "metadata": {}} for n in names]
    actions = [
        {"protocol": {"minReaderVersion": 1, "minWriterVersion": 2}},
        {"metaData": {"id": str(uuid.uuid4()), "format": {"provider": "parquet", "options": {}},
                      "schemaString": json.dumps({"type": "struct", "fields": fields}),
                      "partitionColumns": [], "configuration": {}, "createdTime": 0}},
    ]  # fmt: skip
    for i, table in enumerate(files):
        pq.write_table(table, folder / f"part-{i}.parquet")
        size = (folder / f"part-{i}.parquet").stat().st_size
        stats = json.dumps({"numRecords": table.num_rows})
        actions.append({"add": {"path": f"part-{i}.parquet", "partitionValues": {}, "size": size,
                                "modificationTime": 0, "dataChange": True, "stats": stats}})  # fmt: skip
    text = "\n".join(json.dumps(a) for a in actions) + "\n"
    (folder / "_delta_log" / "00000000000000000000.json").write_text(text)


def test_a_column_the_files_name_in_another_case_is_read_not_null(lake):
    """The schema says ``ID``; one file names it ``id``, another ``ID``: every value is read
    (DuckDB matches names case-insensitively; the view was NULL for every row)."""
    _logged_table(
        lake.path / "silver" / "cased",
        ["ID", "v"],
        [pa.table({"id": [1, 2], "v": [10, 20]}), pa.table({"ID": [3], "v": [30]})],
    )
    con = duckdb.connect()
    refresh_catalog(lake, con)
    got = con.execute('SELECT "ID", v FROM lakehouse_silver.cased ORDER BY v').fetchall()
    assert got == [(1, 10), (2, 20), (3, 30)]
    assert [d[0] for d in con.execute("SELECT * FROM lakehouse_silver.cased").description] == [
        "ID",
        "v",
    ]


def test_a_table_delta_rs_cannot_open_is_skipped_with_an_error(lake, caplog):
    """A log whose schema has ``id`` and ``ID`` (delta-rs refuses to open it): that table has
    no view and an error names it and the reason; the others are refreshed."""
    _logged_table(lake.path / "silver" / "mixed", ["id", "ID"], [pa.table({"id": [1], "ID": [10]})])
    con = duckdb.connect()
    with caplog.at_level("ERROR", logger="lakehouse.catalog.local"):
        counts = refresh_catalog(lake, con)
    assert not any(view.endswith(".mixed") for view in counts)
    assert con.execute("SELECT count(*) FROM silver.core_customer").fetchall() == [(6,)]
    (error,) = [r.getMessage() for r in caplog.records if r.levelname == "ERROR"]
    assert error.startswith("catalog: table silver/mixed has no view: delta-rs cannot open it: ")
    assert "'ID'" in error


class _Snapshot:
    """What ``snapshot_sql`` reads of a ``DeltaTable``, for a schema delta-rs would not open."""

    def __init__(self, schema: pa.Schema, files: list[str]):
        self._schema, self._files = schema, files

    def schema(self):
        return type("S", (), {"to_arrow": lambda _: self._schema})()

    def file_uris(self):
        return self._files

    def metadata(self):
        return type("M", (), {"partition_columns": []})()


@pytest.mark.parametrize("in_process", [False, True], ids=["parquet-files", "arrow-dataset"])
def test_columns_differing_only_in_case_are_refused_naming_them(tmp_path, in_process):
    """``id`` and ``ID`` are one SQL name: DuckDB would read one as ``ID_1`` and ``"ID"`` would
    be NULL (or ``id``'s values): ``snapshot_sql`` refuses, naming the columns, and the
    catalog's check (``_unqueryable``) gives the same reason."""
    import pyarrow.parquet as pq

    from lakehouse.catalog.local import _unqueryable
    from lakehouse.catalog.snapshots import UnreadableSnapshot

    table = pa.table({"id": [1], "ID": [10], "name": ["a"], "Name": ["b"], "x": [0]})
    pq.write_table(table, tmp_path / "f.parquet")
    dt = _Snapshot(table.schema, [str(tmp_path / "f.parquet")])
    expected = "columns 'id' and 'ID'; 'name' and 'Name' differ only in case, which SQL"
    with pytest.raises(UnreadableSnapshot, match=expected):
        snapshot_sql(duckdb.connect(), dt, in_process=in_process)
    assert _unqueryable(table.column_names).startswith(expected)
    assert _unqueryable(["id", "name", "x"]) is None
