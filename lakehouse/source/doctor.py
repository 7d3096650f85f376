"""Can this PostgreSQL be replicated by this role? Each check is a ``Finding`` with the exact SQL
that fixes it.

``diagnose(conn, tables, slot_name=None, full_load_done=False, resync_fix=…)`` runs, as the
role of ``conn`` (the role the replicator will connect as), in this order:

server   ``wal_level`` (logical), the role's REPLICATION attribute (or ``rds_replication``
         membership, or superuser), a free replication slot (unless ``slot_name`` exists) and a
         free WAL sender; the task's slot when it is lost (``source.slots``): invalidated, or
         missing after the task's full load (``full_load_done``: its state says so; before the
         first run a missing slot is expected) — an error whose fix is ``resync_fix``; ``max_slot_wal_keep_size`` (``-1`` = unbounded: a stalled slot keeps
         WAL until the disk is full), CREATE on the database (to create the publication);
per table (``tables``: ``"schema.table"``, ``(schema, table)`` or ``TableSpec``) USAGE on its
         schema and SELECT on it (the full load), ownership (only an owner — or a superuser —
         can add a table to a publication), and its key and replica identity: a table without
         a primary key is captured insert-only (updates and deletes are lost: add one); a keyed
         table with TOAST-able columns (text, bytea, json, arrays … stored out of line when
         large) under replica identity DEFAULT sends no value for a large column an update did
         not change (the replicator marks it, silver keeps it; AWS DMS writes NULL:
         ``REPLICA IDENTITY FULL`` makes the old row carry it); NOTHING makes
         updates and deletes fail once the table is published.

``Finding``: ``check`` (a stable name), ``subject`` (``server``, ``role app``, ``database
x``, ``public.orders``), ``severity`` (``error``: replication fails or loses changes;
``warning``: it works with a risk; ``ok``), ``message`` and ``fix`` (SQL, or None when ok).
``format_findings`` renders them for a terminal. Nothing is changed on the server.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from lakehouse.source.slots import lost_cause

Severity = Literal["error", "warning", "ok"]

#: the bound advised for ``max_slot_wal_keep_size`` when it is unbounded
ADVISED_WAL_KEEP = "50GB"


@dataclass(frozen=True)
class Finding:
    check: str
    subject: str
    severity: Severity
    message: str
    fix: str | None = None


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _table_name(t) -> tuple[str, str]:
    if isinstance(t, str):
        schema, _, name = t.rpartition(".")
        return schema or "public", name
    if isinstance(t, tuple):
        return t
    return t.schema, getattr(t, "source_table", t.name)  # TableSpec: its source name


def diagnose(
    conn,
    tables,
    slot_name: str | None = None,
    *,
    full_load_done: bool = False,
    resync_fix: str = "lakehouse resync --dataset NAME",
) -> list[Finding]:
    """Every finding for replicating ``tables`` as ``conn``'s role (see the module docstring)."""
    out: list[Finding] = []
    role, superuser, replication, database = conn.execute(
        """select r.rolname, r.rolsuper, r.rolreplication, current_database()
           from pg_roles r where r.rolname = current_user"""
    ).fetchone()
    role_q = _ident(role)
    out.append(_wal_level(conn))
    out.append(_replication_role(conn, role, superuser, replication))
    out.extend(_capacity(conn, slot_name, full_load_done, resync_fix))
    out.append(_wal_keep(conn))
    if (
        superuser
        or conn.execute("select has_database_privilege(current_database(), 'CREATE')").fetchone()[0]
    ):
        out.append(
            Finding(
                "create_publication",
                f"database {database}",
                "ok",
                f"{role} can create a publication",
            )
        )
    else:
        out.append(
            Finding(
                "create_publication",
                f"database {database}",
                "error",
                f"{role} has no CREATE privilege on database {database}: it cannot create the "
                "task's publication",
                f"GRANT CREATE ON DATABASE {_ident(database)} TO {role_q};",
            )
        )
    for t in tables:
        out.extend(_table(conn, *_table_name(t), role, superuser))
    return out


def _wal_level(conn) -> Finding:
    level = conn.execute("show wal_level").fetchone()[0]
    if level == "logical":
        return Finding("wal_level", "server", "ok", "wal_level is logical")
    return Finding(
        "wal_level",
        "server",
        "error",
        f"wal_level is {level!r}: logical decoding needs 'logical' (a restart applies it; on "
        "Amazon RDS set rds.logical_replication = 1 in the parameter group instead)",
        "ALTER SYSTEM SET wal_level = logical;",
    )


