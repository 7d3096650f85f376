"""Data quality: pandera schemas built from the registry, row-level quarantine, reconciliation."""
