"""The ``saas`` dataset (seeds 000/001): ``tables`` (registry), ``ddl.sql``, ``generator``."""