def _replication_role(conn, role: str, superuser: bool, replication: bool) -> Finding:
    rds = conn.execute("select 1 from pg_roles where rolname = 'rds_replication'").fetchone()
    member = bool(
        rds
        and conn.execute(
            "select pg_has_role(current_user, 'rds_replication', 'member')"
        ).fetchone()[0]
    )
    if superuser or replication or member:
        how = "superuser" if superuser else "REPLICATION" if replication else "rds_replication"
        return Finding("replication_role", f"role {role}", "ok", f"{role} may replicate ({how})")
    fix = (
        f"GRANT rds_replication TO {_ident(role)};"
        if rds
        else f"ALTER ROLE {_ident(role)} WITH REPLICATION;"
    )
    return Finding(
        "replication_role",
        f"role {role}",
        "error",
        f"{role} has neither the REPLICATION attribute nor superuser: it cannot create a "
        "replication slot or stream changes",
        fix,
    )


def _capacity(conn, slot_name: str | None, full_load_done: bool, resync_fix: str) -> list[Finding]:
    max_slots, max_senders, slots, senders, slot = conn.execute(
        """select current_setting('max_replication_slots')::int,
                  current_setting('max_wal_senders')::int,
                  (select count(*) from pg_replication_slots),
                  (select count(*) from pg_stat_replication),
                  (select to_jsonb(s) from pg_replication_slots s where slot_name = %s)""",
        (slot_name or "",),
    ).fetchone()
    out = []
    # the rule of replication.slot_health (source.slots); a missing slot only counts once the
    # task's full load made it
    lost = None
    if slot_name and (slot or full_load_done):
        state = slot or {}
        lost = lost_cause(
            slot_name, bool(slot), state.get("wal_status"), state.get("invalidation_reason")
        )
    if lost:
        out.append(
            Finding(
                "replication_slots",
                "server",
                "error",
                f"{lost}: the changes since the task's last run are lost to it; replicate fails"
                " until the tables are copied again",
                resync_fix,
            )
        )
    elif slot:
        out.append(Finding("replication_slots", "server", "ok", f"slot {slot_name} exists"))
    elif slots < max_slots:
        out.append(
            Finding(
                "replication_slots",
                "server",
                "ok",
                f"{max_slots - slots} of max_replication_slots = {max_slots} free",
            )
        )
    else:
        out.append(
            Finding(
                "replication_slots",
                "server",
                "error",
                f"all {max_slots} replication slots are in use: the task cannot create its slot "
                "(a restart applies the new setting)",
                f"ALTER SYSTEM SET max_replication_slots = {slots + 4};",
            )
        )
    if senders < max_senders:
        out.append(
            Finding(
                "wal_senders",
                "server",
                "ok",
                f"{max_senders - senders} of max_wal_senders = {max_senders} free",
            )
        )
    else:
        out.append(
            Finding(
                "wal_senders",
                "server",
                "error",
                f"all {max_senders} WAL senders are in use: the task cannot stream changes "
                "(a restart applies the new setting)",
                f"ALTER SYSTEM SET max_wal_senders = {senders + 4};",
            )
        )
    return out


def _wal_keep(conn) -> Finding:
    value = conn.execute("show max_slot_wal_keep_size").fetchone()[0]
    if value != "-1":
        return Finding(
            "max_slot_wal_keep_size", "server", "ok", f"max_slot_wal_keep_size is {value}"
        )
    return Finding(
        "max_slot_wal_keep_size",
        "server",
        "warning",
        "max_slot_wal_keep_size is -1 (unbounded): a stalled or abandoned slot keeps WAL until "
        "the disk is full; bound it (a slot past the bound is invalidated: reload the task)",
        f"ALTER SYSTEM SET max_slot_wal_keep_size = '{ADVISED_WAL_KEEP}'; SELECT pg_reload_conf();",
    )


_TABLE = """
select c.oid, c.relreplident, pg_get_userbyid(c.relowner),
       pg_has_role(current_user, c.relowner, 'USAGE'),
       has_schema_privilege(current_user, n.oid, 'USAGE'),
       has_table_privilege(current_user, c.oid, 'SELECT'),
       exists (select 1 from pg_index i where i.indrelid = c.oid and i.indisprimary),
       array(select a.attname from pg_attribute a
             where a.attrelid = c.oid and a.attnum > 0 and not a.attisdropped
               and a.attlen = -1 and a.attstorage in ('x', 'e') order by a.attnum),
       (select array(select a.attname from unnest(i.indkey::int2[]) with ordinality k(num, ord)
                     join pg_attribute a on a.attrelid = c.oid and a.attnum = k.num
                     order by k.ord)
        from pg_index i
        where i.indrelid = c.oid and i.indisunique and i.indpred is null and i.indexprs is null
          and not exists (select 1 from pg_attribute a
                          where a.attrelid = c.oid and a.attnum = any(i.indkey) and not a.attnotnull)
        order by i.indexrelid limit 1)
from pg_class c join pg_namespace n on n.oid = c.relnamespace
where n.nspname = %s and c.relname = %s and c.relkind in ('r', 'p')
"""


