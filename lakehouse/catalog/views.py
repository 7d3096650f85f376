"""Which views the catalog has: ``plan_views`` (see ``catalog.local`` for the naming rules).

The views are planned from the tables found and the declarations: every table in
``<project>_<zone>`` and in the ``<zone>`` alias schema, the declared friendly names per dataset
(``friendly_names``; also in ``silver`` for the alias dataset, ``default_alias_dataset``) and the
``<dataset>_compat`` bronze views with their ``compat_columns``. A ``CatalogView`` holds its SQL
with ``{base}`` standing for the table's snapshot.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass

from lakehouse.catalog.snapshots import ZONES, quote
from lakehouse.storage import Lake

log = logging.getLogger(__name__)


def friendly_names() -> dict[str, dict[str, str]]:
    """Friendly view name -> silver table, per declared dataset (its tables' ``view``)."""
    from lakehouse.declarations import all_datasets

    out = {d.name: {t.view: t.name for t in d.tables if t.view} for d in all_datasets()}
    return {d: names for d, names in out.items() if names}


def compat_columns() -> dict[str, dict[str, dict[str, str]]]:
    """Bronze table -> {alias column: real column}, per declared dataset (``<dataset>_compat``)."""
    from lakehouse.declarations import all_datasets

    return {
        d.name: {t.name: dict(t.compat_columns) for t in d.tables if t.compat_columns}
        for d in all_datasets()
    }


def default_alias_dataset() -> str | None:
    """The declared dataset whose friendly names are also unqualified (``sql_aliases``)."""
    from lakehouse.declarations import all_datasets

    return next((d.name for d in all_datasets() if d.sql_aliases), None)


#: ``alias_dataset`` left to the declarations (``default_alias_dataset``)
DECLARED = "declared"
_PROJECT_RE = re.compile(r"^[a-z_][a-z0-9_]*$")


def check_project(project: str) -> None:
    """A project name is a lower-case SQL identifier (it prefixes the zone schemas)."""
    if not _PROJECT_RE.match(project):
        raise ValueError(f"project {project!r} must be a lower-case SQL identifier")


@dataclass(frozen=True)
class CatalogView:
    """One view of the catalog; ``wrapper`` is its SQL with ``{base}`` for the table snapshot."""

    schema: str
    name: str
    kind: str  # table | alias | friendly | compat
    zone: str
    table: str
    uri: str
    wrapper: str = "SELECT * FROM {base}"

    @property
    def qualified(self) -> str:
        return f"{self.schema}.{self.name}"


def plan_views(
    tables: dict[str, list[str]], lake: Lake, project: str, alias_dataset: str | None
) -> list[CatalogView]:
    """Every view of the catalog for the discovered ``tables`` (see the module's naming rule)."""
    views: dict[tuple[str, str], CatalogView] = {}

    def add(schema: str, name: str, kind: str, zone: str, table: str, wrapper: str | None = None):
        views[(schema, name)] = CatalogView(
            schema,
            name,
            kind,
            zone,
            table,
            lake.table_uri(zone, table),
            wrapper or "SELECT * FROM {base}",
        )

    for zone in ZONES:
        for table in tables.get(zone, []):
            add(f"{project}_{zone}", table, "table", zone, table)
            add(zone, table, "alias", zone, table)
    silver = set(tables.get("silver", []))
    bronze = set(tables.get("bronze", []))
    if alias_dataset == DECLARED:
        alias_dataset = default_alias_dataset()
    compat = compat_columns()
    for dataset, names in friendly_names().items():
        for friendly, table in names.items():
            if table not in silver:
                continue
            add(dataset, friendly, "friendly", "silver", table)
            if dataset == alias_dataset:
                if friendly in silver and friendly != table:
                    log.info("silver.%s is %s's alias of %s", friendly, dataset, table)
                add("silver", friendly, "friendly", "silver", table)
        for table in sorted(set(names.values()) & bronze):
            extra = compat.get(dataset, {}).get(table, {})
            cols = "".join(f", {quote(real)} AS {quote(alias)}" for alias, real in extra.items())
            add(
                f"{dataset}_compat",
                table,
                "compat",
                "bronze",
                table,
                f"SELECT *{cols} FROM {{base}}",
            )
    return sorted(views.values(), key=lambda v: (v.schema, v.name))


def managed_schemas(project: str) -> list[str]:
    zones = [f"{project}_{z}" for z in ZONES] + list(ZONES)
    names = friendly_names()
    datasets = [d for d in names] + [f"{d}_compat" for d in names]
    return zones + datasets
