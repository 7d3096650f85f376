"""Silver checks of the aws profile, run where the tables are: Athena over the Glue catalog.

On AWS the Glue jobs write silver as Delta or Hudi (``table_format``), in the silver bucket; the
Dagster process reads neither format itself (delta-rs reads no Hudi). So the checks ask Athena,
which reads both through the catalog, and the Glue catalog for the column types:

- ``schema_rules(spec)``: the registry facts the local pandera schema (``quality.schemas``) checks,
  as SQL: per column not-null (non-nullable and key columns), ``ge``/``le``/``gt``/``lt``,
  ``isin``, ``regex`` (anchored at the start, as pandera's ``str_matches``), ``str_length_max``,
  ``unique`` (the single-column key too), and the uniqueness of a composite key. A rule counts
  failing rows; NULLs fail only the not-null rule (pandera ignores them in value checks).
- ``rule_query``: one ``SELECT`` of ``count(*)`` and one count per rule (a single scan), over the
  registry columns the catalog has (an older table may lack a new column: pandera's
  ``required=False``).
- ``type_mismatches``: registry columns whose catalog type differs from
  ``aws.glue_catalog.hive_type`` (the dtype part of the pandera schema).
- ``schema_report``: runs it all through a dagster-aws ``AthenaClient`` (plus up to
  ``SAMPLE_RULES`` sample queries for failing row rules) and returns the check's outcome and
  metadata in the local check's shape (``rows``, ``failures``, ``details.by_check``, ``sample``).
- ``references_query`` / ``references_report``: orphans of ``references="table.column"``
  columns, one ``UNION ALL`` query.

Athena returns every value as text (CSV results); counts are parsed as integers, empty as 0.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from lakehouse.registry.model import TableSpec

SAMPLE_RULES = 5  # failing row rules sampled (one small query each)
SAMPLE_ROWS = 5


@dataclass(frozen=True)
class Rule:
    column: str  # a column, or the comma-joined key for a composite key
    check: str  # not_null, ge, le, gt, lt, isin, regex, str_length_max, unique
    count_sql: str  # an aggregate: the number of failing rows (or duplicate values/keys)
    where_sql: str | None = None  # a row predicate for samples (row-level rules only)

    @property
    def label(self) -> str:
        return f"{self.column}: {self.check}"


def quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def literal(value) -> str:
    """A SQL literal of a registry check argument."""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int | float):
        return repr(value)
    if hasattr(value, "is_finite"):  # Decimal
        return str(value)
    return "'" + str(value).replace("'", "''") + "'"


_COMPARE = {"ge": "<", "le": ">", "gt": "<=", "lt": ">="}  # the failing comparison


def schema_rules(spec: TableSpec, columns: set[str] | None = None) -> list[Rule]:
    """The SQL rules of ``spec`` (module docstring) over ``columns`` (default: all)."""
    rules: list[Rule] = []
    keys = spec.primary_key
    for col in spec.columns:
        if columns is not None and col.name.lower() not in columns:
            continue
        c = quote(col.name)
        in_key = col.name in keys
        if not col.nullable or in_key:
            pred = f"{c} IS NULL"
            rules.append(Rule(col.name, "not_null", f"count_if({pred})", pred))
        for name, arg in col.checks.items():
            if arg is None:
                continue
            if name in _COMPARE:
                pred = f"{c} {_COMPARE[name]} {literal(arg)}"
            elif name == "isin":
                pred = f"{c} NOT IN ({', '.join(literal(v) for v in arg)})"
            elif name == "regex":
                pattern = arg if str(arg).startswith("^") else f"^{arg}"
                pred = f"NOT regexp_like({c}, {literal(pattern)})"
            elif name == "str_length_max":
                pred = f"length({c}) > {int(arg)}"
            else:
                continue
            rules.append(Rule(col.name, name, f"count_if({pred})", pred))
        if col.checks.get("unique") or (in_key and len(keys) == 1):
            rules.append(Rule(col.name, "unique", f"count({c}) - count(DISTINCT {c})"))
    if len(keys) > 1 and (columns is None or all(k.lower() in columns for k in keys)):
        group = ", ".join(quote(k) for k in keys)
        duplicates = f"SELECT 1 AS d FROM {RELATION} GROUP BY {group} HAVING count(*) > 1"
        rules.append(
            Rule(",".join(keys), "unique", f"(SELECT count(*) FROM ({duplicates}) AS dup)")
        )
    return rules


RELATION = "<relation>"  # in a rule's SQL: the checked table (rule_query fills it in)


def _relation(database: str, table: str) -> str:
    return f"{quote(database)}.{quote(table)}"


def rule_query(database: str, table: str, rules: list[Rule]) -> str:
    """``SELECT count(*), <one count per rule>`` over the table (one scan, plus a grouped
    subquery for a composite key)."""
    rel = _relation(database, table)
    parts = ["count(*)", *(r.count_sql.replace(RELATION, rel) for r in rules)]
    return f"SELECT {', '.join(parts)} FROM {rel}"


def sample_query(database: str, table: str, rule: Rule) -> str:
    return (
        f"SELECT CAST({quote(rule.column)} AS varchar) FROM {_relation(database, table)} "
        f"WHERE {rule.where_sql} LIMIT {SAMPLE_ROWS}"
    )


def _normal_type(t: str) -> str:
    return re.sub(r"\s+", "", t or "").lower()


def type_mismatches(spec: TableSpec, catalog: dict[str, str]) -> dict[str, dict]:
    """Registry columns whose catalog type is not the expected Hive type (absent ones skipped)."""
    from lakehouse.aws.glue_catalog import hive_type

    out = {}
    for col in spec.columns:
        actual = catalog.get(col.name.lower())
        expected = hive_type(col.type)
        if actual is not None and _normal_type(actual) != _normal_type(expected):
            out[col.name] = {"expected": expected, "catalog": actual}
    return out


def _int(value) -> int:
    return int(value) if value not in (None, "") else 0


def schema_report(
    client, database: str, spec: TableSpec, catalog: dict[str, str]
) -> tuple[bool, dict]:
    """Run the schema rules of ``spec`` through ``client`` (a dagster-aws ``AthenaClient``);
    ``catalog``: the table's columns in the Glue catalog (name -> type). (passed, details)."""
    present = set(catalog)
    rules = schema_rules(spec, present)
    (row,) = client.execute_query(rule_query(database, spec.name, rules), fetch_results=True)
    rows, counts = _int(row[0]), [_int(v) for v in row[1:]]
    by_check = {r.label: n for r, n in zip(rules, counts, strict=True) if n}
    types = type_mismatches(spec, catalog)
    for name in types:
        by_check[f"{name}: type"] = 1
    sample = []
    failing = [r for r, n in zip(rules, counts, strict=True) if n and r.where_sql]
    for rule in failing[:SAMPLE_RULES]:
        values = client.execute_query(sample_query(database, spec.name, rule), fetch_results=True)
        sample += [
            {"column": rule.column, "check": rule.check, "failure_case": v[0] if v else None}
            for v in values
        ]
    failures = sum(by_check.values())
    details = {"failures": failures, "rows": rows}
    if failures:
        details["by_check"] = dict(sorted(by_check.items(), key=lambda kv: -kv[1]))
    if types:
        details["types"] = types
    if sample:
        details["sample"] = sample
    missing = [c.name for c in spec.columns if c.name.lower() not in present]
    if missing:
        details["columns_not_in_catalog"] = missing
    return failures == 0, details


def references_query(database: str, spec: TableSpec, refs: list[tuple[str, str, str]]) -> str:
    """Per reference ``(column, table, key)``: its label and the number of orphan rows."""
    child = _relation(database, spec.name)
    parts = []
    for col, other, key in refs:
        label = literal(f"{col} → {other}.{key}")
        parts.append(
            f"SELECT {label} AS ref, count(*) AS orphans FROM {child} AS c "
            f"WHERE c.{quote(col)} IS NOT NULL AND c.{quote(col)} NOT IN "
            f"(SELECT p.{quote(key)} FROM {_relation(database, other)} AS p "
            f"WHERE p.{quote(key)} IS NOT NULL)"
        )
    return " UNION ALL ".join(parts)


def references_report(
    client, database: str, spec: TableSpec, refs: list[tuple[str, str, str]]
) -> dict[str, int]:
    """``"col → table.key"`` -> orphan rows, for the references that have any."""
    rows = client.execute_query(references_query(database, spec, refs), fetch_results=True)
    return {label: _int(n) for label, n in rows if _int(n)}
