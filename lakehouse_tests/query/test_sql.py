"""Athena SQL on the local catalog: the seeds' own queries, time travel, errors, output formats.

The lake holds small saas tables with the source's real column names (shared/datasets.md):
bronze ``core_tenant`` / ``core_order`` (a change log: inserts, then updates of some orders) and
silver ``core_tenant`` / ``core_customer`` / ``core_order`` (current state), with several
versions of ``core_customer``. Expected numbers are computed in plain Python from the same rows.
"""

from __future__ import annotations

import csv
import io
import json
import random
import time
import uuid
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import duckdb
import polars as pl
import pyarrow as pa
import pytest
from deltalake import DeltaTable, write_deltalake

from lakehouse.catalog import connect
from lakehouse.query import format_frame, query_command, run_query, transpile
from lakehouse.query.sql import UnknownTableError
from lakehouse.storage import LocalLake

# seed 000 (shared/seeds/000_f4aa98ce58e7506f.txt, lines 216-224): "Total revenue by tenant"
SEED_000_REVENUE_BY_TENANT = """SELECT 
  t.name as tenant_name,
  COUNT(DISTINCT o.id) as total_orders,
  SUM(o.total_amount) as total_revenue
FROM lakehouse-poc_dev_bronze.core_order o
JOIN lakehouse-poc_dev_bronze.core_tenant t ON o.tenant_id = t.id
WHERE o.status = 'completed'
GROUP BY t.name
ORDER BY total_revenue DESC;
"""  # noqa: W291 (verbatim, trailing spaces included)
# seed 001 (shared/seeds/001_b41f502644a53491.txt, lines 173-184): "Tenant Performance Dashboard"
SEED_001_TENANT_PERFORMANCE = """SELECT 
  t.name as tenant_name,
  COUNT(DISTINCT c.id) as customers,
  COUNT(DISTINCT o.id) as orders,
  SUM(o.total) as revenue,
  AVG(o.total) as avg_order_value
FROM silver.tenants t
LEFT JOIN silver.customers c ON t.id = c.tenant_id  
LEFT JOIN silver.orders o ON t.id = o.tenant_id
WHERE o.status = 'completed'
GROUP BY t.name
ORDER BY revenue DESC;
"""  # noqa: W291 (verbatim, trailing spaces included)
# seed 001 (shared/seeds/001_b41f502644a53491.txt, lines 189-196): "Customer Acquisition Trends"
SEED_001_CUSTOMER_ACQUISITION = """SELECT 
  DATE_TRUNC('month', created_at) as month,
  tenant_id,
  COUNT(*) as new_customers,
  LAG(COUNT(*)) OVER (PARTITION BY tenant_id ORDER BY DATE_TRUNC('month', created_at)) as prev_month
FROM silver.customers
GROUP BY DATE_TRUNC('month', created_at), tenant_id
ORDER BY month DESC;
"""  # noqa: W291 (verbatim, trailing spaces included)

TS = pa.timestamp("us", tz="UTC")
MONEY = pa.decimal128(10, 2)
N_CUSTOMERS = 30
N_FIRST = 12  # rows of core_customer version 0
N_DELETED = 5  # removed by the overwrite that makes version 2


def _id(n: int) -> str:
    return str(uuid.UUID(int=n))


def _make_rows() -> dict[str, list[dict]]:
    rnd = random.Random(7)
    t0 = datetime(2024, 1, 1, tzinfo=UTC)
    tenants = [
        {
            "id": _id(i + 1),
            "name": name,
            "slug": name.lower(),
            "domain": None,
            "is_active": True,
            "settings": "{}",
            "created_at": t0,
            "updated_at": t0,
        }
        for i, name in enumerate(["Acme", "Globex", "Initech"])
    ]
    customers = []
    for i in range(N_CUSTOMERS):
        created = t0 + timedelta(days=rnd.randrange(0, 150), hours=rnd.randrange(24))
        customers.append(
            {
                "id": _id(1000 + i),
                "tenant_id": tenants[i % 3]["id"],
                "email": f"c{i}@x.test",
                "first_name": f"F{i}",
                "last_name": f"L{i}",
                "phone": None,
                "is_active": True,
                "metadata": "{}",
                "created_at": created,
                "updated_at": created,
            }
        )
    orders = []
    for i in range(60):
        c = customers[rnd.randrange(N_CUSTOMERS)]
        if c["tenant_id"] == tenants[2]["id"]:
            status = "pending"  # Initech: no completed orders (the WHERE drops it)
        else:
            status = rnd.choice(["completed", "completed", "pending", "cancelled"])
        total = Decimal(rnd.randrange(500, 50_000)) / 100
        when = c["created_at"] + timedelta(days=rnd.randrange(1, 30))
        orders.append(
            {
                "id": _id(5000 + i),
                "tenant_id": c["tenant_id"],
                "customer_id": c["id"],
                "order_number": f"ORD-{i:05d}",
                "status": status,
                "subtotal": total,
                "tax": Decimal(0),
                "shipping": Decimal(0),
                "total": total,
                "order_date": when,
                "completed_at": when if status == "completed" else None,
                "metadata": "{}",
                "created_at": when,
                "updated_at": when,
            }
        )
    return {"tenants": tenants, "customers": customers, "orders": orders}


