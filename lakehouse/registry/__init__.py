"""The table registry: datasets and their tables, declared as data (see ``model``)."""

from lakehouse.registry.model import (
    Column,
    CsvOptions,
    DatasetSpec,
    FreshnessPolicy,
    MaintenancePolicy,
    TableSpec,
)

__all__ = [
    "Column",
    "CsvOptions",
    "DatasetSpec",
    "FreshnessPolicy",
    "MaintenancePolicy",
    "TableSpec",
]
