"""SQL over the lake: Athena (Trino) SQL transpiled by sqlglot and run on the local catalog."""

from lakehouse.query.sql import connect, format_frame, query_command, run_query, transpile

__all__ = ["connect", "format_frame", "query_command", "run_query", "transpile"]
