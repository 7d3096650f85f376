"""``lakehouse replicate --follow``: a replication thread that fails for good ends the command
with a non-zero exit (one line for a lost connection or slot), never a silent exit 0."""

from __future__ import annotations

import pytest

from lakehouse.commands import raw
from lakehouse.commands.errors import UserError
from lakehouse.replication import replicator as replicator_module
from lakehouse.replication import task as task_module
from lakehouse.storage import LocalLake


class _Settings:
    def __init__(self, root) -> None:
        self.root = root

    def lake(self):
        return LocalLake(self.root)


@pytest.fixture
def follow(monkeypatch, tmp_path):
    monkeypatch.setattr(raw, "source_dsn", lambda s, d: "postgresql://nowhere/x")
    monkeypatch.setattr(task_module, "dataset_task", lambda d, dsn: d)
    monkeypatch.setattr(replicator_module.Replicator, "__init__", lambda self, task, lake: None)

    def run(error: BaseException):
        def fail(self, **_):
            raise error

        monkeypatch.setattr(replicator_module.Replicator, "run", fail)
        return raw._follow(_Settings(tmp_path), ("shop",))

    return run


def test_retries_run_out_is_a_one_line_error(follow):
    lost = replicator_module.ConnectionLostError(
        "replication task 'shop': the connection to the source was lost 11 times in a row"
        " — fix: check that the source database is up"
    )
    with pytest.raises(UserError, match="lost 11 times in a row — fix: check that"):
        follow(lost)


def test_any_other_failure_is_raised_not_swallowed(follow):
    with pytest.raises(KeyError):
        follow(KeyError("bug"))
