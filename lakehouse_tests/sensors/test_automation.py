"""The silver/gold automation condition, evaluated by Dagster's own evaluator against a real
(ephemeral) instance: it follows parents, and does not lose a parent update that lands while
the target's run is in flight (eager() does: the e2e test caught it)."""

import dagster as dg

from lakehouse.defs.automation import follow_parents


def _defs(condition):
    @dg.asset
    def silver():
        return None

    @dg.asset(deps=[silver], automation_condition=condition)
    def gold():
        return None

    return dg.Definitions(assets=[silver, gold])


def _story(condition) -> list[int]:
    """Requests of gold per tick: start; silver updates; (gold's run in flight) silver updates
    again and gold's run, which read the old silver, finishes in the same window; a quiet tick."""
    defs, instance = _defs(condition), dg.DagsterInstance.ephemeral()
    cursor, requested = None, []

    def tick():
        nonlocal cursor
        result = dg.evaluate_automation_conditions(defs=defs, instance=instance, cursor=cursor)
        cursor = result.cursor
        requested.append(result.get_num_requested(dg.AssetKey("gold")))

    def materialize(name):
        instance.report_runless_asset_event(dg.AssetMaterialization(name))

    materialize("silver")
    materialize("gold")
    tick()  # the first evaluation: nothing to do
    materialize("silver")
    tick()  # → gold requested
    materialize("silver")  # a commit reaches silver while gold's run is in flight...
    materialize("gold")  # ...and that run (which read the older silver) ends in the same window
    tick()
    tick()
    tick()
    return requested


def test_follow_parents_does_not_lose_an_update_during_the_targets_run():
    assert _story(follow_parents()) == [0, 1, 1, 0, 0]  # gold runs again, then settles


def test_eager_loses_it_which_is_why_follow_parents_exists():
    assert _story(dg.AutomationCondition.eager()) == [0, 1, 0, 0, 0]


def test_follow_parents_holds_downstream_of_a_failed_blocking_check():
    state = {"passed": False}

    @dg.asset
    def silver():
        return None

    @dg.asset_check(asset=silver, blocking=True)
    def schema():
        return dg.AssetCheckResult(passed=state["passed"])

    @dg.asset(deps=[silver], automation_condition=follow_parents())
    def gold():
        return None

    defs = dg.Definitions(assets=[silver, gold], asset_checks=[schema])
    instance = dg.DagsterInstance.ephemeral()
    assert dg.materialize([silver, gold], instance=instance).success
    cursor = dg.evaluate_automation_conditions(defs=defs, instance=instance).cursor
    bad = dg.materialize([silver, schema], instance=instance, raise_on_error=False)
    assert not bad.success  # the blocking check failed
    held = dg.evaluate_automation_conditions(defs=defs, instance=instance, cursor=cursor)
    assert held.get_num_requested(dg.AssetKey("gold")) == 0
    state["passed"] = True
    assert dg.materialize([silver, schema], instance=instance).success
    moved = dg.evaluate_automation_conditions(defs=defs, instance=instance, cursor=held.cursor)
    assert moved.get_num_requested(dg.AssetKey("gold")) == 1


def test_every_automated_shipped_asset_carries_the_one_condition(tmp_path):
    """One builder, applied in one place (the definitions' global pass): every silver, gold and
    catalog asset of the shipped definitions (local and aws) has ``automation_for(spec)``, i.e.
    ``follow_parents`` (``"skip"`` only where tagged), and nothing else is automated."""
    from lakehouse.definitions import build_definitions
    from lakehouse.defs.automation import AUTOMATED_LAYERS, MISSING_PARENTS_TAG
    from lakehouse.profiles import Settings

    for profile in ("local", "aws"):
        env = {"LAKEHOUSE_PROFILE": profile, "LAKEHOUSE_ROOT": str(tmp_path / profile)}
        graph = build_definitions(Settings.from_env(env)).resolve_asset_graph()
        automated, skip = set(), set()
        for key in graph.get_all_asset_keys():
            node = graph.get(key)
            if key.path[0] in AUTOMATED_LAYERS and node.is_executable:
                mode = node.tags.get(MISSING_PARENTS_TAG, "wait")
                assert node.automation_condition == follow_parents(mode), key
                automated.add(key.path[0])
                if mode == "skip":
                    skip.add(key.to_user_string())
            else:
                assert node.automation_condition is None, key
        assert automated == (
            {"silver", "gold", "catalog"} if profile == "local" else {"silver", "gold"}
        )
        assert skip == {"gold/events_daily"}


def test_missing_parents_skip_runs_with_one_parent_and_holds_on_its_failed_check():
    state = {"passed": True}

    @dg.asset
    def a():
        return None

    @dg.asset
    def b():  # never materialized: a source that never sent anything
        return None

    @dg.asset_check(asset=a, blocking=True)
    def schema():
        return dg.AssetCheckResult(passed=state["passed"])

    def defs(condition):
        @dg.asset(deps=[a, b], automation_condition=condition)
        def daily():
            return None

        return dg.Definitions(assets=[a, b, daily], asset_checks=[schema])

    for mode, expected in (("wait", 0), ("skip", 1)):
        instance = dg.DagsterInstance.ephemeral()
        d = defs(follow_parents(mode))
        cursor = dg.evaluate_automation_conditions(defs=d, instance=instance).cursor
        assert dg.materialize([a, schema], instance=instance).success
        result = dg.evaluate_automation_conditions(defs=d, instance=instance, cursor=cursor)
        assert result.get_num_requested(dg.AssetKey("daily")) == expected, mode
    state["passed"] = False
    instance = dg.DagsterInstance.ephemeral()
    d = defs(follow_parents("skip"))
    cursor = dg.evaluate_automation_conditions(defs=d, instance=instance).cursor
    assert not dg.materialize([a, schema], instance=instance, raise_on_error=False).success
    held = dg.evaluate_automation_conditions(defs=d, instance=instance, cursor=cursor)
    assert held.get_num_requested(dg.AssetKey("daily")) == 0
