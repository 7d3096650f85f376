"""The datasets the lakehouse ships. Each sub-package has ``tables.py`` (``DATASET``: the
registry), ``ddl.sql`` (the source schema) and ``generator.py`` (Faker data at a scale)."""

from __future__ import annotations

import importlib

from lakehouse.registry import DatasetSpec

DATASET_NAMES = ("autocorp", "saas")


def load_dataset(name: str) -> DatasetSpec:
    if name not in DATASET_NAMES:
        raise ValueError(f"unknown dataset {name!r}; expected one of {DATASET_NAMES}")
    return importlib.import_module(f"lakehouse.datasets.{name}.tables").DATASET


def all_datasets(names: tuple[str, ...] = DATASET_NAMES) -> list[DatasetSpec]:
    return [load_dataset(n) for n in names]
