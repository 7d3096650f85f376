"""Event assets: the HTTP ingestion API's records from the raw zone to gold.

Per registered source (``lakehouse.events.schemas``):
- ``["raw", "events_<source>"]``: external (written by the API, locally or on Lambda);
- ``["bronze", "events_<source>"]``: append-only Delta with lineage (``events.bronze``);
- ``["silver", "events_<source>"]``: deduplicated by record id, typed, ``quality_score``; a
  blocking pandera check ``schema`` (failing rows sampled into its metadata);
and ``["gold", "events_daily"]`` (per source and day: count, average quality, source metrics).

Sensor ``events_raw_sensor`` (running by default, every ``LAKEHOUSE_TICK_SECONDS``, 2 s) lists ``raw/events/<source>/``
with a cursor and requests one run of the bronze assets of exactly the sources that got objects,
its run key derived from each source's newest key and window digest. The cursor is
``events.watch``'s, not ``sensors.cursor``'s "last key seen": DMS files are written one after
the other, but many API requests write concurrently, so an object whose key time is a little
older than the newest key can land after it; ``events.watch`` re-reads a window of
``LAKEHOUSE_EVENTS_GRACE_SECONDS`` (2 minutes) and
compares a digest of its keys. Silver and gold then move by declarative automation (the
``automation`` sensor) with the location's one condition (``defs.automation.follow_parents``,
applied in ``definitions.py``); gold is tagged ``missing_parents="skip"``: a source that never
sent anything (its silver table missing) does not hold ``gold/events_daily`` back. A record posted to the API reaches
gold with no manual step (``lakehouse_tests/events/test_automation.py``).
"""

import hashlib
import json
from datetime import timedelta

import dagster as dg

from lakehouse.defs.automation import MISSING_PARENTS_TAG
from lakehouse.defs.resources import LakeResource
from lakehouse.defs.silver import SilverConfig
from lakehouse.events.schemas import EventSource
from lakehouse.profiles import Settings

GOLD_KEY = dg.AssetKey(["gold", "events_daily"])


def _key(layer: str, source: EventSource) -> dg.AssetKey:
    return dg.AssetKey([layer, source.table])


def raw_spec(source: EventSource) -> dg.AssetSpec:
    return dg.AssetSpec(
        key=_key("raw", source),
        group_name="events_raw",
        kinds={"s3", "json"},
        owners=list(source.owners),
        description=f"NDJSON objects of {source.name} written by the ingestion API "
        f"(raw/events/{source.name}/year=/month=/day=/<ts>-<batch>.json). {source.description}".strip(),
        metadata={"raw_prefix": f"raw/events/{source.name}/"},
    )


def bronze_asset(source: EventSource) -> dg.AssetsDefinition:
    @dg.asset(
        key=_key("bronze", source),
        deps=[_key("raw", source)],
        group_name="events_bronze",
        kinds={"delta", "polars"},
        owners=list(source.owners),
        pool=f"bronze_{source.table}",
        description=f"Append-only Delta log of the {source.name} records as they arrived, with "
        "lineage (_source_file, _source_row, _ingested_at); each raw object exactly once.",
    )
    def _bronze(context: dg.AssetExecutionContext, lake: LakeResource) -> dg.MaterializeResult:
        from lakehouse.events.bronze import ingest_bronze

        res = ingest_bronze(lake.lake(), source)
        context.log.info(
            f"bronze/{source.table}: {len(res.files)} new objects, {res.rows} records, "
            f"{res.quarantined} quarantined"
        )
        return dg.MaterializeResult(
            metadata={
                "files": len(res.files),
                "rows": res.rows,
                "quarantined": res.quarantined,
                "delta_version": -1 if res.version is None else res.version,
                "duration_s": round(res.seconds, 3),
            }
        )

    return _bronze


def silver_asset(source: EventSource) -> dg.AssetsDefinition:
    @dg.asset(
        key=_key("silver", source),
        deps=[_key("bronze", source)],
        group_name="events_silver",
        kinds={"delta", "polars"},
        owners=list(source.owners),
        pool=f"silver_{source.table}",
        description=f"One row per {source.name} record id (first arrival wins), typed per the "
        "registry, with quality_score (share of optional fields present and valid).",
    )
    def _silver(
        context: dg.AssetExecutionContext, config: SilverConfig, lake: LakeResource
    ) -> dg.MaterializeResult:
        from lakehouse.events.silver import apply_silver

        res = apply_silver(lake.lake(), source, full_refresh=config.full_refresh)
        context.log.info(
            f"silver/{source.table}: {res.rows} bronze rows → +{res.inserted}, "
            f"{res.duplicates} duplicates, {res.quarantined} quarantined"
        )
        return dg.MaterializeResult(
            metadata={
                "bronze_rows": res.rows,
                "inserted": res.inserted,
                "duplicates": res.duplicates,
                "quarantined": res.quarantined,
                "bronze_version": -1 if res.bronze_version is None else res.bronze_version,
                "delta_version": -1 if res.version is None else res.version,
                "duration_s": round(res.seconds, 3),
            }
        )

    return _silver


