"""The silver step's ``schema`` check through Dagster: the row rules on the files the step wrote,
uniqueness on the whole table, a failure remembered until a check passes, the whole table when
the check runs alone."""

from __future__ import annotations

import dagster as dg
import pytest

from lakehouse.dms.settings import DmsS3Settings
from lakehouse.engine import bronze
from lakehouse.registry import Column, DatasetSpec, TableSpec

SPEC = TableSpec(
    dataset="d",
    name="people_csv",
    columns=(
        Column("id", "int", nullable=False),
        Column("email", "string", checks={"unique": True}),
        Column("qty", "int"),
    ),
    primary_key=("id",),
    source="csv_drop",
    file_glob="people-*.csv",
)
KEY = dg.AssetCheckKey(dg.AssetKey(["silver", "people_csv"]), "schema")


@pytest.fixture
def step(tmp_path):
    from lakehouse.defs.resources import LakeResource
    from lakehouse.defs.silver import silver_asset
    from lakehouse.storage import LocalLake

    lake = LocalLake(tmp_path / "lake")
    asset = silver_asset(DatasetSpec("d", (SPEC,)), SPEC)
    resources = {
        "lake": LakeResource(root=str(tmp_path / "lake")),
        "source_db": dg.ResourceDefinition.none_resource(),
    }

    def run(drop: str | None = None, body: str = "", *, alone: bool = False, spec=SPEC):
        if drop:
            lake.write_text(f"raw/csv/d/{drop}", "id,email,qty\n" + body)
            bronze.ingest(lake, spec, DmsS3Settings())
        nonlocal asset
        if spec is not SPEC:
            asset = silver_asset(DatasetSpec("d", (spec,)), spec)
        selection = dg.AssetSelection.checks(KEY) if alone else dg.AssetSelection.all()
        result = dg.materialize(
            [asset], selection=selection, resources=resources, raise_on_error=False
        )
        (evaluation,) = [
            e for e in result.get_asset_check_evaluations() if e.check_name == "schema"
        ]
        meta = {k: v.value for k, v in evaluation.metadata.items()}
        return evaluation.passed, meta["scope"], meta["rows"], meta["failures"]

    return lake, run


def test_the_step_checks_what_it_wrote_and_remembers_a_failure(step):
    from lakehouse.defs.checks import schema_failed_key

    lake, run = step
    assert run("people-1.csv", "1,a@x,1\n2,b@x,2\n3,c@x,3\n") == (True, "whole table", 3, 0)
    # one new row: only its file is read for the row rules
    passed, scope, rows, _ = run("people-2.csv", "4,d@x,4\n")
    assert (passed, scope, rows) == (True, "files written after version 0", 1)
    # a duplicate email across files: uniqueness reads the whole column
    passed, scope, rows, failures = run("people-3.csv", "5,a@x,5\n")
    assert (passed, scope, rows, failures) == (False, "files written after version 1", 1, 1)
    assert lake.exists(schema_failed_key(SPEC))
    # a valid batch does not clear it: while a failure is remembered, every file is checked
    passed, scope, rows, _ = run("people-4.csv", "6,f@x,6\n")
    assert (passed, scope, rows) == (False, "whole table", 6)
    # the duplicate fixed at the source: the check passes and forgets the failure
    assert run("people-5.csv", "5,e@x,5\n")[:2] == (True, "whole table")
    assert not lake.exists(schema_failed_key(SPEC))
    assert run("people-6.csv", "7,g@x,7\n")[:3] == (True, "files written after version 4", 1)


def test_run_alone_the_check_reads_every_file_and_merges_nothing(step):
    from dataclasses import replace

    lake, run = step
    run("people-1.csv", "1,a@x,1\n2,b@x,20\n")
    run("people-2.csv", "3,c@x,3\n")
    stricter = replace(SPEC, columns=(*SPEC.columns[:2], Column("qty", "int", checks={"le": 10})))
    passed, scope, rows, failures = run(alone=True, spec=stricter)
    assert (passed, scope, rows, failures) == (False, "whole table", 3, 1)
