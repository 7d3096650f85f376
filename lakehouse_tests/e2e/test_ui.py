"""The platform in motion, as a person uses it: `lakehouse dev` (dagster dev: webserver + daemon)
on a free port, a change in PostgreSQL, sensors and automation carry it to silver and gold; then
the UI in a real headless Chromium: the lineage graph renders and "Materialize" launches a run.

Screenshots are saved under ``lakehouse_tests/artifacts/`` (git-ignored)."""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import psycopg
import pytest
import yaml

from lakehouse.source.seed import seed
from lakehouse_tests.declared import declare_items

# run with `make test-e2e`: it starts the whole platform (several minutes); see the README
pytestmark = [pytest.mark.integration, pytest.mark.e2e]

REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO / "lakehouse_tests" / "artifacts"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _graphql(base: str, query: str, variables: dict | None = None) -> dict:
    req = urllib.request.Request(
        f"{base}/graphql",
        data=json.dumps({"query": query, "variables": variables or {}}).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(req, timeout=30) as resp:
        body = json.loads(resp.read())
    assert "errors" not in body, body
    return body["data"]


LAST_MAT = """query($key: AssetKeyInput!) { assetOrError(assetKey: $key) {
  ... on Asset { assetMaterializations(limit: 1) { runId timestamp } } } }"""
UI_RUNS = """{ runsOrError(limit: 50, filter: {tags: [{key: "dagster/from_ui", value: "true"}]}) {
  ... on Runs { results { runId status } } } }"""
GROUP = """query($key: AssetKeyInput!) { assetNodeOrError(assetKey: $key) {
  ... on AssetNode { groupName } } }"""
CHECK = """query($key: AssetKeyInput!) { assetNodeOrError(assetKey: $key) { ... on AssetNode {
  assetChecksOrError { ... on AssetChecks { checks { name executionForLatestMaterialization { status } } } } } } }"""


def _last_materialization(base: str, *path: str) -> float:
    data = _graphql(base, LAST_MAT, {"key": {"path": list(path)}})["assetOrError"]
    mats = data.get("assetMaterializations") or []
    return float(mats[0]["timestamp"]) / 1000 if mats else 0.0


def _dismiss(page, name: str) -> None:
    """Click a dialog's button when the UI shows one (the first-visit pop-up, a confirmation)."""
    button = page.get_by_role("button", name=name, exact=True)
    try:
        button.wait_for(state="visible", timeout=10_000)
    except Exception:  # noqa: BLE001 (Playwright's TimeoutError: no such dialog this time)
        return
    button.click()


def _wait(what: str, fn, timeout: float, proc: subprocess.Popen):
    deadline = time.time() + timeout
    while time.time() < deadline:
        assert proc.poll() is None, f"dagster dev exited while waiting for {what}"
        try:
            value = fn()
            if value:
                return value
        except (OSError, AssertionError, KeyError):
            pass
        time.sleep(2)
    raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")


@pytest.fixture
def dagster_dev(fresh_db, tmp_path):
    seed(fresh_db, "saas", "small")
    # a user's dataset declared in YAML only, over a table of the same database
    with psycopg.connect(fresh_db, autocommit=True) as conn:
        conn.execute("create table shop_items (id int primary key, v int)")
        conn.execute("insert into shop_items values (1, 10), (2, 20)")
    path = declare_items(tmp_path / "defs", "shop", "SHOP_DSN")
    doc = yaml.safe_load(path.read_text())  # its tables only: saas's `%` has the others
    doc["attributes"]["tables"][0]["name"] = "shop_items"
    doc["attributes"]["sources"][0]["selection"] = [{"table-name": "shop_%"}]
    path.write_text(yaml.safe_dump(doc))
    port = _free_port()
    env = {
        **os.environ,
        "LAKEHOUSE_ROOT": str(tmp_path / "lake"),
        "LAKEHOUSE_SOURCE_DSN": fresh_db,
        "LAKEHOUSE_DATASETS": "saas,shop",
        "LAKEHOUSE_DEFS": str(tmp_path / "defs"),
        "SHOP_DSN": fresh_db,
        "DAGSTER_HOME": str(tmp_path / "dagster"),
    }
    log = open(tmp_path / "dagster-dev.log", "w")  # noqa: SIM115 (closed below)
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "lakehouse",
            "dev",
            "--port",
            str(port),
            "--workspace",
            str(REPO / "workspace.yaml"),
        ],
        cwd=REPO,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
        start_new_session=True,  # its own group: nothing it starts outlives the test
    )
    base = f"http://127.0.0.1:{port}"
    # the event API beside it, as `make dev` runs it, with a key for the seed 003 source
    api_port = _free_port()
    key = subprocess.run(
        [sys.executable, "-m", "lakehouse", "api", "keys", "add", "--source", "iot_sensors"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    api_log = open(tmp_path / "event-api.log", "w")  # noqa: SIM115 (closed below)
    api = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "lakehouse",
            "api",
            "serve",
            "--host",
            "127.0.0.1",
            "--port",
            str(api_port),
        ],
        cwd=REPO,
        env=env,
        stdout=api_log,
        stderr=subprocess.STDOUT,
    )
    try:
        _wait(
            "the webserver",
            lambda: urllib.request.urlopen(f"{base}/server_info", timeout=5).status == 200,
            240,
            proc,
        )
        _wait(
            "the event API",
            lambda: (
                urllib.request.urlopen(f"http://127.0.0.1:{api_port}/health", timeout=5).status
                == 200
            ),
            120,
            api,
        )
        yield base, proc, fresh_db, tmp_path, (f"http://127.0.0.1:{api_port}", key)
    finally:
        api.terminate()
        api.wait(timeout=30)
        api_log.close()
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
        with contextlib.suppress(ProcessLookupError):  # dagster dev, its webserver, daemon, runs:
            os.killpg(proc.pid, signal.SIGKILL)  # a slow shutdown left them running for good
        log.close()
        shutil.copy(
            tmp_path / "dagster-dev.log", ARTIFACTS / "dagster-dev.log"
        ) if ARTIFACTS.exists() else None


