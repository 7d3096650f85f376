"""The asset graph of the shipped definitions, as a committed text file: a change to the graph
(an asset, a group, a kind, a dependency, a check, an automation condition) is a visible diff
in review, not only a passing test.

One line per asset, sorted: ``key | group | kinds | deps | checks | automation`` (``external``
for an asset Dagster does not materialize), per profile in ``asset_graph.<profile>.txt``.
After an intended change, rewrite the files and commit them with it::

    pytest lakehouse_tests/test_asset_graph_snapshot.py --snapshot-update
    # or: LAKEHOUSE_SNAPSHOT_UPDATE=1 pytest lakehouse_tests/test_asset_graph_snapshot.py
"""

from __future__ import annotations

import difflib
import os
from pathlib import Path

import dagster as dg
import pytest

from lakehouse.definitions import build_definitions
from lakehouse.profiles import Settings

HERE = Path(__file__).parent
UPDATE_HINT = (
    "the asset graph changed; if intended, rewrite the snapshot and commit it with the change:\n"
    "    pytest lakehouse_tests/test_asset_graph_snapshot.py --snapshot-update\n"
    "(or LAKEHOUSE_SNAPSHOT_UPDATE=1)"
)


def describe(condition: dg.AutomationCondition | None) -> str:
    """An automation condition by its labels (``name(children)`` where a node has none)."""
    if condition is None:
        return "-"
    if condition.get_label():
        return condition.get_label()
    children = ", ".join(describe(c) for c in condition.children)
    return f"{condition.name}({children})" if children else condition.name


def graph_lines(defs: dg.Definitions) -> list[str]:
    graph = defs.resolve_asset_graph()
    checks: dict[dg.AssetKey, list[str]] = {}
    for ck in graph.asset_check_keys:
        spec = graph.get_check_spec(ck)
        checks.setdefault(ck.asset_key, []).append(ck.name + ("!" if spec.blocking else ""))
    lines = []
    for key in sorted(graph.get_all_asset_keys(), key=lambda k: k.to_user_string()):
        node = graph.get(key)
        fields = [
            key.to_user_string() + ("" if node.is_executable else " (external)"),
            f"group={node.group_name}",
            "kinds=" + ",".join(sorted(node.kinds)),
            "deps=" + ",".join(sorted(k.to_user_string() for k in node.parent_keys)),
            "checks=" + ",".join(sorted(checks.get(key, []))),
            "automation=" + describe(node.automation_condition),
        ]
        lines.append(" | ".join(fields))
    return lines


def _update_requested(request) -> bool:
    return bool(request.config.getoption("--snapshot-update", default=False)) or (
        os.environ.get("LAKEHOUSE_SNAPSHOT_UPDATE", "") not in ("", "0")
    )


@pytest.mark.parametrize("profile", ["local", "aws"])
def test_the_asset_graph_matches_its_snapshot(profile, tmp_path, request):
    defs = build_definitions(
        Settings.from_env({"LAKEHOUSE_PROFILE": profile, "LAKEHOUSE_ROOT": str(tmp_path)})
    )
    text = "\n".join(graph_lines(defs)) + "\n"
    snapshot = HERE / f"asset_graph.{profile}.txt"
    if _update_requested(request):
        snapshot.write_text(text)
        return
    assert snapshot.exists(), f"{snapshot.name} is missing; {UPDATE_HINT}"
    expected = snapshot.read_text()
    if text != expected:
        diff = "".join(
            difflib.unified_diff(
                expected.splitlines(keepends=True),
                text.splitlines(keepends=True),
                f"{snapshot.name} (committed)",
                "the shipped definitions",
            )
        )
        pytest.fail(f"{UPDATE_HINT}\n\n{diff}", pytrace=False)
