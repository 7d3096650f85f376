"""The persistent Dagster instance of a lakehouse process (``DAGSTER_HOME`` and its dagster.yaml).

- ``dagster_home(settings)``: ``DAGSTER_HOME`` (default ``<state dir>/dagster``), created, with
  the project's ``dagster.yaml`` written, or merged into a user's own (``runs.dagster_yaml``);
  it also sets ``DAGSTER_HOME`` for this process.
- ``open_instance(settings)``: ``DagsterInstance.get()`` on that home.
"""

from __future__ import annotations

from lakehouse.profiles import Settings
from lakehouse.runs import dagster_yaml


def dagster_home(s: Settings) -> str:
    """DAGSTER_HOME (default ``<state>/dagster``) with the project's dagster.yaml in it."""
    return dagster_yaml.dagster_home(s.state_dir)


def open_instance(s: Settings):
    """The persistent Dagster instance at ``dagster_home(s)``."""
    from dagster import DagsterInstance

    dagster_home(s)
    return DagsterInstance.get()
