"""The automation condition of silver and gold: follow the parents, without losing an update.

``AutomationCondition.eager()`` remembers "a parent updated" until the target is *handled*:
requested, or **updated**. That loses updates under a steady stream of changes: when a parent
(silver) updates while the target's (gold's) run is in flight, the gold run finishes in the
same tick window, its materialization counts as handled, and gold never reads the newer silver
(until the next change). The e2e test hit exactly this: a commit reached silver 3 s after gold
had started from the full load, and gold stayed stale.

``follow_parents()`` is eager() with one difference: only a *request* the tick after it was made
resets the memory, and only if no parent updated in that window (that update may have landed
after the run read its parent, so it counts again, and gold runs once more after the in-flight
run; an extra run at worst, never a lost update). A materialization of the target itself (a run
someone launched) does not reset it. Everything else is eager()'s: nothing while a parent is
missing or in progress or the target runs, and ``all_deps_blocking_checks_passed`` holds
everything downstream of a failed blocking check.
"""

import dagster as dg


def follow_parents() -> dg.AutomationCondition:
    ac = dg.AutomationCondition
    updated = ac.newly_missing() | ac.any_deps_updated()
    handled = (ac.newly_requested() & ~ac.any_deps_updated()) | ac.initial_evaluation()
    return (
        updated.since(handled.with_label("requested, no parent update since"))
        & ~ac.any_deps_missing()
        & ~ac.any_deps_in_progress()
        & ~ac.in_progress()
    ).with_label("follow parents (eager, update-safe)") & ac.all_deps_blocking_checks_passed()
