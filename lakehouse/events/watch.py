"""The raw-zone watch behind the events sensor: which sources got new objects since the cursor.

Cursor (JSON), per source: ``{"last": newest key seen, "n": keys in the window, "digest": sha1
of those keys}``; the window is every key from ``key_floor(source, time(last) - GRACE)`` up to
``last``. A tick lists each source's prefix from that floor (``start_after``: cheap on S3) and a
source has news when

- a key sorts after ``last`` (new arrivals), or
- the window's keys differ from the digest: an object whose key time is older than ``last``
  appeared after the previous tick (a slow write finishing late, or another batch with the very
  same timestamp — keys differ by batch id and the comparison is on the set of keys, so equal
  timestamps are never lost).

Objects landing more than ``GRACE`` after their key time are not signalled, but are not lost
either: a bronze run ingests every object of its source it has not ingested yet. ``GRACE`` is
``scan``'s default; the sensor passes ``Settings.events_grace_seconds``
(``LAKEHOUSE_EVENTS_GRACE_SECONDS``, the same two minutes by default).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta

from lakehouse.events.store import key_floor, parse_key, source_prefix
from lakehouse.profiles import DEFAULT_EVENTS_GRACE_SECONDS
from lakehouse.storage import Lake

GRACE = timedelta(seconds=DEFAULT_EVENTS_GRACE_SECONDS)


@dataclass(frozen=True)
class News:
    source: str
    new_keys: int  # keys after the previous ``last`` (late arrivals in the window not counted)
    newest: str
    digest: str


def _digest(keys: list[str]) -> str:
    h = hashlib.sha1()
    for k in keys:
        h.update(k.encode())
        h.update(b"\n")
    return h.hexdigest()


def _window(source: str, keys: list[str], last: str | None, grace: timedelta) -> list[str]:
    """The keys of the window ending at ``last`` (sorted ``keys`` must cover the window)."""
    parsed = parse_key(last) if last else None
    if parsed is None:
        return []
    floor = key_floor(source, parsed[1] - grace)
    return [k for k in keys if floor < k <= last]


def scan(
    lake: Lake, sources: Iterable[str], cursor: str | None, *, grace: timedelta = GRACE
) -> tuple[list[News], str]:
    """(sources with news, the new cursor) — see the module docstring."""
    state = json.loads(cursor) if cursor else {}
    news, new_state = [], {}
    for source in sources:
        prev = state.get(source) or {}
        last = prev.get("last")
        parsed = parse_key(last) if last else None
        start = key_floor(source, parsed[1] - grace) if parsed else None
        keys = [
            o.key for o in lake.list(source_prefix(source), start_after=start) if parse_key(o.key)
        ]
        fresh = [k for k in keys if last is None or k > last]
        old_window = _window(source, keys, last, grace)
        changed = bool(last) and _digest(old_window) != prev.get("digest")
        newest = keys[-1] if keys and (last is None or keys[-1] > last) else last
        window = _window(source, keys, newest, grace)
        if newest:
            new_state[source] = {"last": newest, "n": len(window), "digest": _digest(window)}
        if fresh or changed:
            news.append(News(source, len(fresh), newest, new_state[source]["digest"]))
    return news, json.dumps(new_state, sort_keys=True)
