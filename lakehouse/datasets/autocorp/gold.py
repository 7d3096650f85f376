"""Gold metrics of the ``autocorp`` dataset (seed 002): sales, parts, vendors, services, customers
and inventory, computed from the silver current state of the database tables.

Data contract (every table is written to ``gold/autocorp_<name>``; see ``gold.model`` for types):
- Sales metrics count only orders with ``sales_order.status = 'Completed'`` (the source also has
  Pending, Cancelled and Refunded orders, which are not revenue); line items belong to an order
  through ``order_id``. Parts revenue = Σ ``sales_order_parts.line_total``, service revenue =
  Σ ``sales_order_services.line_total`` (both pre-tax; ``total_amount`` adds 8.25 % tax).
- Parts are identified by ``sku``; name and vendor come from ``auto_parts`` (a line whose SKU is
  not in ``auto_parts`` keeps a null name/vendor). Service categories come from ``service``.
- Customers are the ``customers`` database table (silver ``customers``); the CSV drop
  (``customers_csv``) is a separate extract and is not used here.
- No PII column (email, phone) is output.

Metric definitions:
- ``revenue_by_month``: per month of ``order_date`` (first day, UTC): completed orders,
  parts revenue, service revenue, total revenue (parts + services).
- ``top_parts``: per SKU sold: orders, units (Σ quantity), revenue; ranked by revenue.
- ``top_vendors``: per vendor of the SKUs sold: SKUs sold, orders, units, revenue; ranked.
- ``service_mix``: per service category: service lines, quantity, labor minutes (Σ line
  ``labor_minutes``, already × quantity), labor cost (Σ ``labor_cost`` × quantity), parts cost,
  revenue (Σ ``line_total`` = labor cost + parts cost).
- ``customer_value_by_state``: per customer ``state``: customers, customers with a completed order,
  completed orders, revenue (Σ ``total_amount``: what the customers paid, tax included) and
  revenue per customer. Orders of unknown customers are left out.
- ``inventory_value``: per vendor of ``auto_parts`` (seed 002: "Parts inventory", one row per SKU,
  no stock quantity): parts (SKUs), inventory value = Σ ``price`` (one unit of each SKU at list
  price), average price, latest ``inventory_date``.
"""

from __future__ import annotations

import polars as pl

from lakehouse.gold.model import (
    GoldMetric,
    count,
    money_ratio,
    money_sum,
    month_start,
    n_unique,
    zero_fill,
)

DATASET = "autocorp"
REVENUE_STATUSES = ("Completed",)


def _completed(f: dict[str, pl.DataFrame]) -> pl.DataFrame:
    return f["sales_order"].filter(pl.col("status").is_in(REVENUE_STATUSES))


def _completed_lines(f: dict[str, pl.DataFrame], table: str) -> pl.DataFrame:
    ids = _completed(f).select("order_id")
    return f[table].join(ids, on="order_id")


def _ranked(frame: pl.DataFrame, key: str) -> pl.DataFrame:
    out = frame.sort(["revenue", key], descending=[True, False], nulls_last=True)
    return out.with_row_index("rank", offset=1).with_columns(pl.col("rank").cast(pl.Int64))


def revenue_by_month(f: dict[str, pl.DataFrame]) -> pl.DataFrame:
    month = month_start(pl.col("order_date")).alias("month")
    orders = _completed(f).select("order_id", month)
    per_month = orders.group_by("month").agg(count().alias("orders"))
    parts = (
        _completed_lines(f, "sales_order_parts")
        .join(orders, on="order_id")
        .group_by("month")
        .agg(money_sum(pl.col("line_total")).alias("parts_revenue"))
    )
    services = (
        _completed_lines(f, "sales_order_services")
        .join(orders, on="order_id")
        .group_by("month")
        .agg(money_sum(pl.col("line_total")).alias("service_revenue"))
    )
    out = per_month.join(parts, on="month", how="left").join(services, on="month", how="left")
    out = zero_fill(out, ["parts_revenue", "service_revenue"])
    total = (pl.col("parts_revenue") + pl.col("service_revenue")).cast(pl.Decimal(38, 2))
    return out.with_columns(total.alias("total_revenue")).sort("month")


def _parts_sold(f: dict[str, pl.DataFrame]) -> pl.DataFrame:
    catalog = f["auto_parts"].select("sku", "name", "vendor")
    return _completed_lines(f, "sales_order_parts").join(catalog, on="sku", how="left")


def top_parts(f: dict[str, pl.DataFrame]) -> pl.DataFrame:
    per_sku = (
        _parts_sold(f)
        .group_by("sku")
        .agg(
            pl.col("name").first(),
            pl.col("vendor").first(),
            n_unique(pl.col("order_id")).alias("orders"),
            pl.col("quantity").sum().cast(pl.Int64).alias("units"),
            money_sum(pl.col("line_total")).alias("revenue"),
        )
    )
    return _ranked(per_sku, "sku")


