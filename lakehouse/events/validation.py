"""The request contract of ``POST /ingest``: parse, check, and name every violation.

A request body is JSON: one envelope ``{"source", "id"?, "data", "metadata"?}``, or a batch as
a JSON array of envelopes or ``{"records": [...]}``. All records of a request belong to ONE
source (they land in one object, atomically) and the request is all-or-nothing: any violation
rejects the whole request with every violation listed (up to ``MAX_REPORTED``), so a client
fixes it and resends; nothing is half-accepted.

A ``Violation`` names the ``field`` (a path: ``data.temperature``, ``records[3].data.humidity``),
the ``rule`` (``json``, ``type``, ``required``, ``ge``, ``le``, ``max_length``, ``pattern``,
``one_of``, ``format``, ``finite``, ``unknown_field``, ``known_source``, ``same_source``,
``min_items``, ``max_items``, ``id_format``, ``unique_in_request``, ``max_keys``, ``max_depth``)
and a message.

Nesting: a body nested deeper than ``MAX_DEPTH`` arrays/objects (the ``max_depth`` default of
``IngestService``; a valid request needs 4: batch, envelope, data, a value) is a 400 (rule
``max_depth``), whether the parser's own recursion limit stops it or the depth is measured after
parsing; it never reaches the record checks.

Record ids: a client MAY send ``id`` (1-128 chars of ``[A-Za-z0-9._:-]``, starting with a letter
or digit) as an idempotency key; otherwise the API assigns 32 random hex digits (128 bits).
``check_value`` is shared with silver, which re-checks raw records to compute ``quality_score``.
"""

from __future__ import annotations

import json
import math
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime

from lakehouse.events.schemas import EventSource, Field

MAX_REPORTED = 100
RECORD_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$")
ENVELOPE_KEYS = frozenset({"source", "id", "data", "metadata"})
METADATA_MAX_KEYS = 32
METADATA_MAX_STR = 1024
#: arrays/objects nested deeper than this are refused (400, rule ``max_depth``)
MAX_DEPTH = 64


@dataclass(frozen=True)
class Violation:
    field: str
    rule: str
    message: str

    def to_json(self) -> dict:
        return {"field": self.field, "rule": self.rule, "message": self.message}


class RequestRejected(Exception):
    """A client error: HTTP ``status``, machine ``error`` code and the violations."""

    def __init__(self, status: int, error: str, violations: list[Violation]):
        super().__init__(f"{status} {error}: {[v.to_json() for v in violations[:3]]}")
        self.status, self.error, self.violations = status, error, violations[:MAX_REPORTED]


@dataclass(frozen=True)
class Record:
    id: str
    source: str
    data: dict
    metadata: dict = field(default_factory=dict)


def _reject_constant(name: str):
    raise ValueError(f"{name} is not valid JSON")


def parse_json(body: bytes, max_depth: int = MAX_DEPTH):
    """JSON → Python; NaN/Infinity and invalid UTF-8 are errors (400, rule ``json``), arrays and
    objects nested deeper than ``max_depth`` too (400, rule ``max_depth``)."""
    try:
        payload = json.loads(body.decode("utf-8"), parse_constant=_reject_constant)
    except RecursionError:  # the parser's own limit (~1,000 levels in CPython)
        raise _too_deep(max_depth) from None
    except (UnicodeDecodeError, ValueError) as err:
        msg = str(err).split("\n")[0][:200]
        raise RequestRejected(400, "invalid_json", [Violation("body", "json", msg)]) from None
    if _deeper_than(payload, max_depth):
        raise _too_deep(max_depth)
    return payload


def _too_deep(max_depth: int) -> RequestRejected:
    return RequestRejected(
        400,
        "too_deeply_nested",
        [Violation("body", "max_depth", f"arrays/objects may nest at most {max_depth} levels")],
    )


