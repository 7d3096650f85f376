"""The one automation condition of the platform: follow the parents, without losing an update.

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

Applied in one place: ``automation_for(spec)``, called by the definitions' global pass
(``lakehouse.definitions``) for every asset of an automated layer (``AUTOMATED_LAYERS``); no
factory sets a condition of its own (``lakehouse_tests/sensors/test_automation.py`` checks every
shipped asset). Raw and bronze are not automated: sensors launch them when files arrive.
"""

from __future__ import annotations

from typing import Literal

import dagster as dg

#: the first part of the key of every automated asset
AUTOMATED_LAYERS = ("silver", "gold", "catalog")
#: an asset tag choosing ``follow_parents(missing_parents=...)`` (``"wait"`` without it)
MISSING_PARENTS_TAG = "lakehouse/missing_parents"

MissingParents = Literal["wait", "skip"]


def follow_parents(missing_parents: MissingParents = "wait") -> dg.AutomationCondition:
    """The automation condition (see the module docstring).

    ``missing_parents``: ``"wait"`` (the default, eager()'s rule): nothing while any parent is
    missing. ``"skip"``: for a table fed by many sources of which some may never send anything
    (``gold/events_daily``: a source without records never gets a silver table): hold only
    while *all* parents are missing, and a missing parent's blocking checks hold nothing (a
    materialized parent whose blocking check failed still does). Measured reason:
    ``lakehouse_tests/events/test_automation.py``, where only ``iot_sensors`` sends and gold
    must not wait for ``silver/events_app_events``, which never exists.
    """
    ac = dg.AutomationCondition
    updated = ac.newly_missing() | ac.any_deps_updated()
    handled = (ac.newly_requested() & ~ac.any_deps_updated()) | ac.initial_evaluation()
    if missing_parents == "wait":
        parents_present = ~ac.any_deps_missing()
        checks_passed = ac.all_deps_blocking_checks_passed()
        label = "follow parents (eager, update-safe)"
    elif missing_parents == "skip":
        parents_present = ~ac.all_deps_match(ac.missing() & ~ac.will_be_requested()).with_label(
            "all_deps_missing"
        )
        checks_passed = ac.all_deps_match(
            ac.missing()
            | ac.all_checks_match(ac.check_passed() | ac.will_be_requested(), blocking_only=True)
        ).with_label("all_present_deps_blocking_checks_passed")
        label = "follow parents (eager, update-safe, missing parents skipped)"
    else:
        raise ValueError(f"missing_parents={missing_parents!r}: use 'wait' or 'skip'")
    return (
        updated.since(handled.with_label("requested, no parent update since"))
        & parents_present
        & ~ac.any_deps_in_progress()
        & ~ac.in_progress()
    ).with_label(label) & checks_passed


def automation_for(spec: dg.AssetSpec) -> dg.AutomationCondition | None:
    """The condition of an asset: ``follow_parents`` for the automated layers (with the
    asset's ``MISSING_PARENTS_TAG``), None (sensors or people launch it) otherwise."""
    if spec.key.path[0] not in AUTOMATED_LAYERS:
        return None
    return follow_parents(spec.tags.get(MISSING_PARENTS_TAG, "wait"))
