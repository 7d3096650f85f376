"""Gold metrics of the ``saas`` dataset (seeds 000/001): the business metrics seed 000 lists for
its Silver → Gold jobs (revenue by tenant, customer lifetime value, product performance,
subscription analytics, event funnel), computed from silver current state.

Data contract (every table is written to ``gold/saas_<name>``; see ``gold.model`` for types):
- Every output carries ``tenant_id`` so it can be isolated per tenant (``tenant_view``); per-tenant
  tables cover every tenant of ``core_tenant``, zero-filled when a tenant has no rows.
- "Revenue" is ``Σ core_order.total`` of orders with ``status = 'completed'`` (seeds 000/001:
  ``o.status = 'completed'``; ``total`` = subtotal + tax + shipping), except in
  ``product_performance`` where it is ``Σ core_orderitem.total`` (pre-tax line totals) of those
  orders, since tax and shipping cannot be attributed to a product.
- Customer emails are masked (``gold.masking``); no other PII column is output.

Multi-tenant isolation: ``tenant_view(frame, tenant_id)`` is the one filter a consumer uses to
see one tenant's rows of any saas gold table. The SQL counterpart, one view per tenant over the
gold tables (``WHERE tenant_id = '<id>'``), is created by the catalog, not here.

Metric definitions (and where they differ from the seeds' SQL):
- ``tenant_summary``: seed 001's "Tenant Performance Dashboard" query. That query joins
  ``customers`` and ``orders`` both on ``tenant_id`` and then filters ``o.status = 'completed'``,
  so its ``COUNT(DISTINCT c.id)`` is every customer of the tenant, its ``COUNT(DISTINCT o.id)`` the
  completed orders and ``AVG(o.total)`` the mean completed order total, but its ``SUM(o.total)``
  is multiplied by the tenant's customer count (join fan-out), and tenants without a completed
  order vanish. We keep the intended meaning: ``customers`` (all), ``orders`` (all statuses),
  ``completed_orders``, ``revenue`` (Σ total of completed orders, counted once) and
  ``avg_order_value`` (revenue / completed_orders, rounded to cents), for every tenant.
- ``subscription_analytics``: ``monthly_amount`` is the plan's *monthly* price whatever the
  ``billing_cycle`` (the generator and Django store the monthly price; a yearly plan's discount
  shows only on its invoices: amount = 12 × monthly × 0.85). So MRR = Σ ``monthly_amount`` of
  ``active`` subscriptions as stored, yearly ones included without conversion (trials pay
  nothing and are excluded). ``churned`` = cancelled + expired; ``churn_rate`` = churned /
  (active + churned), i.e. the share of subscriptions that got past trial and then ended.
- ``event_funnel``: a session (``session_id`` within a tenant) reaches stage k when it has at
  least one event of each of the stages 1..k (page_view → product_view → add_to_cart → checkout
  → purchase), in any order; each stage's rate is its sessions / the previous stage's sessions,
  ``overall_conversion`` = purchase sessions / page_view sessions.
"""

from __future__ import annotations

import polars as pl

from lakehouse.gold.masking import mask_email_expr
from lakehouse.gold.model import (
    GoldMetric,
    count,
    money_ratio,
    money_sum,
    month_start,
    n_unique,
    rate,
    zero_fill,
)

DATASET = "saas"
COMPLETED = pl.col("status") == "completed"
FUNNEL_STAGES = ("page_view", "product_view", "add_to_cart", "checkout", "purchase")


def tenant_view(frame: pl.DataFrame, tenant_id: str) -> pl.DataFrame:
    """The rows of one tenant of a saas gold (or silver) table: the multi-tenant isolation rule."""
    if "tenant_id" not in frame.columns:
        raise ValueError("tenant_view needs a frame with a tenant_id column")
    return frame.filter(pl.col("tenant_id") == tenant_id)


def _tenants(f: dict[str, pl.DataFrame]) -> pl.DataFrame:
    return f["core_tenant"].select(
        pl.col("id").alias("tenant_id"), pl.col("name").alias("tenant_name")
    )


def _completed_orders(f: dict[str, pl.DataFrame]) -> pl.DataFrame:
    return f["core_order"].filter(COMPLETED)