def _table(rows: list[dict], extra: dict | None = None) -> pa.Table:
    cols = {k: [r[k] for r in rows] for k in rows[0]}
    types = {k: TS for k in cols if k.endswith(("_at", "_date"))}
    types.update({k: MONEY for k in ("subtotal", "tax", "shipping", "total") if k in cols})
    arrays = {k: pa.array(v, types.get(k)) for k, v in cols.items()}
    return pa.table({**arrays, **(extra or {})})


def _bronze_orders(orders: list[dict]) -> list[dict]:
    """The change log: every order inserted, then every 4th pending one updated to completed."""
    log = [{**o, "_op": "I"} for o in orders]
    for o in orders[::4]:
        if o["status"] == "pending" and o["tenant_id"] != _id(3):
            log.append({**o, "status": "completed", "_op": "U"})
    return log


@pytest.fixture(scope="module")
def data():
    return _make_rows()


@pytest.fixture(scope="module")
def lake(tmp_path_factory, data):
    """The saas lake; ``commits`` maps each core_customer version to its commit time (ms)."""
    lake = LocalLake(tmp_path_factory.mktemp("lake"))
    bronze_log = _bronze_orders(data["orders"])
    write_deltalake(lake.table_uri("bronze", "core_tenant"), _table(data["tenants"]))
    write_deltalake(lake.table_uri("bronze", "core_order"), _table(bronze_log))
    write_deltalake(lake.table_uri("silver", "core_tenant"), _table(data["tenants"]))
    write_deltalake(lake.table_uri("silver", "core_order"), _table(data["orders"]))
    uri = lake.table_uri("silver", "core_customer")
    customers = data["customers"]
    write_deltalake(uri, _table(customers[:N_FIRST]))
    time.sleep(0.02)  # distinct commit milliseconds
    write_deltalake(uri, _table(customers[N_FIRST:]), mode="append")
    time.sleep(0.02)
    write_deltalake(uri, _table(customers[N_DELETED:]), mode="overwrite")
    lake.bronze_log = bronze_log
    lake.commits = {c["version"]: c["timestamp"] for c in DeltaTable(uri).history()}
    return lake


@pytest.fixture(scope="module")
def con(lake):
    con = connect(lake, ":memory:")
    yield con
    con.close()


def _current_customers(data) -> list[dict]:
    return data["customers"][N_DELETED:]


# --------------------------------------------------------------------------- the seeds' SQL
def test_seed_000_verbatim_is_not_valid_sql_because_of_the_hyphenated_database(lake, con):
    with pytest.raises(ValueError, match="cannot parse"):
        run_query(SEED_000_REVENUE_BY_TENANT, lake, con=con)


def test_seed_000_runs_on_saas_compat_with_only_the_schema_renamed(lake, con, data):
    sql = SEED_000_REVENUE_BY_TENANT.replace("lakehouse-poc_dev_bronze.", "saas_compat.")
    got = run_query(sql, lake, con=con)

    names = {t["id"]: t["name"] for t in data["tenants"]}
    ids, revenue = defaultdict(set), defaultdict(Decimal)
    for row in lake.bronze_log:  # the bronze change log, as the seed's crawler tables were
        if row["status"] == "completed":
            ids[names[row["tenant_id"]]].add(row["id"])
            revenue[names[row["tenant_id"]]] += row["total"]
    expected = sorted(((n, len(ids[n]), revenue[n]) for n in ids), key=lambda r: r[2], reverse=True)
    assert got.columns == ["tenant_name", "total_orders", "total_revenue"]
    assert got.rows() == expected
    assert len(expected) == 2  # Initech has no completed order


