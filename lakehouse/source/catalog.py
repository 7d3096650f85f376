"""Discover tables, columns and primary keys from a PostgreSQL catalog, with DMS-style selection.

``select_tables(conn, rules)`` applies AWS DMS table-mapping *selection* rules
(``{"rule-action": "include"|"exclude", "schema-name": "public", "table-name": "audit_%"}``;
``%`` matches any run of characters, ``_`` is literal as in DMS object locators) in order: a
table is selected when an include rule matches it and no exclude rule does.
``discover_table(conn, schema, name, dataset)`` returns a ``TableSpec`` whose columns carry the
logical type of each PostgreSQL type (``logical_type``). A table without a primary key gets an
empty ``primary_key``: the replicator captures it insert-only, as DMS does, and warns.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from lakehouse.registry.model import Column, TableSpec

_SIMPLE = {
    "smallint": "smallint",
    "integer": "int",
    "bigint": "bigint",
    "real": "real",
    "double precision": "double",
    "money": "money",
    "boolean": "bool",
    "text": "string",
    "uuid": "uuid",
    "json": "json",
    "jsonb": "json",
    "inet": "inet",
    "cidr": "inet",
    "date": "date",
    "timestamp without time zone": "timestamp",
    "timestamp with time zone": "timestamptz",
    "bytea": "bytes",
}


def logical_type(pg_type: str) -> str:
    """Map ``format_type()`` output (``numeric(10,2)``, ``character varying(50)``) to a logical type."""
    t = pg_type.strip().lower()
    if t in _SIMPLE:
        return _SIMPLE[t]
    m = re.match(r"^numeric\((\d+),(\d+)\)$", t.replace(" ", ""))
    if m:
        return f"decimal({m.group(1)},{m.group(2)})"
    if t == "numeric":
        return "decimal(38,10)"
    if re.match(r"^timestamp(\(\d\))? with time zone$", t):
        return "timestamptz"
    if re.match(r"^timestamp(\(\d\))?( without time zone)?$", t):
        return "timestamp"
    return "string"  # varchar, char, enums, arrays, … as text


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
    cols = conn.execute(
        """select a.attname, format_type(a.atttypid, a.atttypmod), not a.attnotnull
           from pg_attribute a
           where a.attrelid = (quote_ident(%s) || '.' || quote_ident(%s))::regclass
             and a.attnum > 0 and not a.attisdropped
           order by a.attnum""",
        (schema, name),
    ).fetchall()
    if not cols:
        raise LookupError(f"table {schema}.{name} not found in the source database")
    pk = conn.execute(
        """select a.attname from pg_index i
           join pg_attribute a on a.attrelid = i.indrelid and a.attnum = any(i.indkey)
           where i.indrelid = (quote_ident(%s) || '.' || quote_ident(%s))::regclass and i.indisprimary
           order by array_position(i.indkey, a.attnum)""",
        (schema, name),
    ).fetchall()
    return TableSpec(
        dataset=dataset,
        name=name,
        schema=schema,
        columns=tuple(Column(n, logical_type(t), nullable=bool(nl)) for n, t, nl in cols),
        primary_key=tuple(r[0] for r in pk),
    )
