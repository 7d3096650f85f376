"""The acceptance path of a user's own database, with no Python: ``lakehouse init`` and
``lakehouse discover`` declare a schema of every common type (enum, domain, arrays, generated
column, no-key table, composite key, partitioned table), Dagster materializes it, the source
churns, a table created while CDC runs is captured (its include rule matches it) and then
pinned by ``discover``, and silver equals the source on
every column (compared with the source: ``test_every_type.source_rows``)."""

from __future__ import annotations

import psycopg
import pytest
import yaml

from lakehouse.cli import main
from lakehouse.profiles import Settings
from lakehouse.replication.pg_text import SESSION_OPTIONS
from lakehouse_tests.replication.test_every_type import silver_rows, source_rows
from lakehouse_tests.source.all_types import CHANGES, ROWS, SCHEMA

pytestmark = pytest.mark.integration


def _materialize_and_compare(settings: Settings, dsn: str, expected_tables: list[str]) -> None:
    from lakehouse.declarations import load_dataset
    from lakehouse.runs.materialize import materialize

    result = materialize(settings=settings)
    assert result.success
    spec = load_dataset("every", settings)
    assert sorted(t.name for t in spec.tables) == expected_tables
    lake = settings.lake()
    with psycopg.connect(dsn, options=SESSION_OPTIONS) as conn:
        for table in spec.tables:
            assert silver_rows(lake, table) == source_rows(conn, table), table.name
    failed = [
        (e.asset_key.path[-1], e.check_name)
        for e in result.get_asset_check_evaluations()
        if not e.passed and e.check_name in ("schema", "reconciliation")
    ]
    assert not failed, failed


def test_a_users_every_type_schema_declared_without_python_equals_the_source(
    fresh_db, tmp_path, monkeypatch
):
    with psycopg.connect(fresh_db, autocommit=True) as conn:
        conn.execute(SCHEMA)
        conn.execute(ROWS)
    for k, v in {"LAKEHOUSE_DEFS": str(tmp_path / "defs"), "LAKEHOUSE_ROOT": str(tmp_path / "lake"),
                 "LAKEHOUSE_DATASETS": "every", "EVERY_DSN": fresh_db,
                 "DAGSTER_HOME": str(tmp_path / "dagster")}.items():  # fmt: skip
        monkeypatch.setenv(k, v)
    assert main(["init", "every", "--dsn-env", "EVERY_DSN"]) == 0
    assert main(["discover", "every"]) == 0
    declaration = (tmp_path / "defs" / "every" / "defs.yaml").read_text()
    assert fresh_db not in declaration  # the DSN is referenced, never written
    settings = Settings.from_env()
    tables = ["event_log", "everything", "line", "measurement"]
    _materialize_and_compare(settings, fresh_db, tables)

    with psycopg.connect(fresh_db, autocommit=True) as conn:
        for sql in CHANGES:
            conn.execute(sql)
        conn.execute(
            "create table arrivals (id bigint primary key, tag text[], at timestamptz not null);"
            "insert into arrivals select g, array['a' || g, null], '2024-01-01'::timestamptz"
            " + g * interval '1 minute' from generate_series(1, 50) g"
        )
    # the new table matches the include rule: captured, loaded alone, its assets built
    _materialize_and_compare(settings, fresh_db, sorted([*tables, "arrivals"]))
    doc = yaml.safe_load((tmp_path / "defs" / "every" / "defs.yaml").read_text())
    assert "arrivals" not in [t["name"] for t in doc["attributes"]["tables"]]
    from lakehouse.commands.status import status_report

    pin = "captured, not in defs.yaml yet: public.arrivals — pin them (types, key, overrides)"
    assert pin in status_report(settings)
    assert main(["discover", "every"]) == 0  # pins it into the declaration, overrides possible
    doc = yaml.safe_load((tmp_path / "defs" / "every" / "defs.yaml").read_text())
    assert "arrivals" in [t["name"] for t in doc["attributes"]["tables"]]
    assert "captured, not in defs.yaml" not in status_report(settings)
    with psycopg.connect(fresh_db, autocommit=True) as conn:
        conn.execute(
            "update arrivals set tag = '{}' where id = 1; delete from arrivals where id = 2"
        )
        conn.execute("update line set qty = qty + 1")
    _materialize_and_compare(settings, fresh_db, sorted([*tables, "arrivals"]))
