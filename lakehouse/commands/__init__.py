"""CLI commands, one module per group (``lakehouse.cli`` parses and dispatches)."""
