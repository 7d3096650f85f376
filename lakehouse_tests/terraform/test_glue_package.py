"""The package wheel (``make glue-package``; Glue's ``--extra-py-files``, the API's Lambda code)
holds the ``lakehouse`` package and its data files, and nothing else: not the tests, not bench/.

Built from a copy of the sources (pyproject.toml, README.md, lakehouse/, plus decoy
lakehouse_tests/ and bench/ packages), so that a stale ``build/`` of the checkout cannot hide or
fake a result.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile

import pytest

from lakehouse.aws import naming

REPO = naming.REPO_ROOT


@pytest.mark.timeout(300)
def test_the_wheel_ships_only_the_lakehouse_package(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(REPO / name, src / name)
    shutil.copytree(
        REPO / "lakehouse", src / "lakehouse", ignore=shutil.ignore_patterns("__pycache__")
    )
    for decoy in ("lakehouse_tests", "lakehouse_tests/sub", "bench"):
        (src / decoy).mkdir()
        (src / decoy / "__init__.py").write_text("")
    r = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", str(src), "-w", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=280,
    )
    assert r.returncode == 0, r.stderr[-3000:]
    (wheel,) = tmp_path.glob("lakehouse-*.whl")
    assert wheel.name == f"lakehouse-{naming.package_version()}-py3-none-any.whl"
    assert wheel.name == naming.glue_wheel_key().rsplit("/", 1)[-1]  # the key Terraform uploads to
    names = zipfile.ZipFile(wheel).namelist()
    assert {n.split("/", 1)[0] for n in names} == {
        "lakehouse",
        f"lakehouse-{naming.package_version()}.dist-info",
    }
    sources = {
        p.relative_to(src).as_posix()
        for p in (src / "lakehouse").rglob("*")
        if p.is_file() and p.suffix in (".py", ".sql")
    }
    assert sources <= set(names), sorted(sources - set(names))
    assert "lakehouse/events/lambda_handler.py" in names  # the API's Lambda handler