def test_seed_001_tenant_performance_runs_unchanged(lake, con, data):
    got = run_query(SEED_001_TENANT_PERFORMANCE, lake, con=con)

    # the query's own semantics: customers x orders per tenant (a fan-out join), then the filter
    expected = []
    for t in data["tenants"]:
        cs = [c for c in _current_customers(data) if c["tenant_id"] == t["id"]] or [None]
        os_ = [o for o in data["orders"] if o["tenant_id"] == t["id"]]
        pairs = [(c, o) for c in cs for o in os_ if o["status"] == "completed"]
        if not pairs:
            continue
        revenue = sum(o["total"] for _, o in pairs)
        expected.append(
            (
                t["name"],
                len({c["id"] for c, _ in pairs if c}),
                len({o["id"] for _, o in pairs}),
                revenue,
                float(revenue) / len(pairs),
            )
        )
    expected.sort(key=lambda r: r[3], reverse=True)
    assert got.columns == ["tenant_name", "customers", "orders", "revenue", "avg_order_value"]
    rows = got.rows()
    assert [r[:4] for r in rows] == [e[:4] for e in expected]
    assert [r[4] for r in rows] == pytest.approx([e[4] for e in expected])


def test_seed_001_customer_acquisition_runs_unchanged(lake, con, data):
    got = run_query(SEED_001_CUSTOMER_ACQUISITION, lake, con=con)

    counts: dict[tuple[datetime, str], int] = defaultdict(int)
    for c in _current_customers(data):
        month = c["created_at"].replace(day=1, hour=0, minute=0, second=0, microsecond=0)
        counts[(month, c["tenant_id"])] += 1
    expected = []
    for tenant in {t for _, t in counts}:
        months = sorted(m for m, t in counts if t == tenant)
        for i, m in enumerate(months):
            prev = counts[(months[i - 1], tenant)] if i else None
            expected.append((m, tenant, counts[(m, tenant)], prev))

    assert got.columns == ["month", "tenant_id", "new_customers", "prev_month"]
    rows = got.rows()
    assert [r[0] for r in rows] == sorted((r[0] for r in rows), reverse=True)  # ORDER BY month DESC
    assert sorted(rows) == sorted(expected)


# ---------------------------------------------------------------------------- time travel
def test_time_travel_by_version(lake, con, data):
    count = "SELECT count(*) AS n FROM silver.customers FOR VERSION AS OF {v}"
    assert run_query(count.format(v=0), lake, con=con)["n"].to_list() == [N_FIRST]
    assert run_query(count.format(v=1), lake, con=con)["n"].to_list() == [N_CUSTOMERS]
    assert run_query(count.format(v=2), lake, con=con)["n"].to_list() == [N_CUSTOMERS - N_DELETED]
    got = run_query(
        "SELECT c.email FROM lakehouse_silver.core_customer FOR VERSION AS OF 0 AS c ORDER BY 1",
        lake,
        con=con,
    )
    assert got["email"].to_list() == sorted(c["email"] for c in data["customers"][:N_FIRST])


def test_time_travel_by_timestamp(lake, con):
    def at(ms: int) -> int:
        ts = datetime.fromtimestamp(ms / 1000, tz=UTC).strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]
        sql = f"SELECT count(*) AS n FROM silver.customers FOR TIMESTAMP AS OF TIMESTAMP '{ts} UTC'"
        return run_query(sql, lake, con=con)["n"].item()

    v0, v1, v2 = (lake.commits[v] for v in (0, 1, 2))
    assert at(v0) == N_FIRST
    assert at(v1 - 1) == N_FIRST
    assert at(v1) == N_CUSTOMERS
    assert at(v2 + 60_000) == N_CUSTOMERS - N_DELETED
    with pytest.raises(ValueError, match="no version at or before"):
        at(v0 - 1)


def test_time_travel_joins_a_snapshot_with_current_tables(lake, con):
    sql = """
        SELECT t.name, count(*) AS n
        FROM silver.customers FOR VERSION AS OF 0 c
        JOIN silver.tenants t ON t.id = c.tenant_id
        GROUP BY t.name ORDER BY t.name"""
    got = run_query(sql, lake, con=con)
    assert sum(got["n"].to_list()) == N_FIRST
    leftovers = con.execute(
        "SELECT count(*) FROM duckdb_views() WHERE temporary AND view_name LIKE '__asof_%'"
    ).fetchone()[0]
    assert leftovers == 0


