"""The raw zone of events: one durable NDJSON object per accepted request.

Layout (seed 003, partitioned by ARRIVAL time, UTC)::

    raw/events/<source>/year=YYYY/month=MM/day=DD/<YYYYMMDDTHHMMSSffffffZ>-<batch_id>.json

Keys sort by arrival time within a source (the sensor's cursor relies on it; equal timestamps
are told apart by the batch id). Each line is one record::

    {"id", "source", "received_at" (ISO 8601 UTC), "data", "metadata", "api_key_id",
     "request_id", "batch_id"}

``Lake.write_bytes`` is atomic and durable (local: temp file + fsync + rename + fsync of the
folder; S3: one PUT), so the API answers 2xx only after every record of the request is stored,
and a reader never sees part of a request.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterable
from datetime import UTC, datetime

from lakehouse.events.validation import Record
from lakehouse.storage import Lake

RAW_EVENTS_PREFIX = "raw/events/"
TS_FORMAT = "%Y%m%dT%H%M%S%fZ"
KEY = re.compile(
    r"^raw/events/(?P<source>[a-z][a-z0-9_]*)/year=\d{4}/month=\d{2}/day=\d{2}/"
    r"(?P<ts>\d{8}T\d{12}Z)-(?P<batch>[A-Za-z0-9]+)\.json$"
)


def source_prefix(source: str) -> str:
    return f"{RAW_EVENTS_PREFIX}{source}/"


def key_floor(source: str, ts: datetime) -> str:
    """A key that sorts before every object of ``source`` that arrived at or after ``ts``."""
    ts = ts.astimezone(UTC)
    return f"{source_prefix(source)}year={ts:%Y}/month={ts:%m}/day={ts:%d}/{ts.strftime(TS_FORMAT)}"


def object_key(source: str, received_at: datetime, batch_id: str) -> str:
    return f"{key_floor(source, received_at)}-{batch_id}.json"


def parse_key(key: str) -> tuple[str, datetime] | None:
    """(source, arrival time) of a raw event object's key; None for any other key."""
    m = KEY.match(key)
    if not m:
        return None
    return m["source"], datetime.strptime(m["ts"], TS_FORMAT).replace(tzinfo=UTC)


_encode = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode  # one encoder


def to_ndjson(records: Iterable[Record], **common) -> bytes:
    lines = [
        _encode({"id": r.id, "source": r.source, **common, "data": r.data, "metadata": r.metadata})
        for r in records
    ]
    return ("\n".join(lines) + "\n").encode("utf-8")


class EventStore:
    """Writes accepted requests to the raw zone of ``lake``."""

    def __init__(self, lake: Lake) -> None:
        self.lake = lake

    def write(
        self,
        source: str,
        records: list[Record],
        *,
        api_key_id: str,
        request_id: str,
        received_at: datetime | None = None,
    ) -> tuple[str, str]:
        """Store one request durably; returns (object key, batch id)."""
        received_at = received_at or datetime.now(UTC)
        batch_id = uuid.uuid4().hex
        body = to_ndjson(
            records,
            received_at=received_at.isoformat().replace("+00:00", "Z"),
            api_key_id=api_key_id,
            request_id=request_id,
            batch_id=batch_id,
        )
        key = object_key(source, received_at, batch_id)
        self.lake.write_bytes(key, body)
        return key, batch_id
