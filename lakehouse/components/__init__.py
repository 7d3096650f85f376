"""Dagster Component types of the lakehouse (``dg list components``, the UI's Docs tab)."""

from lakehouse.components.dataset import Dataset

__all__ = ["Dataset"]
