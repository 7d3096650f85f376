"""The row-level rules of a registry table, engine-neutral: what each engine (Polars on the
silver path, PySpark on Glue) turns into expressions, so both say the same thing.

``row_rules(spec, columns)`` → ``[RowRule(column, label, kind, arg)]`` for the registry columns
present in ``columns``, in registry order: first nullability (``kind="not_null"``: a
non-nullable or key column), then each rule of ``Column.checks`` in declaration order —
``ge``/``le``/``gt``/``lt`` (compare with ``arg``), ``isin`` (``arg``: the allowed values),
``regex`` (``arg``: the pattern anchored at the start, as pandera's ``str_matches``),
``str_length_max``. ``label`` is the check's name as pandera prints it (the quarantine reason
says ``"<column>: <label> failed for <value>"``). Nulls pass every rule but ``not_null``.
Table-level rules (uniqueness) are not row rules.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from lakehouse.registry.model import TableSpec

_COMPARISONS = {
    "ge": "greater_than_or_equal_to({})",
    "le": "less_than_or_equal_to({})",
    "gt": "greater_than({})",
    "lt": "less_than({})",
}


@dataclass(frozen=True)
class RowRule:
    column: str
    label: str
    kind: str  # not_null | ge | le | gt | lt | isin | regex | str_length_max
    arg: Any = None


def row_rules(spec: TableSpec, columns) -> list[RowRule]:
    present = set(columns)
    out = []
    for col in spec.columns:
        if col.name not in present:
            continue
        if not col.nullable or col.name in spec.primary_key:
            out.append(RowRule(col.name, "not_nullable", "not_null"))
        for name, arg in col.checks.items():
            if arg is None:
                continue
            if name in _COMPARISONS:
                out.append(RowRule(col.name, _COMPARISONS[name].format(arg), name, arg))
            elif name == "isin":
                out.append(RowRule(col.name, f"isin({arg})", name, list(arg)))
            elif name == "regex":
                anchored = arg if arg.startswith("^") else f"^{arg}"
                out.append(RowRule(col.name, f"str_matches('{arg}')", name, anchored))
            elif name == "str_length_max":
                out.append(RowRule(col.name, f"str_length(None, {arg})", name, arg))
    return out