def _deeper_than(value, limit: int) -> bool:
    """Whether arrays/objects in ``value`` nest more than ``limit`` levels (iterative: no
    recursion on a hostile body; stops at the first container past the limit)."""
    stack = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        if not isinstance(node, (dict, list)):
            continue
        if depth > limit:
            return True
        children = node.values() if isinstance(node, dict) else node
        stack.extend((c, depth + 1) for c in children if isinstance(c, (dict, list)))
    return False


def parse_timestamp(value: str) -> datetime | None:
    """An ISO 8601 timestamp with an offset → aware UTC datetime; None if not one."""
    try:
        ts = datetime.fromisoformat(value)
    except (TypeError, ValueError):
        return None
    return ts.astimezone(UTC) if ts.tzinfo is not None else None


def check_value(f: Field, value) -> tuple[str, str] | None:
    """``(rule, message)`` when a present, non-null ``value`` breaks ``f``'s rules, else None."""
    t = f.type
    if t in ("number", "integer"):
        if isinstance(value, bool) or not isinstance(value, int | float):
            return "type", f"must be a {t}"
        if isinstance(value, float) and not math.isfinite(value):
            return "finite", "must be a finite number"
        if t == "integer" and isinstance(value, float) and not value.is_integer():
            return "type", "must be an integer"
        if f.ge is not None and value < f.ge:
            return "ge", f"must be >= {f.ge:g}"
        if f.le is not None and value > f.le:
            return "le", f"must be <= {f.le:g}"
        return None
    if t == "boolean":
        return None if isinstance(value, bool) else ("type", "must be a boolean")
    if not isinstance(value, str):
        return "type", "must be a string" if t == "string" else "must be an ISO 8601 string"
    if t == "timestamp":
        if parse_timestamp(value) is None:
            return "format", "must be ISO 8601 with a UTC offset, e.g. 2025-11-25T10:00:00Z"
        return None
    if f.max_length is not None and len(value) > f.max_length:
        return "max_length", f"must be at most {f.max_length} characters"
    if f.pattern is not None and not re.fullmatch(f.pattern, value):
        return "pattern", f"must match {f.pattern}"
    if f.one_of is not None and value not in f.one_of:
        return "one_of", f"must be one of {', '.join(f.one_of)}"
    return None


def check_data(source: EventSource, data, prefix: str = "data") -> list[Violation]:
    """Every violation of ``data`` against ``source``'s fields."""
    if not isinstance(data, dict):
        return [Violation(prefix, "type", "must be an object")]
    out: list[Violation] = []
    for f in source.fields:
        value = data.get(f.name)
        if value is None:
            if f.required:
                out.append(Violation(f"{prefix}.{f.name}", "required", "is required"))
            continue
        bad = check_value(f, value)
        if bad:
            out.append(Violation(f"{prefix}.{f.name}", *bad))
    if not source.allow_extra_fields:
        declared = {f.name for f in source.fields}
        out += [
            Violation(f"{prefix}.{k}", "unknown_field", f"is not a field of {source.name}")
            for k in data
            if k not in declared
        ]
    return out


def check_metadata(metadata, prefix: str = "metadata") -> list[Violation]:
    """Metadata: an object of at most 32 scalar values (strings up to 1024 characters)."""
    if metadata is None:
        return []
    if not isinstance(metadata, dict):
        return [Violation(prefix, "type", "must be an object")]
    if len(metadata) > METADATA_MAX_KEYS:
        return [Violation(prefix, "max_keys", f"must have at most {METADATA_MAX_KEYS} keys")]
    out = []
    for k, v in metadata.items():
        if isinstance(v, dict | list):
            out.append(
                Violation(f"{prefix}.{k}", "type", "must be a string, number, boolean or null")
            )
        elif isinstance(v, str) and len(v) > METADATA_MAX_STR:
            out.append(
                Violation(
                    f"{prefix}.{k}", "max_length", f"must be at most {METADATA_MAX_STR} characters"
                )
            )
    return out


