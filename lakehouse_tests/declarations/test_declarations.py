"""Dataset declarations (``defs.yaml``): loading, validation errors a person can act on, reloads,
and the ``Dataset`` component as Dagster loads it."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml

from lakehouse.declarations import DeclarationError, declaration, declarations, load_dataset, served
from lakehouse.declarations.load import read_declaration
from lakehouse.profiles import Settings

GOOD = {
    "type": "lakehouse.components.Dataset",
    "attributes": {
        "name": "shop",
        "sources": [
            {"kind": "postgres", "dsn_env": "SHOP_DSN"},
            {"kind": "csv_drop"},
        ],
        "tables": [
            {
                "name": "orders",
                "primary_key": ["id"],
                "columns": [
                    {"name": "id", "type": "bigint", "nullable": False},
                    {"name": "amount", "type": "decimal(10,2)", "checks": {"ge": 0}},
                    {"name": "secret", "type": "string"},
                ],
                "exclude_columns": ["secret"],
            },
            {
                "name": "prices",
                "file_glob": "prices-*.csv",
                "csv": {"delimiter": ";", "null_value": "NULL"},
                "primary_key": ["sku"],
                "columns": [{"name": "sku", "type": "string"}, {"name": "p", "type": "double"}],
            },
        ],
    },
}


def _write(folder: Path, doc: dict, name: str = "shop") -> Path:
    path = folder / name / "defs.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path


def test_a_declaration_becomes_the_registry_spec(tmp_path):
    path = _write(tmp_path, GOOD)
    decl = read_declaration(path)
    spec = decl.spec
    assert spec.name == "shop"
    orders, prices = spec.tables
    assert (orders.source, orders.column_names, orders.primary_key) == (
        "database",
        ["id", "amount"],  # excluded columns are not captured
        ("id",),
    )
    assert orders.column("amount").checks == {"ge": 0}
    assert (prices.source, prices.file_glob, prices.csv.delimiter, prices.csv.null_value) == (
        "csv_drop",
        "prices-*.csv",
        ";",
        "NULL",
    )
    assert spec.selection_rules == (
        {"rule-action": "include", "schema-name": "public", "table-name": "%"},
    )


def _broken(mutate) -> dict:
    doc = copy.deepcopy(GOOD)
    mutate(doc["attributes"])
    return doc


def _set(path, value):
    def mutate(a):
        node = a
        for p in path[:-1]:
            node = node[p]
        node[path[-1]] = value

    return mutate


def _append(path, value):
    def mutate(a):
        node = a
        for p in path:
            node = node[p]
        node.append(value)

    return mutate


BROKEN = {
    "unknown type": (
        _set(["tables", 0, "columns", 1, "type"], "currency"),
        "tables[0] (orders).columns[1].type: unknown type 'currency' for column 'amount' — fix: use one of",
    ),
    "key column missing": (
        _set(["tables", 0, "primary_key"], ["order_id"]),
        "tables[0] (orders).primary_key: column 'order_id' is not a column of the table — fix: use one of id, amount, secret",
    ),
    "literal password": (
        _set(["sources", 0, "dsn"], "postgresql://app:hunter2@db/shop"),
        "sources[0].dsn: Extra inputs are not permitted — fix: a secret never goes in a declaration: use dsn_env: <VARIABLE NAME>",
    ),
    "literal DSN as env name": (
        _set(["sources", 0, "dsn_env"], "postgresql://app:hunter2@db/shop"),
        "sources[0].dsn_env: 'postgresql://app:***@db/shop' is not an environment variable name — fix:",
    ),
    "duplicate table": (
        _append(["tables"], {"name": "orders", "columns": [{"name": "id", "type": "int"}]}),
        "tables[2] (orders).name: table 'orders' is declared twice — fix: remove one of them",
    ),
    "bad glob": (
        _set(["tables", 1, "file_glob"], "drops/prices-[0-9.csv"),
        "tables[1] (prices).file_glob: 'drops/prices-[0-9.csv' names a folder — fix:",
    ),
    "unclosed glob class": (
        _set(["tables", 1, "file_glob"], "prices-[0-9.csv"),
        "tables[1] (prices).file_glob: 'prices-[0-9.csv' has an unclosed '[' — fix:",
    ),
    "csv table without glob": (
        _set(["tables", 1, "source"], "csv_drop")
        if False
        else _set(["tables", 1, "file_glob"], ""),
        "tables[1] (prices).file_glob: '' is empty — fix:",
    ),
    "unknown source kind": (
        _set(["sources", 1, "kind"], "ftp"),
        "sources[1]: Input tag 'ftp' found using 'kind' does not match any of the expected tags",
    ),
    "unknown key": (
        _set(["tables", 0, "primary_keys"], ["id"]),
        "tables[0] (orders).primary_keys: Extra inputs are not permitted — fix: remove it",
    ),
    "sequence_by": (
        _set(["tables", 0, "sequence_by"], ["updated_at"]),
        "tables[0] (orders).sequence_by: Extra inputs are not permitted — fix: remove the key: a"
        " user-declared ordering column is not supported; changes are ordered by the commit"
        " timestamp and change sequence the replicator (or DMS) writes",
    ),
    "bad duration": (
        _set(["freshness"], {"max_lag": "2 minutes"}),
        "freshness.max_lag: '2 minutes' is not a duration — fix: a number and a unit: 90s, 2m,"
        " 1h or 7d",
    ),
    "duration without a unit": (
        _set(["maintenance"], {"tombstone_retention": 30}),
        "maintenance.tombstone_retention: 30 is not a duration (no unit) — fix: a number and a"
        " unit: 90s, 2m, 1h or 7d",
    ),
    "vacuum retention not whole hours": (
        _set(["maintenance"], {"vacuum_retention": "90m"}),
        "maintenance.vacuum_retention: '90m' is not whole hours (Delta's vacuum counts hours)"
        " — fix: e.g. 168h or 7d",
    ),
    "bad cron": (
        _set(["maintenance"], {"cron": "daily at 3"}),
        "maintenance.cron: 'daily at 3' is not a cron schedule — fix: five fields, minute hour"
        " day-of-month month day-of-week, e.g. '0 3 * * *'",
    ),
    "unknown operations key": (
        _set(["freshness"], {"max_age": "2m"}),
        "freshness.max_age: Extra inputs are not permitted — fix: remove it",
    ),
    "bad dataset name": (
        _set(["name"], "My Shop"),
        "name: String should match pattern",
    ),
    "no sources": (
        _set(["sources"], []),
        "sources: List should have at least 1 item after validation, not 0 — fix: declare at least one",
    ),
    "unknown rule": (
        _set(["tables", 0, "columns", 1, "checks"], {"positive": True}),
        "tables[0] (orders).columns[1].checks: unknown rule 'positive' — fix: use one of",
    ),
    "unknown source name": (
        _set(["tables", 0, "source"], "crm"),
        "tables[0] (orders).source: no source is named 'crm' — fix: use one of postgres, csv_drop",
    ),
    "no columns pinned": (
        _set(["tables", 0, "columns"], []),
        "tables[0] (orders).columns: no columns pinned — fix: run `lakehouse discover shop`",
    ),
    "bad scd type": (
        _set(["tables", 0, "scd_type"], 3),
        "tables[0] (orders).scd_type: Input should be 1 or 2 — fix: use one of the listed values",
    ),
    "bad csv delimiter": (
        _set(["tables", 1, "csv"], {"delimiter": ";;"}),
        "tables[1] (prices).csv: csv delimiter must be one character, got ';;' — fix:",
    ),
    "two csv sources, table names none": (
        _append(["sources"], {"kind": "csv_drop", "name": "partner_drop"}),
        "tables[1] (prices).source: more than one csv_drop source — fix: name the table's source",
    ),
    "excluded key column": (
        _set(["tables", 0, "exclude_columns"], ["id"]),
        "tables[0] (orders).exclude_columns: 'id' is a primary key column — fix: a key column is always captured",
    ),
    "duplicate column": (
        _append(["tables", 0, "columns"], {"name": "id", "type": "int"}),
        "tables[0] (orders).columns: column 'id' is listed twice — fix: remove one",
    ),
}


@pytest.mark.parametrize("case", sorted(BROKEN))
def test_a_broken_declaration_is_one_line_naming_the_file_the_key_and_the_fix(tmp_path, case):
    mutate, expected = BROKEN[case]
    path = _write(tmp_path, _broken(mutate))
    with pytest.raises(DeclarationError) as err:
        read_declaration(path)
    first = err.value.problems[0]
    assert "\n" not in first
    assert first.startswith(f"{path}: "), first
    assert expected in first, first
    assert "hunter2" not in str(err.value)  # a secret is never echoed


def test_freshness_and_maintenance_are_declared_per_dataset_with_todays_defaults(tmp_path):
    from datetime import timedelta

    from lakehouse.registry import FreshnessPolicy, MaintenancePolicy

    spec = read_declaration(_write(tmp_path, GOOD)).spec
    assert spec.freshness == FreshnessPolicy(timedelta(minutes=2), "*/5 * * * *")
    assert spec.maintenance == MaintenancePolicy(
        "0 3 * * *", False, timedelta(days=7), timedelta(days=7)
    )
    doc = copy.deepcopy(GOOD)
    doc["attributes"]["freshness"] = {"max_lag": "90s", "cron": "*/1 * * * *"}
    doc["attributes"]["maintenance"] = {
        "cron": "30 1 * * 0",
        "enabled": True,
        "vacuum_retention": "48h",
        "tombstone_retention": "1.5d",
    }
    spec = read_declaration(_write(tmp_path, doc, "shop2")).spec
    assert spec.freshness == FreshnessPolicy(timedelta(seconds=90), "*/1 * * * *")
    assert spec.maintenance == MaintenancePolicy(
        "30 1 * * 0", True, timedelta(hours=48), timedelta(hours=36)
    )
    assert spec.maintenance.vacuum_hours == 48


def test_the_scaffold_lists_the_per_dataset_knobs_commented_with_their_defaults(tmp_path):
    from lakehouse.declarations.template import new_declaration
    from lakehouse.registry import FreshnessPolicy, MaintenancePolicy
    from lakehouse.registry.model import SlotPolicy

    text = new_declaration("shop")
    assert read_declaration(_write_text(tmp_path / "a", text)).spec.freshness == FreshnessPolicy()
    lines = [
        ln.replace("  # ", "  ", 1) if ln.startswith("  # ") else ln for ln in text.split("\n")
    ]
    spec = read_declaration(_write_text(tmp_path / "b", "\n".join(lines))).spec
    assert {ln.split("#")[0].rstrip() for ln in lines} >= {
        "  freshness:",
        "  maintenance:",
        "  replication_slot:",
    }
    assert (spec.freshness, spec.maintenance) == (FreshnessPolicy(), MaintenancePolicy())
    assert spec.slot == SlotPolicy()


def test_replication_slot_thresholds_are_declared_per_dataset(tmp_path):
    from datetime import timedelta

    from lakehouse.registry.model import SlotPolicy

    assert read_declaration(_write(tmp_path, GOOD)).spec.slot == SlotPolicy(
        1 << 30, 10 << 30, timedelta(minutes=15), timedelta(hours=1)
    )
    doc = copy.deepcopy(GOOD)
    doc["attributes"]["replication_slot"] = {
        "lag_warn": "512MiB",
        "lag_error": "2GB",
        "age_error": "30m",
    }
    assert read_declaration(_write(tmp_path, doc, "shop2")).spec.slot == SlotPolicy(
        512 << 20, 2 << 30, timedelta(minutes=15), timedelta(minutes=30)
    )
    doc["attributes"]["replication_slot"] = {"lag_warn": "lots", "age_warn": "2h"}
    with pytest.raises(DeclarationError) as err:
        read_declaration(_write(tmp_path, doc, "shop3"))
    path = tmp_path / "shop3" / "defs.yaml"
    assert err.value.problems == [
        f"{path}: replication_slot.lag_warn: 'lots' is not a size — fix: a number and a unit:"
        " 512MiB, 1GiB or 10GiB",
        f"{path}: replication_slot.age_warn: '2h' is above age_error ('1h') — fix: a warning"
        " comes before the error",
    ]


def _write_text(folder: Path, text: str) -> Path:
    folder.mkdir(parents=True)
    (folder / "defs.yaml").write_text(text)
    return folder / "defs.yaml"


def test_not_yaml_and_no_type_are_errors_too(tmp_path):
    path = tmp_path / "x" / "defs.yaml"
    path.parent.mkdir()
    path.write_text("attributes: [unclosed\n")
    with pytest.raises(DeclarationError, match="not valid YAML"):
        read_declaration(path)
    path.write_text("attributes: {}\n")
    with pytest.raises(DeclarationError, match=r"type: missing — fix: start the file with"):
        read_declaration(path)


def test_declared_datasets_come_from_the_folders_and_an_unknown_name_is_an_error(tmp_path):
    _write(tmp_path, GOOD)
    settings = Settings.from_env({"LAKEHOUSE_DEFS": str(tmp_path)})
    assert sorted(declarations(settings)) == ["autocorp", "events", "saas", "shop"]
    assert served(Settings.from_env({})) == ("autocorp", "events", "saas")
    assert served(settings) == ("autocorp", "events", "saas", "shop")
    with pytest.raises(
        DeclarationError,
        match="unknown dataset 'nosuch': declared datasets are autocorp, events, saas, shop",
    ):
        load_dataset("nosuch", settings)
    with pytest.raises(ValueError, match=r"LAKEHOUSE_DATASETS names unknown datasets \['mine'\]"):
        served(Settings.from_env({"LAKEHOUSE_DATASETS": "mine"}))


def test_two_files_declaring_one_name_are_an_error(tmp_path):
    first = _write(tmp_path, GOOD, "a")
    second = _write(tmp_path, GOOD, "b")
    with pytest.raises(DeclarationError) as err:
        load_dataset("shop", Settings.from_env({"LAKEHOUSE_DEFS": str(tmp_path)}))
    assert str(err.value) == (
        f"{second}: name: dataset 'shop' is also declared in {first}"
        " — fix: give one of them another name"
    )
    others = Settings.from_env({"LAKEHOUSE_DEFS": str(tmp_path), "LAKEHOUSE_DATASETS": "saas"})
    assert served(others) == ("saas",)  # a dataset not served: skipped with a warning


def _bad(folder: Path) -> Path:
    """Dataset ``bad`` with a misspelt key."""
    doc = copy.deepcopy(GOOD)
    doc["attributes"].update(name="bad", colour="blue")
    for t in doc["attributes"]["tables"]:
        t["name"] = f"bad_{t['name']}"
    return _write(folder, doc, "bad")


def test_a_broken_declaration_fails_only_what_serves_or_names_its_dataset(tmp_path, caplog):
    """``LAKEHOUSE_DATASETS`` without the broken dataset, or a command naming another one:
    one warning line and the rest works; serving or naming it: its one-line problem."""
    _write(tmp_path, GOOD)
    path = _bad(tmp_path)
    problem = f"{path}: colour: Extra inputs are not permitted — fix: remove it"
    env = {"LAKEHOUSE_DEFS": str(tmp_path), "LAKEHOUSE_ROOT": str(tmp_path / "lake")}
    shop = Settings.from_env({**env, "LAKEHOUSE_DATASETS": "shop"})
    with caplog.at_level("WARNING", logger="lakehouse.declarations"):
        assert served(shop) == ("shop",)
        assert [t.name for t in load_dataset("shop", shop).tables] == ["orders", "prices"]
    warned = [r.getMessage() for r in caplog.records if r.name == "lakehouse.declarations"]
    assert len(warned) == 1 and "skipping dataset 'bad'" in warned[0] and problem in warned[0]
    assert "\n" not in warned[0]
    assert "bad" not in declarations(shop)
    for settings in (
        Settings.from_env({**env, "LAKEHOUSE_DATASETS": "shop,bad"}),
        Settings.from_env(env),
    ):  # fmt: skip  (unset: every dataset is served)
        with pytest.raises(DeclarationError) as err:
            served(settings)
        assert len(err.value.problems) == 1 and err.value.problems[0].startswith(problem)
    with pytest.raises(DeclarationError, match=problem):
        load_dataset("bad", shop)
    # a file that is not YAML names no dataset: skipped, and part of an unknown name's error
    path.write_text("attributes: [unclosed\n")
    assert served(shop) == ("shop",)
    with pytest.raises(DeclarationError) as err:
        load_dataset("bad", shop)
    assert err.value.problems[0].startswith(f"{path}: not valid YAML")
    assert err.value.problems[1].startswith("unknown dataset 'bad'")


def test_the_code_location_loads_the_served_datasets_beside_a_broken_one(tmp_path, caplog):
    from lakehouse.definitions import build_definitions

    _write(tmp_path, GOOD)
    path = _bad(tmp_path)
    settings = Settings.from_env({"LAKEHOUSE_DEFS": str(tmp_path), "LAKEHOUSE_DATASETS": "shop",
                                  "LAKEHOUSE_ROOT": str(tmp_path / "lake")})  # fmt: skip
    with caplog.at_level("WARNING", logger="lakehouse.declarations"):
        graph = build_definitions(settings).resolve_asset_graph()
    keys = {k.to_user_string() for k in graph.get_all_asset_keys()}
    assert "silver/orders" in keys and "silver/bad_orders" not in keys
    assert any(str(path) in r.getMessage() for r in caplog.records)


def test_the_command_line_skips_a_broken_dataset_it_does_not_serve(tmp_path, capsys, monkeypatch):
    from lakehouse.cli import main

    _write(tmp_path, GOOD)
    path = _bad(tmp_path)
    monkeypatch.setenv("LAKEHOUSE_DEFS", str(tmp_path))
    monkeypatch.setenv("LAKEHOUSE_ROOT", str(tmp_path / "lake"))
    monkeypatch.setenv("LAKEHOUSE_DATASETS", "shop")
    assert main(["status"]) == 0
    monkeypatch.setenv("LAKEHOUSE_DATASETS", "shop,bad")
    assert main(["status"]) == 2
    err = capsys.readouterr().err.splitlines()
    assert err[-1].startswith(f"lakehouse: {path}: colour: Extra inputs are not permitted")


def test_an_edit_is_picked_up_on_the_next_load(tmp_path):
    settings = Settings.from_env({"LAKEHOUSE_DEFS": str(tmp_path)})
    path = _write(tmp_path, GOOD)
    assert [t.name for t in load_dataset("shop", settings).tables] == ["orders", "prices"]
    doc = copy.deepcopy(GOOD)
    doc["attributes"]["tables"].pop()
    path.write_text(yaml.safe_dump(doc) + "\n# edited\n")
    assert [t.name for t in load_dataset("shop", settings).tables] == ["orders"]
    assert declaration("shop", settings).path == path


def test_the_dataset_component_builds_the_datasets_assets(tmp_path):
    """Loaded the way Dagster loads a YAML component (``dg`` projects): its assets and sensors."""
    import dagster as dg

    from lakehouse.components import Dataset

    component = Dataset.resolve_from_dict(GOOD["attributes"])
    assert isinstance(component, dg.Component)

    class _Ctx:
        path = tmp_path / "shop" / "defs.yaml"

    from lakehouse.defs.resources import build_resources

    resources = build_resources(Settings.from_env({"LAKEHOUSE_ROOT": str(tmp_path / "lake")}))
    defs = dg.Definitions.merge(component.build_defs(_Ctx()), dg.Definitions(resources=resources))
    keys = {k.to_user_string() for k in defs.resolve_asset_graph().get_all_asset_keys()}
    assert {"bronze/orders", "silver/orders", "bronze/prices", "silver/prices"} <= keys
    assert {s.name for s in defs.sensors} == {
        "shop_dms_files",
        "shop_filesync_files",
        "shop_landing",
    }


def test_a_source_dsn_from_the_environment_stays_a_reference(monkeypatch, tmp_path):
    """The resource the UI shows holds the variable's name; the DSN is read when used."""
    import dagster as dg

    from lakehouse.defs.resources import build_resources

    secret = "postgresql://app:hunter2@db.internal:5432/shop"
    monkeypatch.setenv("LAKEHOUSE_SOURCE_DSN", secret)
    resource = build_resources(Settings.from_env({"LAKEHOUSE_SOURCE_DSN": secret}))["source_db"]
    assert (
        isinstance(resource.dsn, dg.EnvVar) and resource.dsn.env_var_name == "LAKEHOUSE_SOURCE_DSN"
    )
    assert "hunter2" not in repr(resource)
    assert resource.dataset_dsn("saas") == secret
    # a dataset's own dsn_env wins, read through dg.EnvVar when used
    path = _write(tmp_path, GOOD)
    monkeypatch.setenv("SHOP_DSN", "postgresql://shop@db/shop")
    monkeypatch.setenv("LAKEHOUSE_DEFS", str(path.parent.parent))
    assert resource.dataset_dsn("shop") == "postgresql://shop@db/shop"
    monkeypatch.delenv("SHOP_DSN")
    with pytest.raises(
        ValueError, match="environment variable SHOP_DSN .* is not set — fix: export"
    ):
        resource.dataset_dsn("shop")


