"""Events in the lake: raw NDJSON → bronze → silver → gold, with Polars + delta-rs.

``bronze/events_<source>`` (Delta, append-only, one row per raw line as it arrived):
``record_id``, ``source``, ``received_at`` (UTC), ``event_ts`` (UTC, the source's event-time
field; null when absent or not a timestamp), ``data`` and ``metadata`` (JSON text as sent),
``api_key_id``, ``request_id``, ``batch_id``, lineage ``_source_file`` (lake key),
``_source_row`` (1-based line) and ``_ingested_at`` (UTC). Exactly once, as ``engine.bronze``:
a run appends every raw object not yet ingested in ONE Delta commit whose commit metadata lists
them (``lakehouse.files``: ``key#size``); ``_state/bronze/events_<source>.json`` caches that
list with its table version and is rebuilt from the history when it lags. A line that is not a
JSON object with a string ``id`` goes to ``quarantine/events_<source>`` (the schema of
``engine.quarantine``, written idempotently as there: a run that dies between the quarantine
append and the bronze commit records its entries once when re-run); the rest of its file flows.

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

``gold/events_daily`` (Delta, rewritten whole each run): ``source``, ``day`` (UTC date of
``event_ts``, of ``received_at`` for a source without event time), ``records``,
``avg_quality_score``, ``late_records`` (arrived more than ``LATE_AFTER`` after ``event_ts``),
``first_event_ts``, ``last_event_ts``, then every source's ``metrics`` (null on other sources'
rows; ``n_unique`` as Int64, the others Float64).
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import polars as pl

from lakehouse.engine.core.keys import BRONZE_VERSION_KEY, bronze_key, silver_key
from lakehouse.engine.delta import open_table
from lakehouse.engine.increments import applied_bronze_version
from lakehouse.engine.quarantine import write_quarantine
from lakehouse.events.schemas import EventSource
from lakehouse.events.store import parse_key, source_prefix
from lakehouse.events.validation import check_value, parse_timestamp
from lakehouse.storage import Lake, ObjectInfo

FILES_METADATA_KEY = "lakehouse.files"
GOLD_DAILY = "gold/events_daily"
LATE_AFTER = timedelta(hours=1)
UTC_TS = pl.Datetime("us", "UTC")
BRONZE_SCHEMA = {
    "record_id": pl.String,
    "source": pl.String,
    "received_at": UTC_TS,
    "event_ts": UTC_TS,
    "data": pl.String,
    "metadata": pl.String,
    "api_key_id": pl.String,
    "request_id": pl.String,
    "batch_id": pl.String,
    "_source_file": pl.String,
    "_source_row": pl.Int64,
    "_ingested_at": UTC_TS,
}
POLARS_TYPES = {
    "string": pl.String,
    "number": pl.Float64,
    "integer": pl.Int64,
    "boolean": pl.Boolean,
    "timestamp": UTC_TS,
}


@dataclass
class LayerResult:
    table: str
    files: list[str] = field(default_factory=list)
    rows: int = 0
    inserted: int = 0
    duplicates: int = 0
    quarantined: int = 0
    bronze_version: int | None = None
    version: int | None = None
    seconds: float = 0.0


def read_table(lake: Lake, key: str) -> pl.DataFrame:
    """The Delta table at ``key`` as a frame (empty when it does not exist)."""
    dt = open_table(lake, key)
    return pl.DataFrame() if dt is None else pl.from_arrow(dt.to_pyarrow_table())


# ------------------------------------------------------------------------------------ bronze
def _file_id(obj: ObjectInfo) -> str:
    return f"{obj.key}#{obj.size}"


def ingested_files(lake: Lake, source: EventSource) -> set[str]:
    """File ids (``key#size``) already in bronze: the cache, caught up from the Delta history."""
    state = f"_state/bronze/{source.table}.json"
    dt = open_table(lake, bronze_key(source.table))
    if dt is None:
        return set()
    cache = (
        json.loads(lake.read_text(state)) if lake.exists(state) else {"version": -1, "files": []}
    )
    files, version = set(cache["files"]), dt.version()
    if cache["version"] < version:
        for entry in dt.history(version - cache["version"]):
            if isinstance(entry.get(FILES_METADATA_KEY), str):
                files.update(json.loads(entry[FILES_METADATA_KEY]))
        lake.write_text(state, json.dumps({"version": version, "files": sorted(files)}))
    return files


def _bronze_rows(
    key: str, data: bytes, source: EventSource, now: datetime
) -> tuple[list[dict], list[dict]]:
    rows, bad = [], []
    for n, line in enumerate(data.splitlines(), 1):
        if not line.strip():
            continue
        try:
            rec = json.loads(line)
            if not isinstance(rec, dict) or not isinstance(rec.get("id"), str):
                raise ValueError("not a record object with a string id")
            received = (
                parse_timestamp(rec.get("received_at"))
                if isinstance(rec.get("received_at"), str)
                else None
            )
        except ValueError as err:
            bad.append(
                dict(
                    _source_file=key,
                    _source_row=n,
                    _column=None,
                    _reason=f"unreadable line: {err}",
                    _raw=line[:4096].decode("utf-8", "replace"),
                )
            )
            continue
        payload = rec.get("data")
        ts = (
            payload.get(source.event_time)
            if source.event_time and isinstance(payload, dict)
            else None
        )
        rows.append(
            {
                "record_id": rec["id"],
                "source": source.name,
                "received_at": received,
                "event_ts": parse_timestamp(ts) if isinstance(ts, str) else None,
                "data": json.dumps(payload, separators=(",", ":")),
                "metadata": json.dumps(rec.get("metadata") or {}, separators=(",", ":")),
                "api_key_id": rec.get("api_key_id"),
                "request_id": rec.get("request_id"),
                "batch_id": rec.get("batch_id"),
                "_source_file": key,
                "_source_row": n,
                "_ingested_at": now,
            }
        )
    return rows, bad


def ingest_bronze(
    lake: Lake, source: EventSource, *, now: datetime | None = None, max_files: int | None = None
) -> LayerResult:
    """Append every raw object of ``source`` not yet in bronze (see the module docstring)."""
    from deltalake import CommitProperties, write_deltalake

    started, now = time.perf_counter(), now or datetime.now(UTC)
    result = LayerResult(source.table)
    done = ingested_files(lake, source)
    todo = [
        o
        for o in lake.list(source_prefix(source.name))
        if parse_key(o.key) and _file_id(o) not in done
    ]
    todo = todo[:max_files] if max_files is not None else todo
    if not todo:
        result.seconds = time.perf_counter() - started
        return result
    with ThreadPoolExecutor(max_workers=8) as pool:  # many small objects: overlap the reads
        blobs = list(pool.map(lambda o: lake.read_bytes(o.key), todo))
    rows, bad = [], []
    for obj, blob in zip(todo, blobs, strict=True):
        r, b = _bronze_rows(obj.key, blob, source, now)
        rows += r
        bad += b
    result.quarantined = write_quarantine(lake, source.table, bad, "bronze", now)
    ids = [_file_id(o) for o in todo]
    frame = pl.DataFrame(rows, schema=BRONZE_SCHEMA) if rows else pl.DataFrame(schema=BRONZE_SCHEMA)
    write_deltalake(
        lake.uri(bronze_key(source.table)),
        frame.to_arrow(),
        mode="append",
        storage_options=lake.storage_options,
        commit_properties=CommitProperties(custom_metadata={FILES_METADATA_KEY: json.dumps(ids)}),
    )
    result.version = open_table(lake, bronze_key(source.table)).version()
    lake.write_text(
        f"_state/bronze/{source.table}.json",
        json.dumps({"version": result.version, "files": sorted(done | set(ids))}),
    )
    result.files, result.rows = [o.key for o in todo], len(rows)
    result.seconds = time.perf_counter() - started
    return result


# ------------------------------------------------------------------------------------ silver
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
    import pyarrow.dataset as pads

    dt = open_table(lake, bronze_key(source.table))
    if dt is None:
        return pl.DataFrame(schema=BRONZE_SCHEMA), None
    current, dataset = dt.version(), dt.to_pyarrow_dataset()
    if after is not None:
        if after >= current:
            return pl.DataFrame(schema=BRONZE_SCHEMA), current
        old = {
            u.rsplit("/", 1)[-1]
            for u in open_table(lake, bronze_key(source.table), after).file_uris()
        }
        new = [f for f in dataset.get_fragments() if f.path.rsplit("/", 1)[-1] not in old]
        dataset = pads.FileSystemDataset(new, dataset.schema, dataset.format, dataset.filesystem)
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
    from deltalake import CommitProperties, write_deltalake

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
        result.inserted = batch.height
    else:
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
        result.inserted = int(metrics.get("num_target_rows_inserted", 0))
        if (
            open_table(lake, key).version() == target.version()
        ):  # nothing inserted: no commit was made,
            write_deltalake(
                lake.uri(key),
                batch.head(0).to_arrow(),
                mode="append",  # record the
                schema_mode="merge",
                storage_options=lake.storage_options,  # bronze
                commit_properties=props,
            )  # version anyway (an empty commit)
    result.duplicates = rows.height - result.inserted
    result.version = open_table(lake, key).version()
    result.seconds = time.perf_counter() - started
    return result


# -------------------------------------------------------------------------------------- gold
_AGGS = {"mean": pl.Expr.mean, "min": pl.Expr.min, "max": pl.Expr.max, "sum": pl.Expr.sum}


def gold_schema(sources: Iterable[EventSource]) -> dict[str, pl.DataType]:
    cols = {
        "source": pl.String,
        "day": pl.Date,
        "records": pl.Int64,
        "avg_quality_score": pl.Float64,
        "late_records": pl.Int64,
        "first_event_ts": UTC_TS,
        "last_event_ts": UTC_TS,
    }
    for s in sources:
        cols |= {m.name: pl.Int64 if m.agg == "n_unique" else pl.Float64 for m in s.metrics}
    return cols


def daily_frame(silver: pl.DataFrame, source: EventSource) -> pl.DataFrame:
    """One row per day of one source's silver table (see ``gold/events_daily``)."""
    day = pl.coalesce("event_ts", "received_at").dt.date().alias("day")
    aggs = [
        pl.len().cast(pl.Int64).alias("records"),
        pl.col("quality_score").mean().alias("avg_quality_score"),
        ((pl.col("received_at") - pl.col("event_ts")) > LATE_AFTER)
        .sum()
        .cast(pl.Int64)
        .alias("late_records"),
        pl.col("event_ts").min().alias("first_event_ts"),
        pl.col("event_ts").max().alias("last_event_ts"),
    ]
    for m in source.metrics:
        col = pl.col("event_ts" if m.field == source.event_time else m.field)
        aggs.append(
            col.n_unique().cast(pl.Int64).alias(m.name)
            if m.agg == "n_unique"
            else _AGGS[m.agg](col).cast(pl.Float64).alias(m.name)
        )
    return silver.group_by(pl.col("source"), day).agg(aggs)


def build_gold_daily(lake: Lake, sources: list[EventSource]) -> tuple[pl.DataFrame, int]:
    """Recompute ``gold/events_daily`` from every source's silver table; (frame, version)."""
    from deltalake import write_deltalake

    schema = gold_schema(sources)
    frames = [
        daily_frame(t, s) for s in sources if (t := read_table(lake, silver_key(s.table))).height
    ]
    frame = pl.concat(frames, how="diagonal_relaxed") if frames else pl.DataFrame(schema=schema)
    frame = frame.select(
        [
            pl.col(c).cast(t) if c in frame.columns else pl.lit(None, t).alias(c)
            for c, t in schema.items()
        ]
    ).sort("source", "day")
    write_deltalake(
        lake.uri(GOLD_DAILY),
        frame.to_arrow(),
        mode="overwrite",
        schema_mode="overwrite",
        storage_options=lake.storage_options,
    )
    return frame, open_table(lake, GOLD_DAILY).version()
