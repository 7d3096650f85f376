"""A local lake's temp files: one a dead writer left (killed mid-write) is removed by the next
listing of its folder; a live writer's is left alone."""

from __future__ import annotations

import os
import subprocess
import sys
import time

from lakehouse.storage import LocalLake
from lakehouse.storage import lake as lake_module


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_a_dead_writers_temp_file_goes_with_the_next_listing_a_live_ones_stays(tmp_path):
    lake = LocalLake(tmp_path)
    lake.write_bytes("raw/t/LOAD00000001.csv", b"1\n")
    folder = tmp_path / "raw" / "t"
    host = lake_module._HOST
    dead = folder / f".tmp-{host}.{_dead_pid()}.abc123"  # killed -9 mid-write
    live = folder / f".tmp-{host}.{os.getpid()}.def456"  # being written now
    other_host = folder / f".tmp-elsewhere.{_dead_pid()}.ghi789"  # not ours to judge by pid
    old = folder / ".tmp-jkl012"  # an older naming, hours old
    young = folder / ".tmp-mno345"
    for f in (dead, live, other_host, old, young):
        f.write_bytes(b"partial")
    hours_ago = time.time() - 2 * lake_module.STALE_TEMP_SECONDS
    os.utime(old, (hours_ago, hours_ago))
    assert [o.key for o in lake.list("raw/t/")] == ["raw/t/LOAD00000001.csv"]
    left = sorted(p.name for p in folder.iterdir())
    assert left == sorted(["LOAD00000001.csv", live.name, other_host.name, young.name])


def test_a_write_names_its_temp_file_after_its_host_and_process(tmp_path, monkeypatch):
    seen = []
    replace = os.replace

    def spy(src, dst):
        seen.append(os.path.basename(src))
        replace(src, dst)

    monkeypatch.setattr(lake_module.os, "replace", spy)
    LocalLake(tmp_path).write_bytes("raw/t/a.csv", b"x")
    assert seen[0].startswith(f".tmp-{lake_module._HOST}.{os.getpid()}.")
