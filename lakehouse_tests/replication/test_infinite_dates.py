"""PostgreSQL's ``infinity``, ``-infinity`` and BC dates and instants keep their rows in the lake,
through the full load's text (``COPY``) and the CDC text (pgoutput), in DMS CSV and Parquet: they
are the ends of the lake's range (``registry.casting``), and an update setting one keeps the
update's other columns."""

from __future__ import annotations

from datetime import UTC, date, datetime

import psycopg
import pytest

from lakehouse.engine import silver
from lakehouse.replication.replicator import Replicator
from lakehouse_tests.replication.round_trip import discovered_task, ingest_and_apply

pytestmark = pytest.mark.integration

CONTRACTS = (
    "create table contracts (id int primary key, valid_from date, valid_to date, "
    "ends_at timestamptz, at_wall timestamp, note text)",
    "insert into contracts values "
    "(1, '2024-01-01', '2024-12-31', '2024-12-31 00:00+00', '2024-12-31 10:00', 'finite'),"
    "(2, '2024-01-01', 'infinity', 'infinity', 'infinity', 'open-ended'),"
    "(3, '-infinity', '2024-01-01', '-infinity', '-infinity', 'since ever'),"
    "(4, '0044-03-15 BC', '12000-01-01', '0044-03-15 10:00+00 BC', "
    "'0044-03-15 10:00 BC', 'BC')",
)
LOW, HIGH = date(1, 1, 1), date(9999, 12, 31)
LOW_TS = datetime(1, 1, 1, tzinfo=UTC)
HIGH_TS = datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC)


def _silver(lake, spec) -> dict[int, tuple]:
    frame = silver.read_silver(lake, spec).sort("id")
    cols = ("valid_from", "valid_to", "ends_at", "at_wall", "note")
    return {r[0]: r[1:] for r in frame.select("id", *cols).rows()}


def _run(task, lake, spec) -> None:
    Replicator(task, lake).run()
    ingest_and_apply(lake, {spec.qualified_name: spec}, task.settings)


@pytest.mark.parametrize("data_format", ["csv", "parquet"])
def test_infinite_and_bc_values_keep_their_rows(fresh_db, tmp_path, data_format):
    setup = discovered_task(fresh_db, tmp_path, "r", CONTRACTS, data_format)
    (spec,) = setup.specs.values()
    task, lake = setup.task, setup.lake
    _run(task, lake, spec)
    finite = (date(2024, 1, 1), date(2024, 12, 31), datetime(2024, 12, 31, tzinfo=UTC),
              datetime(2024, 12, 31, 10, tzinfo=UTC), "finite")  # fmt: skip
    assert _silver(lake, spec) == {
        1: finite,
        2: (date(2024, 1, 1), HIGH, HIGH_TS, HIGH_TS, "open-ended"),
        3: (LOW, date(2024, 1, 1), LOW_TS, LOW_TS, "since ever"),
        4: (LOW, HIGH, LOW_TS, LOW_TS, "BC"),
    }
    # CDC: the update's other column arrives with the infinite value
    with psycopg.connect(fresh_db, autocommit=True) as conn:
        conn.execute(
            "update contracts set valid_to = 'infinity', ends_at = '-infinity', "
            "at_wall = '0001-01-01 00:00 BC', note = 'extended' where id = 1"
        )
        conn.execute("insert into contracts values (5, '-infinity', 'infinity', null, null, 'new')")
    _run(task, lake, spec)
    got = _silver(lake, spec)
    assert got[1] == (date(2024, 1, 1), HIGH, LOW_TS, LOW_TS, "extended")
    assert got[5] == (LOW, HIGH, None, None, "new")