def test_datasets_served_together_may_not_claim_one_lake_table(tmp_path):
    """Lake tables carry the table's name: two served datasets with one table name collide."""
    from lakehouse.declarations import all_datasets

    doc = copy.deepcopy(GOOD)
    doc["attributes"]["tables"][0]["name"] = "customers"  # autocorp has a customers table
    path = _write(tmp_path, doc)
    settings = Settings.from_env({"LAKEHOUSE_DEFS": str(tmp_path)})
    with pytest.raises(DeclarationError) as err:
        all_datasets(("autocorp", "shop"), settings)
    assert err.value.problems == [
        f"{path}: tables (customers): table 'customers' is also autocorp's and the served"
        " datasets share one lake — fix: give one dataset a table_prefix, or serve them apart"
        " (LAKEHOUSE_DATASETS, or another LAKEHOUSE_ROOT)",
        f"{path}: tables (customers): raw folder raw/database/public/customers/ is also"
        " autocorp's and the served datasets share one lake — fix: give one dataset a"
        " table_prefix, or serve them apart (LAKEHOUSE_DATASETS, or another LAKEHOUSE_ROOT)",
    ]
    assert [d.name for d in all_datasets(("shop",), settings)] == ["shop"]


def test_no_module_of_the_package_names_a_shipped_dataset():
    """Datasets come from declarations: outside the defs folder no code lists their names."""
    import re

    import lakehouse

    root = Path(lakehouse.__file__).parent
    pattern = re.compile(r"""["'](saas|autocorp)["']""")
    found = [
        f"{p.relative_to(root)}:{i}: {line.strip()}"
        for p in sorted(root.rglob("*.py"))
        if "datasets" not in p.relative_to(root).parts
        for i, line in enumerate(p.read_text().splitlines(), 1)
        if pattern.search(line)
    ]
    assert found == []


