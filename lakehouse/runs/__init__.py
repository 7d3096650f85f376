"""How Dagster runs are started on this machine (the run launcher of ``lakehouse dev``)."""
