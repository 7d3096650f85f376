"""Decoder for PostgreSQL's ``pgoutput`` logical replication protocol (version 1, text values).

``PgOutputDecoder.feed(payload)`` takes one XLogData payload and returns a message:
``Begin``, ``Commit``, ``Relation``, ``Change``, ``Truncate`` (the relations a TRUNCATE emptied)
or ``None`` (types, origins and messages are ignored). Values are PostgreSQL text
(``str``) or ``None`` for NULL; an unchanged TOASTed value (sent as ``u``) is ``UNCHANGED``.
For an update, ``old_key`` holds the key columns' old values when the key changed (``K``) or the
whole old row under REPLICA IDENTITY FULL (``O``); ``None`` otherwise.
Timestamps are microseconds since 2000-01-01 UTC (PostgreSQL epoch).
"""

from __future__ import annotations

from dataclasses import dataclass
from struct import Struct

_I16 = Struct(">h")
_I32 = Struct(">i")
_U32 = Struct(">I")
_BEGIN = Struct(">QqI")
_COMMIT = Struct(">bQQq")
PG_EPOCH_OFFSET_US = 946_684_800_000_000  # 2000-01-01 minus 1970-01-01 in µs


class _Unchanged:
    def __repr__(self) -> str:
        return "UNCHANGED"


UNCHANGED = _Unchanged()


@dataclass(frozen=True, slots=True)
class Begin:
    final_lsn: int
    commit_ts: int  # µs since PostgreSQL epoch
    xid: int


@dataclass(frozen=True, slots=True)
class Commit:
    commit_lsn: int
    end_lsn: int
    commit_ts: int


@dataclass(frozen=True, slots=True)
class Relation:
    relid: int
    schema: str
    name: str
    replica_identity: str
    columns: tuple[str, ...]
    key_flags: tuple[bool, ...]
    type_oids: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class Truncate:
    relids: tuple[int, ...]


@dataclass(slots=True)
class Change:
    op: str  # I | U | D
    relid: int
    values: list | None  # new row (I/U); None for D
    old: list | None  # old key (K) or old row (O); None when not sent


def _cstring(buf: bytes, pos: int) -> tuple[str, int]:
    end = buf.index(0, pos)
    return buf[pos:end].decode("utf-8"), end + 1


def _tuple(buf: bytes, pos: int) -> tuple[list, int]:
    (n,) = _I16.unpack_from(buf, pos)
    pos += 2
    out: list = []
    append = out.append
    for _ in range(n):
        kind = buf[pos]
        pos += 1
        if kind == 116:  # 't'
            (ln,) = _I32.unpack_from(buf, pos)
            pos += 4
            append(buf[pos : pos + ln].decode("utf-8"))
            pos += ln
        elif kind == 110:  # 'n'
            append(None)
        elif kind == 117:  # 'u'
            append(UNCHANGED)
        elif kind == 98:  # 'b' (binary mode is never requested; keep bytes)
            (ln,) = _I32.unpack_from(buf, pos)
            pos += 4
            append(bytes(buf[pos : pos + ln]))
            pos += ln
        else:
            raise ValueError(f"pgoutput: unknown tuple column kind {chr(kind)!r} at byte {pos - 1}")
    return out, pos


class PgOutputDecoder:
    """Stateless apart from nothing: relations are returned to the caller, which keeps them."""

    def feed(self, buf: bytes):
        tag = buf[0]
        if tag == 73:  # 'I'
            (relid,) = _U32.unpack_from(buf, 1)
            values, _ = _tuple(buf, 6)  # skip 'N'
            return Change("I", relid, values, None)
        if tag == 85:  # 'U'
            (relid,) = _U32.unpack_from(buf, 1)
            pos = 5
            old = None
            if buf[pos] in (75, 79):  # 'K' | 'O'
                old, pos = _tuple(buf, pos + 1)
            values, _ = _tuple(buf, pos + 1)  # skip 'N'
            return Change("U", relid, values, old)
        if tag == 68:  # 'D'
            (relid,) = _U32.unpack_from(buf, 1)
            old, _ = _tuple(buf, 6)  # skip 'K' | 'O'
            return Change("D", relid, None, old)
        if tag == 66:  # 'B'
            return Begin(*_BEGIN.unpack_from(buf, 1))
        if tag == 67:  # 'C'
            _flags, commit_lsn, end_lsn, ts = _COMMIT.unpack_from(buf, 1)
            return Commit(commit_lsn, end_lsn, ts)
        if tag == 82:  # 'R'
            (relid,) = _U32.unpack_from(buf, 1)
            schema, pos = _cstring(buf, 5)
            name, pos = _cstring(buf, pos)
            ident = chr(buf[pos])
            (ncols,) = _I16.unpack_from(buf, pos + 1)
            pos += 3
            cols, flags, oids = [], [], []
            for _ in range(ncols):
                flag = buf[pos]
                colname, pos = _cstring(buf, pos + 1)
                (oid,) = _U32.unpack_from(buf, pos)
                pos += 8  # type oid + typmod
                cols.append(colname)
                flags.append(bool(flag & 1))
                oids.append(oid)
            return Relation(relid, schema, name, ident, tuple(cols), tuple(flags), tuple(oids))
        if tag == 84:  # 'T': relation count, option bits, then the relations (no xid in v1)
            (n,) = _I32.unpack_from(buf, 1)
            return Truncate(tuple(_U32.unpack_from(buf, 6 + 4 * i)[0] for i in range(n)))
        return None  # 'Y' type, 'O' origin, 'M' message


def lsn_to_int(lsn: str) -> int:
    hi, lo = lsn.split("/")
    return (int(hi, 16) << 32) | int(lo, 16)


def int_to_lsn(value: int) -> str:
    return f"{value >> 32:X}/{value & 0xFFFFFFFF:X}"
