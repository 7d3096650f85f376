"""The ``references`` checks of a dataset: one step, after the silver steps of the tables the
rules point to; an orphan is named with a sample, a self-reference reads its table's key, and
a run evaluates only the checks it selects."""

from __future__ import annotations

import dagster as dg

from lakehouse.dms.settings import DmsS3Settings
from lakehouse.engine import bronze, silver
from lakehouse.registry import Column, DatasetSpec, TableSpec

TEAM = TableSpec(
    dataset="d", name="team_csv", columns=(Column("id", "int", nullable=False),),
    primary_key=("id",), source="csv_drop", file_glob="team-*.csv",
)  # fmt: skip
PERSON = TableSpec(
    dataset="d",
    name="person_csv",
    columns=(
        Column("id", "int", nullable=False),
        Column("team_id", "int", references="team_csv.id"),
        Column("boss_id", "int", references="person_csv.id"),
    ),
    primary_key=("id",),
    source="csv_drop",
    file_glob="person-*.csv",
)
DATASET = DatasetSpec("d", (TEAM, PERSON))


def _key(table: str) -> dg.AssetCheckKey:
    return dg.AssetCheckKey(dg.AssetKey(["silver", table]), "references")


def test_one_step_checks_every_table_s_references_and_names_the_orphans(tmp_path):
    from lakehouse.defs.checks import references_checks
    from lakehouse.defs.resources import LakeResource
    from lakehouse.defs.silver import silver_asset
    from lakehouse.storage import LocalLake

    lake = LocalLake(tmp_path / "lake")
    lake.write_text("raw/csv/d/team-1.csv", "id\n1\n2\n")
    # person 4: team 9 does not exist; person 5: boss 8 does not exist; NULLs are no orphans
    lake.write_text("raw/csv/d/person-1.csv", "id,team_id,boss_id\n3,1,\n4,9,3\n5,2,8\n6,,3\n")
    for spec in (TEAM, PERSON):
        bronze.ingest(lake, spec, DmsS3Settings())
        silver.apply_changes(lake, spec)
    checks = references_checks(DATASET)
    assert checks is not None and set(checks.check_keys) == {_key("person_csv")}
    # a rule into its own table only: team has none, so only person's check exists
    assets = [silver_asset(DATASET, t) for t in (TEAM, PERSON)]
    resources = {
        "lake": LakeResource(root=str(tmp_path / "lake")),
        "source_db": dg.ResourceDefinition.none_resource(),
    }
    result = dg.materialize(
        [*assets, checks], selection=dg.AssetSelection.checks(_key("person_csv")),
        resources=resources, raise_on_error=False,
    )  # fmt: skip
    (evaluation,) = result.get_asset_check_evaluations()
    assert evaluation.check_name == "references" and not evaluation.passed
    orphans = evaluation.metadata["orphans"].value
    assert orphans == {
        "team_id → team_csv.id": {"rows": 1, "sample": ["9"]},
        "boss_id → person_csv.id": {"rows": 1, "sample": ["8"]},
    }
    steps = {e.step_key for e in result.all_events if e.step_key}
    assert steps == {"d_references"}  # the check alone: no silver step ran
    # the parents fixed by new drops; a run of everything checks after both silver steps
    lake.write_text("raw/csv/d/team-2.csv", "id\n9\n")
    lake.write_text("raw/csv/d/person-2.csv", "id,team_id,boss_id\n8,1,\n")
    for spec in (TEAM, PERSON):
        bronze.ingest(lake, spec, DmsS3Settings())
    result = dg.materialize([*assets, checks], resources=resources, raise_on_error=False)
    (evaluation,) = [
        e for e in result.get_asset_check_evaluations() if e.check_name == "references"
    ]
    assert evaluation.passed
    order = [e.step_key for e in result.all_events if e.event_type_value == "STEP_START"]
    assert order.index("d_references") > max(
        order.index("silver_team_csv"), order.index("silver_person_csv")
    )
