"""A user's dataset of one table, declared in YAML only, for tests that need one quickly."""

from __future__ import annotations

from pathlib import Path

import yaml


def declare_items(defs_dir: Path, name: str, dsn_env: str) -> Path:
    """Write ``<defs_dir>/<name>/defs.yaml``: a postgres source whose DSN is the variable
    ``dsn_env``, and the table ``public.items (id int primary key, v int)``; its path."""
    decl = {
        "type": "lakehouse.components.Dataset",
        "attributes": {
            "name": name,
            "sources": [{"kind": "postgres", "dsn_env": dsn_env}],
            "tables": [
                {
                    "name": "items",
                    "primary_key": ["id"],
                    "columns": [
                        {"name": "id", "type": "int", "nullable": False},
                        {"name": "v", "type": "int"},
                    ],
                }
            ],
        },
    }
    path = defs_dir / name / "defs.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(decl))
    return path
