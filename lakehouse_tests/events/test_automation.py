"""No manual step: a posted record → sensor → bronze run → automation requests silver, then gold.

Uses the code location's real definitions (``build_definitions``) and Dagster's automation
evaluator on an ephemeral instance; only ``iot_sensors`` sends data, so gold must not wait for
``silver/events_app_events``, which never exists.
"""

from __future__ import annotations

from datetime import UTC, datetime

import dagster as dg
import pytest

from lakehouse.definitions import build_definitions
from lakehouse.defs.events import events_defs
from lakehouse.defs.resources import LakeResource
from lakehouse.events.store import EventStore
from lakehouse.events.validation import parse_request
from lakehouse.profiles import Settings
from lakehouse.storage import LocalLake
from lakehouse_tests.events.conftest import SEED_RECORD

pytestmark = pytest.mark.xdist_group("events_automation")
SILVER = dg.AssetKey(["silver", "events_iot_sensors"])
GOLD = dg.AssetKey(["gold", "events_daily"])


def test_a_posted_record_reaches_gold_with_no_manual_step(tmp_path):
    from lakehouse.events.schemas import all_sources

    root = tmp_path / "lake"
    lake = LocalLake(root)
    _, records = parse_request(SEED_RECORD, all_sources(), 10)
    EventStore(lake).write(
        "iot_sensors", records, api_key_id="k", request_id="r"
    )  # what the API does

    defs = build_definitions(
        Settings.from_env({"LAKEHOUSE_ROOT": str(root), "LAKEHOUSE_DATASETS": "saas"})
    )
    resources = {"lake": LakeResource(root=str(root))}
    sensor = next(s for s in defs.sensors if s.name == "events_raw_sensor")
    tick = sensor(dg.build_sensor_context(resources=resources))
    assert len(tick.run_requests) == 1
    selection = tick.run_requests[0].asset_selection

    events, checks, _ = events_defs()  # the same asset code, without the location's resources
    sel = dg.AssetSelection.assets(SILVER, GOLD)

    # one evaluation time for every evaluation: the freshness checks' cron (every 5 minutes)
    # must not tick between two of them (a test crossing hh:m5:00 saw the checks requested too)
    at = datetime.now(UTC)
    with dg.instance_for_test() as instance:
        first = dg.evaluate_automation_conditions(
            defs=defs, instance=instance, asset_selection=sel, evaluation_time=at
        )
        assert first.total_requested == 0  # nothing in bronze yet
        assert dg.materialize(
            events, selection=selection, instance=instance, resources=resources
        ).success
        after_bronze = dg.evaluate_automation_conditions(
            defs=defs,
            instance=instance,
            asset_selection=sel,
            evaluation_time=at,
            cursor=first.cursor,
        )
        # silver and gold in one run (gold after silver and its blocking check); gold does not
        # wait for silver/events_app_events, which never exists
        assert after_bronze.get_num_requested(SILVER) == 1
        assert after_bronze.get_num_requested(GOLD) == 1
        assert dg.materialize(
            [*events, *checks], selection=[SILVER, GOLD], instance=instance, resources=resources
        ).success
        # silver updated in the window of gold's request: follow_parents cannot tell whether
        # that run read it, so gold runs once more (never a lost update), then all is settled
        again = dg.evaluate_automation_conditions(
            defs=defs,
            instance=instance,
            asset_selection=sel,
            evaluation_time=at,
            cursor=after_bronze.cursor,
        )
        assert again.get_num_requested(GOLD) == 1 and again.total_requested == 1
        assert dg.materialize(
            [*events, *checks], selection=[GOLD], instance=instance, resources=resources
        ).success
        settled = dg.evaluate_automation_conditions(
            defs=defs,
            instance=instance,
            asset_selection=sel,
            evaluation_time=at,
            cursor=again.cursor,
        )
        assert settled.total_requested == 0

    from lakehouse.events.tables import read_table

    gold = read_table(lake, "gold/events_daily")
    assert gold.to_dicts()[0]["avg_temperature"] == 22.5 and gold["records"].to_list() == [1]
