"""Validated declarations kept as JSON, by the content of their file.

Contract: ``cached(cache_dir, text)`` is the ``DatasetDecl`` stored for a file whose content is
``text``, or None (no cache folder, nothing stored, or stored under another version of the
model: the key covers the model's JSON schema). ``store(cache_dir, text, decl)`` writes it
atomically; a folder that cannot be written (a read-only file system) just goes without.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

from pydantic import ValidationError

from lakehouse.declarations.model import DatasetDecl

_SCHEMA_KEY: str | None = None


def _cache_file(cache_dir: Path, text: str) -> Path:
    global _SCHEMA_KEY
    if _SCHEMA_KEY is None:  # a change of the model invalidates every cached declaration
        _SCHEMA_KEY = json.dumps(DatasetDecl.model_json_schema(), sort_keys=True)
    digest = hashlib.sha256(f"{_SCHEMA_KEY}\n{text}".encode()).hexdigest()
    return cache_dir / f"{digest}.json"


def cached(cache_dir: Path | None, text: str) -> DatasetDecl | None:
    if cache_dir is None:
        return None
    try:
        return DatasetDecl.model_validate_json(_cache_file(cache_dir, text).read_bytes())
    except (OSError, ValidationError):
        return None


def store(cache_dir: Path | None, text: str, decl: DatasetDecl) -> None:
    if cache_dir is None:
        return
    target = _cache_file(cache_dir, text)
    try:  # a read-only file system (a Lambda) just goes without the cache
        cache_dir.mkdir(parents=True, exist_ok=True)
        tmp = target.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(decl.model_dump_json(by_alias=True))
        tmp.replace(target)
    except OSError:
        pass