def tenant_summary(f: dict[str, pl.DataFrame]) -> pl.DataFrame:
    customers = f["core_customer"].group_by("tenant_id").agg(count().alias("customers"))
    orders = (
        f["core_order"]
        .group_by("tenant_id")
        .agg(
            count().alias("orders"),
            COMPLETED.sum().cast(pl.Int64).alias("completed_orders"),
            money_sum(pl.col("total").filter(COMPLETED)).alias("revenue"),
        )
    )
    out = (
        _tenants(f)
        .join(customers, on="tenant_id", how="left")
        .join(orders, on="tenant_id", how="left")
    )
    out = zero_fill(out, ["customers", "orders", "completed_orders", "revenue"])
    return out.with_columns(
        money_ratio(pl.col("revenue"), pl.col("completed_orders")).alias("avg_order_value")
    ).sort(["revenue", "tenant_id"], descending=[True, False])


def revenue_by_month(f: dict[str, pl.DataFrame]) -> pl.DataFrame:
    by_month = (
        _completed_orders(f)
        .with_columns(month_start(pl.col("order_date")).alias("month"))
        .group_by("tenant_id", "month")
        .agg(count().alias("orders"), money_sum(pl.col("total")).alias("revenue"))
    )
    return (
        by_month.join(_tenants(f), on="tenant_id", how="left")
        .select("tenant_id", "tenant_name", "month", "orders", "revenue")
        .sort("tenant_id", "month")
    )


def customer_lifetime_value(f: dict[str, pl.DataFrame]) -> pl.DataFrame:
    per_customer = (
        _completed_orders(f)
        .group_by("customer_id")
        .agg(
            count().alias("orders"),
            money_sum(pl.col("total")).alias("revenue"),
            pl.col("order_date").min().alias("first_order_at"),
            pl.col("order_date").max().alias("last_order_at"),
        )
    )
    customers = f["core_customer"].select(
        pl.col("id").alias("customer_id"), "tenant_id", mask_email_expr("email")
    )
    out = zero_fill(
        customers.join(per_customer, on="customer_id", how="left"), ["orders", "revenue"]
    )
    aov = money_ratio(pl.col("revenue"), pl.col("orders")).alias("avg_order_value")
    return out.select(
        "customer_id",
        "tenant_id",
        "email",
        "orders",
        "revenue",
        aov,
        "first_order_at",
        "last_order_at",
    ).sort(["revenue", "customer_id"], descending=[True, False])


def product_performance(f: dict[str, pl.DataFrame]) -> pl.DataFrame:
    sold = (
        f["core_orderitem"]
        .join(_completed_orders(f).select(pl.col("id").alias("order_id")), on="order_id")
        .group_by("product_id")
        .agg(
            pl.col("quantity").sum().cast(pl.Int64).alias("units"),
            n_unique(pl.col("order_id")).alias("orders"),
            money_sum(pl.col("total")).alias("revenue"),
        )
    )
    products = f["core_product"].select(
        pl.col("id").alias("product_id"), "tenant_id", "sku", "name", "category", "price", "cost"
    )
    out = zero_fill(
        products.join(sold, on="product_id", how="left"), ["units", "orders", "revenue"]
    )
    cogs = (pl.col("cost") * pl.col("units")).cast(pl.Decimal(38, 2))
    return (
        out.with_columns(cogs.alias("cost_of_goods"))
        .with_columns(
            (pl.col("revenue") - pl.col("cost_of_goods")).cast(pl.Decimal(38, 2)).alias("margin")
        )
        .sort(["revenue", "product_id"], descending=[True, False])
    )


