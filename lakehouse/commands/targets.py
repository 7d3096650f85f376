"""What a command acts on: the settings of the environment, the datasets, a dataset's source DSN.

- ``settings()``: ``Settings.from_env()`` (a ``UserError`` when a variable does not parse);
- ``source_dsn(settings, name)``: the dataset's source database (its ``dsn_env``, else
  ``LAKEHOUSE_SOURCE_DSN``, else the embedded server, started on first use);
- ``served_with(settings, what)``: the served datasets that are ``replicated`` (a postgres
  source), have ``files`` (a csv_drop source: what ``lakehouse sync`` copies), ``demo`` data,
  or a ``churn`` workload too; ``datasets(settings, name, what)``: ``(name,)`` or those.
"""

from __future__ import annotations

from lakehouse.commands.errors import UserError
from lakehouse.profiles import Settings


def settings() -> Settings:
    """``Settings.from_env()``; a setting that does not parse is a ``UserError``."""
    try:
        return Settings.from_env()
    except ValueError as err:
        raise UserError(
            f"the environment's settings: {err}",
            "correct that LAKEHOUSE_* variable (README: Configuration)",
        ) from err


def source_dsn(settings: Settings, name: str) -> str:
    from lakehouse.defs.resources import build_resources

    return build_resources(settings)["source_db"].dataset_dsn(name)


def datasets(settings: Settings, name: str | None, what: str = "replicated") -> tuple[str, ...]:
    """``name``, or every served dataset that is ``replicated`` (a postgres source), has
    ``files`` (a csv_drop source), ``demo`` data, or a ``churn`` workload."""
    return (name,) if name else served_with(settings, what)


def served_with(settings: Settings, what: str) -> tuple[str, ...]:
    from lakehouse.declarations import declaration, served

    def keep(d: str) -> bool:
        decl = declaration(d, settings)
        demo = decl.decl.demo
        if what == "demo":
            return demo is not None
        if what == "churn":
            return demo is not None and demo.workload is not None
        if what == "files":
            return bool(decl.sources_of("csv_drop"))
        return bool(decl.sources_of("postgres"))

    return tuple(d for d in served(settings) if keep(d))
