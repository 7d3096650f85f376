"""Read one ``defs.yaml`` into a validated ``DatasetDecl``.

Contract: ``parse_declaration(path, text)`` returns the file's ``attributes`` validated by the
Dataset model, or None when the file declares another component type; a file that is not YAML,
has no ``type`` or no ``attributes``, or fails the model raises ``DeclarationError`` (one line
per problem). ``COMPONENT_TYPES`` are the ``type`` values that name the Dataset component.
"""

from __future__ import annotations

from pathlib import Path

import yaml
from pydantic import ValidationError

from lakehouse.declarations.model import DatasetDecl
from lakehouse.declarations.problems import DeclarationError, pydantic_problems

COMPONENT_TYPES = ("lakehouse.components.Dataset", "lakehouse.components.dataset.Dataset")


def parse_declaration(path: Path, text: str) -> DatasetDecl | None:
    """The Dataset declaration ``text`` (read from ``path``), or None for another component."""
    try:
        # libyaml's parser when present: ~4x faster than PyYAML's pure-Python one
        doc = yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    except yaml.YAMLError as err:
        raise DeclarationError([f"{path}: not valid YAML: {err}".replace("\n", " ")]) from err
    if not isinstance(doc, dict) or "type" not in doc:
        raise DeclarationError(
            [f"{path}: type: missing — fix: start the file with 'type: {COMPONENT_TYPES[0]}'"]
        )
    if doc["type"] not in COMPONENT_TYPES:
        return None
    attributes = doc.get("attributes")
    if not isinstance(attributes, dict):
        raise DeclarationError(
            [f"{path}: attributes: missing — fix: put the dataset under 'attributes:'"]
        )
    try:
        return DatasetDecl.model_validate(attributes)
    except ValidationError as err:
        raise DeclarationError(pydantic_problems(path, attributes, err)) from None
