"""Seeding (exact counts, consistent values, determinism), CSV drops and the churn workload,
against a real embedded PostgreSQL."""

from __future__ import annotations

import csv
import time
from datetime import date, datetime
from decimal import Decimal

import polars as pl
import psycopg
import pytest

from lakehouse.datasets.autocorp import generator as autocorp_gen
from lakehouse.datasets.autocorp.generator import drops as autocorp_drops
from lakehouse.datasets.saas import generator as saas_gen
from lakehouse.declarations import load_dataset
from lakehouse.source.churn import apply_random_changes, run_churn
from lakehouse.source.seed import seed, table_counts

AUTOCORP_SMALL = {
    "auto_parts": 400,
    "customers": 1_149,
    "service": 110,
    "service_parts": 1_074,
    "sales_order": 1_000,
    "sales_order_parts": 2_135,
    "sales_order_services": 644,
}

# invariants that must hold after seeding and after any amount of churn: (name, SQL → 0 rows)
AUTOCORP_INVARIANTS = {
    "order total = subtotal + tax": "select order_id from sales_order where total_amount <> subtotal + tax",
    "order subtotal = sum of lines": """
        select o.order_id from sales_order o
        where o.subtotal <> coalesce((select sum(line_total) from sales_order_parts p where p.order_id = o.order_id), 0)
                          + coalesce((select sum(line_total) from sales_order_services s where s.order_id = o.order_id), 0)""",
    "line_total = quantity × unit_price": "select line_item_id from sales_order_parts where line_total <> quantity * unit_price",
    "sales_order_parts.sku exists in auto_parts": "select sku from sales_order_parts where sku not in (select sku from auto_parts)",
    "service_parts.sku exists in auto_parts": "select sku from service_parts where sku not in (select sku from auto_parts)",
    "sales_order.customer_id exists": "select order_id from sales_order where customer_id not in (select customer_id from customers)",
}  # fmt: skip
SAAS_INVARIANTS = {
    "order total = subtotal + tax + shipping": "select id from core_order where total <> subtotal + tax + shipping",
    "order subtotal = sum of items": """
        select o.id from core_order o
        where o.subtotal <> coalesce((select sum(total) from core_orderitem i where i.order_id = o.id), 0)""",
    "item total = quantity × unit_price − discount": "select id from core_orderitem where total <> quantity * unit_price - discount",
    "completed_at iff completed": "select id from core_order where (status = 'completed') <> (completed_at is not null)",
    "item tenant = order tenant": "select i.id from core_orderitem i join core_order o on o.id = i.order_id where i.tenant_id <> o.tenant_id",
    "order tenant = customer tenant": "select o.id from core_order o join core_customer c on c.id = o.customer_id where o.tenant_id <> c.tenant_id",
}  # fmt: skip
INVARIANTS = {"autocorp": AUTOCORP_INVARIANTS, "saas": SAAS_INVARIANTS}


def assert_invariants(dsn: str, dataset: str) -> None:
    with psycopg.connect(dsn) as conn:
        for name, query in INVARIANTS[dataset].items():
            bad = conn.execute(f"select count(*) from ({query}) q").fetchone()[0]
            assert bad == 0, f"{dataset}: {name} fails for {bad} rows"


def _all_rows(module, scale: str, seed_: int) -> dict[str, list[tuple]]:
    return {name: list(rows) for name, _, rows in module.generate(scale, seed_)}


# --- generators ----------------------------------------------------------------------------------


@pytest.mark.parametrize("module", [autocorp_gen, saas_gen], ids=["autocorp", "saas"])
def test_generator_is_deterministic_for_a_seed(module):
    first = _all_rows(module, "small", 7)
    assert first == _all_rows(module, "small", 7)
    assert first != _all_rows(module, "small", 8)


