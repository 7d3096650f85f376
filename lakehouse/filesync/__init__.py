"""Landing folder -> lake file sync (the local stand-in for AWS DataSync)."""

from lakehouse.filesync.sync import SyncedFile, SyncReport, state_key, sync_folder

__all__ = ["SyncReport", "SyncedFile", "state_key", "sync_folder"]