def top_vendors(f: dict[str, pl.DataFrame]) -> pl.DataFrame:
    per_vendor = (
        _parts_sold(f)
        .group_by("vendor")
        .agg(
            n_unique(pl.col("sku")).alias("skus_sold"),
            n_unique(pl.col("order_id")).alias("orders"),
            pl.col("quantity").sum().cast(pl.Int64).alias("units"),
            money_sum(pl.col("line_total")).alias("revenue"),
        )
    )
    return _ranked(per_vendor, "vendor")


def service_mix(f: dict[str, pl.DataFrame]) -> pl.DataFrame:
    catalog = f["service"].select("serviceid", "category")
    lines = _completed_lines(f, "sales_order_services").join(catalog, on="serviceid", how="left")
    return (
        lines.group_by("category")
        .agg(
            count().alias("service_lines"),
            pl.col("quantity").sum().cast(pl.Int64).alias("quantity"),
            pl.col("labor_minutes").sum().cast(pl.Int64).alias("labor_minutes"),
            money_sum(pl.col("labor_cost") * pl.col("quantity")).alias("labor_cost"),
            money_sum(pl.col("parts_cost")).alias("parts_cost"),
            money_sum(pl.col("line_total")).alias("revenue"),
        )
        .sort(["revenue", "category"], descending=[True, False], nulls_last=True)
    )


def customer_value_by_state(f: dict[str, pl.DataFrame]) -> pl.DataFrame:
    per_customer = (
        _completed(f)
        .group_by("customer_id")
        .agg(count().alias("orders"), money_sum(pl.col("total_amount")).alias("revenue"))
    )
    customers = f["customers"].select("customer_id", "state")
    joined = customers.join(per_customer, on="customer_id", how="left")
    per_state = joined.group_by("state").agg(
        count().alias("customers"),
        count(pl.col("orders")).alias("customers_with_orders"),
        pl.col("orders").sum().cast(pl.Int64).alias("orders"),
        money_sum(pl.col("revenue")).alias("revenue"),
    )
    return per_state.with_columns(
        money_ratio(pl.col("revenue"), pl.col("customers")).alias("revenue_per_customer")
    ).sort(["revenue", "state"], descending=[True, False], nulls_last=True)


def inventory_value(f: dict[str, pl.DataFrame]) -> pl.DataFrame:
    per_vendor = (
        f["auto_parts"]
        .group_by("vendor")
        .agg(
            count().alias("parts"),
            money_sum(pl.col("price")).alias("inventory_value"),
            pl.col("price").count().cast(pl.Int64).alias("_priced"),
            pl.col("inventory_date").max().alias("latest_inventory_date"),
        )
    )
    avg = money_ratio(pl.col("inventory_value"), pl.col("_priced")).alias("avg_price")
    return (
        per_vendor.with_columns(avg)
        .select("vendor", "parts", "inventory_value", "avg_price", "latest_inventory_date")
        .sort(["inventory_value", "vendor"], descending=[True, False], nulls_last=True)
    )


METRICS: tuple[GoldMetric, ...] = (
    GoldMetric(
        DATASET,
        "revenue_by_month",
        ("sales_order", "sales_order_parts", "sales_order_services"),
        revenue_by_month,
        "Per month of order_date (UTC), completed orders: order count, parts revenue "
        "(Σ sales_order_parts.line_total), service revenue (Σ sales_order_services.line_total), "
        "total revenue.",
        chart=("month", "total_revenue"),
    ),
    GoldMetric(
        DATASET,
        "top_parts",
        ("sales_order", "sales_order_parts", "auto_parts"),
        top_parts,
        "Parts (SKU, name, vendor from auto_parts) ranked by revenue from completed orders, with "
        "orders and units.",
        chart=("sku", "revenue"),
    ),
    GoldMetric(
        DATASET,
        "top_vendors",
        ("sales_order", "sales_order_parts", "auto_parts"),
        top_vendors,
        "Vendors (auto_parts.vendor of the SKUs sold) ranked by parts revenue from completed "
        "orders, with SKUs sold, orders and units.",
        chart=("vendor", "revenue"),
    ),
    GoldMetric(
        DATASET,
        "service_mix",
        ("sales_order", "sales_order_services", "service"),
        service_mix,
        "Per service category, completed orders: service lines, quantity, labor minutes, labor "
        "cost (labor_cost × quantity), parts cost and revenue (Σ line_total).",
        chart=("category", "revenue"),
    ),
    GoldMetric(
        DATASET,
        "customer_value_by_state",
        ("customers", "sales_order"),
        customer_value_by_state,
        "Per customer state: customers, customers with a completed order, completed orders, "
        "revenue (Σ total_amount, tax included) and revenue per customer.",
        chart=("state", "revenue"),
    ),
    GoldMetric(
        DATASET,
        "inventory_value",
        ("auto_parts",),
        inventory_value,
        "Per vendor of auto_parts: parts (SKUs), inventory value (Σ list price, one unit per "
        "SKU), average price and latest inventory date.",
        chart=("vendor", "inventory_value"),
    ),
)