def _envelopes(payload) -> tuple[list, str]:
    """The request's envelopes and the path prefix of each (``""`` for a single record)."""
    if isinstance(payload, list):
        return payload, "[{i}]"
    if isinstance(payload, dict) and "records" in payload and "source" not in payload:
        if set(payload) != {"records"} or not isinstance(payload["records"], list):
            raise RequestRejected(
                422,
                "validation_failed",
                [Violation("records", "type", "must be a list of records")],
            )
        return payload["records"], "records[{i}]"
    return [payload], ""


def parse_request(
    payload, sources: Mapping[str, EventSource], max_batch: int
) -> tuple[str, list[Record]]:
    """(source name, records) of a valid request; raises ``RequestRejected`` (422) otherwise."""
    envelopes, fmt = _envelopes(payload)
    _check_batch_size(envelopes, max_batch)
    violations: list[Violation] = []
    records: list[Record] = []
    first_source = None
    seen_ids: set[str] = set()
    for i, env in enumerate(envelopes):
        p = fmt.format(i=i)

        def at(name: str, p: str = p) -> str:
            return f"{p}.{name}" if p else name

        if not isinstance(env, dict):
            violations.append(Violation(p or "body", "type", "a record must be a JSON object"))
            continue
        violations += [
            Violation(
                at(k), "unknown_field", "is not an envelope field (source, id, data, metadata)"
            )
            for k in env
            if k not in ENVELOPE_KEYS
        ]
        name = env.get("source")
        source = sources.get(name) if isinstance(name, str) else None
        if source is not None and first_source is None:
            first_source = name
        violations += _source_violations(name, source, sources, first_source, at)
        rid = env.get("id")
        violations += _id_violations(rid, seen_ids, at)
        if "data" not in env:
            violations.append(Violation(at("data"), "required", "is required"))
        elif source is not None:
            violations += check_data(source, env["data"], at("data"))
        violations += check_metadata(env.get("metadata"), at("metadata"))
        if source is not None and isinstance(env.get("data"), dict):
            records.append(
                Record(
                    rid if isinstance(rid, str) else os.urandom(16).hex(),
                    name,
                    env["data"],
                    env.get("metadata") or {},
                )
            )
    if violations:
        raise RequestRejected(422, "validation_failed", violations)
    return first_source, records


def _check_batch_size(envelopes: list, max_batch: int) -> None:
    """A request holds 1 to ``max_batch`` records; else ``RequestRejected`` (422)."""
    if not envelopes:
        raise RequestRejected(
            422,
            "validation_failed",
            [Violation("records", "min_items", "must hold at least one record")],
        )
    if len(envelopes) > max_batch:
        raise RequestRejected(
            422,
            "validation_failed",
            [Violation("records", "max_items", f"must hold at most {max_batch} records")],
        )


def _source_violations(name, source, sources: Mapping, first_source, at) -> list[Violation]:
    """A record's ``source`` is a known one, the same as the request's first record's."""
    if source is None:
        return [
            Violation(
                at("source"),
                "known_source" if isinstance(name, str) else "required",
                f"must be one of {', '.join(sorted(sources))}",
            )
        ]
    if name != first_source:
        return [
            Violation(
                at("source"),
                "same_source",
                f"all records of a request must have source {first_source!r}",
            )
        ]
    return []


def _id_violations(rid, seen_ids: set[str], at) -> list[Violation]:
    """A record's optional ``id`` is well-formed and unique in the request (added to
    ``seen_ids``)."""
    if rid is None:
        return []
    if not isinstance(rid, str) or not RECORD_ID.match(rid):
        return [Violation(at("id"), "id_format", "must be 1-128 characters of A-Z a-z 0-9 . _ : -")]
    if rid in seen_ids:
        return [
            Violation(at("id"), "unique_in_request", f"id {rid!r} appears twice in this request")
        ]
    seen_ids.add(rid)
    return []
