"""Gold assets end to end: silver Delta tables in a local lake (written from the seeded source),
``dagster.materialize`` of every gold asset, then the gold Delta tables, their metadata and PII
masking. Also the masking rules and the empty-silver guard (no database needed for those)."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import dagster as dg
import polars as pl
import pytest
from deltalake import DeltaTable, write_deltalake

from lakehouse.declarations import load_dataset
from lakehouse.defs.gold import gold_assets, markdown_table, vega_lite
from lakehouse.defs.resources import LakeResource
from lakehouse.engine.core.metrics import load_metrics
from lakehouse.gold.masking import (
    mask_email,
    mask_email_expr,
    mask_phone,
    mask_phone_expr,
    mask_pii,
    pii_columns,
)
from lakehouse.source.seed import seed
from lakehouse.storage import LocalLake
from lakehouse_tests.gold import load_source_frames

DATASETS = ("saas", "autocorp")
EXPECTED_COLUMNS = {
    "saas_tenant_summary": ("tenant_id", "tenant_name", "customers", "orders", "completed_orders", "revenue", "avg_order_value"),
    "saas_revenue_by_month": ("tenant_id", "tenant_name", "month", "orders", "revenue"),
    "saas_customer_lifetime_value": ("customer_id", "tenant_id", "email", "orders", "revenue", "avg_order_value", "first_order_at", "last_order_at"),
    "saas_product_performance": ("product_id", "tenant_id", "sku", "name", "category", "price", "cost", "units", "orders", "revenue", "cost_of_goods", "margin"),
    "saas_subscription_analytics": ("tenant_id", "tenant_name", "subscriptions", "trial_subscriptions", "active_subscriptions", "cancelled_subscriptions", "expired_subscriptions", "churned_subscriptions", "mrr", "churn_rate"),
    "saas_event_funnel": ("tenant_id", "tenant_name", "sessions", "page_view_sessions", "product_view_sessions", "add_to_cart_sessions", "checkout_sessions", "purchase_sessions", "product_view_rate", "add_to_cart_rate", "checkout_rate", "purchase_rate", "overall_conversion"),
    "autocorp_revenue_by_month": ("month", "orders", "parts_revenue", "service_revenue", "total_revenue"),
    "autocorp_top_parts": ("rank", "sku", "name", "vendor", "orders", "units", "revenue"),
    "autocorp_top_vendors": ("rank", "vendor", "skus_sold", "orders", "units", "revenue"),
    "autocorp_service_mix": ("category", "service_lines", "quantity", "labor_minutes", "labor_cost", "parts_cost", "revenue"),
    "autocorp_customer_value_by_state": ("state", "customers", "customers_with_orders", "orders", "revenue", "revenue_per_customer"),
    "autocorp_inventory_value": ("vendor", "parts", "inventory_value", "avg_price", "latest_inventory_date"),
}  # fmt: skip
MD_SEPARATOR = re.compile(r"^\|( --- \|)+$")


def _all_gold_assets() -> list[dg.AssetsDefinition]:
    return [a for d in DATASETS for a in gold_assets(load_dataset(d))]


def _materialize(root) -> dict[str, dict]:
    """Materialize every gold asset into the lake at ``root``; ``{table key: metadata}``."""
    result = dg.materialize(_all_gold_assets(), resources={"lake": LakeResource(root=str(root))})
    assert result.success
    return {
        ev.asset_key.path[1]: ev.materialization.metadata
        for ev in result.get_asset_materialization_events()
    }


def _write_silver(lake: LocalLake, frames: dict[str, pl.DataFrame]) -> None:
    """Write ``frames`` as silver tables, with silver's lineage columns (gold must ignore them)."""
    for name, frame in frames.items():
        with_lineage = frame.with_columns(
            pl.int_range(pl.len(), dtype=pl.Int64).alias("_sequence"),
            pl.lit(datetime(2025, 1, 1, tzinfo=UTC)).alias("_commit_ts"),
            pl.lit(f"raw/database/public/{name}/LOAD00000001.csv").alias("_source_file"),
        )
        write_deltalake(lake.uri(f"silver/{name}"), with_lineage.to_arrow(), mode="overwrite")


def _gold(lake: LocalLake, key: str) -> pl.DataFrame:
    return pl.from_arrow(DeltaTable(lake.uri(f"gold/{key}")).to_pyarrow_table())


def test_asset_keys_groups_and_deps():
    assets = _all_gold_assets()
    keys = {k.to_user_string() for a in assets for k in a.keys}
    assert keys == {f"gold/{k}" for k in EXPECTED_COLUMNS}
    for dataset in DATASETS:
        for metric in load_metrics(dataset):
            (asset,) = [a for a in assets if a.key == dg.AssetKey(["gold", metric.key])]
            assert asset.group_names_by_key[asset.key] == f"{dataset}_gold"
            assert set(asset.asset_deps[asset.key]) == {
                dg.AssetKey(["silver", t]) for t in metric.deps
            }
            assert asset.specs_by_key[asset.key].kinds == {"delta", "polars"}
            assert asset.descriptions_by_key[asset.key] == metric.description
    dg.Definitions(
        assets=assets, resources={"lake": LakeResource(root=".")}
    ).resolve_all_asset_specs()  # no key collisions across datasets


