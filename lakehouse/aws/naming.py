"""The names Terraform (``terraform/``) and the Python side both use, and the constants behind them.

Zones and buckets, Glue (version, data-lake formats, jobs, their script keys, the package wheel's
key and the pip requirements the jobs install, pinned as pyproject.toml pins them), the raw
crawler's configuration, the event API's Lambda handler and routes; and the naming rules:
``name_prefix``, ``bucket_name``, ``glue_database_name``, ``glue_job_name``, ``crawler_name``,
``dms_task_id``, … (a project or environment outside its pattern is a ValueError). The HCL
templates render to exactly these names (``lakehouse_tests/terraform``).
"""

from __future__ import annotations

import re
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
TERRAFORM_DIR = REPO_ROOT / "terraform"
GENERATED_DIR = TERRAFORM_DIR / "generated"

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
