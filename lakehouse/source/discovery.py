"""Discover a whole PostgreSQL schema in one catalog query: tables, columns, keys, constraints.

``discover_schema(conn, rules, dataset)`` → one ``DiscoveredTable`` per table the DMS-style
selection ``rules`` select (``catalog.SelectionRule``), in (schema, table) order. The catalog is
read by ONE query whatever the number of tables (the rules' patterns filter it in SQL, then
``catalog.selected`` decides exactly), so a schema of hundreds of tables takes milliseconds.

Per table, ``DiscoveredTable.spec`` is the registry's ``TableSpec``:
- columns in table order, each with its logical type (``logical_type``; the mapping table is in
  ``registry.types``), ``nullable = not (NOT NULL or a NOT NULL domain)``, ``references =
  "table.column"`` for a single-column foreign key, and ``checks`` from simple single-column
  CHECK constraints (``col >= n`` → ``ge``, ``>`` → ``gt``, ``<=`` → ``le``, ``<`` → ``lt``,
  ``col IN (…)`` / ``= ANY (ARRAY[…])`` → ``isin``, ``char_length(col) <= n`` and
  ``varchar(n)`` → ``str_length_max``); the column's comment is its ``description``;
- ``primary_key``: the primary key's columns in key order, or ``()`` for a table without one
  (its unique constraints and unique indexes are offered in ``candidate_keys``).
Partitioned tables are discovered (and replicated) through their root: leaf partitions are not
tables. A STORED generated column is kept (``generated``: column → expression; PostgreSQL 18+
publishes it, an older server does not: a note says so); a VIRTUAL one (PostgreSQL 18) cannot be
published by logical replication and is left out (a note says so).
A type with no lake mapping (range, composite, geometric, extension types) is stored as its
PostgreSQL text (``string``) with a note, or raises ``UnsupportedType`` with ``strict=True``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from lakehouse.registry.model import Column, TableSpec
from lakehouse.source.catalog import SelectionRule, selected
from lakehouse.source.check_rules import check_rules


class UnsupportedType(ValueError):
    """A column type with no lake mapping (``strict=True``)."""


@dataclass(frozen=True)
class DiscoveredTable:
    """One table as discovered: its ``TableSpec`` plus the facts a spec does not hold."""

    spec: TableSpec
    candidate_keys: tuple[tuple[str, ...], ...] = ()  # unique constraints / indexes (not the PK)
    generated: dict[str, str] = field(default_factory=dict)  # stored generated column → expr
    pg_types: dict[str, str] = field(default_factory=dict)  # column → declared PostgreSQL type
    partitioned: bool = False
    replica_identity: str = "default"  # default | full | index | nothing
    notes: tuple[str, ...] = ()


_SIMPLE = {
    "smallint": "smallint",
    "integer": "int",
    "bigint": "bigint",
    "real": "real",
    "double precision": "double",
    "money": "money",
    "boolean": "bool",
    "uuid": "uuid",
    "json": "json",
    "jsonb": "json",
    "inet": "inet",
    "cidr": "inet",
    "date": "date",
    "bytea": "bytes",
    "numeric": "numeric",
    "interval": "interval",
}
_TEXT = {
    "text",
    "citext",
    "name",
    "macaddr",
    "macaddr8",
    "xml",
    "tsvector",
    "tsquery",
    "pg_lsn",
    '"char"',
    "bit",
    "bit varying",
    "character",
    "character varying",
}


def logical_type(pg_type: str, typtype: str = "b", category: str = "") -> str | None:
    """The logical type of a PostgreSQL type (``format_type()`` output, e.g. ``numeric(10,2)``,
    ``character varying(50)``, ``integer[]``; ``typtype``/``category`` from ``pg_type``), or
    None when the lake has no mapping for it."""
    t = pg_type.strip().lower()
    if category == "A" or t.endswith("[]"):
        return "string"  # PostgreSQL's array text
    if typtype == "e":
        return "string"  # an enum's label
    if t in _SIMPLE:
        return _SIMPLE[t]
    m = re.fullmatch(r"numeric\((\d+),\s*(\d+)\)", t)
    if m:
        p, s = int(m.group(1)), int(m.group(2))
        return f"decimal({p},{s})" if p <= 38 and 0 <= s <= p else "numeric"
    if re.fullmatch(r"timestamp(\(\d\))? with time zone", t):
        return "timestamptz"
    if re.fullmatch(r"timestamp(\(\d\))?( without time zone)?", t):
        return "timestamp"
    if re.fullmatch(r"time(\(\d\))? with time zone", t):
        return "timetz"
    if re.fullmatch(r"time(\(\d\))?( without time zone)?", t):
        return "time"
    if re.fullmatch(r"interval\b.*", t):
        return "interval"
    if re.sub(r"\(\d+\)$", "", t) in _TEXT or t.rsplit(".", 1)[-1] == "citext":
        return "string"
    return None


_QUERY = r"""
with recursive dom as (
    select t.oid as domain, t.typbasetype as base, t.typtypmod as typmod, t.typnotnull as notnull
    from pg_type t where t.typtype = 'd'
    union all
    select dom.domain, b.typbasetype, b.typtypmod, dom.notnull or b.typnotnull
    from dom join pg_type b on b.oid = dom.base and b.typtype = 'd'
), dom_base as (
    select dom.* from dom join pg_type b on b.oid = dom.base where b.typtype <> 'd'
), tabs as (
    select c.oid, n.nspname, c.relname, c.relkind, c.relreplident
    from pg_class c join pg_namespace n on n.oid = c.relnamespace
    where c.relkind in ('r', 'p') and not c.relispartition
      and n.nspname not in ('pg_catalog', 'information_schema')
      and n.nspname not like 'pg\_toast%%'
      and exists (select 1 from unnest(%(schemas)s::text[], %(tables)s::text[]) r(s, t)
                  where n.nspname like r.s and c.relname like r.t)
)
select t.nspname, t.relname, t.relkind, t.relreplident, obj_description(t.oid, 'pg_class'),
  (select json_agg(json_build_object(
        'name', a.attname, 'notnull', a.attnotnull or coalesce(db.notnull, false),
        'generated', a.attgenerated, 'expr', pg_get_expr(ad.adbin, ad.adrelid),
        'type', format_type(bt.oid, coalesce(db.typmod, a.atttypmod)),
        'declared', format_type(a.atttypid, a.atttypmod),
        'typtype', bt.typtype, 'category', bt.typcategory,
        'comment', col_description(t.oid, a.attnum)) order by a.attnum)
   from pg_attribute a
   left join dom_base db on db.domain = a.atttypid
   join pg_type bt on bt.oid = coalesce(db.base, a.atttypid)
   left join pg_attrdef ad on ad.adrelid = a.attrelid and ad.adnum = a.attnum
   where a.attrelid = t.oid and a.attnum > 0 and not a.attisdropped),
  (select json_agg(json_build_object(
        'primary', i.indisprimary,
        'cols', (select json_agg(a.attname order by k.ord)
                 from unnest(i.indkey::int2[]) with ordinality k(num, ord)
                 join pg_attribute a on a.attrelid = i.indrelid and a.attnum = k.num))
        order by not i.indisprimary, i.indexrelid)
   from pg_index i
   where i.indrelid = t.oid and i.indisunique and i.indpred is null and i.indexprs is null
     and 0 <> all(i.indkey::int2[])),
  (select json_agg(json_build_object(
        'type', k.contype, 'name', k.conname, 'def', pg_get_constraintdef(k.oid),
        'cols', (select json_agg(a.attname order by u.ord)
                 from unnest(k.conkey) with ordinality u(num, ord)
                 join pg_attribute a on a.attrelid = k.conrelid and a.attnum = u.num),
        'ref_table', rc.relname,
        'ref_cols', (select json_agg(a.attname order by u.ord)
                     from unnest(k.confkey) with ordinality u(num, ord)
                     join pg_attribute a on a.attrelid = k.confrelid and a.attnum = u.num))
        order by k.conname)
   from pg_constraint k left join pg_class rc on rc.oid = k.confrelid
   where k.conrelid = t.oid and k.contype in ('f', 'c'))