@pytest.mark.parametrize("module", [autocorp_gen, saas_gen], ids=["autocorp", "saas"])
def test_generator_columns_match_the_registry(module):
    spec = load_dataset("autocorp" if module is autocorp_gen else "saas")
    order = [t.name for t in spec.database_tables]
    seen = []
    for name, columns, rows in module.generate("small", 1):
        assert list(columns) == spec.table(name).column_names
        assert all(len(r) == len(columns) for r in rows)
        seen.append(name)
    assert sorted(seen) == sorted(order)


def test_autocorp_scales_multiply_orders_and_customers():
    assert autocorp_gen.row_counts("small") == AUTOCORP_SMALL
    medium = autocorp_gen.row_counts("medium")
    assert medium["customers"] == 11_490 and medium["sales_order_parts"] == 21_350
    assert medium["auto_parts"] == 400 and medium["service"] == 110
    assert autocorp_gen.row_counts("large")["sales_order"] == 100_000
    with pytest.raises(ValueError):
        autocorp_gen.row_counts("huge")


def test_saas_scales():
    medium = saas_gen.expected_rows("medium")
    assert (medium["core_tenant"], medium["core_customer"]) == (8, 6_400)
    assert (medium["core_order"], medium["core_event"]) == (51_200, 320_000)
    assert 560_000 < sum(medium.values()) < 600_000
    assert saas_gen.expected_rows("large")["core_customer"] == 32_000


# --- CSV drops -----------------------------------------------------------------------------------


def test_customers_csv_has_header_and_rows(tmp_path):
    path = autocorp_gen.write_customers_csv(tmp_path / "customers-20251121.csv", 20_000, seed=3)
    with open(path, newline="") as fh:
        header = next(csv.reader(fh))
    assert header == load_dataset("autocorp").table("customers_csv").column_names
    df = pl.read_csv(path, infer_schema=False)
    assert df.height == 20_000
    assert df["customer_id"].cast(pl.Int64).to_list() == list(range(1, 20_001))
    assert df["email"].n_unique() == 20_000
    assert df.null_count().row(0) == (0,) * len(header)
    assert df["created_at"].str.to_datetime("%Y-%m-%d %H:%M:%S").max() <= datetime(2025, 11, 21, 12)
    assert df["phone"].str.len_chars().max() <= 20
    again = autocorp_gen.write_customers_csv(tmp_path / "again.csv", 20_000, seed=3)
    assert path.read_bytes() == again.read_bytes()


@pytest.mark.slow
def test_customers_csv_full_size_is_fast(tmp_path):
    start = time.monotonic()
    path = autocorp_gen.write_customers_csv(tmp_path / "customers-20251121.csv", 1_200_000)
    elapsed = time.monotonic() - start
    assert pl.scan_csv(path).select(pl.len()).collect().item() == 1_200_000
    assert elapsed < 60  # a few seconds on an idle machine; generous for loaded CI


def test_sales_orders_csv_injects_the_documented_bad_rows(tmp_path):
    day = date(2025, 11, 21)
    info = autocorp_gen.write_sales_orders_csv(
        tmp_path / "sales_orders-20251121.csv", day, 1_000, seed=5
    )
    assert info["rows"] == 1_000 and info["bad_rows"] == 10
    assert info["bad_by_kind"] == {
        "negative_amount": 3, "unparseable_date": 3, "missing_required": 2, "wrong_field_count": 2,
    }  # fmt: skip
    columns = load_dataset("autocorp").table("sales_orders_csv").column_names
    with open(info["path"], newline="") as fh:
        reader = csv.reader(fh)
        assert next(reader) == columns
        rows = list(reader)
    assert len(rows) == 1_000
    found = {k: [] for k in autocorp_drops.BAD_KINDS}
    for row in rows:
        if len(row) != len(columns):
            found["wrong_field_count"].append(int(row[0]))
            continue
        rec = dict(zip(columns, row, strict=True))
        if rec["customer_id"] == "":
            found["missing_required"].append(int(rec["order_id"]))
        elif Decimal(rec["total_amount"]) < 0:
            found["negative_amount"].append(int(rec["order_id"]))
        else:
            try:
                when = datetime.strptime(rec["order_date"], "%Y-%m-%d %H:%M:%S")
            except ValueError:
                found["unparseable_date"].append(int(rec["order_id"]))
                continue
            assert when.date() == day
            assert Decimal(rec["total_amount"]) == Decimal(rec["subtotal"]) + Decimal(rec["tax"])
            assert rec["order_type"] in ("Parts", "Service", "Mixed")
    assert {k: sorted(v) for k, v in found.items()} == {
        k: sorted(v) for k, v in info["bad_order_ids"].items()
    }
    ids = [int(r[0]) for r in rows]
    assert len(set(ids)) == 1_000
    other = autocorp_gen.write_sales_orders_csv(
        tmp_path / "next.csv", date(2025, 11, 22), 1_000, seed=5
    )
    with open(other["path"], newline="") as fh:
        next_ids = {int(r[0]) for r in list(csv.reader(fh))[1:]}
    assert not next_ids & set(ids)


