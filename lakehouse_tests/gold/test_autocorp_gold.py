"""autocorp gold metrics against independent SQL on the seeded source (real PostgreSQL, scale
small = seed 002's database sizes). See ``test_saas_gold`` for the method."""

from __future__ import annotations

import polars as pl
import pytest

from lakehouse.datasets.autocorp import gold
from lakehouse.source.seed import seed
from lakehouse_tests.gold import (
    assert_metrics_equal_sql,
    assert_metrics_keep_columns_on_empty_inputs,
    load_source_frames,
)

pytestmark = pytest.mark.integration


SQL = {
    "revenue_by_month": """
        with o as (select order_id, date_trunc('month', order_date)::date as month
                   from sales_order where status = 'Completed'),
             p as (select order_id, sum(line_total) as v from sales_order_parts group by order_id),
             s as (select order_id, sum(line_total) as v from sales_order_services group by order_id)
        select o.month, count(*) as orders,
               coalesce(sum(p.v), 0) as parts_revenue, coalesce(sum(s.v), 0) as service_revenue,
               coalesce(sum(p.v), 0) + coalesce(sum(s.v), 0) as total_revenue
        from o left join p on p.order_id = o.order_id left join s on s.order_id = o.order_id
        group by o.month""",
    "top_parts": """
        select row_number() over (order by sum(l.line_total) desc, l.sku collate "C") as rank,
               l.sku, a.name, a.vendor, count(distinct l.order_id) as orders,
               sum(l.quantity) as units, sum(l.line_total) as revenue
        from sales_order_parts l
        join sales_order o on o.order_id = l.order_id and o.status = 'Completed'
        left join auto_parts a on a.sku = l.sku
        group by l.sku, a.name, a.vendor""",
    "top_vendors": """
        select row_number() over (order by sum(l.line_total) desc, a.vendor collate "C") as rank,
               a.vendor, count(distinct l.sku) as skus_sold, count(distinct l.order_id) as orders,
               sum(l.quantity) as units, sum(l.line_total) as revenue
        from sales_order_parts l
        join sales_order o on o.order_id = l.order_id and o.status = 'Completed'
        left join auto_parts a on a.sku = l.sku
        group by a.vendor""",
    "service_mix": """
        select v.category, count(*) as service_lines, sum(l.quantity) as quantity,
               sum(l.labor_minutes) as labor_minutes, sum(l.labor_cost * l.quantity) as labor_cost,
               sum(l.parts_cost) as parts_cost, sum(l.line_total) as revenue
        from sales_order_services l
        join sales_order o on o.order_id = l.order_id and o.status = 'Completed'
        left join service v on v.serviceid = l.serviceid
        group by v.category""",
    "customer_value_by_state": """
        with pc as (select customer_id, count(*) as orders, sum(total_amount) as revenue
                    from sales_order where status = 'Completed' group by customer_id)
        select c.state, count(*) as customers, count(pc.orders) as customers_with_orders,
               coalesce(sum(pc.orders), 0) as orders, coalesce(sum(pc.revenue), 0) as revenue,
               round(coalesce(sum(pc.revenue), 0) / count(*), 2) as revenue_per_customer
        from customers c left join pc on pc.customer_id = c.customer_id
        group by c.state""",
    "inventory_value": """
        select vendor, count(*) as parts, coalesce(sum(price), 0) as inventory_value,
               round(avg(price), 2) as avg_price, max(inventory_date) as latest_inventory_date
        from auto_parts group by vendor""",
}
KEYS = {
    "revenue_by_month": ("month",),
    "top_parts": ("sku",),
    "top_vendors": ("vendor",),
    "service_mix": ("category",),
    "customer_value_by_state": ("state",),
    "inventory_value": ("vendor",),
}


@pytest.fixture
def autocorp_db(fresh_db):
    seed(fresh_db, "autocorp", "small")
    return fresh_db


def test_every_metric_equals_independent_sql(autocorp_db):
    assert_metrics_equal_sql(autocorp_db, "autocorp", gold.METRICS, SQL, KEYS)


def test_revenue_reconciles_across_metrics(autocorp_db):
    """Parts + services by month = Σ parts by SKU + Σ services by category = completed
    subtotals; revenue by state = completed total_amount of known customers."""
    frames = load_source_frames(autocorp_db, "autocorp")
    by_month = gold.revenue_by_month(frames)
    completed = frames["sales_order"].filter(pl.col("status") == "Completed")
    assert by_month["orders"].sum() == completed.height
    assert by_month["parts_revenue"].sum() == gold.top_parts(frames)["revenue"].sum()
    assert by_month["parts_revenue"].sum() == gold.top_vendors(frames)["revenue"].sum()
    assert by_month["service_revenue"].sum() == gold.service_mix(frames)["revenue"].sum()
    assert by_month["total_revenue"].sum() == completed["subtotal"].sum()
    assert gold.customer_value_by_state(frames)["revenue"].sum() == completed["total_amount"].sum()
    inventory = gold.inventory_value(frames)
    assert inventory["parts"].sum() == frames["auto_parts"].height == 400
    assert inventory["inventory_value"].sum() == frames["auto_parts"]["price"].sum()


def test_rankings_are_dense_and_ordered(autocorp_db):
    frames = load_source_frames(autocorp_db, "autocorp")
    for out in (gold.top_parts(frames), gold.top_vendors(frames)):
        assert out["rank"].to_list() == list(range(1, out.height + 1))
        revenue = out["revenue"].to_list()
        assert revenue == sorted(revenue, reverse=True)
        assert out["revenue"].min() > 0


def test_no_pii_in_outputs(autocorp_db):
    frames = load_source_frames(autocorp_db, "autocorp")
    for metric in gold.METRICS:
        out = metric.compute(frames)
        assert not {"email", "phone", "first_name", "last_name", "address"} & set(out.columns)


def test_metrics_on_empty_inputs_keep_their_columns(autocorp_db):
    assert_metrics_keep_columns_on_empty_inputs(autocorp_db, "autocorp", gold.METRICS)
