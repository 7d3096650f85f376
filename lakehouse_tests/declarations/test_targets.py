"""What a command acts on when no dataset is named: the served datasets of the right kind."""

from __future__ import annotations

from lakehouse.cli import main
from lakehouse.commands.targets import datasets, settings


def test_files_are_the_datasets_with_a_csv_drop_source(tmp_path, monkeypatch):
    monkeypatch.setenv("LAKEHOUSE_DEFS", str(tmp_path / "defs"))
    monkeypatch.setenv("LAKEHOUSE_ROOT", str(tmp_path / "lake"))
    monkeypatch.setenv("LAKEHOUSE_DATASETS", "drops,db")
    assert main(["init", "drops", "--kind", "csv_drop", "--landing", str(tmp_path)]) == 0
    assert main(["init", "db"]) == 0
    s = settings()
    assert datasets(s, None, "files") == ("drops",)  # what `lakehouse sync` copies
    assert datasets(s, None) == ("db",)  # what `lakehouse replicate` follows
    assert datasets(s, "db", "files") == ("db",)  # a named dataset is taken as named