from tabs t
order by 1, 2
"""

_REPLICA_IDENTITY = {"d": "default", "f": "full", "i": "index", "n": "nothing"}


def _like_pattern(dms_pattern: str) -> str:
    """A DMS object-locator pattern (``%`` any run, everything else literal) as SQL LIKE."""
    escaped = dms_pattern.replace("\\", "\\\\").replace("_", "\\_")
    return escaped  # '%' keeps its meaning


def discover_schema(
    conn, rules: list[dict] | tuple[dict, ...], dataset: str, *, strict: bool = False
) -> list[DiscoveredTable]:
    """Every table the selection ``rules`` select, discovered in one catalog query (see the
    module docstring). ``conn`` is a psycopg connection."""
    parsed = [SelectionRule.parse(r) for r in rules]
    includes = [r for r in parsed if r.action == "include"]
    if not includes:
        return []
    rows = conn.execute(
        _QUERY,
        {
            "schemas": [_like_pattern(r.schema) for r in includes],
            "tables": [_like_pattern(r.table) for r in includes],
        },
    ).fetchall()
    version = conn.info.server_version
    return [
        _table(row, dataset, strict=strict, version=version)
        for row in rows
        if selected(parsed, row[0], row[1])
    ]


def discover_one(conn, schema: str, name: str, dataset: str) -> DiscoveredTable:
    """One table by exact name (``LookupError`` when it is not a table of the database)."""
    rows = conn.execute(
        _QUERY, {"schemas": [_like_pattern(schema)], "tables": [_like_pattern(name)]}
    ).fetchall()
    for row in rows:
        if (row[0], row[1]) == (schema, name):
            return _table(row, dataset, version=conn.info.server_version)
    raise LookupError(f"table {schema}.{name} not found in the source database")


def _table(row, dataset: str, *, strict: bool = False, version: int = 0) -> DiscoveredTable:
    """One catalog row → its ``DiscoveredTable``: columns, then keys, then constraints."""
    schema, name, relkind, replident, comment, cols, indexes, constraints = row
    notes: list[str] = []
    columns, generated, pg_types = _columns(
        cols or [], f"{schema}.{name}", notes, strict=strict, version=version
    )
    primary, candidates = _keys(indexes or [])
    _apply_constraints(columns, constraints or [], notes)
    if not primary:
        notes.append(
            "no primary key: captured insert-only (as AWS DMS does)"
            + (f"; candidate keys: {[list(c) for c in candidates]}" if candidates else "")
        )
    spec = TableSpec(
        dataset=dataset,
        name=name,
        schema=schema,
        columns=tuple(Column(**c) for c in columns.values()),
        primary_key=primary,
        description=comment or "",
    )
    return DiscoveredTable(
        spec=spec,
        candidate_keys=candidates,
        generated=generated,
        pg_types=pg_types,
        partitioned=relkind == "p",
        replica_identity=_REPLICA_IDENTITY.get(replident, replident),
        notes=tuple(notes),
    )


def _columns(
    cols: list[dict], qname: str, notes: list[str], *, strict: bool, version: int
) -> tuple[dict[str, dict], dict[str, str], dict[str, str]]:
    """The table's publishable columns (name → ``Column`` fields), its STORED generated columns
    (name → expression) and declared PostgreSQL types; notes are appended to ``notes``."""
    generated: dict[str, str] = {}
    pg_types: dict[str, str] = {}
    columns: dict[str, dict] = {}
    for c in cols:
        if c["generated"] == "v":
            notes.append(
                f"column {c['name']!r} is a VIRTUAL generated column ({c['expr']}): logical "
                "replication cannot publish it, so it is left out"
            )
            continue
        logical = logical_type(c["type"], c["typtype"], c["category"])
        if logical is None:
            msg = f"{qname}: column {c['name']!r} has type {c['declared']!r}"
            if strict:
                raise UnsupportedType(f"{msg}, which the lake has no type for")
            notes.append(f"{msg}: stored as PostgreSQL's text (string)")
            logical = "string"
        checks: dict = {}
        m = re.fullmatch(r"character varying\((\d+)\)", c["type"])
        if m:
            checks["str_length_max"] = int(m.group(1))
        if c["generated"] == "s":
            generated[c["name"]] = c["expr"]
            if version < 180000:
                notes.append(
                    f"column {c['name']!r} is a generated column: PostgreSQL before 18 does not "
                    "publish it, so changes after the full load carry no value for it"
                )
        pg_types[c["name"]] = c["declared"]
        columns[c["name"]] = dict(
            name=c["name"],
            type=logical,
            nullable=not c["notnull"],
            checks=checks,
            references=None,
            description=c["comment"] or "",
        )
    return columns, generated, pg_types


def _keys(indexes: list[dict]) -> tuple[tuple[str, ...], tuple[tuple[str, ...], ...]]:
    """(primary key columns or ``()``, the other unique column sets, deduplicated, in order)."""
    unique = [tuple(i["cols"]) for i in indexes]
    primary = next((tuple(i["cols"]) for i in indexes if i["primary"]), ())
    candidates = tuple(dict.fromkeys(u for u in unique if u != primary))
    return primary, candidates


def _apply_constraints(columns: dict[str, dict], constraints: list[dict], notes: list[str]) -> None:
    """Single-column foreign keys become ``references``, translatable CHECKs become ``checks``
    (the tighter ``str_length_max`` wins); an untranslatable CHECK becomes a note."""
    for k in constraints:
        kcols = k["cols"] or []
        if k["type"] == "f" and len(kcols) == 1 and kcols[0] in columns:
            columns[kcols[0]]["references"] = f"{k['ref_table']}.{k['ref_cols'][0]}"
        elif k["type"] == "c":
            parsed = check_rules(k["def"], kcols[0]) if len(kcols) == 1 else None
            if parsed is None or kcols[0] not in columns:
                notes.append(f"check constraint {k['name']!r} not translated: {k['def']}")
                continue
            checks = columns[kcols[0]]["checks"]
            for rule, arg in parsed:
                if rule == "str_length_max" and rule in checks:
                    arg = min(arg, checks[rule])
                checks[rule] = arg
