"""Problems with a declaration, one line each.

Contract: ``DeclarationError`` carries ``problems`` (one line per problem, each naming the file,
the key and the fix) and its message is those lines joined. ``pydantic_problems`` turns the
model's validation errors into such lines: the key path as the file spells it (a list item named
by its ``name``), pydantic's first message line and the fix for that kind of error.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import ValidationError


class DeclarationError(ValueError):
    """A declaration that cannot be loaded; ``problems`` holds one line per problem."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("\n".join(problems))


_FIXES = {
    "extra_forbidden": "remove it (check the spelling against the documented keys)",
    "missing": "add it",
    "literal_error": "use one of the listed values",
    "union_tag_invalid": "kind must be postgres, csv_drop, dms_s3 or events",
    "union_tag_not_found": "add kind: postgres, csv_drop, dms_s3 or events",
    "string_pattern_mismatch": "lower-case letters, digits and _ only, starting with a letter",
    "too_short": "declare at least one",
}


def pydantic_problems(path: Path, attributes: dict, err: ValidationError) -> list[str]:
    """One line per validation error of the ``attributes`` of the file at ``path``."""
    problems = []
    for e in err.errors():
        loc = _loc(e["loc"], attributes)
        fix = _FIXES.get(e["type"], "see the Dataset component's documentation")
        last = e["loc"][-1] if e["loc"] else ""
        if e["type"] == "extra_forbidden" and last in ("dsn", "password", "dsn_url"):
            fix = "a secret never goes in a declaration: use dsn_env: <VARIABLE NAME>"
        if e["type"] == "extra_forbidden" and last == "sequence_by":
            fix = (
                "remove the key: a user-declared ordering column is not supported; changes are"
                " ordered by the commit timestamp and change sequence the replicator (or DMS) writes"
            )
        problems.append(f"{path}: {loc}: {e['msg'].splitlines()[0]} — fix: {fix}")
    return problems


def _loc(loc: tuple, attributes) -> str:
    out, node = "", attributes
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
            node = node[part] if isinstance(node, list) and part < len(node) else None
            if isinstance(node, dict) and "name" in node:
                out += f" ({node['name']})"
        elif part in ("postgres", "csv_drop", "dms_s3", "events") and isinstance(node, dict):
            continue  # pydantic's union-member step, not a key of the file
        else:
            out += f".{part}" if out else str(part)
            node = node.get(part) if isinstance(node, dict) else None
    return out