def test_as_of_argument(lake, con):
    sql = "SELECT count(*) AS n FROM silver.customers"
    assert run_query(sql, lake, con=con, as_of={"silver.customers": 1})["n"].item() == N_CUSTOMERS
    when = datetime.fromtimestamp(lake.commits[0] / 1000, tz=UTC) + timedelta(microseconds=500)
    assert run_query(sql, lake, con=con, as_of={"silver.customers": when})["n"].item() == N_FIRST
    with pytest.raises(ValueError, match="silver.nope"):
        run_query(sql, lake, con=con, as_of={"silver.nope": 1})


def test_time_travel_errors(lake, con):
    with pytest.raises(ValueError, match="no version 9; the latest is 2"):
        run_query("SELECT * FROM silver.customers FOR VERSION AS OF 9", lake, con=con)
    with pytest.raises(ValueError, match="unknown table 'silver.nope'"):
        run_query("SELECT * FROM silver.nope FOR VERSION AS OF 0", lake, con=con)


def test_compat_view_time_travel_keeps_the_alias_column(lake, con):
    got = run_query(
        "SELECT sum(total_amount) AS s FROM saas_compat.core_order FOR VERSION AS OF 0",
        lake,
        con=con,
    )
    assert got["s"].item() == sum(r["total"] for r in lake.bronze_log)


# ------------------------------------------------------------------------- errors, dialect
def test_unknown_table_names_it_and_lists_the_catalog(lake, con):
    with pytest.raises(ValueError) as err:
        run_query("SELECT * FROM silver.custmers", lake, con=con)
    message = str(err.value)
    assert "'silver.custmers'" in message
    assert "Did you mean silver.customers" in message
    assert "lakehouse_silver.core_customer" in message and "saas.orders" in message
    assert "_catalog" not in message


def test_a_repeated_query_still_names_a_table_gone_since(lake, con):
    sql = "SELECT count(*) AS n FROM silver.customers"
    for _ in range(2):  # the second run takes the cached DuckDB text
        assert run_query(sql, lake, con=con)["n"].item() == N_CUSTOMERS - N_DELETED
    empty = duckdb.connect()  # a catalog without the table
    with pytest.raises(UnknownTableError, match="unknown table 'silver.customers'"):
        run_query(sql, lake, con=empty)
    empty.close()


@pytest.mark.parametrize("name", ["json", "pl", "plain", "rel"])
def test_a_name_python_could_resolve_is_an_unknown_table(lake, con, name):
    # DuckDB's replacement scans would try a Python object of that name in our module
    with pytest.raises(UnknownTableError, match=f"unknown table '{name}'"):
        run_query(f"SELECT * FROM {name}", lake, con=con)


def test_ctes_and_athena_catalog_prefix_resolve(lake, con):
    sql = """
        WITH big AS (SELECT * FROM awsdatacatalog.lakehouse_silver.core_order WHERE total > 100)
        SELECT count(*) AS n FROM big"""
    expected = len([o for o in _make_rows()["orders"] if o["total"] > 100])
    assert run_query(sql, lake, con=con)["n"].item() == expected


def test_parse_error_carries_sqlglot_message(lake, con):
    with pytest.raises(ValueError, match="cannot parse the SQL as athena: .*Line 1"):
        run_query("SELECT FROM WHERE (", lake, con=con)
    with pytest.raises(ValueError, match="one SQL statement"):
        run_query("SELECT 1; SELECT 2", lake, con=con)


def test_athena_functions_transpile_and_run(lake, con, data):
    sql = """
        SELECT date_format(date_trunc('month', created_at), '%Y-%m') AS month,
               approx_distinct(tenant_id) AS tenants,
               count(*) AS n
        FROM saas.customers
        GROUP BY 1 ORDER BY 1"""
    duck = transpile(sql)
    assert "APPROX_COUNT_DISTINCT" in duck and "STRFTIME" in duck
    got = run_query(sql, lake, con=con)
    by_month: dict[str, list[str]] = defaultdict(list)
    for c in _current_customers(data):
        by_month[c["created_at"].strftime("%Y-%m")].append(c["tenant_id"])
    assert got.rows() == [(m, len(set(t)), len(t)) for m, t in sorted(by_month.items())]


def test_duckdb_dialect_passes_through(lake, con):
    got = run_query(
        "SELECT count(*) AS n FROM silver.orders WHERE list_contains(['completed'], status)",
        lake,
        con=con,
        dialect="duckdb",
    )
    assert got["n"].item() == sum(o["status"] == "completed" for o in _make_rows()["orders"])


