"""The aws profile's silver checks: Athena over the Glue catalog, so that Hudi tables (which the
Dagster process cannot read) are checked like Delta ones.

- The SQL rules agree with the local pandera schema on every registry table: the same bad rows
  fail the same (column, rule) with the same counts (the SQL runs on DuckDB through sqlglot, the
  way ``lakehouse.query`` runs Athena SQL locally).
- The checks as Dagster runs them: dagster-aws's FakeAthenaClient (its Stubber asserts every
  Athena call) with the queries recorded, the Glue catalog on the moto server.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import dagster as dg
import duckdb
import polars as pl
import pytest

from lakehouse.aws import checks as ac
from lakehouse.aws.athena import LakehouseAthenaResource
from lakehouse.aws.config import AwsConfig
from lakehouse.aws.glue_catalog import GlueCatalog, GlueCatalogResource, hive_columns, hive_type
from lakehouse.declarations import load_dataset
from lakehouse.quality.schemas import table_schema
from lakehouse.quality.validate import failure_cases
from lakehouse.query.sql import transpile
from lakehouse.registry.model import LOGICAL_TYPES, Column, TableSpec
from lakehouse.registry.types import table_polars_schema
from lakehouse_tests.shipped import DATASET_NAMES

N = 8  # rows of a test frame

# --- SQL rules == pandera schema -------------------------------------------------------------------


def _value(col: Column, dtype: pl.DataType, i: int):
    c = col.checks
    if dtype == pl.String:
        if "isin" in c:
            return c["isin"][i % len(c["isin"])]
        if "regex" in c:
            assert c["regex"] == r"^\d{8}$", "teach _value this pattern"
            return f"{10_000_000 + i}"
        return f"v{i}"
    base = c.get("ge", c.get("gt", 0))
    base = base + 1 if "gt" in c else base
    if isinstance(dtype, pl.Decimal):
        return Decimal(str(base)) + i
    if dtype.is_integer():
        return int(base) + i
    if dtype.is_float():
        return float(base) + i
    if dtype == pl.Boolean:
        return True
    if dtype == pl.Date:
        return date(2024, 1, 1) + timedelta(days=i)
    if isinstance(dtype, pl.Datetime):
        return datetime(2024, 1, 1, tzinfo=UTC) + timedelta(hours=i)
    if dtype == pl.Binary:
        return b"x"
    raise AssertionError(f"no test value for {dtype}")


def _bad(col: Column, dtype: pl.DataType, rule: str):
    c = col.checks
    if rule in ("ge", "gt"):
        v = c[rule] - 1
        return Decimal(str(v)) if isinstance(dtype, pl.Decimal) else dtype.to_python()(v)
    if rule in ("le", "lt"):
        v = c[rule] + 1
        return Decimal(str(v)) if isinstance(dtype, pl.Decimal) else dtype.to_python()(v)
    return {
        "isin": "not-allowed",
        "regex": "abc",
        "str_length_max": "x" * (int(c.get("str_length_max") or 0) + 1),
    }[rule]


def bad_frame(spec: TableSpec) -> pl.DataFrame:
    """``N`` valid rows, then one violation of every rule of every column (rows 1, 2, ... in
    turn) and a duplicate of row 0 in the last row for unique columns."""
    schema = table_polars_schema(spec)
    data = {c.name: [_value(c, schema[c.name], i) for i in range(N)] for c in spec.columns}
    row = 1
    for col in spec.columns:
        rules = [r for r in ("ge", "gt", "le", "lt", "isin", "regex", "str_length_max")]
        rules = [r for r in rules if col.checks.get(r) is not None]
        if not col.nullable and col.name not in spec.primary_key:
            rules.append("null")
        for rule in rules:
            data[col.name][row % (N - 1)] = (
                None if rule == "null" else _bad(col, schema[col.name], rule)
            )
            row += 1
        if col.checks.get("unique") or col.name in spec.primary_key:
            data[col.name][N - 1] = data[col.name][0]
    return pl.DataFrame(data, schema=schema)


_PANDERA_RULE = [
    (r"^not_nullable$", "not_null"),
    (r"^greater_than_or_equal_to", "ge"),
    (r"^less_than_or_equal_to", "le"),
    (r"^greater_than\(", "gt"),
    (r"^less_than\(", "lt"),
    (r"^isin", "isin"),
    (r"^str_matches", "regex"),
    (r"^str_length", "str_length_max"),
    (r"^(field|multiple_fields)_uniqueness$", "unique"),
]


def pandera_counts(frame: pl.DataFrame, spec: TableSpec) -> dict[str, int]:
    out: dict[str, int] = {}
    cases = failure_cases(frame, table_schema(spec))
    for column, check in cases.select("column", "check").iter_rows():
        rule = next(r for p, r in _PANDERA_RULE if re.match(p, check))
        if rule == "unique" and column == f"{spec.dataset}.{spec.name}":
            column = ",".join(spec.primary_key)  # pandera names the schema for a composite key
        out[f"{column}: {rule}"] = out.get(f"{column}: {rule}", 0) + 1
    return out


def sql_counts(frame: pl.DataFrame, spec: TableSpec) -> dict[str, int]:
    con = duckdb.connect()
    con.execute("CREATE SCHEMA db")
    con.register("frame", frame.to_arrow())
    con.execute(f'CREATE TABLE db."{spec.name}" AS SELECT * FROM frame')
    rules = ac.schema_rules(spec)
    (row,) = con.execute(transpile(ac.rule_query("db", spec.name, rules))).fetchall()
    assert row[0] == frame.height
    for rule in rules:  # and every sample query runs
        if rule.where_sql:
            con.execute(transpile(ac.sample_query("db", spec.name, rule))).fetchall()
    return {r.label: n for r, n in zip(rules, row[1:], strict=True) if n}


def _tables():
    return [
        pytest.param(t, id=f"{d}.{t.name}")
        for d in DATASET_NAMES
        for t in load_dataset(d).tables
        if t.primary_key
    ]


@pytest.mark.parametrize("spec", _tables())
def test_sql_rules_fail_the_rows_the_pandera_schema_fails(spec):
    frame = bad_frame(spec)
    expected, got = pandera_counts(frame, spec), sql_counts(frame, spec)
    assert expected, "the frame must break some rule of the table"
    assert set(got) == set(expected)
    # row rules count the same rows; uniqueness: pandera lists every duplicate, SQL the extras
    assert {k: v for k, v in got.items() if not k.endswith(": unique")} == {
        k: v for k, v in expected.items() if not k.endswith(": unique")
    }
    assert sql_counts(frame.head(0), spec) == {}  # an empty table passes


def test_composite_key_uniqueness_and_columns_missing_from_the_catalog():
    spec = TableSpec(
        dataset="t",
        name="order_item",
        columns=(
            Column("order_id", "int", nullable=False),
            Column("line", "int", nullable=False),
            Column("qty", "int", checks={"gt": 0}),
        ),
        primary_key=("order_id", "line"),
    )
    frame = pl.DataFrame(
        {"order_id": [1, 1, 2, 2], "line": [1, 2, 1, 1], "qty": [1, 0, 3, 4]},
        schema=table_polars_schema(spec),
    )
    assert sql_counts(frame, spec) == {"order_id,line: unique": 1, "qty: gt": 1}
    assert set(pandera_counts(frame, spec)) == {"order_id,line: unique", "qty: gt"}
    # a column the catalog lacks is skipped (pandera: required=False), the key rule needs both
    labels = [r.label for r in ac.schema_rules(spec, {"order_id", "qty"})]
    assert labels == ["order_id: not_null", "qty: gt"]


def test_catalog_types_are_the_types_the_spark_engine_writes():
    """The type part of the check compares the catalog with ``hive_type``: a Hudi table's catalog
    schema comes from the Spark engine's types (Hudi's catalog sync), so the two must agree."""
    pytest.importorskip("pyspark")
    from lakehouse.engine.spark.types import spark_type

    for logical in LOGICAL_TYPES:
        t = "decimal(12,2)" if logical == "decimal" else logical
        assert hive_type(t) == spark_type(t).simpleString(), t
    spec = load_dataset("autocorp").table("sales_order")
    catalog = {n: t for n, t in hive_columns(spec)}
    assert ac.type_mismatches(spec, catalog) == {}
    catalog["subtotal"] = "double"
    assert ac.type_mismatches(spec, catalog) == {
        "subtotal": {"expected": "decimal(12,2)", "catalog": "double"}
    }
    assert ac.type_mismatches(spec, {**catalog, "subtotal": "DECIMAL(12, 2)"}) == {}


# --- the checks in Dagster: FakeAthenaClient + moto Glue -------------------------------------------

DATABASES = {z: f"lh_{z}" for z in ("raw", "bronze", "silver", "gold")}


class ScriptedAthena:
    """dagster-aws's FakeAthenaClient answering each query with ``answer(query)``, recording the
    queries (its Stubber checks the Athena calls: start with the query and workgroup, poll)."""

    def __new__(cls, answer):
        import boto3
        from dagster_aws.athena import FakeAthenaClient

        class Scripted(FakeAthenaClient):
            queries: list[str] = []

            def execute_query(self, query, fetch_results=False, expected_states=None, **_):
                self.queries.append(query)
                # the fake writes only truthy items: counts go in as text ("0" is truthy)
                rows = [tuple(str(v) for v in row) for row in answer(query)]
                return super().execute_query(query, fetch_results, expected_states, rows)

        return Scripted(client=boto3.client("athena", region_name="us-east-1"), workgroup="lh-dev")


def _run_checks(checks: list, resources: dict, table: str) -> dict[str, dg.AssetCheckEvaluation]:
    """Run only ``checks`` (their silver tables are external here) in one in-process job."""
    keys = {k for c in checks for k in c.keys_by_input_name.values()} | {
        dg.AssetKey(["silver", table])
    }
    job = dg.define_asset_job("checks", selection=dg.AssetSelection.checks(*checks))
    defs = dg.Definitions(
        assets=[dg.AssetSpec(k) for k in keys], asset_checks=checks, jobs=[job], resources=resources
    )
    result = defs.resolve_job_def("checks").execute_in_process(raise_on_error=False)
    evaluations = [
        e.event_specific_data
        for e in result.all_events
        if e.event_type_value == "ASSET_CHECK_EVALUATION"
    ]
    return {e.check_name: e for e in evaluations}


@pytest.fixture
def glue(client):
    glue = client("glue")
    catalog = GlueCatalog(glue)
    for db in DATABASES.values():
        catalog.ensure_database(db)
    return catalog


@pytest.fixture
def resources(aws, monkeypatch):
    """The check resources, with ``athena.get_client()`` returning the given fake."""

    def make(fake) -> dict:
        monkeypatch.setattr(LakehouseAthenaResource, "get_client", lambda self: fake)
        return {
            "aws": AwsConfig(
                endpoint_url=aws,
                buckets={"silver": "lh-dev-silver"},
                glue_jobs={"bronze_to_silver": "lh-dev-bronze-to-silver"},
                glue_databases=DATABASES,
            ),
            "athena": LakehouseAthenaResource(workgroup="lh-dev", endpoint_url=aws),
            "glue_catalog": GlueCatalogResource(endpoint_url=aws),
        }

    return make


def test_hudi_silver_table_schema_check_passes_through_athena(resources, glue):
    from lakehouse.defs.aws import aws_schema_check

    spec = load_dataset("autocorp").table("sales_order")
    assert spec.table_format == "hudi"
    glue.register_hudi_table(
        "lh_silver", spec.name, "s3://b/silver/sales_order", hive_columns(spec)
    )
    rules = ac.schema_rules(spec)
    fake = ScriptedAthena(lambda q: [(42, *(0 for _ in rules))])
    evaluation = _run_checks([aws_schema_check(spec)], resources(fake), spec.name)["schema"]
    assert evaluation.passed and evaluation.blocking
    meta = {k: v.value for k, v in evaluation.metadata.items()}
    assert (meta["rows"], meta["failures"], meta["table_format"]) == (42, 0, "hudi")
    assert fake.queries == [ac.rule_query("lh_silver", "sales_order", rules)]
    query = fake.queries[0]
    assert query.startswith("SELECT count(*), ") and query.endswith(
        'FROM "lh_silver"."sales_order"'
    )
    assert "count_if(\"order_type\" NOT IN ('Parts', 'Service', 'Mixed'))" in query
    assert 'count("order_id") - count(DISTINCT "order_id")' in query  # the key is unique
    assert 'count_if("order_id" IS NULL)' in query


def test_hudi_silver_table_schema_check_fails_with_counts_samples_and_types(resources, glue):
    from lakehouse.defs.aws import aws_schema_check

    spec = load_dataset("autocorp").table("sales_order")
    columns = [(n, "double" if n == "subtotal" else t) for n, t in hive_columns(spec)]
    glue.register_hudi_table("lh_silver", spec.name, "s3://b/silver/sales_order", columns)
    rules = ac.schema_rules(spec)
    isin = next(i for i, r in enumerate(rules) if r.check == "isin")

    def answer(query):
        if query.startswith("SELECT count(*)"):
            return [(10, *(3 if i == isin else 0 for i in range(len(rules))))]
        return [("Refund",), ("Other",)]

    fake = ScriptedAthena(answer)
    evaluation = _run_checks([aws_schema_check(spec)], resources(fake), spec.name)["schema"]
    assert not evaluation.passed and evaluation.severity == dg.AssetCheckSeverity.ERROR
    details = evaluation.metadata["details"].value
    assert details["by_check"] == {"order_type: isin": 3, "subtotal: type": 1}
    assert details["types"] == {"subtotal": {"expected": "decimal(12,2)", "catalog": "double"}}
    assert [s["failure_case"] for s in details["sample"]] == ["Refund", "Other"]
    assert fake.queries[1] == (
        'SELECT CAST("order_type" AS varchar) FROM "lh_silver"."sales_order" '
        "WHERE \"order_type\" NOT IN ('Parts', 'Service', 'Mixed') LIMIT 5"
    )


def test_a_table_missing_from_the_catalog_fails_without_querying(resources, glue):
    from lakehouse.defs.aws import aws_schema_check

    spec = load_dataset("autocorp").table("customers")  # Hudi, SCD2
    fake = ScriptedAthena(lambda q: [])
    evaluation = _run_checks([aws_schema_check(spec)], resources(fake), spec.name)["schema"]
    assert not evaluation.passed
    assert "not in the Glue catalog" in evaluation.metadata["error"].value
    assert fake.queries == []


def test_references_check_counts_orphans_through_athena(resources, glue):
    """sales_order_parts (Delta) references sales_order (Hudi) and auto_parts: Athena joins the
    formats."""
    from lakehouse.defs.aws import aws_references_check

    autocorp = load_dataset("autocorp")
    spec = autocorp.table("sales_order_parts")
    check = aws_references_check(spec, autocorp)
    fake = ScriptedAthena(
        lambda q: [("order_id → sales_order.order_id", 2), ("sku → auto_parts.sku", "0")]
    )
    evaluation = _run_checks([check], resources(fake), spec.name)["references"]
    assert not evaluation.passed and evaluation.severity == dg.AssetCheckSeverity.WARN
    assert evaluation.metadata["orphans"].value == {"order_id → sales_order.order_id": 2}
    (query,) = fake.queries
    refs = [("order_id", "sales_order", "order_id"), ("sku", "auto_parts", "sku")]
    assert query == ac.references_query("lh_silver", spec, refs)
    assert 'NOT IN (SELECT p."order_id" FROM "lh_silver"."sales_order" AS p' in query
    assert " UNION ALL " in query


def test_the_aws_profile_gets_the_athena_checks_with_the_local_names():
    from lakehouse.defs.checks import silver_checks, step_check_specs

    for name in DATASET_NAMES:
        dataset = load_dataset(name)
        local = {k for c in silver_checks(dataset, "local") for k in c.check_keys}
        assert {k.name for k in local} <= {"references"}  # the silver step evaluates the rest
        local |= {
            s.key for t in dataset.tables if t.primary_key for s in step_check_specs(t, dataset)
        }
        remote = {k for c in silver_checks(dataset, "aws") for k in c.check_keys}
        # freshness is defined apart on AWS (defs.freshness), reconciliation is local only
        assert remote == {k for k in local if k.name not in ("reconciliation", "freshness")}
        specs = [s for c in silver_checks(dataset, "aws") for s in c.check_specs]
        assert {s.name for s in specs if s.blocking} == {"schema"}
        hudi = {t.name for t in dataset.tables if t.table_format == "hudi"}
        assert hudi <= {k.asset_key.path[-1] for k in remote if k.name == "schema"}
