"""Event sources: one declared record schema per source (``kind: events`` in a dataset's
``defs.yaml``; the shipped ones in ``lakehouse/datasets/events/defs.yaml``).

A record arrives as the seed-003 envelope ``{"source": ..., "id"?: ..., "data": {...},
"metadata": {...}}``. Its ``data`` object is checked against the source's ``fields``:

- ``type``: ``string`` | ``number`` (int or float, finite, not bool) | ``integer`` |
  ``boolean`` | ``timestamp`` (ISO 8601 string WITH a UTC offset or ``Z``);
- ``required``: absent or null is a violation; optional fields may be absent or null;
- rules: ``ge`` / ``le`` (numbers), ``max_length`` / ``pattern`` (full match) / ``one_of``
  (strings);
- a key not declared is rejected (``unknown_field``) unless the source sets
  ``allow_extra_fields`` (then it is kept in raw/bronze but not typed in silver).

``event_time`` names the field holding when the event happened; silver stores it as
``event_ts`` (UTC) instead of under its own name. ``metrics`` declare the per-source columns of
``gold/events_daily`` (e.g. the average temperature of ``iot_sensors``); metric names are unique
across sources because they share that table.

``quality_score`` (seed 003): share of the source's optional fields that are present and valid,
1.0 for a source without optional fields.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

FieldType = Literal["string", "number", "integer", "boolean", "timestamp"]
Agg = Literal["mean", "min", "max", "sum", "n_unique"]
NAME = re.compile(r"^[a-z][a-z0-9_]{0,62}$")
#: silver columns a data field may not shadow
RESERVED = frozenset(
    {
        "record_id",
        "source",
        "event_ts",
        "received_at",
        "metadata",
        "quality_score",
        "api_key_id",
        "request_id",
        "batch_id",
        "data",
    }
)


@dataclass(frozen=True)
class Field:
    """One field of a record's ``data`` object (see the module docstring for the rules)."""

    name: str
    type: FieldType
    required: bool = False
    ge: float | None = None
    le: float | None = None
    max_length: int | None = None
    pattern: str | None = None
    one_of: tuple[str, ...] | None = None
    description: str = ""

    def __post_init__(self) -> None:
        if self.type not in ("string", "number", "integer", "boolean", "timestamp"):
            raise ValueError(f"field {self.name!r}: unknown type {self.type!r}")
        if self.name in RESERVED or self.name.startswith("_"):
            raise ValueError(f"field {self.name!r}: reserved name")


@dataclass(frozen=True)
class Metric:
    """A column of ``gold/events_daily``: ``agg`` of ``field`` per source and day."""

    name: str
    agg: Agg
    field: str


@dataclass(frozen=True)
class EventSource:
    """An event source (declared as a ``kind: events`` source of a dataset declaration)."""

    name: str
    fields: tuple[Field, ...]
    event_time: str | None = None
    metrics: tuple[Metric, ...] = ()
    allow_extra_fields: bool = False
    description: str = ""
    owners: tuple[str, ...] = ("team:data-platform",)

    def __post_init__(self) -> None:
        if not NAME.match(self.name):
            raise ValueError(f"source name {self.name!r} must match {NAME.pattern}")
        names = [f.name for f in self.fields]
        if len(set(names)) != len(names):
            raise ValueError(f"source {self.name}: duplicate fields {names}")
        for ref in ([self.event_time] if self.event_time else []) + [m.field for m in self.metrics]:
            if ref not in names:
                raise ValueError(f"source {self.name}: unknown field {ref!r}")
        if self.event_time and self.field(self.event_time).type != "timestamp":
            raise ValueError(f"source {self.name}: event_time must be a timestamp field")

    def field(self, name: str) -> Field:
        for f in self.fields:
            if f.name == name:
                return f
        raise KeyError(f"source {self.name} has no field {name!r}")

    @property
    def optional(self) -> tuple[Field, ...]:
        return tuple(f for f in self.fields if not f.required)

    @property
    def table(self) -> str:
        """Table name in bronze/silver (``events_<source>``)."""
        return f"events_{self.name}"


def from_declaration(source) -> EventSource:
    """The ``EventSource`` of a declared ``events`` source (``declarations.model.EventsSource``)."""
    fields = tuple(
        Field(**{**f.model_dump(), "one_of": tuple(f.one_of) if f.one_of else None})
        for f in source.fields
    )
    extra = {"owners": tuple(source.owners)} if source.owners else {}
    return EventSource(
        name=source.name,
        fields=fields,
        event_time=source.event_time,
        metrics=tuple(Metric(m.name, m.agg, m.field) for m in source.metrics),
        allow_extra_fields=source.allow_extra_fields,
        description=source.description,
        **extra,
    )


def all_sources() -> dict[str, EventSource]:
    """Every declared event source by name, from every dataset declaration (a name and a metric
    name are unique across them: they share the API and ``gold/events_daily``)."""
    from lakehouse.declarations import DeclarationError, declarations

    out: dict[str, EventSource] = {}
    metrics: dict[str, str] = {}
    for decl in declarations().values():
        for i, declared in enumerate(decl.decl.sources):
            if declared.kind != "events":
                continue
            where = f"{decl.path}: sources[{i}] ({declared.name})"
            try:
                source = from_declaration(declared)
            except ValueError as err:
                raise DeclarationError(
                    [f"{where}: {err} — fix: see the events source keys"]
                ) from None
            if source.name in out:
                raise DeclarationError([f"{where}.name: event source {source.name!r} is declared"
                                        " twice — fix: one name per event source"])  # fmt: skip
            for m in source.metrics:
                if m.name in metrics:
                    raise DeclarationError([f"{where}.metrics: metric {m.name!r} is also a metric"
                                            f" of {metrics[m.name]} — fix: rename one"])  # fmt: skip
                metrics[m.name] = source.name
            out[source.name] = source
    return out


def get_source(name: str) -> EventSource:
    try:
        return all_sources()[name]
    except KeyError:
        raise KeyError(f"unknown event source {name!r}") from None