@pytest.mark.timeout(1800)  # dagster dev, a live pipeline and a browser: minutes
def test_change_flows_to_gold_and_ui_materializes(dagster_dev):
    base, proc, dsn, tmp_path, (api_url, api_key) = dagster_dev
    ARTIFACTS.mkdir(exist_ok=True)
    # 0. seed 003's example record posted to the event API (2xx only once it is durable)
    record = {
        "source": "iot_sensors",
        "data": {
            "device_id": "sensor_e2e",
            "temperature": 22.5,
            "humidity": 65,
            "timestamp": "2025-11-25T10:00:00Z",
        },
        "metadata": {"location": "warehouse_a", "firmware_version": "2.1.0"},
    }
    req = urllib.request.Request(
        f"{api_url}/ingest",
        data=json.dumps(record).encode(),
        headers={"Content-Type": "application/json", "x-api-key": api_key},
    )
    with urllib.request.urlopen(req, timeout=30) as resp:
        assert resp.status in (200, 201, 202), resp.status
    # 1. with no button pressed, sensors replicate, bronze follows files, automation moves silver and gold
    _wait(
        "gold/saas_tenant_summary",
        lambda: _last_materialization(base, "gold", "saas_tenant_summary"),
        900,
        proc,
    )
    # the user's YAML-only dataset reached silver by itself too
    _wait(
        "silver/shop_items", lambda: _last_materialization(base, "silver", "shop_items"), 600, proc
    )
    from deltalake import DeltaTable

    shop = DeltaTable(str(tmp_path / "lake" / "silver" / "shop_items")).to_pyarrow_table()
    assert sorted(shop.select(["id", "v"]).to_pylist(), key=lambda r: r["id"]) == [
        {"id": 1, "v": 10},
        {"id": 2, "v": 20},
    ]
    first_silver = _last_materialization(base, "silver", "core_tenant")
    first_gold = _last_materialization(base, "gold", "saas_tenant_summary")

    # 2. a change in PostgreSQL reaches silver and gold by itself
    with psycopg.connect(dsn, autocommit=True) as conn:
        changed_at = time.time()
        conn.execute("update core_tenant set name = name || ' (renamed)'")
    _wait(
        "silver/core_tenant after the change",
        lambda: (
            _last_materialization(base, "silver", "core_tenant") > max(first_silver, changed_at)
        ),
        600,
        proc,
    )
    _wait(
        "gold/saas_tenant_summary after the change",
        lambda: _last_materialization(base, "gold", "saas_tenant_summary") > first_gold,
        600,
        proc,
    )
    from deltalake import DeltaTable

    names = (
        DeltaTable(str(tmp_path / "lake" / "silver" / "core_tenant"))
        .to_pyarrow_table(columns=["name"])["name"]
        .to_pylist()
    )
    assert names and all(n.endswith("(renamed)") for n in names)
    checks = _graphql(base, CHECK, {"key": {"path": ["silver", "core_tenant"]}})["assetNodeOrError"]
    statuses = {
        c["name"]: (c["executionForLatestMaterialization"] or {}).get("status")
        for c in checks["assetChecksOrError"]["checks"]
    }
    assert statuses.get("schema") == "SUCCEEDED", statuses

    # a table created in the source joins by itself: the include rule matches it, a replication
    # run captures it, the sensor has the code location reloaded, automation builds its silver
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("create table e2e_feedback (id bigint primary key, note text)")
        conn.execute("insert into e2e_feedback values (1, 'fine'), (2, 'slow')")
    _wait(
        "silver/e2e_feedback (a table created while it runs)",
        lambda: _last_materialization(base, "silver", "e2e_feedback"),
        600,
        proc,
    )
    group = _graphql(base, GROUP, {"key": {"path": ["silver", "e2e_feedback"]}})
    assert group["assetNodeOrError"]["groupName"] == "saas_silver"  # the dataset whose rule has it
    feedback = DeltaTable(str(tmp_path / "lake" / "silver" / "e2e_feedback")).to_pyarrow_table()
    assert sorted(feedback.select(["id", "note"]).to_pylist(), key=lambda r: r["id"]) == [
        {"id": 1, "note": "fine"},
        {"id": 2, "note": "slow"},
    ]

    # the posted record reached silver and gold with no manual step
    _wait(
        "gold/events_daily", lambda: _last_materialization(base, "gold", "events_daily"), 600, proc
    )
    devices = (
        DeltaTable(str(tmp_path / "lake" / "silver" / "events_iot_sensors"))
        .to_pyarrow_table()
        .to_pylist()
    )
    assert any("sensor_e2e" in json.dumps(row, default=str) for row in devices), devices
    daily = (
        DeltaTable(str(tmp_path / "lake" / "gold" / "events_daily")).to_pyarrow_table().to_pylist()
    )
    assert any("iot_sensors" in json.dumps(row, default=str) for row in daily), daily

    # 3. the UI: the lineage graph renders, "Materialize" launches a run
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        page = browser.new_page(viewport={"width": 1600, "height": 1000})
        # the lineage of one group (location name set in workspace.yaml); dismiss the first-visit pop-up
        page.goto(
            f"{base}/locations/lakehouse/asset-groups/saas_silver", wait_until="domcontentloaded"
        )
        _dismiss(page, "Skip")
        try:  # the graph draws the nodes in view: any two of the group's silver tables
            tables = page.get_by_text(re.compile(r"^core_[a-z_]+$"))
            tables.nth(1).wait_for(timeout=120_000)
        except Exception:
            page.screenshot(path=str(ARTIFACTS / "lineage-failed.png"), full_page=True)
            (ARTIFACTS / "lineage-failed.html").write_text(page.content())
            raise
        page.screenshot(path=str(ARTIFACTS / "lineage.png"), full_page=True)
        # the user's dataset: its group's lineage shows its table
        page.goto(f"{base}/locations/lakehouse/asset-groups/shop_silver",
                  wait_until="domcontentloaded")  # fmt: skip
        page.get_by_text("shop_items", exact=True).first.wait_for(timeout=120_000)
        page.screenshot(path=str(ARTIFACTS / "user-dataset.png"), full_page=True)
        # the global lineage renders every layer's group
        page.goto(f"{base}/asset-groups", wait_until="domcontentloaded")
        for group in ("saas_raw", "saas_bronze", "saas_silver", "saas_gold", "shop_silver"):
            page.get_by_text(group, exact=True).first.wait_for(timeout=120_000)
        page.screenshot(path=str(ARTIFACTS / "global-lineage.png"), full_page=True)
        # "Materialize" on a gold asset launches a run (confirming if the UI asks)
        page.goto(f"{base}/assets/gold/saas_tenant_summary", wait_until="domcontentloaded")
        button = page.locator("button", has_text=re.compile(r"^\s*Materialize\s*$")).first
        button.wait_for(state="visible", timeout=120_000)
        button.click()
        _dismiss(page, "Confirm")
        page.screenshot(path=str(ARTIFACTS / "materialize.png"), full_page=True)
        browser.close()

    def _ui_run_status():
        runs = _graphql(base, UI_RUNS)["runsOrError"]["results"]
        if not runs:
            return False
        assert len(runs) == 1, f"one click, one run: {runs}"
        if runs[0]["status"] in ("FAILURE", "CANCELED"):
            pytest.fail(
                f"the run launched from the UI ended {runs[0]['status']}: {runs[0]['runId']}"
            )
        return runs[0]["status"] == "SUCCESS"

    _wait("the run launched from the UI to succeed", _ui_run_status, 600, proc)
