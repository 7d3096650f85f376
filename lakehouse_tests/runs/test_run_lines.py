"""``lakehouse materialize`` prints what a failed check found, not only its name."""

from __future__ import annotations

import dagster as dg
import polars as pl

from lakehouse.quality.validate import failure_summary
from lakehouse.runs.materialize import _why


def test_a_failed_schema_check_names_its_column_rule_and_a_value():
    cases = pl.DataFrame(
        {
            "failure_case": ["501", "x", "y"],
            "column": ["zip", "zip", "name"],
            "check": ["dtype('String')", "dtype('String')", "not_nullable"],
            "index": [0, 1, 2],
        }
    )
    metadata = {"rows": dg.MetadataValue.int(3),
                "details": dg.MetadataValue.json(failure_summary(cases))}  # fmt: skip
    assert _why(metadata) == (
        ": zip: dtype('String') ×2 (e.g. '501'); name: not_nullable ×1 (e.g. 'y')"
    )


def test_another_check_shows_its_plain_values():
    metadata = {"source_rows": dg.MetadataValue.int(4), "silver_rows": dg.MetadataValue.int(1),
                "key": dg.MetadataValue.text("none: rows counted")}  # fmt: skip
    assert _why(metadata) == ": source_rows=4, silver_rows=1, key=none: rows counted"
    assert _why({}) == ""


def test_a_failed_step_shows_the_error_it_raised_not_dagster_s_wrapper():
    from lakehouse.runs.materialize import run_lines

    @dg.asset
    def shaky():
        raise RuntimeError("slot in use by pid 42 — fix: stop replicate --follow")

    result = dg.materialize([shaky], raise_on_error=False)
    failed = [line for line in run_lines(result) if line.startswith("  FAILED step")]
    assert failed == [
        "  FAILED step shaky: RuntimeError: slot in use by pid 42 — fix: stop replicate --follow"
    ]
