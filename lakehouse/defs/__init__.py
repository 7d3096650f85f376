"""Dagster definitions per layer (raw, bronze, silver, gold, checks, sensors, resources)."""
