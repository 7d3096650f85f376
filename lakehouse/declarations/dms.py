"""The JSON of a ``dms_s3`` source, as AWS prints it: inline in the declaration or a file path
relative to the declaration's folder."""

from __future__ import annotations

import json

from lakehouse.declarations.load import Declaration, DeclarationError
from lakehouse.declarations.model import DmsS3Source


def _json(decl: Declaration, source: DmsS3Source, field: str):
    value = getattr(source, field)
    if not isinstance(value, str):
        return value
    path = (decl.path.parent / value).resolve()
    try:
        return json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as err:
        raise DeclarationError(
            [f"{decl.path}: sources ({source.name}).{field}: cannot read {path}: {err}"
             " — fix: the JSON AWS prints (aws dms describe-endpoints / describe-replication-tasks)"
             " inline, or a path to it relative to this file"]
        ) from err  # fmt: skip


def endpoint_settings(decl: Declaration, source: DmsS3Source) -> dict:
    """The endpoint's S3Settings (``{"S3Settings": {...}}`` or the bare settings)."""
    data = _json(decl, source, "endpoint_settings") or {}
    return data.get("S3Settings", data)


def table_mappings(decl: Declaration, source: DmsS3Source) -> dict | None:
    """The task's table mappings (``{"rules": [...]}``), or None."""
    data = _json(decl, source, "table_mappings")
    if isinstance(data, dict) and "TableMappings" in data:  # describe-replication-tasks output
        data = json.loads(data["TableMappings"])
    return data
