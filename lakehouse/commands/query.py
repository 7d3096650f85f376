"""``lakehouse query "<SQL>" [--format table|csv|json] [--tenant T]``: SQL over the lake.

Athena (Trino) SQL on the local catalog (``query.sql.query_command``); with ``--tenant`` on
that tenant's connection (only its rows).
"""

from __future__ import annotations

from lakehouse.commands.targets import settings


def cmd_query(args) -> int:
    from lakehouse.query.sql import query_command

    print(query_command(args.sql, settings().lake(), output_format=args.format, tenant=args.tenant))
    return 0
