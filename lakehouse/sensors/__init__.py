"""Detection logic behind the Dagster sensors (pure functions over a ``Lake``; see ``cursor``)."""
