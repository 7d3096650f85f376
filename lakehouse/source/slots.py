"""When a replication slot is lost, and why: the one rule that ``source.doctor`` and
``replication.slot_health`` both apply.

A slot is lost when it does not exist (dropped), its ``wal_status`` is ``lost``, or
``pg_replication_slots`` gives an ``invalidation_reason`` (where the server has the column): its changes since
then cannot be replicated, the task needs a resync. ``lost_cause`` says why in one phrase
(``replication slot 'x' does not exist (dropped)`` / ``... was invalidated (<reason>)``; the
reason is ``its WAL was removed`` when the server gives none), None while the slot is usable.
"""

from __future__ import annotations


def slot_lost(exists: bool, wal_status: str | None, invalidation_reason: str | None) -> bool:
    """Whether the slot can no longer deliver its changes (see the module docstring)."""
    return not exists or wal_status == "lost" or bool(invalidation_reason)


def lost_cause(
    slot: str, exists: bool, wal_status: str | None, invalidation_reason: str | None
) -> str | None:
    """Why ``slot`` is lost, or None when it is not (``slot_lost``)."""
    if not exists:
        return f"replication slot {slot!r} does not exist (dropped)"
    if slot_lost(exists, wal_status, invalidation_reason):
        reason = invalidation_reason or "its WAL was removed"
        return f"replication slot {slot!r} was invalidated ({reason})"
    return None
