"""The text of a new declaration (``lakehouse init``, ``dg scaffold defs``).

Contract: ``new_declaration`` gives a ``defs.yaml`` that loads as written (no file it names is
missing: a dms_s3 source's endpoint settings are inline, AWS's defaults, and its table
mappings a comment), so a fresh declaration never breaks the other datasets' commands."""

from __future__ import annotations

_SOURCES = {
    "postgres": "    - kind: postgres\n"
    "      dsn_env: {env}   # the variable holding the DSN (never the DSN itself)\n"
    "      selection:\n"
    '        - {{rule-action: include, schema-name: public, table-name: "%"}}\n',
    "csv_drop": "    - kind: csv_drop\n      landing: {landing}\n",
    # inline placeholders that load: AWS's default S3Settings, no table mappings (every folder)
    "dms_s3": "    - kind: dms_s3\n      path: {path}\n"
    "      endpoint_settings: {{}}   # AWS's defaults; put the S3Settings aws dms describe-endpoints\n"
    "                               # prints here, or a JSON file beside this one by name\n"
    "      # table_mappings: table-mappings.json   # the task's table mappings (JSON file or inline)\n",
}
KINDS = tuple(_SOURCES)
#: the per-dataset knobs with their defaults, commented out (uncomment to change one)
_OPERATIONS = (
    "  # freshness:                 # the silver/gold freshness checks (WARN when late)\n"
    "  #   max_lag: 2m              # a change waiting longer is late (90s, 2m, 1h, 7d)\n"
    '  #   cron: "*/5 * * * *"      # when the checks are evaluated\n'
    "  # maintenance:               # compaction, vacuum, tombstone GC (<dataset>_maintenance)\n"
    '  #   cron: "0 3 * * *"\n'
    "  #   enabled: false           # true: the schedule runs without turning it on in the UI\n"
    "  #   vacuum_retention: 7d     # unreferenced files kept for readers and time travel\n"
    "  #   tombstone_retention: 7d  # a delete guards against late older updates this long\n"
    "  # replication_slot:          # the replication_slot check (postgres sources)\n"
    "  #   lag_warn: 1GiB           # WAL behind: warn (512MiB, 1GiB, 10GiB)\n"
    "  #   lag_error: 10GiB         # ... and error\n"
    "  #   age_warn: 15m            # the oldest pending commit's age: warn\n"
    "  #   age_error: 1h            # ... and error\n"
)


def new_declaration(
    name: str, kind: str = "postgres", *, dsn_env: str | None = None,
    landing: str | None = None, path: str | None = None,
) -> str:  # fmt: skip
    """A declaration of dataset ``name`` with one source of ``kind`` and no table yet."""
    source = _SOURCES[kind].format(
        env=dsn_env or f"{name.upper()}_SOURCE_DSN",
        landing=landing or f"landing/{name}",
        path=path or "s3://<bucket>/<BucketFolder>",
    )
    return (
        f"# dataset {name}: `lakehouse discover {name}` pins its tables below\n"
        f"type: lakehouse.components.Dataset\nattributes:\n  name: {name}\n{_OPERATIONS}"
        f"  sources:\n{source}  tables: []\n"
    )
