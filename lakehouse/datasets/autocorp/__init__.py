"""The ``autocorp`` dataset (seed 002): ``defs.yaml``, ``ddl.sql``, ``generator``, ``gold``."""
