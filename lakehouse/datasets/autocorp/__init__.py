"""The ``autocorp`` dataset (seed 002): ``tables`` (registry), ``ddl.sql``, ``generator``."""