def _table(conn, schema: str, name: str, role: str, superuser: bool) -> list[Finding]:
    subject = f"{schema}.{name}"
    qname = f"{_ident(schema)}.{_ident(name)}"
    role_q = _ident(role)
    row = conn.execute(_TABLE, (schema, name)).fetchone()
    if row is None:
        return [Finding("table", subject, "error", f"{subject} is not a table of this database")]
    _oid, ident, owner, owns, usage, select, has_pk, toastable, candidate = row
    out = []
    if not usage:
        out.append(
            Finding(
                "schema_usage",
                subject,
                "error",
                f"{role} has no USAGE on schema {schema}",
                f"GRANT USAGE ON SCHEMA {_ident(schema)} TO {role_q};",
            )
        )
    if select:
        out.append(Finding("select", subject, "ok", f"{role} can read {subject}"))
    else:
        out.append(
            Finding(
                "select",
                subject,
                "error",
                f"{role} has no SELECT on {subject}: the full load cannot read it",
                f"GRANT SELECT ON {qname} TO {role_q};",
            )
        )
    if superuser or owns:
        out.append(Finding("publication_owner", subject, "ok", f"{role} may publish {subject}"))
    else:
        out.append(
            Finding(
                "publication_owner",
                subject,
                "error",
                f"{subject} is owned by {owner}: only its owner (or a superuser) can add it to "
                "a publication",
                f"ALTER TABLE {qname} OWNER TO {role_q};",
            )
        )
    out.append(_identity(subject, qname, ident, has_pk, list(toastable), candidate))
    return out


def _identity(subject, qname, ident, has_pk, toastable, candidate) -> Finding:
    if not has_pk:
        fix = (
            f"ALTER TABLE {qname} ADD PRIMARY KEY ({', '.join(_ident(c) for c in candidate)});"
            if candidate
            else f"ALTER TABLE {qname} ADD COLUMN lakehouse_id bigint GENERATED ALWAYS AS "
            "IDENTITY PRIMARY KEY;"
        )
        return Finding(
            "replica_identity",
            subject,
            "error",
            f"{subject} has no primary key: it is captured insert-only, its updates and deletes "
            "are not replicated",
            fix,
        )
    if ident == "n":
        return Finding(
            "replica_identity",
            subject,
            "error",
            f"{subject} has REPLICA IDENTITY NOTHING: its updates and deletes fail once it is "
            "published",
            f"ALTER TABLE {qname} REPLICA IDENTITY DEFAULT;",
        )
    if ident in ("d", "i") and toastable:
        return Finding(
            "replica_identity",
            subject,
            "warning",
            f"{subject} has TOAST-able columns ({', '.join(toastable)}) under REPLICA IDENTITY "
            f"{'DEFAULT' if ident == 'd' else 'USING INDEX'}: an update that leaves a large value "
            "unchanged does not send it; the lakehouse's replicator marks it and silver keeps the "
            "value, but AWS DMS (and CSV files without header) would store NULL",
            f"ALTER TABLE {qname} REPLICA IDENTITY FULL;",
        )
    how = {"d": "DEFAULT (primary key)", "f": "FULL", "i": "USING INDEX"}[ident]
    return Finding("replica_identity", subject, "ok", f"{subject}: REPLICA IDENTITY {how}")


_MARK = {"error": "ERROR", "warning": "WARN", "ok": "ok"}


def format_findings(findings: list[Finding]) -> str:
    """One line per finding (``ERROR``/``WARN``/``ok``, subject, message), each fix indented
    under it, and a count of errors and warnings at the end."""
    lines = []
    for f in findings:
        lines.append(f"{_MARK[f.severity]:<5} {f.subject}: {f.message}")
        if f.fix:
            lines.append(f"      fix: {f.fix}")
    errors = sum(f.severity == "error" for f in findings)
    warnings = sum(f.severity == "warning" for f in findings)
    lines.append(f"{errors} error(s), {warnings} warning(s)")
    return "\n".join(lines)