def gold_asset(sources: list[EventSource]) -> dg.AssetsDefinition:
    @dg.asset(
        key=GOLD_KEY,
        # some sources may never send anything: gold does not wait for their silver tables
        tags={MISSING_PARENTS_TAG: "skip"},
        deps=[_key("silver", s) for s in sources],
        group_name="events_gold",
        kinds={"delta", "polars"},
        description="Per source and event day (UTC): records, avg_quality_score, late_records, "
        "first/last event time and each source's metrics (e.g. avg_temperature for iot_sensors).",
    )
    def _gold(context: dg.AssetExecutionContext, lake: LakeResource) -> dg.MaterializeResult:
        from lakehouse.defs.gold import markdown_table
        from lakehouse.events.gold import build_gold_daily

        frame, version = build_gold_daily(lake.lake(), sources)
        context.log.info(f"gold/events_daily: {frame.height} rows, Delta version {version}")
        return dg.MaterializeResult(
            metadata={
                "rows": frame.height,
                "dagster/row_count": frame.height,
                "delta_version": version,
                "preview": dg.MetadataValue.md(markdown_table(frame)),
            }
        )

    return _gold


def silver_check(source: EventSource) -> dg.AssetChecksDefinition:
    @dg.asset_check(
        asset=_key("silver", source),
        name="schema",
        blocking=True,
        description=f"pandera schema of silver/{source.table} from the event-source registry",
    )
    def _check(lake: LakeResource) -> dg.AssetCheckResult:
        from lakehouse.engine.core.keys import silver_key
        from lakehouse.events.quality import silver_schema
        from lakehouse.events.tables import read_table
        from lakehouse.quality.validate import failure_cases, failure_summary

        frame = read_table(lake.lake(), silver_key(source.table))
        if frame.height == 0:
            return dg.AssetCheckResult(passed=True, metadata={"rows": 0})
        summary = failure_summary(failure_cases(frame, silver_schema(source)))
        return dg.AssetCheckResult(
            passed=summary["failures"] == 0,
            severity=dg.AssetCheckSeverity.ERROR,
            metadata={
                "rows": frame.height,
                "failures": summary["failures"],
                "details": dg.MetadataValue.json(summary),
            },
        )

    return _check


def raw_events_sensor(
    sources: list[EventSource], settings: Settings | None = None
) -> dg.SensorDefinition:
    settings = settings or Settings()
    grace = timedelta(seconds=settings.events_grace_seconds)

    @dg.sensor(
        name="events_raw_sensor",
        target=[_key("bronze", s) for s in sources],
        minimum_interval_seconds=settings.tick_seconds,
        default_status=dg.DefaultSensorStatus.RUNNING,
        description="New objects under raw/events/<source>/ → a run of bronze/events_<source>",
    )
    def _sensor(context: dg.SensorEvaluationContext, lake: LakeResource) -> dg.SensorResult:
        from lakehouse.events.watch import scan

        by_name = {s.name: s for s in sources}
        news, cursor = scan(lake.lake(), list(by_name), context.cursor, grace=grace)
        if not news:
            return dg.SensorResult(cursor=cursor)
        context.log.info(f"new raw event objects for {[n.source for n in news]}")
        run_key = hashlib.sha1(
            json.dumps({n.source: [n.newest, n.digest] for n in news}, sort_keys=True).encode()
        ).hexdigest()[:20]
        return dg.SensorResult(
            run_requests=[
                dg.RunRequest(
                    run_key=run_key,
                    asset_selection=[_key("bronze", by_name[n.source]) for n in news],
                    tags={"lakehouse/trigger": "raw_events"},
                )
            ],
            cursor=cursor,
        )

    return _sensor


def events_defs(settings: Settings | None = None) -> tuple[list, list, list]:
    """(assets, asset checks, sensors) of every registered event source."""
    from lakehouse.events.schemas import all_sources

    sources = list(all_sources().values())
    assets: list = [raw_spec(s) for s in sources]
    assets += (
        [bronze_asset(s) for s in sources]
        + [silver_asset(s) for s in sources]
        + [gold_asset(sources)]
    )
    return assets, [silver_check(s) for s in sources], [raw_events_sensor(sources, settings)]
