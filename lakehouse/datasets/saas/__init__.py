"""The ``saas`` dataset (seeds 000/001): ``defs.yaml``, ``ddl.sql``, ``generator``, ``gold``."""
