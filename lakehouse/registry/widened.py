"""Column types widened at the source and not declared yet, applied without a ``discover``.

Contract: ``_state/replication/<task>.widened.json`` in the lake holds ``{"schema.table":
{"column": {"type": logical type, "max_length": int | null}}}``, written by the replicator when
it finds a declared column widened at the source (``record``): an integer to a wider one
(smallint → int → bigint), ``decimal(p,s)`` to one holding every value (scale and integer
digits not fewer), ``timestamp`` → ``timestamptz``, or a ``varchar(n)`` longer (``max_length``,
null for no limit) — see ``widens``. ``apply(lake, spec)`` gives the table as bronze, silver and
the schema check then see it: each recorded column with the wider type (or the longer
``str_length_max``) while the declaration still has a narrower one; once the declaration says
as much (``lakehouse discover``), the record no longer changes anything. ``lake`` is any object
with ``exists``, ``read_text`` and ``write_text`` (``lakehouse.storage.Lake``).
"""

from __future__ import annotations

import json
from dataclasses import replace

from lakehouse.registry.model import Column, TableSpec
from lakehouse.registry.types import arrow_type, wider


def key(task: str) -> str:
    return f"_state/replication/{task}.widened.json"


def widens(old: str, new: str) -> bool:
    """Whether the logical type ``new`` holds every value of ``old`` and differs from it: the
    lake's rule on their stored types (``types.wider``), and ``timestamp`` → ``timestamptz``
    (both stored as UTC instants)."""
    if old == "timestamp" and new == "timestamptz":
        return True
    return old != new and wider(arrow_type(old), arrow_type(new))


def max_length(column: Column) -> int | None:
    """The column's ``str_length_max`` check (a ``varchar(n)``), None when it has none."""
    value = column.checks.get("str_length_max")
    return None if value is None else int(value)


def longer(declared: Column, source: Column) -> bool:
    """Whether ``source`` is the string ``declared`` is, with a longer limit (or none)."""
    return declared.type == source.type == "string" and _longer(
        max_length(declared), max_length(source)
    )


def _longer(old: int | None, new: int | None) -> bool:
    return old is not None and (new is None or new > old)


def read(lake, task: str) -> dict[str, dict[str, dict]]:
    k = key(task)
    return json.loads(lake.read_text(k)) if lake.exists(k) else {}


def record(lake, task: str, qname: str, columns: dict[str, Column]) -> None:
    """Keep the source ``columns`` (name → source column) as ``qname``'s widened columns."""
    found = read(lake, task)
    now = {n: {"type": c.type, "max_length": max_length(c)} for n, c in columns.items()}
    if found.get(qname, {}) | now != found.get(qname, {}):
        found[qname] = found.get(qname, {}) | now
        lake.write_text(key(task), json.dumps(found, indent=1, sort_keys=True))


def apply(lake, spec: TableSpec) -> TableSpec:
    """``spec`` with the widenings its task recorded and its declaration lacks (see above)."""
    if spec.source != "database":
        return spec
    recorded = read(lake, spec.dataset).get(spec.qualified_name)
    if not recorded:
        return spec
    columns = []
    for c in spec.columns:
        r = recorded.get(c.name)
        if r is not None and widens(c.type, r["type"]):
            c = replace(c, type=r["type"])
        elif (
            r is not None
            and c.type == r["type"] == "string"
            and _longer(max_length(c), r["max_length"])
        ):
            checks = {k: v for k, v in c.checks.items() if k != "str_length_max"}
            c = replace(c, checks=checks | _length(r))
        columns.append(c)
    return replace(spec, columns=tuple(columns))


def _length(r: dict) -> dict:
    return {} if r.get("max_length") is None else {"str_length_max": r["max_length"]}