def test_run_query_without_a_connection_opens_the_catalog(lake):
    got = run_query("SELECT count(*) AS n FROM saas.tenants", lake)
    assert got["n"].item() == 3


# ------------------------------------------------------------------------------ output
def test_query_command_formats(lake, con):
    sql = "SELECT name, slug FROM silver.tenants ORDER BY name"
    text = query_command(sql, lake, "table", con=con)
    assert "Acme" in text and "Initech" in text and text.endswith("(3 rows)")
    rows = list(csv.reader(io.StringIO(query_command(sql, lake, "csv", con=con))))
    assert rows == [
        ["name", "slug"],
        ["Acme", "acme"],
        ["Globex", "globex"],
        ["Initech", "initech"],
    ]
    parsed = json.loads(query_command(sql, lake, "json", con=con))
    assert parsed[0] == {"name": "Acme", "slug": "acme"} and len(parsed) == 3
    with pytest.raises(ValueError, match="output format"):
        query_command(sql, lake, "xml", con=con)


def test_json_output_keeps_decimals_and_timestamps_readable(lake, con):
    df = run_query("SELECT total, order_date FROM silver.orders ORDER BY id LIMIT 1", lake, con=con)
    row = json.loads(format_frame(df, "json"))[0]
    assert Decimal(row["total"]) == df["total"].item()
    assert row["order_date"].startswith(str(df["order_date"].item().date()))


def test_a_query_without_tables_runs_on_any_connection(lake):
    mem = duckdb.connect()
    assert run_query("SELECT 42 AS answer", lake, con=mem, dialect="duckdb").rows() == [(42,)]


@pytest.mark.integration
def test_s3_lake_catalog_is_in_process_with_time_travel(moto_s3, data):
    boto3 = pytest.importorskip("boto3")
    from lakehouse.storage import S3Lake

    endpoint = moto_s3
    boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1").create_bucket(
        Bucket="bucket"
    )
    lake = S3Lake(
        "s3://bucket/lake",
        endpoint_url=endpoint,
        access_key_id="testing",
        secret_access_key="testing",
    )
    uri = lake.table_uri("silver", "core_customer")
    opts = lake.storage_options
    write_deltalake(uri, _table(data["customers"][:N_FIRST]), storage_options=opts)
    write_deltalake(uri, _table(data["customers"][N_FIRST:]), mode="append", storage_options=opts)
    with pytest.raises(ValueError, match="in-process only"):
        connect(lake, "/tmp/catalog.duckdb")
    s3con = connect(lake)
    try:
        sql = "SELECT count(*) AS n FROM silver.customers"
        assert run_query(sql, lake, con=s3con)["n"].item() == N_CUSTOMERS
        old = run_query(sql + " FOR VERSION AS OF 0", lake, con=s3con)
        assert old["n"].item() == N_FIRST
        registered = s3con.execute(
            "SELECT count(*) FROM duckdb_views() WHERE temporary AND view_name LIKE '__delta_%'"
        ).fetchall()[0][0]
        assert registered == 1  # the snapshot's dataset was released after the query
    finally:
        s3con.close()


def test_every_caller_of_format_frame_gets_nested_values_as_text(lake, con):
    """``format_frame`` itself (``lakehouse demo`` and ``query_command`` call it without the
    CLI): a list, a struct, a binary value and a duration print in every format."""
    sql = (
        "SELECT 1 AS id, [1, 2] AS l, {'a': 1.50::DECIMAL(10,2), 'd': DATE '2024-01-31'} AS s, "
        "from_hex('00ff') AS bin, [from_hex('0a')] AS bins"
    )
    frame = run_query(sql, lake, con=con, dialect="duckdb")
    frame = frame.with_columns(pl.duration(seconds=5).alias("wait"))
    (row,) = list(csv.DictReader(io.StringIO(format_frame(frame, "csv"))))
    assert json.loads(row["l"]) == [1, 2]
    assert json.loads(row["s"]) == {"a": "1.50", "d": "2024-01-31"}
    assert (row["bin"], json.loads(row["bins"]), row["wait"]) == ("\\x00ff", ["\\x0a"], "PT5S")
    (parsed,) = json.loads(format_frame(frame, "json"))
    assert parsed["l"] == [1, 2] and parsed["bin"] == "\\x00ff"
    assert "(1 row)" in format_frame(frame, "table")
    csv_text = query_command(sql, lake, "csv", con=con, dialect="duckdb")
    assert json.loads(next(csv.DictReader(io.StringIO(csv_text)))["l"]) == [1, 2]