@pytest.mark.integration
def test_materialize_gold_from_silver(fresh_db, tmp_path):
    for dataset in DATASETS:
        seed(fresh_db, dataset, "small")
    frames = {d: load_source_frames(fresh_db, d) for d in DATASETS}
    lake = LocalLake(tmp_path / "lake")
    for d in DATASETS:
        _write_silver(lake, frames[d])

    metadata = _materialize(lake.root)

    assert set(metadata) == set(EXPECTED_COLUMNS)
    for dataset in DATASETS:
        for metric in load_metrics(dataset):
            gold = _gold(lake, metric.key)
            expected = metric.compute({t: frames[dataset][t] for t in metric.deps})
            assert gold.columns == list(EXPECTED_COLUMNS[metric.key])
            assert gold.height == expected.height > 0, metric.key
            meta = metadata[metric.key]
            assert meta["rows"].value == gold.height
            assert meta["delta_version"].value == 0
            preview = meta["preview"].value.splitlines()
            assert preview[0] == "| " + " | ".join(gold.columns) + " |"
            assert MD_SEPARATOR.match(preview[1])
            assert len(preview) == 2 + min(10, gold.height)
            if metric.chart:
                spec = meta["chart"].value
                assert spec["$schema"].startswith("https://vega.github.io/schema/vega-lite/")
                assert spec["encoding"]["x"]["field"] == metric.chart[0]
                assert spec["data"]["values"]
    # totals survive the trip through silver and gold Delta tables
    summary = _gold(lake, "saas_tenant_summary")
    assert summary["customers"].sum() == frames["saas"]["core_customer"].height
    assert summary["orders"].sum() == frames["saas"]["core_order"].height

    # masking: no raw email (or its local part) in any gold table
    emails = set(frames["saas"]["core_customer"]["email"]) | set(
        frames["autocorp"]["customers"]["email"]
    )
    clv = _gold(lake, "saas_customer_lifetime_value")
    assert clv["email"].str.contains(r"^[^@]?\*\*\*@").all()
    for key in EXPECTED_COLUMNS:
        gold = _gold(lake, key)
        for col, dtype in gold.schema.items():
            if dtype == pl.String:
                assert not set(gold[col].drop_nulls()) & emails, (key, col)
    locals_ = {e.split("@")[0] for e in frames["saas"]["core_customer"]["email"]}
    assert not {m.split("@")[0] for m in clv["email"]} & {x for x in locals_ if len(x) > 1}

    # a second run overwrites (new Delta version, same rows)
    again = _materialize(lake.root)
    assert again["saas_tenant_summary"]["delta_version"].value == 1
    assert _gold(lake, "saas_tenant_summary").height == summary.height


def test_materialize_gold_on_an_empty_lake(tmp_path):
    """No silver table yet: every gold table is written empty with its columns, no crash."""
    lake = LocalLake(tmp_path / "lake")
    metadata = _materialize(lake.root)
    for key, columns in EXPECTED_COLUMNS.items():
        gold = _gold(lake, key)
        assert gold.columns == list(columns) and gold.height == 0, key
        assert metadata[key]["rows"].value == 0
        assert metadata[key]["preview"].value.count("\n") == 1  # header + separator


def test_masking_rules():
    assert mask_email("jane.doe@example.com") == "j***@example.com"
    assert mask_email("no-at-sign") == "***"
    assert mask_email(None) is None
    assert mask_phone("(555) 123-4567") == "***-4567"
    assert mask_phone("+1 555.010.9999 ext 12") == "***-9912"
    assert mask_phone("12") == "***"
    assert mask_phone(None) is None
    emails = ["jane.doe@example.com", "a@b.org", "@x.com", "plain", None, "Ü.ber@d.de"]
    phones = ["(555) 123-4567", "555 0000", "12", None, "", "***-4567"]
    frame = pl.DataFrame({"email": emails, "phone": phones})
    masked = frame.select(mask_email_expr("email"), mask_phone_expr(pl.col("phone")))
    assert masked["email"].to_list() == [mask_email(e) for e in emails]
    assert masked["phone"].to_list() == [mask_phone(p) for p in phones]
    # idempotent, so the asset's guard may re-apply it
    twice = masked.select(mask_email_expr("email"), mask_phone_expr("phone"))
    assert twice.equals(masked)
    pii = pii_columns(load_dataset("autocorp"), ("customers",))
    assert pii == {"email": "email", "phone": "phone"}
    guarded = mask_pii(frame.with_columns(pl.lit(1).alias("n")), pii)
    assert guarded["email"].to_list() == masked["email"].to_list()
    assert guarded["n"].to_list() == [1] * len(emails)


def test_preview_and_chart_helpers():
    frame = pl.DataFrame(
        {"month": [datetime(2024, 1, 1).date(), datetime(2024, 2, 1).date()], "v": [1.5, None]}
    )
    md = markdown_table(frame)
    assert md.splitlines() == [
        "| month | v |",
        "| --- | --- |",
        "| 2024-01-01 | 1.5 |",
        "| 2024-02-01 |  |",
    ]
    assert vega_lite(frame, "month", "v")["mark"]["type"] == "line"
    bars = vega_lite(pl.DataFrame({"k": ["a|b"] * 30, "v": range(30)}), "k", "v")
    assert bars["mark"] == "bar" and len(bars["data"]["values"]) == 20
    assert markdown_table(pl.DataFrame({"k": ["a|b"]})).splitlines()[2] == "| a\\|b |"
