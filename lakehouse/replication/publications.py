"""The task's publications and its replication slot on the source database.

- ``ensure_publications(conn, task, specs)``: the task's publication of its keyed tables (all
  changes) and its insert-only publication of the tables without a primary key (inserts, as DMS
  captures them, and TRUNCATE, which ``cdc`` turns into a resync of the table; a publication of
  an older version without it is altered on the next run), publishing a partitioned table's changes as its root's and, on PostgreSQL 18+, stored
  generated columns; a publication already as wanted is left alone (no catalog change, so no WAL
  the slot would have to skip), an empty one is dropped.
- ``publication_names(task, specs)``: the publications a CDC session reads.
- ``drop_slot(conn, slot)``: drop the slot (ending the session holding it), if it exists.
"""

from __future__ import annotations

import time

from lakehouse.registry.model import TableSpec
from lakehouse.replication.task import ReplicationTask

#: what a publication publishes: the keyed tables' every change; the keyless tables' inserts
#: (as DMS captures them) and TRUNCATE (a resync of the table: ``cdc``)
ALL_CHANGES = ("insert", "update", "delete", "truncate")
INSERTS_AND_TRUNCATE = ("insert", "truncate")


def ensure_publications(conn, task: ReplicationTask, specs: dict[str, TableSpec]) -> None:
    """Create or update the task's publications; a publication already as wanted is left
    alone (no catalog change, so no WAL the slot would have to skip)."""
    keyed = [s for s in specs.values() if s.primary_key]
    keyless = [s for s in specs.values() if not s.primary_key]
    # a partitioned table's changes as its root's (the leaves are not tables of the task);
    # stored generated columns in the changes as in the full load (PostgreSQL 18+)
    gencols = conn.info.server_version >= 180000
    common = "publish_via_partition_root = true"
    if gencols:
        common += ", publish_generated_columns = stored"
    # keyless tables: inserts (as DMS captures them) and TRUNCATE (a resync: ``cdc``)
    for pub, tables, publish in (
        (task.publication, keyed, ALL_CHANGES),
        (task.insert_only_publication, keyless, INSERTS_AND_TRUNCATE),
    ):
        opts = f"publish = '{', '.join(publish)}', {common}"
        _ensure_publication(conn, pub, tables, opts, gencols, publish)


def _ensure_publication(
    conn, pub: str, tables: list[TableSpec], opts: str, gencols: bool, publish: tuple[str, ...]
) -> None:
    row = conn.execute(
        f"""select p.pubviaroot, {"p.pubgencols = 's'" if gencols else "true"},
              array(select n.nspname || '.' || c.relname from pg_publication_rel r
                    join pg_class c on c.oid = r.prrelid
                    join pg_namespace n on n.oid = c.relnamespace
                    where r.prpubid = p.oid order by 1),
              p.pubinsert, p.pubupdate, p.pubdelete, p.pubtruncate
            from pg_publication p where p.pubname = %s""",
        (pub,),
    ).fetchone()
    names = ", ".join(f'"{t.schema}"."{t.name}"' for t in tables)
    if not tables:
        if row:
            conn.execute(f'drop publication "{pub}"')
        return
    if row is None:
        conn.execute(f'create publication "{pub}" for table {names} with ({opts})')
        return
    if sorted(row[2]) != sorted(t.qualified_name for t in tables):
        conn.execute(f'alter publication "{pub}" set table {names}')
    published = tuple(a for a, on in zip(ALL_CHANGES, row[3:], strict=True) if on)
    if not (row[0] and row[1]) or published != publish:  # e.g. a keyless one without TRUNCATE
        conn.execute(f'alter publication "{pub}" set ({opts})')


def publication_names(task: ReplicationTask, specs: dict[str, TableSpec]) -> str:
    pubs = []
    if any(s.primary_key for s in specs.values()):
        pubs.append(task.publication)
    if any(not s.primary_key for s in specs.values()):
        pubs.append(task.insert_only_publication)
    return ",".join(pubs)


def drop_slot(conn, slot: str) -> None:
    row = conn.execute(
        "select active_pid from pg_replication_slots where slot_name = %s", (slot,)
    ).fetchone()
    if row is None:
        return
    if row[0] is not None:
        conn.execute("select pg_terminate_backend(%s)", (row[0],))
        time.sleep(0.2)
    conn.execute("select pg_drop_replication_slot(%s)", (slot,))
