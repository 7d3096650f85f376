"""Discover tables, columns and primary keys from a PostgreSQL catalog, with DMS-style selection.

``select_tables(conn, rules)`` applies AWS DMS table-mapping *selection* rules
(``{"rule-action": "include"|"exclude", "schema-name": "public", "table-name": "audit_%"}``;
``%`` matches any run of characters, ``_`` is literal as in DMS object locators) in order: a
table is selected when an include rule matches it and no exclude rule does.
``discover_table(conn, schema, name, dataset)`` returns a ``TableSpec`` whose columns carry the
logical type of each PostgreSQL type (``logical_type``). A table without a primary key gets an
empty ``primary_key``: the replicator captures it insert-only, as DMS does, and warns. A whole
schema is discovered in one query by ``discovery.discover_schema``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from lakehouse.registry.model import TableSpec


def logical_type(pg_type: str) -> str:
    """The logical type of ``format_type()`` output (``numeric(10,2)``, ``character
    varying(50)``); a type the lake has no mapping for is kept as text (``string``)."""
    from lakehouse.source.discovery import logical_type as mapped

    return mapped(pg_type) or "string"


@dataclass(frozen=True)
class SelectionRule:
    action: str  # include | exclude
    schema: str
    table: str

    @classmethod
    def parse(cls, rule: dict) -> SelectionRule:
        loc = rule.get("object-locator", rule)
        action = rule.get("rule-action", "include")
        if action not in ("include", "exclude", "explicit"):
            raise ValueError(f"selection rule action {action!r} is not include/exclude/explicit")
        return cls(
            "exclude" if action == "exclude" else "include", loc["schema-name"], loc["table-name"]
        )

    def matches(self, schema: str, table: str) -> bool:
        return _like(self.schema, schema) and _like(self.table, table)


def _like(pattern: str, value: str) -> bool:
    rx = "^" + ".*".join(re.escape(part) for part in pattern.split("%")) + "$"
    return re.match(rx, value) is not None


def selected(rules: list[SelectionRule], schema: str, table: str) -> bool:
    included = any(r.matches(schema, table) for r in rules if r.action == "include")
    excluded = any(r.matches(schema, table) for r in rules if r.action == "exclude")
    return included and not excluded


def list_tables(conn) -> list[tuple[str, str]]:
    rows = conn.execute(
        """select n.nspname, c.relname from pg_class c join pg_namespace n on n.oid = c.relnamespace
           where c.relkind in ('r', 'p') and not c.relispartition
             and n.nspname not in ('pg_catalog', 'information_schema') and n.nspname not like 'pg_toast%%'
           order by 1, 2"""
    ).fetchall()
    return [(r[0], r[1]) for r in rows]


def select_tables(conn, rules: list[dict]) -> list[tuple[str, str]]:
    parsed = [SelectionRule.parse(r) for r in rules]
    return [(s, t) for s, t in list_tables(conn) if selected(parsed, s, t)]


def discover_table(conn, schema: str, name: str, dataset: str) -> TableSpec:
    """The ``TableSpec`` of one table (``discovery.discover_one``; ``LookupError`` if absent)."""
    from lakehouse.source.discovery import discover_one

    return discover_one(conn, schema, name, dataset).spec
