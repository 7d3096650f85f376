"""Dagster's own tooling knows the Dataset component: ``dg list components`` lists it and
``dg scaffold defs`` writes a declaration the code location loads."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from lakehouse.declarations import load_dataset
from lakehouse.profiles import Settings

REPO = Path(__file__).resolve().parents[2]
DG = Path(sys.executable).parent / "dg"


def _dg(*args: str, cwd: Path, **env: str) -> subprocess.CompletedProcess:
    venv = str(Path(sys.executable).parent.parent)
    full = {**os.environ, "VIRTUAL_ENV": venv, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}", **env}  # fmt: skip
    return subprocess.run([str(DG), *args], cwd=cwd, env=full, capture_output=True, text=True,
                          timeout=180)  # fmt: skip


def test_dg_lists_the_dataset_component():
    r = _dg("list", "components", "--json", cwd=REPO)
    assert r.returncode == 0, r.stderr[-2000:]
    assert '"lakehouse.components.Dataset"' in r.stdout


def test_dg_scaffold_defs_writes_a_declaration_the_location_loads(tmp_path):
    (tmp_path / "myproj" / "defs").mkdir(parents=True)
    (tmp_path / "myproj" / "__init__.py").touch()
    (tmp_path / "myproj" / "defs" / "__init__.py").touch()
    (tmp_path / "pyproject.toml").write_text(
        '[project]\nname = "myproj"\nversion = "0.1"\n[tool.dg]\ndirectory_type = "project"\n'
        '[tool.dg.project]\nroot_module = "myproj"\n'
    )
    r = _dg("scaffold", "defs", "lakehouse.components.Dataset", "mine", cwd=tmp_path,
            PYTHONPATH=str(tmp_path))  # fmt: skip
    assert r.returncode == 0, r.stderr[-2000:]
    written = tmp_path / "myproj" / "defs" / "mine" / "defs.yaml"
    assert "dsn_env: MINE_SOURCE_DSN" in written.read_text()
    settings = Settings.from_env({"LAKEHOUSE_DEFS": str(tmp_path / "myproj" / "defs")})
    spec = load_dataset("mine", settings)
    assert (spec.name, spec.tables) == ("mine", ())
    assert spec.selection_rules == (
        {"rule-action": "include", "schema-name": "public", "table-name": "%"},
    )
