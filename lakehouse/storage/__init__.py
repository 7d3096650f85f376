"""Object storage for the lake zones (local folder or S3)."""

from lakehouse.storage.lake import Lake, LocalLake, ObjectInfo, S3Lake, open_lake

__all__ = ["Lake", "LocalLake", "ObjectInfo", "S3Lake", "open_lake"]
