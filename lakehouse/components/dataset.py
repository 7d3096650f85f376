"""``lakehouse.components.Dataset``: a dataset declared in YAML (``<folder>/defs.yaml``).

Scaffold one with ``dg scaffold defs lakehouse.components.Dataset <name>`` (or ``lakehouse init
<name>``), pin its tables with ``lakehouse discover <name>``. The code location loads every
declaration under ``lakehouse/datasets/`` and the ``LAKEHOUSE_DEFS`` folders; each becomes the
dataset's ``raw``/``bronze``/``silver``/``gold`` assets, checks and sensors.
"""

from __future__ import annotations

from pathlib import Path

import dagster as dg

from lakehouse.declarations.model import DatasetDecl
from lakehouse.declarations.template import new_declaration


class DatasetScaffolder(dg.Scaffolder):
    def scaffold(self, request: dg.ScaffoldRequest) -> None:
        write_template(request.target_path, request.target_path.name)


def write_template(folder: Path, name: str) -> Path:
    """A new declaration for dataset ``name`` in ``folder/defs.yaml`` (never overwritten)."""
    path = folder / "defs.yaml"
    if path.exists():
        raise FileExistsError(f"{path} exists: edit it, or run `lakehouse discover {name}`")
    folder.mkdir(parents=True, exist_ok=True)
    path.write_text(new_declaration(name))
    return path


@dg.scaffold_with(DatasetScaffolder)
class Dataset(dg.Component, dg.Resolvable, DatasetDecl):
    """A dataset: its sources and tables, declared in YAML.

    ``sources`` (one or more, each with a ``kind``):

    - ``postgres``: ``dsn_env`` (name of the environment variable holding the DSN; without it the
      embedded server), ``selection`` (DMS selection rules, ``%`` wildcards), ``dms`` (S3Settings
      the raw files are written with, as AWS prints them).
    - ``csv_drop``: ``landing`` (folder; default ``<root>/landing/<dataset>``); each table has a
      ``file_glob`` and ``csv`` options (delimiter, header, quote, encoding, null_value).
    - ``dms_s3``: ``path`` (folder or ``s3://`` prefix of an existing DMS output),
      ``endpoint_settings`` and ``table_mappings`` (the JSON AWS prints), optional ``dsn_env``.

    ``tables``: ``name``, ``schema``, ``primary_key``, ``columns`` (name, logical type,
    nullable, pii, checks, references), ``exclude_columns``, ``partition_by``, ``table_format``
    (delta | hudi), ``scd_type`` (1 | 2). ``gold`` names a Python module whose ``METRICS`` are the
    dataset's gold tables.

    Operations (optional; durations like ``90s``, ``2m``, ``1h``, ``7d``): ``freshness``
    (``max_lag``, default 2m; ``cron`` the checks are evaluated on, default ``*/5 * * * *``) and
    ``maintenance`` (``cron``, default ``0 3 * * *``; ``enabled``, default false;
    ``vacuum_retention`` and ``tombstone_retention``, default 7d).
    """

    def build_defs(self, context: dg.ComponentLoadContext) -> dg.Definitions:
        from lakehouse.declarations import register
        from lakehouse.declarations.load import Declaration
        from lakehouse.declarations.spec import to_spec
        from lakehouse.definitions import dataset_definitions
        from lakehouse.profiles import Settings

        decl = DatasetDecl.model_validate(self.model_dump(by_alias=True))
        path = Path(context.path)
        register(Declaration(path, decl, to_spec(decl, path)))
        # the process's knobs (tick seconds, catch-up bounds), read when Dagster builds the defs
        return dataset_definitions(to_spec(decl, path), settings=Settings.from_env())
