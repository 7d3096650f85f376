"""The setup that source → silver round trips share (test_every_type, test_infinite_dates):
tables a script creates on the embedded PostgreSQL, discovered (no hand-written specs) into the
registry of a task over every ``public`` table in one DMS data format, and an empty local lake;
then bronze and silver run over them with nothing quarantined."""

from __future__ import annotations

from dataclasses import dataclass

import psycopg

from lakehouse.dms.settings import DmsS3Settings
from lakehouse.engine import bronze, silver
from lakehouse.registry.model import TableSpec
from lakehouse.replication.task import ReplicationTask
from lakehouse.source.discovery import discover_schema
from lakehouse.storage import LocalLake
from lakehouse_tests.replication.test_replicator import DEMO

RULES = ({"rule-action": "include", "schema-name": "public", "table-name": "%"},)
SETTINGS = DEMO  # the replicator tests' settings


@dataclass(frozen=True)
class RoundTrip:
    task: ReplicationTask
    lake: LocalLake
    specs: dict[str, TableSpec]  # by qualified name, in discovery order


def discovered_task(
    dsn: str, tmp_path, name: str, statements: tuple[str, ...], data_format: str
) -> RoundTrip:
    """Run ``statements`` on ``dsn``, discover its ``public`` tables, and a task ``name`` over
    them writing ``data_format`` files to the empty lake ``tmp_path / "lake"``."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        for statement in statements:
            conn.execute(statement)
        specs = {t.spec.qualified_name: t.spec for t in discover_schema(conn, RULES, name)}
    settings = SETTINGS.with_(DataFormat=data_format)
    task = ReplicationTask(name, dsn, settings, selection_rules=RULES, registry=specs)
    return RoundTrip(task, LocalLake(tmp_path / "lake"), specs)


def ingest_and_apply(
    lake, specs: dict[str, TableSpec], settings: DmsS3Settings
) -> dict[str, tuple[int, int]]:
    """Bronze then silver for each table, asserting nothing was quarantined; per table name
    (bronze rows, silver changes)."""
    out = {}
    for spec in specs.values():
        b = bronze.ingest(lake, spec, settings)
        assert b.quarantined == 0, b.errors
        s = silver.apply_changes(lake, spec)
        assert s.quarantined == 0, spec.name
        out[spec.name] = (b.rows, s.changes)
    return out