def test_sales_orders_csv_without_bad_rows(tmp_path):
    info = autocorp_gen.write_sales_orders_csv(tmp_path / "s.csv", date(2025, 1, 2), 300, 1, 0.0)
    assert info["bad_rows"] == 0 and sum(info["bad_by_kind"].values()) == 0


# --- seeding -------------------------------------------------------------------------------------


@pytest.mark.integration
def test_autocorp_small_seed_has_exact_counts_and_consistent_values(fresh_db):
    counts = seed(fresh_db, "autocorp", "small", seed=11)
    assert counts == AUTOCORP_SMALL
    assert table_counts(fresh_db, "autocorp") == AUTOCORP_SMALL
    assert_invariants(fresh_db, "autocorp")
    with psycopg.connect(fresh_db) as conn:
        assert (
            conn.execute("select count(*) from service where serviceid !~ '^[0-9]{8}$'").fetchone()[
                0
            ]
            == 0
        )
        assert conn.execute(
            "select count(*) from sales_order o where (order_type = 'Service') <>"
            " not exists (select 1 from sales_order_parts p where p.order_id = o.order_id)"
        ).fetchone()[0] == 0  # fmt: skip
        assert (
            conn.execute("select pg_typeof(labor_cost)::text from service limit 1").fetchone()[0]
            == "money"
        )
        vendors = {r[0] for r in conn.execute("select distinct vendor from auto_parts")}
        assert {"AutoZone", "RockAuto"} <= vendors
        # sequences continue after the loaded ids
        new_id = conn.execute(
            "insert into customers (first_name, last_name, email) values ('a', 'b', 'a.b@x.io') returning customer_id"
        ).fetchone()[0]  # fmt: skip
        assert new_id == 1_150


@pytest.mark.integration
def test_saas_small_seed_follows_the_ratios(fresh_db):
    counts = seed(fresh_db, "saas", "small")
    tenants, customers = counts["core_tenant"], counts["core_customer"]
    assert (tenants, customers) == (2, 100)
    assert counts["core_order"] == customers * saas_gen.ORDERS_PER_CUSTOMER
    assert counts["core_event"] == customers * saas_gen.EVENTS_PER_CUSTOMER
    assert counts["core_subscription"] == customers
    assert counts["core_product"] == tenants * 12
    assert counts["core_order"] <= counts["core_orderitem"] <= 5 * counts["core_order"]
    assert 2.5 < counts["core_orderitem"] / counts["core_order"] < 3.7
    assert counts["core_invoice"] >= counts["core_subscription"]
    assert_invariants(fresh_db, "saas")


@pytest.mark.integration
def test_reseeding_is_idempotent_and_deterministic(fresh_db):
    def fingerprint():
        with psycopg.connect(fresh_db) as conn:
            return conn.execute(
                "select md5(string_agg(o::text, ',' order by o.order_number)) from core_order o"
            ).fetchone()[0]

    first = seed(fresh_db, "saas", "small", seed=5)
    digest = fingerprint()
    assert seed(fresh_db, "saas", "small", seed=5) == first
    assert fingerprint() == digest


