"""Events silver: ``bronze/events_<source>`` → ``silver/events_<source>``, typed and deduplicated.

``silver/events_<source>`` (Delta, one row per ``record_id``): ``record_id``, ``source``,
``event_ts``, ``received_at``, one typed column per declared field (string → String, number →
Float64, integer → Int64, boolean → Boolean, timestamp → Datetime UTC; the event-time field is
``event_ts`` and not repeated), ``metadata`` (JSON text), ``quality_score`` (Float64 in [0, 1]:
share of the source's optional fields present and valid), ``api_key_id``, ``_source_file``,
``_source_row``.

- Deduplicated by ``record_id``, first arrival wins (``received_at``, then file, then line):
  an insert-only MERGE, so retried requests and replayed bronze batches are no-ops.
- Every record is re-checked against the registry (raw may have been written by something other
  than the API, or under an older schema): one missing a required field or breaking a rule on
  one goes to quarantine (stage ``silver``); an invalid optional value is stored null and counts
  against ``quality_score``.
- Incremental: the commit records the bronze version applied (``engine.increments``:
  ``lakehouse.bronze_version``); the next run reads only the bronze files added since.
  ``full_refresh`` rebuilds from all of bronze (same result, no new quarantine rows).
- Late records need nothing special: keyed by id, their ``event_ts`` kept, gold recomputed.
"""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime

import polars as pl

from lakehouse.engine.core.keys import BRONZE_VERSION_KEY, bronze_key, silver_key
from lakehouse.engine.delta import file_names, files_dataset, open_table
from lakehouse.engine.increments import applied_bronze_version
from lakehouse.engine.quarantine import write_quarantine
from lakehouse.events.bronze import BRONZE_SCHEMA
from lakehouse.events.schemas import EventSource
from lakehouse.events.tables import POLARS_TYPES, UTC_TS, LayerResult
from lakehouse.events.validation import check_value, parse_timestamp
from lakehouse.storage import Lake


def silver_schema(source: EventSource) -> dict[str, pl.DataType]:
    cols = {"record_id": pl.String, "source": pl.String, "event_ts": UTC_TS, "received_at": UTC_TS}
    cols |= {f.name: POLARS_TYPES[f.type] for f in source.fields if f.name != source.event_time}
    return cols | {
        "metadata": pl.String,
        "quality_score": pl.Float64,
        "api_key_id": pl.String,
        "_source_file": pl.String,
        "_source_row": pl.Int64,
    }


def _bronze_since(
    lake: Lake, source: EventSource, after: int | None
) -> tuple[pl.DataFrame, int | None]:
    """Bronze rows added after version ``after`` (all when None) and the current version."""
    dt = open_table(lake, bronze_key(source.table))
    if dt is None:
        return pl.DataFrame(schema=BRONZE_SCHEMA), None
    current, dataset = dt.version(), dt.to_pyarrow_dataset()
    if after is not None:
        if after >= current:
            return pl.DataFrame(schema=BRONZE_SCHEMA), current
        old = file_names(open_table(lake, bronze_key(source.table), after))
        dataset = files_dataset(dt, file_names(dt) - old)
    return pl.from_arrow(dataset.to_table()), current


def to_silver_rows(bronze: pl.DataFrame, source: EventSource) -> tuple[pl.DataFrame, list[dict]]:
    """Typed silver rows with ``quality_score``, and quarantine rows for invalid records."""
    optional = [f for f in source.optional if f.name != source.event_time]
    good, bad = [], []
    for r in bronze.iter_rows(named=True):
        data = json.loads(r["data"]) if r["data"] else None
        problems, row, valid_optional = [], {}, 0
        if not isinstance(data, dict):
            problems.append(("data", "must be an object"))
            data = {}
        for f in source.fields:
            value = data.get(f.name)
            broken = None if value is None else check_value(f, value)
            if f.required and (value is None or broken):
                problems.append(
                    (f.name, "is required" if value is None else f"{broken[0]}: {broken[1]}")
                )
            elif value is not None and not broken:
                valid_optional += not f.required
                row[f.name] = parse_timestamp(value) if f.type == "timestamp" else value
        if problems:
            bad.append(
                dict(
                    _source_file=r["_source_file"],
                    _source_row=r["_source_row"],
                    _column=problems[0][0],
                    _reason="; ".join(f"{c}: {m}" for c, m in problems),
                    _raw=r["data"],
                )
            )
            continue
        row.pop(source.event_time, None)
        good.append(
            {
                **row,
                "record_id": r["record_id"],
                "source": r["source"],
                "event_ts": r["event_ts"],
                "received_at": r["received_at"],
                "metadata": r["metadata"],
                "api_key_id": r["api_key_id"],
                "_source_file": r["_source_file"],
                "_source_row": r["_source_row"],
                "quality_score": valid_optional / len(optional) if optional else 1.0,
            }
        )
    schema = silver_schema(source)
    frame = pl.DataFrame(good, schema=schema) if good else pl.DataFrame(schema=schema)
    return frame, bad


def apply_silver(
    lake: Lake, source: EventSource, *, full_refresh: bool = False, now: datetime | None = None
) -> LayerResult:
    """Bring ``silver/events_<source>`` up to date with bronze (see the module docstring)."""
    started, now = time.perf_counter(), now or datetime.now(UTC)
    result = LayerResult(source.table)
    key = silver_key(source.table)
    target = None if full_refresh else open_table(lake, key)
    after = applied_bronze_version(lake, key) if target is not None else None
    bronze, version = _bronze_since(lake, source, after)
    result.bronze_version, result.rows = version, bronze.height
    if version is None or (target is not None and bronze.height == 0):
        result.seconds = time.perf_counter() - started
        return result
    rows, bad = to_silver_rows(bronze, source)
    if not full_refresh:
        result.quarantined = write_quarantine(lake, source.table, bad, "silver", now)
    batch = rows.sort("received_at", "_source_file", "_source_row", nulls_last=True).unique(
        "record_id", keep="first", maintain_order=True
    )
    result.inserted = _write_batch(lake, key, target, batch, version)
    result.duplicates = rows.height - result.inserted
    result.version = open_table(lake, key).version()
    result.seconds = time.perf_counter() - started
    return result


def _write_batch(lake: Lake, key: str, target, batch: pl.DataFrame, version: int) -> int:
    """Write ``batch`` (one row per ``record_id``) to the silver table ``key``, recording the
    bronze ``version`` applied: a new table when ``target`` is None, else an insert-only MERGE on
    ``record_id`` (plus an empty commit when it inserted nothing). Returns the rows inserted."""
    from deltalake import CommitProperties, write_deltalake

    props = CommitProperties(custom_metadata={BRONZE_VERSION_KEY: str(version)})
    if target is None:
        write_deltalake(
            lake.uri(key),
            batch.to_arrow(),
            mode="overwrite",
            schema_mode="overwrite",
            storage_options=lake.storage_options,
            commit_properties=props,
        )
        return batch.height
    metrics = (
        target.merge(
            batch.to_arrow(),
            "t.record_id = s.record_id",
            source_alias="s",
            target_alias="t",
            merge_schema=True,
            commit_properties=props,
        )
        .when_not_matched_insert_all()
        .execute()
    )
    if open_table(lake, key).version() == target.version():
        # nothing inserted: no commit was made; record the bronze version anyway (empty commit)
        write_deltalake(
            lake.uri(key),
            batch.head(0).to_arrow(),
            mode="append",
            schema_mode="merge",
            storage_options=lake.storage_options,
            commit_properties=props,
        )
    return int(metrics.get("num_target_rows_inserted", 0))
