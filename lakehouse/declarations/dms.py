"""The JSON of a ``dms_s3`` source, as AWS prints it: inline in the declaration or a file path
relative to the declaration's folder."""

from __future__ import annotations

import json

from lakehouse.declarations.load import Declaration
from lakehouse.declarations.model import REPLICATOR_DMS_DEFAULTS, DmsS3Source
from lakehouse.declarations.problems import DeclarationError
from lakehouse.dms.settings import DmsS3Settings


def _json(decl: Declaration, source: DmsS3Source, field: str, value=None):
    value = getattr(source, field) if value is None else value
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


#: S3Settings that put files where this reader does not look, refused rather than ignored
UNREAD_SETTINGS = {
    "CdcPath": "DMS writes the changes of every table there in commit order (PreserveTransactions),"
    " a layout with no documented per-table form; CDC files are read from <schema>/<table>/ under"
    " path only — fix: remove CdcPath and PreserveTransactions",
}


def endpoint_settings(decl: Declaration, source: DmsS3Source) -> dict:
    """The endpoint's S3Settings (``{"S3Settings": {...}}`` or the bare settings); a setting
    in ``UNREAD_SETTINGS`` is a ``ValueError`` naming it and its fix (a declaration error at
    load)."""
    data = _json(decl, source, "endpoint_settings") or {}
    data = data.get("S3Settings", data)
    for key, why in UNREAD_SETTINGS.items():
        if data.get(key):
            raise ValueError(f"{key} {data[key]!r} is not supported: {why}")
    return data


def _mappings(data):
    if isinstance(data, dict) and "TableMappings" in data:  # describe-replication-tasks output
        data = json.loads(data["TableMappings"])
    return data


def mapping_revisions(decl: Declaration, source: DmsS3Source) -> list[dict]:
    """The task's table mappings, oldest first (one unless rules were added while it ran)."""
    value = source.table_mappings
    if value is None:
        return []
    values = value if isinstance(value, list) else [value]
    return [_mappings(_json(decl, source, "table_mappings", v)) for v in values]


def table_mappings(decl: Declaration, source: DmsS3Source) -> dict | None:
    """The task's current table mappings (``{"rules": [...]}``), or None."""
    revisions = mapping_revisions(decl, source)
    return revisions[-1] if revisions else None


def table_layouts(spec, settings):
    """The known file layouts of a table read from a dms_s3 source (its mapping revisions), or
    None: the one layout its settings stand for."""
    if spec.raw_root is None:
        return None
    from lakehouse.declarations import declaration
    from lakehouse.dms.table_mappings import known_layouts

    decl = declaration(spec.dataset)
    revisions = [m for s in decl.sources_of("dms_s3") for m in mapping_revisions(decl, s)]
    if not revisions:
        return None
    try:
        return known_layouts(spec.schema, spec.source_table, spec.column_names, spec.primary_key,
                             settings=settings, mappings=revisions)  # fmt: skip
    except ValueError as err:
        raise DeclarationError([f"{decl.path}: sources (dms_s3).table_mappings: {err}"]) from err


def settings_for(dataset: str, settings=None) -> DmsS3Settings:
    """The DMS settings a dataset's raw files are written/read with, from its declaration: the
    ``dms`` of its ``postgres`` source, or the ``endpoint_settings`` of its ``dms_s3`` source
    (AWS's defaults for a dataset of CSV drops only). An undeclared dataset is an error."""
    from lakehouse.declarations import declaration

    decl = declaration(dataset, settings)
    for source in decl.decl.sources:
        if source.kind == "postgres":
            return DmsS3Settings.from_endpoint_settings({**REPLICATOR_DMS_DEFAULTS, **source.dms})
        if source.kind == "dms_s3":
            return DmsS3Settings.from_endpoint_settings(endpoint_settings(decl, source))
    return DmsS3Settings()
