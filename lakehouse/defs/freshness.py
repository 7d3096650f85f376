"""Freshness checks: how long the newest change has waited to reach silver and gold.

A time-since-last-update check would fail on a quiet source; what matters is *lag*: the age of
the oldest change that has arrived upstream but is not yet applied.
- ``silver/<t>`` ``freshness``: the oldest bronze commit the silver table has not applied yet
  (bronze commit times from the Delta log); 0 s when silver is caught up.
- ``gold/<m>`` ``freshness``: the oldest silver commit newer than the gold table's last commit.
Each fails (WARN) when the lag passes its dataset's ``freshness.max_lag`` (seed target: 15
minutes; ours: 2 minutes by default) and is evaluated by the automation sensor on its dataset's
``freshness.cron`` (every five minutes by default), so a stalled pipeline shows up even when no
run happens. Both are declared per dataset (``defs.yaml``; ``registry.model.FreshnessPolicy``);
a table no dataset declares (``gold/events_daily``) has the defaults.
"""

import time
from collections.abc import Mapping
from datetime import timedelta

import dagster as dg

from lakehouse.defs.resources import LakeResource
from lakehouse.registry import FreshnessPolicy
from lakehouse.registry.durations import format_duration

DEFAULT_POLICY = FreshnessPolicy()


def _commits(lake, key: str) -> list[dict]:
    from deltalake import DeltaTable
    from deltalake.exceptions import TableNotFoundError

    try:
        return DeltaTable(lake.uri(key), storage_options=lake.storage_options).history(50)
    except TableNotFoundError:
        return []


def silver_lag_seconds(lake, table: str, now: float | None = None) -> float:
    from lakehouse.engine.core.keys import silver_key
    from lakehouse.engine.increments import applied_bronze_version

    now = now or time.time()
    applied = applied_bronze_version(lake, silver_key(table))
    pending = [
        c for c in _commits(lake, f"bronze/{table}") if applied is None or c["version"] > applied
    ]
    if not pending:
        return 0.0
    return max(0.0, now - min(c["timestamp"] for c in pending) / 1000)


def gold_lag_seconds(lake, metric_key: str, parents: list[str], now: float | None = None) -> float:
    now = now or time.time()
    gold = _commits(lake, f"gold/{metric_key}")
    last_gold = max((c["timestamp"] for c in gold), default=0)
    newer = [
        c["timestamp"]
        for p in parents
        for c in _commits(lake, f"silver/{p}")
        if c["timestamp"] > last_gold
    ]
    return 0.0 if not newer else max(0.0, now - min(newer) / 1000)


def _result(lag: float, max_lag: timedelta, **where) -> dg.AssetCheckResult:
    """``where``: the asset key and check name, for a result yielded by an asset's step."""
    return dg.AssetCheckResult(
        **where,
        passed=lag <= max_lag.total_seconds(),
        severity=dg.AssetCheckSeverity.WARN,
        metadata={"lag_seconds": round(lag, 1), "max_lag_seconds": max_lag.total_seconds()},
    )


def _condition(policy: FreshnessPolicy) -> dg.AutomationCondition:
    return dg.AutomationCondition.cron_tick_passed(policy.cron)


def silver_freshness_spec(
    table: str, policy: FreshnessPolicy = DEFAULT_POLICY
) -> dg.AssetCheckSpec:
    """The ``freshness`` check of ``silver/<table>`` (evaluated in the local silver step)."""
    return dg.AssetCheckSpec(
        "freshness",
        asset=["silver", table],
        automation_condition=_condition(policy),
        description=(
            f"changes wait at most {format_duration(policy.max_lag)} between bronze and silver"
        ),
    )


def silver_freshness_result(lake, table: str, policy: FreshnessPolicy) -> dg.AssetCheckResult:
    lag = silver_lag_seconds(lake, table)
    return _result(
        lag, policy.max_lag, asset_key=dg.AssetKey(["silver", table]), check_name="freshness"
    )


def silver_freshness_check(
    table: str, policy: FreshnessPolicy = DEFAULT_POLICY
) -> dg.AssetChecksDefinition:
    """The same check as a definition of its own (a silver asset that does not evaluate it)."""
    max_lag = policy.max_lag

    @dg.asset_check(
        asset=["silver", table],
        name="freshness",
        automation_condition=_condition(policy),
        description=f"changes wait at most {format_duration(max_lag)} between bronze and silver",
    )
    def _check(lake: LakeResource) -> dg.AssetCheckResult:
        return _result(silver_lag_seconds(lake.lake(), table), max_lag)

    return _check


def gold_freshness_check(
    metric_key: str, parents: list[str], policy: FreshnessPolicy = DEFAULT_POLICY
) -> dg.AssetChecksDefinition:
    max_lag = policy.max_lag

    @dg.asset_check(
        asset=["gold", metric_key],
        name="freshness",
        automation_condition=_condition(policy),
        description=f"gold follows its silver inputs within {format_duration(max_lag)}",
    )
    def _check(lake: LakeResource) -> dg.AssetCheckResult:
        return _result(gold_lag_seconds(lake.lake(), metric_key, parents), max_lag)

    return _check


def freshness_checks(
    assets: list, policies: Mapping[dg.AssetKey, FreshnessPolicy] | None = None
) -> list[dg.AssetChecksDefinition]:
    """One freshness check per silver table and gold metric among ``assets`` that does not
    evaluate its own (``silver_freshness_spec``), each with the policy ``policies`` holds for
    its key (its dataset's), else the default one."""
    policies = policies or {}
    out = []
    for a in assets:
        if not isinstance(a, dg.AssetsDefinition):
            continue
        for key in a.keys:
            layer, name = key.path[0], key.path[-1]
            policy = policies.get(key, DEFAULT_POLICY)
            if dg.AssetCheckKey(key, "freshness") in a.check_keys:
                continue  # evaluated by the asset's own step (local silver)
            if layer == "silver" and not name.endswith("_history"):
                out.append(silver_freshness_check(name, policy))
            elif layer == "gold":
                parents = [d.path[-1] for d in a.asset_deps[key] if d.path[0] == "silver"]
                out.append(gold_freshness_check(name, parents, policy))
    return out
