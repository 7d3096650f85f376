"""Write a declaration back as YAML a person can read and diff: one line per column and per
selection rule, defaults left out, the file's leading comment block kept."""

from __future__ import annotations

import json
import re

from lakehouse.declarations.model import DatasetDecl

COMPONENT_TYPE = "lakehouse.components.Dataset"
_PLAIN = re.compile(r"^[A-Za-z_][A-Za-z0-9_.\-:]*$")
_RESERVED = {"true", "false", "null", "yes", "no", "on", "off", "y", "n", "~"}
#: lists whose items are written on one line each
_FLOW_ITEMS = {"columns", "selection"}


def scalar(v) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if v is None:
        return "null"
    if isinstance(v, int | float):
        return str(v)
    s = str(v)
    if _PLAIN.match(s) and s.lower() not in _RESERVED and not s.endswith(":"):
        return s
    return json.dumps(s, ensure_ascii=False)


def flow(v) -> str:
    if isinstance(v, dict):
        return "{" + ", ".join(f"{scalar(k)}: {flow(x)}" for k, x in v.items()) + "}"
    if isinstance(v, list | tuple):
        return "[" + ", ".join(flow(x) for x in v) + "]"
    return scalar(v)


def _block(value, indent: int, key: str = "") -> list[str]:
    pad = " " * indent
    lines: list[str] = []
    if isinstance(value, dict):
        for k, v in value.items():
            if isinstance(v, dict) and v and k not in ("checks", "csv"):
                lines.append(f"{pad}{scalar(k)}:")
                lines += _block(v, indent + 2, k)
            elif isinstance(v, list) and v and (isinstance(v[0], dict)):
                lines.append(f"{pad}{scalar(k)}:")
                lines += _block(v, indent + 2, k)
            else:
                lines.append(f"{pad}{scalar(k)}: {flow(v)}")
        return lines
    for item in value:  # a list of mappings
        if key in _FLOW_ITEMS or not isinstance(item, dict):
            lines.append(f"{pad}- {flow(item)}")
            continue
        inner = _block(item, indent + 2, key)
        lines.append(f"{pad}- {inner[0].lstrip()}")
        lines += inner[1:]
    return lines


def render(decl: DatasetDecl, header: str = "") -> str:
    """The ``defs.yaml`` text of ``decl`` (``header``: comment lines to keep on top)."""
    attributes = decl.model_dump(by_alias=True, exclude_defaults=True, exclude_none=True)
    attributes = {"name": decl.name, **attributes}  # name first
    for i, source in enumerate(decl.sources):  # a source's kind is its discriminator: keep it
        attributes["sources"][i] = {"kind": source.kind, **attributes["sources"][i]}
        if source.kind == "postgres":  # the selection rules are always shown
            attributes["sources"][i]["selection"] = [r.as_dms() for r in source.selection]
    if "tables" not in attributes:
        attributes["tables"] = []
    body = [f"type: {COMPONENT_TYPE}", "attributes:", *_block(attributes, 2)]
    return (header.rstrip("\n") + "\n" if header.strip() else "") + "\n".join(body) + "\n"


def leading_comments(text: str) -> str:
    """The comment block a ``defs.yaml`` starts with."""
    out = []
    for line in text.splitlines():
        if not line.startswith("#"):
            break
        out.append(line)
    return "\n".join(out)
