"""DMS table mappings → file layouts; the reader picks each file's layout; Terraform's view of them."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest

from lakehouse.aws import dms_endpoint
from lakehouse.dms.format import DmsFormatError
from lakehouse.dms.reader import read_dms_file
from lakehouse.dms.settings import DmsS3Settings
from lakehouse.dms.table_mappings import (
    AddedColumn,
    DmsLayout,
    TableMappings,
    known_layouts,
)
from lakehouse.dms.writer import encode_dms_file, layout_rows

FIXTURES = Path(__file__).resolve().parents[2].parent / "shared" / "fixtures" / "dms"
SELECT_ALL = {
    "rule-type": "selection",
    "rule-id": "1",
    "rule-name": "all",
    "object-locator": {"schema-name": "public", "table-name": "%"},
    "rule-action": "include",
}
SEQ_RULE = {
    "rule-type": "transformation",
    "rule-id": "2",
    "rule-name": "change-seq",
    "rule-target": "column",
    "object-locator": {"schema-name": "%", "table-name": "%"},
    "rule-action": "add-column",
    "value": "_seq",
    "expression": "$AR_H_CHANGE_SEQ",
    "data-type": {"type": "string", "length": 50},
}
BEFORE_RULE = {
    "rule-type": "transformation",
    "rule-id": "3",
    "rule-name": "before-images",
    "rule-target": "column",
    "object-locator": {"schema-name": "%", "table-name": "%"},
    "rule-action": "add-before-image-columns",
    "before-image-def": {
        "column-prefix": "before_",
        "column-suffix": "",
        "column-filter": "pk-only",
    },
}
COLS, PK = ["id", "name", "qty"], ["id"]


def test_fixture_mapping_gives_the_uppercase_layout_with_seq_and_operation():
    rules = json.loads((FIXTURES / "awslabs-hudi-odp/dms_task_mapping_rules.json").read_text())
    tm = TableMappings.from_json(rules)
    lay = tm.layout("taxi_trips", "table_2023", ["vendor_id", "fare"], ["vendor_id"])
    assert lay.columns == ("VENDOR_ID", "FARE")
    assert lay.sources == ("vendor_id", "fare")
    assert lay.added == (
        AddedColumn("CDC_TIMESTAMP_SEQ", "change_seq", "$AR_H_CHANGE_SEQ"),
        AddedColumn("CDC_OPERATION", "operation", "$AR_H_OPERATION"),
    )
    assert lay.change_seq == "CDC_TIMESTAMP_SEQ" and lay.before_images == {}
    assert lay.names(DmsS3Settings(TimestampColumnName="ts"), "cdc") == [
        "Op",
        "ts",
        "VENDOR_ID",
        "FARE",
        "CDC_TIMESTAMP_SEQ",
        "CDC_OPERATION",
    ]
    assert lay.names(DmsS3Settings(), "load") == [
        "VENDOR_ID",
        "FARE",
        "CDC_TIMESTAMP_SEQ",
        "CDC_OPERATION",
    ]
    with pytest.raises(ValueError, match="not selected"):
        tm.layout("public", "table_2023", ["vendor_id"], ["vendor_id"])
    assert not tm.selects("taxi_trips", "other")


def test_rules_apply_in_rule_id_order_whatever_the_list_order():
    before_first = TableMappings.from_json(
        {"rules": [dict(SEQ_RULE, **{"rule-id": "9"}), BEFORE_RULE, SELECT_ALL]}
    )
    lay = before_first.layout("public", "t", COLS, PK)
    assert [a.name for a in lay.added] == ["before_id", "_seq"]
    seq_first = TableMappings.from_json({"rules": [BEFORE_RULE, SEQ_RULE, SELECT_ALL]})
    assert [a.name for a in seq_first.layout("public", "t", COLS, PK).added] == [
        "_seq",
        "before_id",
    ]


def test_column_rules_rename_remove_and_before_image_filters():
    rules = [
        SELECT_ALL,
        {
            "rule-type": "selection",
            "rule-id": "2",
            "rule-name": "not-secret",
            "object-locator": {"schema-name": "public", "table-name": "secret%"},
            "rule-action": "exclude",
        },
        {
            "rule-type": "transformation",
            "rule-id": "3",
            "rule-name": "rename-name",
            "rule-target": "column",
            "object-locator": {"schema-name": "public", "table-name": "t", "column-name": "name"},
            "rule-action": "rename",
            "value": "title",
        },
        {
            "rule-type": "transformation",
            "rule-id": "4",
            "rule-name": "drop-qty",
            "rule-target": "column",
            "object-locator": {"schema-name": "public", "table-name": "t", "column-name": "qty"},
            "rule-action": "remove-column",
        },
        {
            "rule-type": "transformation",
            "rule-id": "5",
            "rule-name": "table-prefix",
            "rule-target": "table",
            "object-locator": {"schema-name": "public", "table-name": "%"},
            "rule-action": "add-prefix",
            "value": "src_",
        },
        dict(
            BEFORE_RULE,
            **{
                "rule-id": "6",
                "before-image-def": {
                    "column-prefix": "old_",
                    "column-suffix": "_v",
                    "column-filter": "non-lob",
                },
            },
        ),
    ]
    tm = TableMappings.from_json(rules, lob_columns=["name"])
    lay = tm.layout("public", "t", COLS, PK)
    assert lay.columns == ("id", "title") and lay.sources == ("id", "name")
    assert lay.renames == {"title": "name"}
    # non-lob leaves out the LOB column and the removed one
    assert lay.before_images == {"old_id_v": "id"}
    assert not tm.selects("public", "secret_keys")
    every = TableMappings.from_json(
        [
            SELECT_ALL,
            dict(
                BEFORE_RULE, **{"before-image-def": {"column-prefix": "b_", "column-filter": "all"}}
            ),
        ]
    )
    assert every.layout("public", "t", COLS, PK).before_images == {
        "b_id": "id",
        "b_name": "name",
        "b_qty": "qty",
    }


@pytest.mark.parametrize(
    ("rule", "message"),
    [
        (dict(SEQ_RULE, **{"rule-action": "add-colum"}), r"rule-id '2' \(rule-name 'change-seq'\)"),
        (
            dict(BEFORE_RULE, **{"before-image-def": {"column-filter": "pk-only"}}),
            r"rule-id '3' \(rule-name 'before-images'\): before-image-def has no column-prefix",
        ),
        (
            dict(BEFORE_RULE, **{"before-image-def": {"column-prefix": "", "column-suffix": ""}}),
            "has no column-prefix",
        ),
        (
            dict(
                BEFORE_RULE,
                **{"before-image-def": {"column-prefix": "b_", "column-filter": "some"}},
            ),
            "column-filter 'some'",
        ),
        (dict(BEFORE_RULE, **{"before-image-def": None}), "needs a 'before-image-def'"),
        (dict(SEQ_RULE, value=""), "needs a non-empty 'value'"),
        (dict(SELECT_ALL, **{"rule-action": "add"}), "include/exclude/explicit"),
    ],
)
def test_invalid_rules_are_rejected_naming_the_rule(rule, message):
    with pytest.raises(ValueError, match=message):
        TableMappings.from_json({"rules": [SELECT_ALL, rule]})


def test_known_layouts_from_mapping_revisions_or_settings():
    first = {"rules": [SELECT_ALL]}
    later = {"rules": [SELECT_ALL, SEQ_RULE, BEFORE_RULE]}
    lays = known_layouts("public", "t", COLS, PK, mappings=[first, later, later])
    assert [lay.added for lay in lays] == [
        (),
        (
            AddedColumn("_seq", "change_seq", "$AR_H_CHANGE_SEQ"),
            AddedColumn("before_id", "before_image", "id"),
        ),
    ]
    simple = known_layouts(
        "public",
        "t",
        COLS,
        PK,
        settings=DmsS3Settings(before_image_key=True, change_seq_column="seq"),
    )
    assert simple == [
        DmsLayout(
            ("id", "name", "qty"),
            (
                AddedColumn("BI_id", "before_image", "id"),
                AddedColumn("seq", "change_seq", "$AR_H_CHANGE_SEQ"),
            ),
            label="settings",
        )
    ]


# ------------------------------------------------------------------------- reading by layout

SETTINGS = DmsS3Settings(TimestampColumnName="ts")  # no header: layouts told apart by count
A = TableMappings.from_json([SELECT_ALL]).layout("public", "t", COLS, PK, label="A")
B = TableMappings.from_json([SELECT_ALL, SEQ_RULE, BEFORE_RULE]).layout(
    "public", "t", COLS, PK, label="B"
)


def _file(layout, rows, settings=SETTINGS):
    frame = pl.DataFrame(
        {c: [r[i] for r in rows] for i, c in enumerate(COLS)}, schema={c: pl.String for c in COLS}
    )
    out = layout_rows(
        frame,
        layout,
        settings,
        op=["U"] * len(rows),
        ts="2024-01-01 00:00:01.000000",
        change_seq=[f"{i + 1:035d}" for i in range(len(rows))],
        before={"id": pl.Series(["9"] * len(rows))},
    )
    return encode_dms_file(out, settings, full_load=False)


def test_each_headerless_file_is_read_by_the_layout_its_field_count_has():
    key = "20240101-000000000.csv"
    old = read_dms_file(_file(A, [["1", "a", "2"]]), key, SETTINGS, layouts=[A, B])
    assert old.layout == A
    assert old.frame.columns == ["Op", "ts", "id", "name", "qty"]
    new = read_dms_file(
        _file(B, [["1", "a", "2"], ["2", "b,c", "3"]]), key, SETTINGS, layouts=[A, B]
    )
    assert new.layout == B and new.rejected == []
    assert new.frame.rows() == [
        ("U", "2024-01-01 00:00:01.000000", "1", "a", "2", f"{1:035d}", "9"),
        ("U", "2024-01-01 00:00:01.000000", "2", "b,c", "3", f"{2:035d}", "9"),
    ]
    assert new.frame.columns == ["Op", "ts", "id", "name", "qty", "_seq", "before_id"]


def test_a_count_no_layout_has_or_two_layouts_share_is_a_clear_error():
    key = "raw/t/20240101-000000000.csv"
    with pytest.raises(DmsFormatError, match=r"raw/t/20240101.*\[4\] fields.*no known layout"):
        read_dms_file(b"U,ts,1,a\n", key, SETTINGS, layouts=[A, B])
    # same field count, different meaning: seq/before-image swapped
    C = TableMappings.from_json(
        [SELECT_ALL, dict(SEQ_RULE, **{"rule-id": "4"}), BEFORE_RULE]
    ).layout("public", "t", COLS, PK, label="C")
    with pytest.raises(DmsFormatError, match=r"several known layouts.*B \(.*C \("):
        read_dms_file(_file(B, [["1", "a", "2"]]), key, SETTINGS, layouts=[A, B, C])
    # same meaning under other names is no ambiguity
    B2 = DmsLayout(
        B.columns,
        tuple(
            AddedColumn("seq2" if a.role == "change_seq" else a.name, a.role, a.source)
            for a in B.added
        ),
        label="B2",
    )
    got = read_dms_file(_file(B, [["1", "a", "2"]]), key, SETTINGS, layouts=[A, B, B2])
    assert got.layout == B2 and got.frame.height == 1


def test_a_header_names_the_layout():
    s = SETTINGS.with_(AddColumnName=True)
    got = read_dms_file(_file(B, [["1", "a", "2"]], s), "20240101-000000000.csv", s, layouts=[A, B])
    assert got.layout.change_seq == "_seq" and got.layout.before_images == {"before_id": "id"}
    assert got.layout.columns == ("id", "name", "qty")


# ------------------------------------------------------------------------------- terraform


def test_task_options_honour_the_simple_layout_and_reject_what_they_cannot_state():
    bi = dict(
        BEFORE_RULE, **{"before-image-def": {"column-prefix": "BI_", "column-filter": "pk-only"}}
    )
    seq_after = dict(SEQ_RULE, **{"rule-id": "4"})
    assert dms_endpoint.task_options_from_mappings({"rules": [SELECT_ALL, bi, seq_after]}) == {
        "before_image_key": True,
        "change_seq_column": "_seq",
    }
    with pytest.raises(ValueError, match=r"rule-id '3' \(rule-name 'before-images'.*known_layouts"):
        dms_endpoint.task_options_from_mappings({"rules": [SELECT_ALL, SEQ_RULE, BEFORE_RULE]})
    # BI_ but after the change sequence: another order than the settings state
    with pytest.raises(ValueError, match="rule-id '4'"):
        dms_endpoint.task_options_from_mappings(
            {"rules": [SELECT_ALL, SEQ_RULE, dict(bi, **{"rule-id": "4"})]}
        )
    with pytest.raises(ValueError, match="'add-colum' is not supported"):
        dms_endpoint.task_options_from_mappings(
            {"rules": [SELECT_ALL, dict(SEQ_RULE, **{"rule-action": "add-colum"})]}
        )


def transformation(rid, target, locator, action, **extra) -> dict:
    return {"rule-type": "transformation", "rule-id": str(rid), "rule-name": f"r{rid}",
            "rule-target": target, "object-locator": locator, "rule-action": action, **extra}  # fmt: skip


#: a task that lowercases the schema, renames and prefixes a table and renames one of its columns
RENAMING = [
    {"rule-type": "selection", "rule-id": "1", "rule-name": "s", "rule-action": "include",
     "object-locator": {"schema-name": "Sales", "table-name": "%"}},
    transformation(4, "schema", {"schema-name": "Sales"}, "convert-lowercase"),
    transformation(5, "table", {"schema-name": "Sales", "table-name": "CustomerOrders"}, "rename",
                   value="orders"),
    transformation(6, "table", {"schema-name": "Sales", "table-name": "%"}, "add-prefix",
                   value="crm_"),
    transformation(7, "column", {"schema-name": "Sales", "table-name": "CustomerOrders",
                                 "column-name": "OrderTotal"}, "rename", value="total"),
]  # fmt: skip


def test_schema_and_table_rules_name_the_folders_and_discovery_undoes_them():
    tm = TableMappings.from_json({"rules": RENAMING})
    assert tm.folder("Sales", "CustomerOrders") == ("sales", "crm_orders")
    assert tm.folder("Sales", "Region") == ("sales", "crm_Region")
    assert tm.folder("Other", "Region") == ("Other", "Region")
    assert tm.source_of_folder("sales", "crm_orders") == ("Sales", "CustomerOrders")
    assert tm.source_of_folder("sales", "crm_Region") == ("Sales", "Region")  # prefix undone
    assert tm.source_of_folder("sales", "orders") is None  # no rule writes there
    assert tm.source_of_folder("Other", "Region") is None  # not selected
    assert tm.source_columns("Sales", "CustomerOrders", ["OrderId", "total"]) == [
        "OrderId",
        "OrderTotal",
    ]
    assert tm.source_columns("Sales", "Region", ["total"]) == ["total"]  # the rule is not its


def test_a_schema_or_table_rename_without_a_value_is_an_error():
    with pytest.raises(ValueError, match="rename needs a non-empty 'value'"):
        TableMappings.from_json([{"rule-type": "transformation", "rule-id": "2",
                                  "rule-name": "r", "rule-target": "table", "rule-action": "rename",
                                  "object-locator": {"schema-name": "%", "table-name": "t"}}])  # fmt: skip
