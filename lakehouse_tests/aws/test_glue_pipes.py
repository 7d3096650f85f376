"""The aws profile's silver and gold assets: Glue runs launched through PipesGlueClient.

A recording fake Glue client stands in for AWS Glue: it records ``get_job`` / ``start_job_run``
and, for ``start_job_run``, runs the real entry point (``glue_scripts/*.py``'s ``main``) in this
process with the job arguments as its ``sys.argv``, the way Glue would. The entry point talks
Pipes through the moto S3 server (context in, messages out); only the Spark engine call is
replaced by a stub (the engine is covered by ``lakehouse_tests/spark``). So the whole Pipes loop
is real: bootstrap arguments, S3 context injection, messages, metadata back in Dagster, then the
Glue catalog registration against moto.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import SimpleNamespace

import dagster as dg
import pytest

from lakehouse.aws.athena import LakehouseAthenaResource
from lakehouse.aws.config import AwsConfig
from lakehouse.aws.glue_catalog import GlueCatalogResource
from lakehouse.aws.glue_pipes import pipes_glue_client
from lakehouse.declarations import load_dataset
from lakehouse.engine.spark import jobs

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
BUCKETS = {
    z: f"lh-dev-{z}-123"
    for z in ("raw", "bronze", "silver", "gold", "athena-results", "glue-scripts")
}
JOBS = {"bronze_to_silver": "lh-dev-bronze-to-silver", "silver_to_gold": "lh-dev-silver-to-gold"}
DATABASES = {z: f"lh_{z}" for z in ("raw", "bronze", "silver", "gold")}


def _entry_point(job: str):
    spec = importlib.util.spec_from_file_location(
        f"glue_{job}", REPO / "glue_scripts" / f"{job}.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class FakeGlue:
    """Records Glue calls; ``start_job_run`` runs the entry point like Glue (see module docstring)."""

    def __init__(self, s3, monkeypatch):
        self.s3, self.monkeypatch = s3, monkeypatch
        self.meta = SimpleNamespace(region_name="us-east-1")
        self.calls: list[tuple[str, dict]] = []
        self.argv: list[list[str]] = []

    def get_job(self, JobName):
        self.calls.append(("get_job", {"JobName": JobName}))
        job = next(k for k, v in JOBS.items() if v == JobName)
        return {
            "Job": {
                "Name": JobName,
                "Command": {
                    "ScriptLocation": f"s3://{BUCKETS['glue-scripts']}/glue_scripts/{job}.py"
                },
            }
        }

    def start_job_run(self, **params):
        self.calls.append(("start_job_run", params))
        job = next(k for k, v in JOBS.items() if v == params["JobName"])
        argv = [f"{job}.py"] + [x for kv in params["Arguments"].items() for x in kv]
        self.argv.append(argv)
        with self.monkeypatch.context() as m:
            from dagster_pipes import PipesContext

            m.setattr(sys, "argv", argv)
            m.setattr(PipesContext, "_instance", None)  # a Glue run is a fresh process
            assert _entry_point(job).main(s3_client=self.s3, spark="<glue spark session>") == 0
        return {"JobRunId": "jr_0001"}

    def get_job_run(self, JobName, RunId):
        return {"JobRun": {"Id": RunId, "JobName": JobName, "JobRunState": "SUCCEEDED"}}


@pytest.fixture
def setup(client, aws, monkeypatch):
    s3 = client("s3")
    s3.create_bucket(Bucket=BUCKETS["glue-scripts"])
    glue = client("glue")
    for db in DATABASES.values():
        glue.create_database(DatabaseInput={"Name": db})
    config = AwsConfig(endpoint_url=aws, buckets=BUCKETS, glue_jobs=JOBS, glue_databases=DATABASES)
    fake = FakeGlue(s3, monkeypatch)
    pipes = pipes_glue_client(config, glue_client=fake, s3_client=s3)
    pipes._message_reader.interval = 0.2
    resources = {
        "aws": config,
        "pipes_glue": pipes,
        "glue_catalog": GlueCatalogResource(endpoint_url=aws),
        "athena": LakehouseAthenaResource(endpoint_url=aws),
    }
    return SimpleNamespace(fake=fake, resources=resources, glue=glue)


def _metadata(result, key: str) -> dict:
    mats = [
        e for e in result.get_asset_materialization_events() if e.asset_key.to_user_string() == key
    ]
    assert len(mats) == 1, key
    return {k: v.value for k, v in mats[0].materialization.metadata.items()}


def test_silver_asset_runs_the_glue_job_through_pipes(setup, monkeypatch):
    from lakehouse.defs.aws import aws_silver_asset

    seen = {}

    def engine(spark, args, log):  # the Spark engine's place in the entry point
        seen.update(spark=spark, args=args, locations=jobs.locations(args))
        log("applied")
        return [
            ("silver/customers", {"inserted": 3, "table_format": "hudi", "table_version": -1}),
            ("silver/customers_history", {"versions_added": 4}),
        ]

    monkeypatch.setattr(jobs, "bronze_to_silver", engine)
    autocorp = load_dataset("autocorp")
    asset = aws_silver_asset(autocorp, autocorp.table("customers"))
    result = dg.materialize([asset], resources=setup.resources)
    assert result.success

    (_, job), (_, run) = setup.fake.calls
    assert job == {"JobName": "lh-dev-bronze-to-silver"}  # the job's script checked first
    assert run["JobName"] == "lh-dev-bronze-to-silver"
    args = run["Arguments"]
    assert (
        args["--extra-py-files"]
        == f"s3://{BUCKETS['glue-scripts']}/wheels/lakehouse-0.1.0-py3-none-any.whl"
    )
    assert args["--datalake-formats"] == "delta,hudi"
    assert (args["--dataset"], args["--table"], args["--full-refresh"]) == (
        "autocorp",
        "customers",
        "false",
    )
    assert (
        args["--silver-root"] == f"s3://{BUCKETS['silver']}"
        and args["--hudi-database"] == "lh_silver"
    )
    assert {"--dagster-pipes-context", "--dagster-pipes-messages"} <= set(args)  # Pipes bootstrap
    # what the entry point parsed and where the engine would write
    assert seen["spark"] == "<glue spark session>" and seen["args"].table == "customers"
    assert seen["locations"].uri("silver/customers") == f"s3://{BUCKETS['silver']}/silver/customers"
    assert (
        seen["locations"]
        .uri("_state/tombstones/customers")
        .startswith(f"s3://{BUCKETS['silver']}/")
    )

    meta = _metadata(result, "silver/customers")
    assert meta["inserted"] == 3 and meta["table_format"] == "hudi"
    assert meta["AWS Glue Job Run ID"] == "jr_0001"
    assert _metadata(result, "silver/customers_history")["versions_added"] == 4
    # Hudi is synced by the job; the SCD2 history (Delta) is registered for Athena here
    tables = {t["Name"]: t for t in setup.glue.get_tables(DatabaseName="lh_silver")["TableList"]}
    assert set(tables) == {"customers_history"}
    assert tables["customers_history"]["Parameters"]["table_type"] == "DELTA"
    assert tables["customers_history"]["StorageDescriptor"]["Location"] == (
        f"s3://{BUCKETS['silver']}/silver/customers_history"
    )


def test_gold_asset_runs_the_gold_job_and_registers_the_table(setup, monkeypatch):
    from lakehouse.defs.aws import aws_gold_asset
    from lakehouse.engine.core.metrics import load_metrics

    monkeypatch.setattr(
        jobs,
        "silver_to_gold",
        lambda spark, args, log: [(f"gold/saas_{args.metric}", {"rows": 2, "delta_version": 0})],
    )
    saas = load_dataset("saas")
    metric = next(m for m in load_metrics("saas") if m.name == "tenant_summary")
    result = dg.materialize([aws_gold_asset(saas, metric)], resources=setup.resources)
    assert result.success
    run = setup.fake.calls[-1][1]
    assert (
        run["JobName"] == "lh-dev-silver-to-gold"
        and run["Arguments"]["--metric"] == "tenant_summary"
    )
    assert _metadata(result, "gold/saas_tenant_summary")["rows"] == 2
    table = setup.glue.get_table(DatabaseName="lh_gold", Name="saas_tenant_summary")["Table"]
    assert table["Parameters"]["table_type"] == "DELTA"
    assert (
        table["StorageDescriptor"]["Location"] == f"s3://{BUCKETS['gold']}/gold/saas_tenant_summary"
    )


def test_a_job_running_another_script_is_refused(setup, monkeypatch):
    from lakehouse.defs.aws import aws_silver_asset

    monkeypatch.setattr(
        setup.fake,
        "get_job",
        lambda JobName: {"Job": {"Command": {"ScriptLocation": "s3://x/old.py"}}},
    )
    saas = load_dataset("saas")
    result = dg.materialize(
        [aws_silver_asset(saas, saas.table("core_tenant"))],
        resources=setup.resources,
        raise_on_error=False,
    )
    assert not result.success
    assert not [c for c in setup.fake.calls if c[0] == "start_job_run"]


def test_aws_profile_resources_come_from_terraform_outputs(tmp_path, aws):
    import json

    from lakehouse.aws.terraform_outputs import TerraformOutputs
    from lakehouse.definitions import build_definitions
    from lakehouse.defs.resources import build_resources
    from lakehouse.profiles import Settings

    values = {n: {} for n in TerraformOutputs.names()}
    values.update(
        region="eu-west-1",
        name_prefix="lh-dev",
        buckets=BUCKETS,
        glue_databases=DATABASES,
        glue_jobs=JOBS,
        athena_workgroup="lh-dev",
        athena_results_location="s3://r/",
        sns_topic_arn="arn:sns",
        kms_key_arn="arn:kms",
        dms_replication_instance_arn="arn:dms",
    )
    path = tmp_path / "outputs.json"
    path.write_text(json.dumps({k: {"value": v, "type": "x"} for k, v in values.items()}))
    settings = Settings.from_env(
        {
            "LAKEHOUSE_PROFILE": "aws",
            "LAKEHOUSE_ROOT": str(tmp_path),
            "LAKEHOUSE_TERRAFORM_OUTPUTS": str(path),
            "LAKEHOUSE_AWS_ENDPOINT": aws,
        }
    )
    res = build_resources(settings)
    assert res["aws"].glue_jobs == JOBS and res["aws"].region == "eu-west-1"
    assert res["athena"].workgroup == "lh-dev" and res["s3"].endpoint_url == aws
    assert res["pipes_glue"].scripts_bucket == BUCKETS["glue-scripts"]
    assert {"glue_catalog", "dms", "datasync"} <= set(res)

    graph = build_definitions(settings).resolve_asset_graph()
    silver = graph.get(dg.AssetKey(["silver", "sales_order"]))
    assert {"spark", "glue", "hudi"} <= set(silver.kinds)
    assert {"spark", "glue", "delta"} <= set(
        graph.get(dg.AssetKey(["gold", "saas_tenant_summary"])).kinds
    )

    missing = AwsConfig.from_outputs(str(tmp_path / "absent.json"), "us-east-1")
    with pytest.raises(RuntimeError, match="terraform"):
        missing.require()


def test_a_users_declaration_is_shipped_to_the_glue_job_which_has_only_the_wheel(
    setup, monkeypatch, tmp_path
):
    """The declaration lives in the Dagster process's LAKEHOUSE_DEFS folder; the Glue run (a
    fresh process: no such folder, nothing registered) gets it through ``--declarations``."""
    import lakehouse.declarations as declarations
    from lakehouse.defs.aws import aws_silver_asset
    from lakehouse_tests.declared import declare_items

    declare_items(tmp_path / "defs", "shop", "SHOP_DSN")
    (tmp_path / "defs" / "shop" / "task-mappings.json").write_text('{"rules": []}')
    monkeypatch.setenv("LAKEHOUSE_DEFS", str(tmp_path / "defs"))
    shop = load_dataset("shop")
    seen = {}

    def engine(spark, args, log):  # what the job sees of the dataset, in a process without it
        seen["tables"] = [t.name for t in load_dataset(args.dataset).tables]
        return [("silver/items", {"inserted": 1})]

    monkeypatch.setattr(jobs, "bronze_to_silver", engine)
    start = setup.fake.start_job_run

    def glue_process(**params):  # the Glue run: the user's folder is not there
        with monkeypatch.context() as m:
            m.delenv("LAKEHOUSE_DEFS")
            m.setattr(declarations, "_cache", {})
            m.setattr(declarations, "_registered", {})
            with pytest.raises(declarations.DeclarationError, match="unknown dataset 'shop'"):
                load_dataset("shop")
            return start(**params)

    monkeypatch.setattr(setup.fake, "start_job_run", glue_process)
    asset = aws_silver_asset(shop, shop.table("items"))
    assert dg.materialize([asset], resources=setup.resources).success
    assert dg.materialize([asset], resources=setup.resources).success  # uploaded once
    assert seen["tables"] == ["items"]
    uri = setup.fake.argv[0][setup.fake.argv[0].index("--declarations") + 1]
    assert uri.startswith(f"s3://{BUCKETS['glue-scripts']}/declarations/shop/")
    s3 = setup.fake.s3
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=BUCKETS["glue-scripts"],
                                                  Prefix="declarations/")["Contents"]]  # fmt: skip
    prefix = uri.removeprefix(f"s3://{BUCKETS['glue-scripts']}/")
    assert sorted(keys) == [f"{prefix}defs.yaml", f"{prefix}task-mappings.json"]
    assert setup.fake.argv[1][setup.fake.argv[1].index("--declarations") + 1] == uri
