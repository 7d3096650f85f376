"""Registry checks (``registry.model.Column.checks``) from a single-column PostgreSQL CHECK
constraint, as ``pg_get_constraintdef`` prints it.

``check_rules("CHECK ((qty >= 0))", "qty")`` → ``[("ge", 0)]``. Understood: comparisons with a
constant on either side (``>=`` ge, ``>`` gt, ``<=`` le, ``<`` lt), ``col = ANY (ARRAY[…])``
(how PostgreSQL prints ``col IN (…)``) → ``isin``, ``char_length(col) <= n`` (or ``length``,
``< n``) → ``str_length_max``, and top-level ``AND`` of these. Anything else → None (the caller
notes the constraint as not translated).
"""

from __future__ import annotations

import re

_OPS = {">=": "ge", ">": "gt", "<=": "le", "<": "lt"}
_FLIP = {"ge": "le", "gt": "lt", "le": "ge", "lt": "gt"}
_CAST = r"(?:::[a-z_ ]+(?:\[\])?)"
_LITERAL = rf"\(*(?:'(?:[^']|'')*'|-?[0-9.]+(?:e[+-]?\d+)?)\)*{_CAST}?\)*"


def _literal(text: str):
    """A constant as ``pg_get_constraintdef`` prints it (``0``, ``(0)::numeric``,
    ``'-1'::integer``, ``'paid'::text``) as a Python value."""
    t, casts = text.strip(), []
    while True:
        m = re.fullmatch(rf"(.*?)({_CAST})", t, re.S)
        if m and not t.endswith("'"):
            t, casts = m.group(1).strip(), [*casts, m.group(2)]
            continue
        if t.startswith("(") and t.endswith(")") and _balanced(t[1:-1]):
            t = t[1:-1].strip()
            continue
        break
    if t.startswith("'") and t.endswith("'"):
        inner = t[1:-1].replace("''", "'")
        numeric = casts and re.search(r"int|numeric|double|real|float", casts[-1] + casts[0])
        return _number(inner) if numeric else inner
    return _number(t)


def _number(text: str):
    try:
        return int(text)
    except ValueError:
        return float(text)


def _column_ref(text: str, column: str) -> bool:
    t = re.sub(rf"{_CAST}$", "", text.strip()).strip("()")
    t = re.sub(rf"{_CAST}$", "", t).strip()
    return t in (column, f'"{column}"')


def _split_and(body: str) -> list[str]:
    """Top-level ``AND`` conjuncts of a constraint body (parentheses balanced)."""
    parts, depth, start, i = [], 0, 0, 0
    while i < len(body):
        ch = body[i]
        if ch == "'":
            i = body.index("'", i + 1) + 1 if "'" in body[i + 1 :] else len(body)
            continue
        depth += ch == "("
        depth -= ch == ")"
        if depth == 0 and body.startswith(" AND ", i):
            parts.append(body[start:i])
            start = i + 5
        i += 1
    parts.append(body[start:])
    return parts


def _strip_parens(text: str) -> str:
    text = text.strip()
    while text.startswith("(") and text.endswith(")") and _balanced(text[1:-1]):
        text = text[1:-1].strip()
    return text


def _balanced(text: str) -> bool:
    depth = 0
    for ch in text:
        depth += ch == "("
        depth -= ch == ")"
        if depth < 0:
            return False
    return depth == 0


def check_rules(definition: str, column: str) -> list[tuple[str, object]] | None:
    """Registry checks of a single-column ``CHECK (...)`` as ``pg_get_constraintdef`` prints it,
    or None when it is not one of the simple forms (see the module docstring)."""
    m = re.fullmatch(r"CHECK \((.*)\)( NOT VALID)?", definition.strip(), re.S)
    if not m:
        return None
    out = []
    for part in _split_and(_strip_parens(m.group(1))):
        rule = _simple_check(_strip_parens(part), column)
        if rule is None:
            return None
        out.append(rule)
    return out


def _simple_check(expr: str, column: str) -> tuple[str, object] | None:
    m = re.fullmatch(r"(?:char_length|length|character_length)\((.+)\) (<=|<) (.+)", expr)
    if m and _column_ref(m.group(1), column):
        try:
            n = _literal(m.group(3))
        except ValueError:
            return None
        return (
            ("str_length_max", n if m.group(2) == "<=" else n - 1) if isinstance(n, int) else None
        )
    m = re.fullmatch(r"(.+?) = ANY \((.+)\)", expr)
    if m and _column_ref(m.group(1), column):
        arr = re.fullmatch(rf"\(*ARRAY\[(.*)\]\)*{_CAST}?\)*", m.group(2).strip())
        if not arr:
            return None
        items = re.findall(rf"'(?:[^']|'')*'{_CAST}?|-?[0-9.]+(?:e[+-]?\d+)?{_CAST}?", arr.group(1))
        try:
            return "isin", [_literal(x) for x in items]
        except ValueError:
            return None
    m = re.fullmatch(r"(.+?) (>=|<=|>|<) (.+)", expr)
    if m:
        left, op, right = m.groups()
        try:
            if _column_ref(left, column) and re.fullmatch(_LITERAL, right.strip()):
                return _OPS[op], _literal(right)
            if _column_ref(right, column) and re.fullmatch(_LITERAL, left.strip()):
                return _FLIP[_OPS[op]], _literal(left)
        except ValueError:
            return None
    return None
