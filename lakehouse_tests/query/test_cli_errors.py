"""A person's mistake at the command line is one line on stderr and exit code 2, no traceback
(``lakehouse: error: <what> — fix: <what to do>``); ``--debug`` adds the traceback, and an
unexpected error still raises."""

from __future__ import annotations

import pytest
from deltalake import DeltaTable

from lakehouse.cli import main
from lakehouse.commands.errors import user_error
from lakehouse_tests.catalog import test_tenant_isolation as tenants_case

lake = tenants_case.lake  # two tenants' silver, bronze and gold tables


@pytest.fixture
def env(lake, monkeypatch):
    monkeypatch.setenv("LAKEHOUSE_ROOT", str(lake.path))
    return lake


def _one_error(capsys, code: int) -> str:
    err = capsys.readouterr().err
    assert code == 2
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("lakehouse: error: ") and " — fix: " in lines[0]
    return lines[0]


def test_an_unknown_tenant(env, capsys):
    line = _one_error(capsys, main(["query", "--tenant", "nosuch", "SELECT 1"]))
    assert "no tenant 'nosuch'" in line and "id or slug" in line


def test_an_unknown_table(env, capsys):
    line = _one_error(capsys, main(["query", "SELECT * FROM silver.nosuch"]))
    assert "unknown table 'silver.nosuch'" in line and "Available tables:" in line


def test_sql_that_does_not_parse(env, capsys):
    line = _one_error(capsys, main(["query", "SELEC * FROM silver.customers"]))
    assert "cannot parse the SQL as athena" in line


def test_a_permission_refusal_in_a_tenant_connection(env, capsys):
    part = DeltaTable(env.table_uri("silver", "core_customer")).file_uris()[0]
    sql = f"SELECT * FROM read_parquet('{part}')"
    line = _one_error(capsys, main(["query", "--tenant", "acme", sql]))
    assert "disabled by configuration" in line and "as tenant 'acme'" in line


def test_an_unknown_column(env, capsys):
    line = _one_error(capsys, main(["query", "SELECT nosuch FROM silver.core_customer"]))
    assert "nosuch" in line


def test_debug_shows_the_traceback(env, capsys):
    assert main(["--debug", "query", "--tenant", "nosuch", "SELECT 1"]) == 2
    err = capsys.readouterr().err
    assert "Traceback" in err and "UnknownTenantError" in err
    assert err.strip().splitlines()[-1].startswith("lakehouse: error: no tenant 'nosuch'")


def test_an_unknown_dataset_in_the_settings(env, monkeypatch, capsys):
    monkeypatch.setenv("LAKEHOUSE_DATASETS", "nosuch")
    line = _one_error(capsys, main(["status"]))
    assert "LAKEHOUSE_DATASETS names unknown datasets ['nosuch']" in line


def test_a_setting_that_does_not_parse(env, monkeypatch, capsys):
    monkeypatch.setenv("LAKEHOUSE_PROFILE", "nosuch")
    line = _one_error(capsys, main(["status"]))
    assert "LAKEHOUSE_PROFILE='nosuch'" in line


def test_a_missing_dsn(env, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("LAKEHOUSE_DEFS", str(tmp_path / "defs"))
    monkeypatch.delenv("SHOP_DSN", raising=False)
    assert main(["init", "shop", "--dsn-env", "SHOP_DSN"]) == 0
    capsys.readouterr()
    line = _one_error(capsys, main(["doctor", "shop"]))
    assert "SHOP_DSN" in line and "export SHOP_DSN=" in line


@pytest.mark.integration
def test_a_database_that_does_not_exist_or_refuses(env, pg_dsn, tmp_path, monkeypatch, capsys):
    """One line naming the server's refusal, never the password; doctor, discover, replicate."""
    from lakehouse.source import embedded

    monkeypatch.setenv("LAKEHOUSE_DEFS", str(tmp_path / "defs"))
    wrong = embedded.with_database(pg_dsn, "nosuchdb") + " password=s3cret-pw"
    monkeypatch.setenv("SHOP_DSN", wrong)
    monkeypatch.setenv("LAKEHOUSE_DATASETS", "shop")
    assert main(["init", "shop", "--dsn-env", "SHOP_DSN"]) == 0
    capsys.readouterr()
    for argv in (["doctor", "shop"], ["discover", "shop"], ["replicate", "--once"]):
        line = _one_error(capsys, main(argv))
        assert "cannot connect to the source database" in line and "nosuchdb" in line, argv
        assert "s3cret" not in line


def test_selection_rules_matching_no_table(env, fresh_db, tmp_path, capsys):
    from lakehouse.replication.replicator import Replicator
    from lakehouse_tests.replication.test_table_set import _task

    with pytest.raises(LookupError) as caught:
        Replicator(_task(fresh_db, ("nosuch",)), env).run()
    problem = user_error(caught.value)
    assert problem is not None and "no table matches the selection rules" in problem.what
    assert "schema-name" in problem.fix


def test_an_unexpected_error_still_raises(env, monkeypatch):
    from lakehouse.commands import status

    def broken(_settings):
        raise RuntimeError("a bug")

    monkeypatch.setattr(status, "status_report", broken)
    with pytest.raises(RuntimeError, match="a bug"):
        main(["status"])