# --- churn ---------------------------------------------------------------------------------------


@pytest.mark.integration
@pytest.mark.parametrize("dataset", ["autocorp", "saas"])
def test_churn_commits_changes_that_the_database_agrees_with(fresh_db, dataset):
    before = seed(fresh_db, dataset, "small")
    stats = apply_random_changes(fresh_db, dataset, 120, seed=4)
    assert stats.failed == 0, stats.errors
    assert stats.rolled_back == 6  # every 20th transaction
    assert stats.transactions == 114
    assert sum(stats.inserts.values()) > 0
    assert sum(stats.updates.values()) > 0
    assert sum(stats.deletes.values()) > 0
    assert sum(stats.pk_updates.values()) >= 1
    after = table_counts(fresh_db, dataset)
    assert {t: after[t] - before[t] for t in after} == {t: stats.net(t) for t in after}
    assert after != before
    assert_invariants(fresh_db, dataset)


@pytest.mark.integration
def test_churn_pk_updates_change_keys(fresh_db):
    seed(fresh_db, "autocorp", "small")
    with psycopg.connect(fresh_db) as conn:
        skus_before = {r[0] for r in conn.execute("select sku from auto_parts")}
    stats = apply_random_changes(fresh_db, "autocorp", 200, seed=9)
    with psycopg.connect(fresh_db) as conn:
        skus_after = {r[0] for r in conn.execute("select sku from auto_parts")}
    # a SKU may be renamed twice, so at most one vanished original per key update
    assert 1 <= len(skus_before - skus_after) <= stats.pk_updates["auto_parts"]
    assert all("-R" in sku for sku in skus_after - skus_before if "-N" not in sku)
    assert len(skus_after) == len(skus_before) + stats.inserts["auto_parts"]


@pytest.mark.integration
def test_run_churn_is_rate_limited(fresh_db):
    seed(fresh_db, "saas", "small")
    start = time.monotonic()
    stats = run_churn(fresh_db, "saas", rate=150, duration=2.0, seed=1)
    elapsed = time.monotonic() - start
    assert 1.9 <= elapsed < 10
    assert stats.failed == 0, stats.errors
    assert 0 < stats.changes <= 150 * 2.0 + 100  # at most one transaction over the pace
    start = time.monotonic()
    capped = run_churn(fresh_db, "saas", rate=10_000, duration=30, seed=2, max_changes=40)
    assert 40 <= capped.changes < 40 + 100
    assert time.monotonic() - start < 20


def test_the_workload_is_the_declarations_and_a_dataset_without_one_is_not_churned(
    tmp_path, monkeypatch, capsys
):
    from lakehouse.cli import main
    from lakehouse.datasets.saas.workload import SaasWorkload
    from lakehouse.declarations import DeclarationError, shipped_dir
    from lakehouse.source.churn import workload_class

    assert workload_class("saas") is SaasWorkload
    text = (shipped_dir() / "saas" / "defs.yaml").read_text()
    text = text.replace("name: saas", "name: quiet").replace("sql_aliases: true", "")
    text = "\n".join(
        line for line in text.splitlines() if not line.lstrip().startswith(("workload:", "gold:"))
    )
    (tmp_path / "defs" / "quiet").mkdir(parents=True)
    (tmp_path / "defs" / "quiet" / "defs.yaml").write_text(text)
    monkeypatch.setenv("LAKEHOUSE_DEFS", str(tmp_path / "defs"))
    monkeypatch.setenv("LAKEHOUSE_ROOT", str(tmp_path / "lake"))
    monkeypatch.setenv("LAKEHOUSE_SOURCE_DSN", "postgresql://nobody@127.0.0.1:1/none")  # unused
    with pytest.raises(DeclarationError, match="declares no churn workload — fix: add"):
        workload_class("quiet")
    assert main(["source", "churn", "--dataset", "quiet", "--duration", "0"]) == 2
    assert "declares no churn workload" in capsys.readouterr().err
