"""The engine-neutral core (``engine.core``): plain Python both engines and the events engine
call, so each decision has one home and one set of unit tests here."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lakehouse.engine.core import keys, metrics, order, quarantine
from lakehouse.engine.core.reloads import LoadIngestion, Reload, load_generations, plan_reloads
from lakehouse.engine.core.results import SchemaChangeError, SilverResult, describe, incompatible
from lakehouse.registry import Column, TableSpec

SPEC = TableSpec(dataset="t", name="things", columns=(Column("id", "int"),), primary_key=("id",))
KEYLESS = TableSpec(dataset="t", name="log", columns=(Column("id", "int"),), primary_key=())
T0 = datetime(2024, 1, 1, tzinfo=UTC)


def test_the_core_imports_no_dataframe_library():
    code = (
        "import sys\n"
        "from lakehouse.engine.core import keys, lineage, metrics, order, quarantine, reloads\n"
        "from lakehouse.engine.core import results\n"
        "print(sorted(m for m in ('polars', 'pyspark', 'pyarrow', 'deltalake') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_keys_of_a_table():
    assert keys.bronze_key("things") == "bronze/things"
    assert keys.silver_key("things") == "silver/things"
    assert keys.history_key("things") == "silver/things_history"
    assert keys.tombstone_key("things") == "_state/tombstones/things"
    assert keys.quarantine_key("events_iot") == "quarantine/events_iot"
    assert keys.BRONZE_VERSION_KEY == "lakehouse.bronze_version"


def test_sequence_text_layout_and_its_commit_timestamp():
    at = datetime(2024, 1, 2, 3, 4, 5, 6, tzinfo=UTC)
    text = order.sequence_text(at, "42", "cdc", "raw/x/f.csv", 7)
    assert text == f"2024-01-02T03:04:05.000006|{'42':0>35}|1|raw/x/f.csv|{7:012d}"
    dms = order.sequence_text(at, "42", "cdc", "raw/x/20240102-030405006.csv", 7)
    assert dms.split("|")[3] == "20240102-0304050060:raw/x/20240102-030405006.csv"
    assert order.sequence_commit_ts(text) == at
    empty = order.sequence_text(None, None, "load", "raw/x/LOAD1.csv", None)
    assert empty == f"{order.NULL_TS}|{order.NULL_SEQ}|0|raw/x/LOAD1.csv|{0:012d}"
    assert order.sequence_commit_ts(empty) is None
    assert empty < text  # nulls sort first


_FOLDERS = st.sampled_from(["", "public/t/", "public/t/31/01/2024/", "p/01/2024/01/", "x_y/"])
_DMS_NAMES = st.one_of(
    st.from_regex(r"\ALOAD[0-9A-F]{8}\.(csv|csv\.gz|parquet)\Z"),
    st.from_regex(r"\A[0-9]{8}-[0-9]{9,10}\.(csv|csv\.gz|parquet)\Z"),
)
_NAMES = st.one_of(
    _DMS_NAMES,
    st.builds(lambda pre, sep, n: pre + sep + n, st.text(max_size=4), st.sampled_from("_-."),
              _DMS_NAMES),
    st.text(max_size=30),
    st.sampled_from(["LOAD1.csv", "load00000001.csv", "20240101-12345678.csv", "LOAD0000000a.csv",
                     "20240101-123456789.csv.bak", "20240101-\u0661\u0662\u0663456789.csv"]),
)  # fmt: skip


@settings(max_examples=500, deadline=None)
@given(_FOLDERS, _NAMES)
def test_the_file_order_token_is_the_dms_names_token(folder, name):
    """``file_order`` reads a DMS name as ``dms.names.parse_file_name`` does (the same files,
    the same token), in any folder; any other name is the key itself."""
    from lakehouse.dms.format import DmsFormatError
    from lakehouse.dms.names import parse_file_name

    key = folder + name
    try:
        kind, token = parse_file_name(key)
    except DmsFormatError:
        expected = key
    else:
        expected = f"{token}:{key}"
    assert order.file_order("cdc", key) == expected
    assert order.file_order("load", key) == expected
    assert order.file_order("csv", key) == key  # a CSV drop's file: its key, whatever its name


@pytest.mark.parametrize(
    "first, second",
    [
        ("t/31/01/2024/20240131-120000000.csv", "t/01/02/2024/20240201-120000000.csv"),  # DDMMYYYY
        ("t/12/2023/31/20231231-120000000.csv", "t/01/2024/01/20240101-120000000.csv"),  # MMYYYYDD
        (
            "t/31012024/20240131-120000000.csv",
            "t/01022024/20240201-120000000.csv",
        ),  # DDMMYYYY, NONE
        ("t/b/LOAD00000009.csv", "t/a/LOAD0000000A.csv"),
    ],
)
def test_dms_files_are_ordered_by_their_name_not_their_folders(first, second):
    """Files without a commit timestamp ingested together tie on their arrival: the DMS name
    orders them, whatever order the date-partition folders are written in."""
    kind = "load" if "LOAD" in first else "cdc"
    assert first > second  # the key alone would order them the wrong way round
    assert order.sequence_text(T0, None, kind, first, 9) < order.sequence_text(
        T0, None, kind, second, 0
    )
    # folders only break ties: the same name in two folders
    a, b = "t/a/LOAD00000001.csv", "t/b/LOAD00000001.csv"
    assert order.sequence_text(T0, None, "load", a, 9) < order.sequence_text(T0, None, "load", b, 0)


def _load(key: str, version: int, start: str) -> LoadIngestion:
    return LoadIngestion(key, version, T0, start)


def test_load_generations_begin_when_a_file_name_repeats_and_a_replay_counts_once():
    log = [
        _load("LOAD1", 1, "a"),
        _load("LOAD2", 1, "b"),
        _load("LOAD1", 2, "a"),  # the same file replayed: generation 0 still
        _load("LOAD1", 3, "c"),  # the name again: a reload
        _load("LOAD2", 4, "d"),
        _load("LOAD1", 5, "e"),
    ]
    gens = {(e.key, e.version): e.generation for e in load_generations(log)}
    assert gens == {
        ("LOAD1", 1): 0,
        ("LOAD2", 1): 0,
        ("LOAD1", 2): 0,
        ("LOAD1", 3): 1,
        ("LOAD2", 4): 1,
        ("LOAD1", 5): 2,
    }
    entry = log[0]
    assert LoadIngestion.from_json(entry.to_json(), entry.version) == entry


def _log():
    return load_generations(
        [
            _load("LOAD1", 1, "a"),
            _load("LOAD1", 2, "c"),  # generation 1 reaches bronze over two runs
            _load("LOAD2", 3, "d"),
            _load("LOAD1", 4, "e"),
        ]
    )


def test_the_reload_plan_of_a_first_run_and_of_later_runs():
    everything = plan_reloads(_log(), SPEC, None, 4)
    assert [r.generation for r in everything.reloads] == [1, 2]
    first = everything.reloads[0]
    assert first == Reload(1, "c", (("LOAD1", T0), ("LOAD2", T0)), "LOAD1", T0)
    assert (everything.barrier, everything.settled) == ("e", None)
    # generation 1 has a file after version 2: this run applies it again (its last file came)
    later = plan_reloads(_log(), SPEC, 2, 4)
    assert [r.generation for r in later.reloads] == [1, 2] and later.settled is None
    # a run after generation 1 was applied: its start is the history barrier (settled)
    last = plan_reloads(_log(), SPEC, 3, 4)
    assert [r.generation for r in last.reloads] == [2]
    assert (last.barrier, last.settled) == ("e", "c")
    # bronze up to version 3: the log's later entries are not seen
    assert plan_reloads(_log(), SPEC, None, 3).barrier == "c"


def test_no_reload_plan_without_bronze_or_a_reload():
    assert plan_reloads(_log(), SPEC, None, None) == ([], None, None)
    # a keyless table's reload replaces its rows too: the same plan as a keyed table's
    assert plan_reloads(_log(), KEYLESS, None, 4) == plan_reloads(_log(), SPEC, None, 4)
    assert plan_reloads(_log()[:1], SPEC, None, 4) == ([], None, None)  # the first baseline


def test_silver_result_metadata_and_description():
    result = SilverResult("things", inserted=2, seconds=0.12345, metrics={"raw": 1})
    meta = result.metadata()
    assert meta["inserted"] == 2 and meta["table_format"] == "delta"
    assert meta["bronze_version"] == meta["table_version"] == meta["reload_generation"] == -1
    assert meta["duration_s"] == 0.123
    assert '"inserted": 2' in describe(result) and "raw" not in describe(result)


def test_an_incompatible_type_change_names_table_column_and_types():
    err = incompatible("things", "qty", "int32", "string")
    assert isinstance(err, SchemaChangeError)
    assert str(err).startswith("silver/things: column 'qty' changed type from int32 to string;")


def test_one_quarantine_identity_for_every_engine():
    from lakehouse.engine import quarantine as polars_quarantine
    from lakehouse.engine.spark import quarantine as spark_quarantine

    assert set(quarantine.IDENTITY) <= set(quarantine.COLUMNS)
    assert list(polars_quarantine.SCHEMA) == list(quarantine.COLUMNS)
    assert spark_quarantine.IDENTITY is quarantine.IDENTITY


def test_markdown_preview_and_gold_table_metadata():
    md = metrics.markdown_table(["k", "v"], [("a|b", 1 / 3), ("x\ny", None)])
    assert md.splitlines() == ["| k | v |", "| --- | --- |", "| a\\|b | 0.3333 |", "| x y |  |"]
    rows = [(i, float(i)) for i in range(15)]
    meta = metrics.table_metadata(15, None, [("n", "Int64"), ("x", "Float64")], rows)
    assert meta["rows"] == meta["dagster/row_count"] == 15 and meta["delta_version"] == -1
    assert meta["columns"] == "n: Int64, x: Float64"
    assert len(meta["preview"].splitlines()) == 2 + metrics.PREVIEW_ROWS


@pytest.mark.parametrize("dataset", ["autocorp", "saas"])
def test_the_metric_registry_lists_a_dataset_s_metrics(dataset):
    found = metrics.load_metrics(dataset)
    assert found and all(m.dataset == dataset for m in found)
    assert len({m.key for m in found}) == len(found)
