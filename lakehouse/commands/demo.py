"""``lakehouse demo``: the whole pipeline, end to end, on the served datasets with demo data.

Starts the source, seeds each dataset (unless seeded; ``--reseed``), materializes every asset,
churns the source for ``--churn`` seconds and materializes again (change data capture through
bronze, silver and gold), prints the status report and, when the alias dataset's tables are
there, one SQL query over the lake. Exit 1 when a run failed.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime

from lakehouse.commands.pipeline import print_run
from lakehouse.commands.source import churn, churn_line, is_seeded, seed_dataset, source_up
from lakehouse.commands.status import status_report
from lakehouse.commands.targets import served_with, settings
from lakehouse.profiles import Settings

DEMO_SQL = (
    "SELECT t.name AS tenant, count(*) AS completed_orders, sum(o.total) AS revenue "
    "FROM silver.orders o JOIN silver.tenants t ON t.id = o.tenant_id "
    "WHERE o.status = 'completed' GROUP BY t.name ORDER BY revenue DESC"
)


def cmd_demo(args) -> int:
    """Start the source, seed it, replicate, sync, materialize every asset, print a summary."""
    from lakehouse.runs.materialize import materialize

    s = settings()
    t0 = time.perf_counter()
    print(f"== lakehouse demo (profile {s.profile}, lake {s.root})")
    source_up(s)
    for d in served_with(s, "demo"):
        if is_seeded(s, d) and not args.reseed:
            print(f"== {d}: already seeded (use --reseed to start over)")
        else:
            print(f"== seeding {d} at scale {args.scale}")
            seed_dataset(s, d, args.scale, progress=True)
    print("== materializing every asset (replication, file sync, bronze, silver, gold, checks)")
    result = materialize(settings=s)
    print_run(result)
    ok = result.success
    if ok and args.churn > 0:
        for d in served_with(s, "churn"):
            stats = churn(s, d, rate=200, duration=args.churn)
            print(f"== churn on {d}: {churn_line(stats)}")
        print("== materializing again (change data capture into bronze, silver and gold)")
        result = materialize(settings=s)
        print_run(result)
        ok = result.success
    print("\n" + status_report(s))
    if ok:
        _demo_query(s)
    print(
        f"\n== demo {'finished' if ok else 'FAILED'} in {time.perf_counter() - t0:.0f}s at {datetime.now(UTC):%H:%M:%S} UTC"
    )
    print("   browse it: make dev (Dagster UI), or: lakehouse status")
    return 0 if ok else 1


def _demo_query(s: Settings) -> None:
    """Revenue per tenant over the alias dataset's friendly names, when they are served."""
    from lakehouse.catalog.views import default_alias_dataset, friendly_names
    from lakehouse.declarations import served
    from lakehouse.query.sql import query_command

    aliases = default_alias_dataset()
    views = friendly_names().get(aliases or "", {})
    if aliases in served(s) and {"orders", "tenants"} <= set(views):
        print(f"\n== SQL over the lake (DuckDB catalog, Athena dialect):\n   {DEMO_SQL}")
        print(query_command(DEMO_SQL, s.lake()))
