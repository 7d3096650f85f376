"""The pandera (Polars) schema of ``silver/events_<source>``, generated from the source registry.

``record_id`` unique and not null; ``event_ts`` not null when the source declares an event
time; ``quality_score`` in [0, 1]; per field: its Polars type, not null when required, and its
rules (``ge``, ``le``, ``max_length``, ``pattern`` as a full match, ``one_of``).
"""

from __future__ import annotations

import pandera.polars as pa
import polars as pl

from lakehouse.events.schemas import EventSource, Field
from lakehouse.events.tables import POLARS_TYPES, UTC_TS


def _checks(f: Field) -> list[pa.Check]:
    out = []
    if f.ge is not None:
        out.append(pa.Check.ge(f.ge))
    if f.le is not None:
        out.append(pa.Check.le(f.le))
    if f.max_length is not None:
        out.append(pa.Check.str_length(max_value=f.max_length))
    if f.pattern is not None:
        out.append(pa.Check.str_matches(f"^(?:{f.pattern})$"))
    if f.one_of is not None:
        out.append(pa.Check.isin(list(f.one_of)))
    return out


def silver_schema(source: EventSource) -> pa.DataFrameSchema:
    columns = {
        "record_id": pa.Column(pl.String, nullable=False, unique=True),
        "event_ts": pa.Column(UTC_TS, nullable=source.event_time is None),
        "received_at": pa.Column(UTC_TS, nullable=False),
        "quality_score": pa.Column(
            pl.Float64, checks=[pa.Check.in_range(0.0, 1.0)], nullable=False
        ),
    }
    for f in source.fields:
        if f.name != source.event_time:
            columns[f.name] = pa.Column(
                POLARS_TYPES[f.type], checks=_checks(f), nullable=not f.required, required=False
            )
    return pa.DataFrameSchema(columns, strict=False, name=f"silver.{source.table}")
