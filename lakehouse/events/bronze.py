"""Events bronze: raw NDJSON objects → ``bronze/events_<source>``, exactly once.

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
"""

from __future__ import annotations

import json
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

import polars as pl

from lakehouse.engine.core.keys import bronze_key
from lakehouse.engine.delta import open_table
from lakehouse.engine.quarantine import write_quarantine
from lakehouse.events.schemas import EventSource
from lakehouse.events.store import parse_key, source_prefix
from lakehouse.events.tables import UTC_TS, LayerResult
from lakehouse.events.validation import parse_timestamp
from lakehouse.storage import Lake, ObjectInfo

FILES_METADATA_KEY = "lakehouse.files"
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