def subscription_analytics(f: dict[str, pl.DataFrame]) -> pl.DataFrame:
    status = pl.col("status")
    per_tenant = (
        f["core_subscription"]
        .group_by("tenant_id")
        .agg(
            count().alias("subscriptions"),
            *[
                (status == s).sum().cast(pl.Int64).alias(s)
                for s in ("trial", "active", "cancelled", "expired")
            ],
            money_sum(pl.col("monthly_amount").filter(status == "active")).alias("mrr"),
        )
    )
    counts = ["subscriptions", "trial", "active", "cancelled", "expired", "mrr"]
    out = zero_fill(_tenants(f).join(per_tenant, on="tenant_id", how="left"), counts)
    out = out.rename({s: f"{s}_subscriptions" for s in ("trial", "active", "cancelled", "expired")})
    churned = pl.col("cancelled_subscriptions") + pl.col("expired_subscriptions")
    return (
        out.with_columns(churned.alias("churned_subscriptions"))
        .with_columns(
            rate(
                pl.col("churned_subscriptions"),
                pl.col("active_subscriptions") + pl.col("churned_subscriptions"),
            ).alias("churn_rate")
        )
        .select(
            "tenant_id",
            "tenant_name",
            "subscriptions",
            *[f"{s}_subscriptions" for s in ("trial", "active", "cancelled", "expired", "churned")],
            "mrr",
            "churn_rate",
        )
        .sort(["mrr", "tenant_id"], descending=[True, False])
    )


def event_funnel(f: dict[str, pl.DataFrame]) -> pl.DataFrame:
    kind = pl.col("event_type")
    sessions = (
        f["core_event"]
        .group_by("tenant_id", "session_id")
        .agg([(kind == s).any().alias(s) for s in FUNNEL_STAGES])
    )
    reached = [pl.all_horizontal(FUNNEL_STAGES[: i + 1]) for i in range(len(FUNNEL_STAGES))]
    per_tenant = sessions.group_by("tenant_id").agg(
        count().alias("sessions"),
        *[
            r.sum().cast(pl.Int64).alias(f"{s}_sessions")
            for r, s in zip(reached, FUNNEL_STAGES, strict=True)
        ],
    )
    cols = ["sessions", *[f"{s}_sessions" for s in FUNNEL_STAGES]]
    out = zero_fill(_tenants(f).join(per_tenant, on="tenant_id", how="left"), cols)
    rates = [
        rate(pl.col(f"{s}_sessions"), pl.col(f"{prev}_sessions")).alias(f"{s}_rate")
        for prev, s in zip(FUNNEL_STAGES, FUNNEL_STAGES[1:], strict=False)
    ]
    overall = rate(pl.col("purchase_sessions"), pl.col("page_view_sessions"))
    return out.with_columns(*rates, overall.alias("overall_conversion")).sort("tenant_id")


METRICS: tuple[GoldMetric, ...] = (
    GoldMetric(
        DATASET,
        "tenant_summary",
        ("core_tenant", "core_customer", "core_order"),
        tenant_summary,
        "Per tenant: customers, orders, completed orders, revenue (Σ total of completed orders) "
        "and average completed order value (seed 001's tenant performance dashboard).",
        chart=("tenant_name", "revenue"),
    ),
    GoldMetric(
        DATASET,
        "revenue_by_month",
        ("core_tenant", "core_order"),
        revenue_by_month,
        "Per tenant and month of order_date (UTC): completed orders and their revenue (Σ total).",
        chart=("month", "revenue"),
    ),
    GoldMetric(
        DATASET,
        "customer_lifetime_value",
        ("core_customer", "core_order"),
        customer_lifetime_value,
        "Per customer (email masked): completed orders, revenue, average order value, first and "
        "last completed order.",
    ),
    GoldMetric(
        DATASET,
        "product_performance",
        ("core_product", "core_order", "core_orderitem"),
        product_performance,
        "Per product: units, orders and revenue (Σ item total) from completed orders; cost of "
        "goods = cost × units; margin = revenue − cost × units.",
        chart=("category", "revenue"),
    ),
    GoldMetric(
        DATASET,
        "subscription_analytics",
        ("core_tenant", "core_subscription"),
        subscription_analytics,
        "Per tenant: subscriptions by status, MRR (Σ monthly_amount of active subscriptions, "
        "yearly ones as stored), churned (cancelled + expired), churn rate = churned / "
        "(active + churned).",
        chart=("tenant_name", "mrr"),
    ),
    GoldMetric(
        DATASET,
        "event_funnel",
        ("core_tenant", "core_event"),
        event_funnel,
        "Per tenant: distinct sessions reaching page_view → product_view → add_to_cart → "
        "checkout → purchase (each stage requires all earlier ones) and conversion rates.",
        chart=("tenant_name", "purchase_sessions"),
    ),
)