def test_a_reload_of_unchanged_declarations_skips_the_yaml_parse(tmp_path, monkeypatch):
    """Validated declarations are cached as JSON by content: an unchanged file is not parsed
    again, an edited one is, and a broken one is never cached."""
    import lakehouse.declarations as decls
    from lakehouse.declarations import parse

    path = _write(tmp_path / "defs", GOOD)
    settings = Settings.from_env({"LAKEHOUSE_DEFS": str(tmp_path / "defs"),
                                  "LAKEHOUSE_ROOT": str(tmp_path / "lake")})  # fmt: skip
    first = load_dataset("shop", settings)
    assert list((tmp_path / "lake" / "_cache" / "declarations").glob("*.json"))
    decls._cache.clear()
    monkeypatch.setattr(parse.yaml, "load", lambda *a, **k: pytest.fail("parsed again"))
    assert load_dataset("shop", settings) == first
    monkeypatch.undo()
    doc = copy.deepcopy(GOOD)
    doc["attributes"]["tables"].pop()
    path.write_text(yaml.safe_dump(doc))
    decls._cache.clear()
    assert [t.name for t in load_dataset("shop", settings).tables] == ["orders"]
    doc["attributes"]["tables"][0]["primary_key"] = ["nosuch"]
    path.write_text(yaml.safe_dump(doc))
    for _ in range(2):  # reported on every load: never cached
        decls._cache.clear()
        with pytest.raises(DeclarationError, match="column 'nosuch' is not a column"):
            load_dataset("shop", settings)


