"""The one environment resolver: ``local`` or ``aws``, and everything that follows from it.

Nothing else in the package reads the environment. ``Settings.from_env()`` is called at run time
(by the CLI, by ``definitions.py``, by tests with an explicit mapping), never at import time. The
settings are plain data; ``defs.resources.build_resources`` turns them into Dagster resources and
``declarations.served`` into the datasets a process serves.

Variables (all optional):
- ``LAKEHOUSE_PROFILE``: ``local`` (default) or ``aws``.
- ``LAKEHOUSE_ROOT``: the lake root; a folder (default ``.lakehouse``) or ``s3://bucket/prefix``.
- ``LAKEHOUSE_S3_ENDPOINT``: an S3-compatible endpoint (moto server, MinIO) for an ``s3://`` root.
- ``LAKEHOUSE_SOURCE_DSN``: an external PostgreSQL; unset in ``local`` = the embedded server
  under ``<root>/source/pgdata`` (a local root is required then).
- ``LAKEHOUSE_DATASETS``: comma-separated dataset names (default: every declared dataset).
- ``LAKEHOUSE_DEFS``: folders (``:``-separated) holding dataset declarations (``<name>/defs.yaml``)
  beside the shipped ones in ``lakehouse/datasets/``.
- ``AWS_REGION``: region for S3/Glue/Athena (default ``us-east-1``).
- ``LAKEHOUSE_ALERT_WEBHOOK`` / ``LAKEHOUSE_ALERT_SNS_TOPIC``: where failed runs are reported.
- ``LAKEHOUSE_TERRAFORM_OUTPUTS`` (aws): ``terraform output -json`` saved to a file (default
  ``.lakehouse/terraform-outputs.json``); ``LAKEHOUSE_AWS_ENDPOINT`` (aws): one endpoint for every
  AWS API (a moto server in tests).
- ``LAKEHOUSE_API_KEYS_FILE``: the event API's key file (sha256 hashes only); default: the lake
  object ``_state/api/keys.json``.
- ``LAKEHOUSE_API_MAX_BODY_BYTES`` (default 1048576), ``LAKEHOUSE_API_MAX_BATCH`` (records per
  request, default 500), ``LAKEHOUSE_API_RATE`` (requests/s per API key, default 50) and
  ``LAKEHOUSE_API_BURST`` (token-bucket size, default 100): limits of the event ingestion API.
- ``LAKEHOUSE_TICK_SECONDS`` (default 2; 5 on aws): the minimum interval of every sensor that
  moves data (each dataset's ``dms_files``, ``filesync_files`` and ``landing``, ``automation``,
  ``alert_on_run_failure``, ``events_raw_sensor``).
- ``LAKEHOUSE_AWS_OBSERVER_SECONDS`` (aws, default 300): the ``aws_raw_observer`` sensor's interval.
- ``LAKEHOUSE_WEBSERVER_URL``: the Dagster webserver a sensor asks to reload the code location
  when a dataset gained tables (``lakehouse dev`` sets it); unset: the UI's Reload definitions.
- ``LAKEHOUSE_CATCH_UP_MAX_BYTES`` (default 67108864, 64 MiB) and
  ``LAKEHOUSE_CATCH_UP_MAX_SECONDS`` (default 30): the bounds of a CDC catch-up inside a
  ``dms_files`` sensor tick (local profile): more WAL behind than that is a replication run, and
  a catch-up stops after that long (the next tick goes on).
- ``LAKEHOUSE_EVENTS_GRACE_SECONDS`` (default 120): how late after its key time an event object
  may land and still be signalled by ``events_raw_sensor`` (later ones wait for the next run).

Per-dataset knobs (freshness ``max_lag`` and check cron, maintenance cron and retentions) are in
each dataset's declaration (``declarations.model``), not here.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from lakehouse.storage import Lake, open_lake

PROFILES = ("local", "aws")
DEFAULT_ROOT = ".lakehouse"
# local: a 2 s tick keeps commit -> silver p95 near 10 s for 3 points of one core more than 5 s
# (bench/README.md); on AWS, DMS writes its files every minute and each tick lists S3
DEFAULT_TICK_SECONDS = 2
DEFAULT_AWS_TICK_SECONDS = 5
DEFAULT_AWS_OBSERVER_SECONDS = 300
DEFAULT_CATCH_UP_MAX_BYTES = 64 * 1024 * 1024
DEFAULT_CATCH_UP_MAX_SECONDS = 30.0
DEFAULT_EVENTS_GRACE_SECONDS = 120.0
DEFAULT_TERRAFORM_OUTPUTS = (
    ".lakehouse/terraform-outputs.json"  # aws.terraform_outputs.OUTPUTS_FILE
)


@dataclass(frozen=True)
class Settings:
    """Resolved configuration for one process."""

    profile: str = "local"
    root: str = DEFAULT_ROOT
    s3_endpoint: str | None = None
    source_dsn: str | None = None
    datasets: tuple[str, ...] = ()
    defs_dirs: tuple[str, ...] = ()
    region: str = "us-east-1"
    alert_webhook: str | None = None
    alert_sns_topic: str | None = None
    api_keys_file: str | None = None
    api_max_body_bytes: int = 1_048_576
    api_max_batch: int = 500
    api_rate_per_s: float = 50.0
    api_burst: float = 100.0
    terraform_outputs: str | None = None
    aws_endpoint: str | None = None
    tick_seconds: int = DEFAULT_TICK_SECONDS
    aws_observer_seconds: int = DEFAULT_AWS_OBSERVER_SECONDS
    catch_up_max_bytes: int = DEFAULT_CATCH_UP_MAX_BYTES
    catch_up_max_seconds: float = DEFAULT_CATCH_UP_MAX_SECONDS
    events_grace_seconds: float = DEFAULT_EVENTS_GRACE_SECONDS
    webserver_url: str | None = None
    extra: Mapping[str, str] = field(default_factory=dict, compare=False)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env
        profile = env.get("LAKEHOUSE_PROFILE", "local").strip().lower() or "local"
        if profile not in PROFILES:
            raise ValueError(f"LAKEHOUSE_PROFILE={profile!r}: expected one of {PROFILES}")
        root = env.get("LAKEHOUSE_ROOT", "").strip() or DEFAULT_ROOT
        if not root.startswith("s3://"):
            root = str(Path(root).resolve())
        datasets = tuple(
            d.strip() for d in env.get("LAKEHOUSE_DATASETS", "").split(",") if d.strip()
        )
        return cls(
            profile=profile,
            root=root,
            s3_endpoint=env.get("LAKEHOUSE_S3_ENDPOINT") or None,
            source_dsn=env.get("LAKEHOUSE_SOURCE_DSN") or None,
            datasets=datasets,
            defs_dirs=tuple(
                str(Path(d).resolve())
                for d in env.get("LAKEHOUSE_DEFS", "").split(os.pathsep)
                if d.strip()
            ),
            region=env.get("AWS_REGION", "us-east-1"),
            alert_webhook=env.get("LAKEHOUSE_ALERT_WEBHOOK") or None,
            alert_sns_topic=env.get("LAKEHOUSE_ALERT_SNS_TOPIC") or None,
            api_keys_file=env.get("LAKEHOUSE_API_KEYS_FILE") or None,
            api_max_body_bytes=_number(env, "LAKEHOUSE_API_MAX_BODY_BYTES", 1_048_576),
            api_max_batch=_number(env, "LAKEHOUSE_API_MAX_BATCH", 500),
            api_rate_per_s=_number(env, "LAKEHOUSE_API_RATE", 50.0),
            api_burst=_number(env, "LAKEHOUSE_API_BURST", 100.0),
            terraform_outputs=env.get("LAKEHOUSE_TERRAFORM_OUTPUTS") or DEFAULT_TERRAFORM_OUTPUTS,
            aws_endpoint=env.get("LAKEHOUSE_AWS_ENDPOINT") or None,
            tick_seconds=_number(
                env,
                "LAKEHOUSE_TICK_SECONDS",
                DEFAULT_AWS_TICK_SECONDS if profile == "aws" else DEFAULT_TICK_SECONDS,
            ),
            aws_observer_seconds=_number(
                env, "LAKEHOUSE_AWS_OBSERVER_SECONDS", DEFAULT_AWS_OBSERVER_SECONDS
            ),
            catch_up_max_bytes=_number(
                env, "LAKEHOUSE_CATCH_UP_MAX_BYTES", DEFAULT_CATCH_UP_MAX_BYTES
            ),
            catch_up_max_seconds=_number(
                env, "LAKEHOUSE_CATCH_UP_MAX_SECONDS", DEFAULT_CATCH_UP_MAX_SECONDS
            ),
            events_grace_seconds=_number(
                env, "LAKEHOUSE_EVENTS_GRACE_SECONDS", DEFAULT_EVENTS_GRACE_SECONDS
            ),
            webserver_url=env.get("LAKEHOUSE_WEBSERVER_URL") or None,
        )

    @property
    def is_local_root(self) -> bool:
        return not self.root.startswith("s3://")

    @property
    def state_dir(self) -> Path:
        """Local folder for process state (embedded PostgreSQL data, Dagster home)."""
        if self.is_local_root:
            return Path(self.root)
        return Path(DEFAULT_ROOT).resolve()

    @property
    def pgdata(self) -> Path:
        return self.state_dir / "source" / "pgdata"

    @property
    def landing_dir(self) -> Path:
        """Where CSV drops arrive before the file sync moves them into ``raw/csv``."""
        return self.state_dir / "landing"

    def lake(self) -> Lake:
        return open_lake(self.root, endpoint_url=self.s3_endpoint, region=self.region)


def _number(env: Mapping[str, str], name: str, default: int | float) -> int | float:
    """A positive number from ``env[name]`` (of ``default``'s type), or ``default`` when unset
    or empty; anything else is a one-line error naming the variable and the fix."""
    raw = (env.get(name) or "").strip()
    if not raw:
        return default
    kind = type(default)
    try:
        value = kind(raw)
    except ValueError:
        value = None
    if value is None or not value > 0:
        what = "a whole number" if kind is int else "a number"
        raise ValueError(
            f"{name}={raw!r}: not {what} above 0 — fix: e.g. {name}={default!r}, or unset it"
            f" for the default {default!r}"
        )
    return value