@pytest.mark.parametrize(
    ("column", "what"),
    [
        ("Op", "the operation, I/U/D"),
        ("_dms_commit_ts", "the commit timestamp, TimestampColumnName"),
        ("BI_id", "the before-image of key column 'id'"),
        ("_dms_change_seq", "the change sequence"),
    ],
)
def test_a_replicated_column_named_like_a_dms_column_is_a_declaration_error(tmp_path, column, what):
    """The replicator would write a header naming the column twice (bronze then failed on every
    run): refused at load naming file, table, column and fix; ``exclude_columns`` clears it."""
    doc = copy.deepcopy(GOOD)
    orders = doc["attributes"]["tables"][0]
    orders["columns"].append({"name": column, "type": "string"})
    path = _write(tmp_path, doc)
    with pytest.raises(DeclarationError) as err:
        read_declaration(path)
    assert err.value.problems == [
        f"{path}: tables[0] (orders).columns: column {column!r} is named like the DMS column"
        f" {column!r} ({what}) its raw files carry beside it, so neither could be read — fix:"
        f" add exclude_columns: [{column}] to the table (the column is then not replicated) or"
        " rename the column at the source; a file written with it already: lakehouse resync"
        " --dataset shop --table orders"
    ]
    orders["exclude_columns"].append(column)
    _write(tmp_path, doc)
    assert column not in read_declaration(path).spec.table("orders").column_names


def test_a_column_named_like_a_dms_column_the_source_does_not_write_is_no_error(tmp_path):
    """No timestamp column in the source's settings: ``_dms_commit_ts`` is just a column."""
    doc = copy.deepcopy(GOOD)
    doc["attributes"]["sources"][0]["dms"] = {"TimestampColumnName": ""}
    doc["attributes"]["tables"][0]["columns"].append({"name": "_dms_commit_ts", "type": "string"})
    path = _write(tmp_path, doc)
    assert "_dms_commit_ts" in read_declaration(path).spec.table("orders").column_names
