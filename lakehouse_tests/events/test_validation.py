"""The record contract: types, required fields, ranges, envelopes, batches, ids."""

from __future__ import annotations

import pytest

from lakehouse.events.schemas import EventSource, Field, Metric, all_sources
from lakehouse.events.validation import (
    RequestRejected,
    check_data,
    check_value,
    parse_json,
    parse_request,
)
from lakehouse_tests.events.conftest import SEED_RECORD
from lakehouse_tests.events.sources import IOT_SENSORS

SOURCES = all_sources()


def rules(violations) -> set[tuple[str, str]]:
    return {(v.field, v.rule) for v in violations}


def test_the_seed_record_is_valid():
    source, records = parse_request(SEED_RECORD, SOURCES, 10)
    assert source == "iot_sensors" and len(records) == 1
    assert len(records[0].id) == 32 and records[0].metadata == SEED_RECORD["metadata"]


@pytest.mark.parametrize(
    ("field", "value", "rule"),
    [
        (Field("n", "number"), True, "type"),  # a bool is not a number
        (Field("n", "number"), "1", "type"),
        (Field("n", "number"), float("inf"), "finite"),
        (Field("n", "number", ge=0), -0.5, "ge"),
        (Field("n", "number", le=10), 10.5, "le"),
        (Field("i", "integer"), 1.5, "type"),
        (Field("b", "boolean"), 1, "type"),
        (Field("s", "string", max_length=3), "abcd", "max_length"),
        (Field("s", "string", pattern="[a-z]+"), "abc1", "pattern"),  # full match
        (Field("s", "string", one_of=("a", "b")), "c", "one_of"),
        (Field("t", "timestamp"), "2025-11-25T10:00:00", "format"),  # no offset
        (Field("t", "timestamp"), "yesterday", "format"),
        (Field("t", "timestamp"), 1764064800, "type"),
    ],
)
def test_rules(field, value, rule):
    assert check_value(field, value)[0] == rule


@pytest.mark.parametrize(
    ("field", "value"),
    [
        (Field("n", "number", ge=0, le=10), 10),
        (Field("i", "integer"), 3.0),
        (Field("t", "timestamp"), "2025-11-25T10:00:00+05:30"),
        (Field("s", "string", pattern="[a-z]+", one_of=("ab",)), "ab"),
    ],
)
def test_valid_values(field, value):
    assert check_value(field, value) is None


def test_check_data_lists_every_violation():
    got = rules(check_data(IOT_SENSORS, {"temperature": None, "humidity": 101, "extra": 1}))
    assert got == {
        ("data.device_id", "required"),
        ("data.temperature", "required"),
        ("data.timestamp", "required"),
        ("data.humidity", "le"),
        ("data.extra", "unknown_field"),
    }
    assert rules(check_data(IOT_SENSORS, [1, 2])) == {("data", "type")}


def test_envelopes_and_batches():
    rec = dict(SEED_RECORD)
    with pytest.raises(RequestRejected) as err:
        parse_request({**rec, "extra": 1, "metadata": {"nested": {"a": 1}}}, SOURCES, 10)
    assert rules(err.value.violations) == {("extra", "unknown_field"), ("metadata.nested", "type")}
    assert err.value.status == 422
    with pytest.raises(RequestRejected) as err:
        parse_request([], SOURCES, 10)
    assert rules(err.value.violations) == {("records", "min_items")}
    with pytest.raises(RequestRejected) as err:
        parse_request({"records": [rec, "x"]}, SOURCES, 10)
    assert rules(err.value.violations) == {("records[1]", "type")}
    with pytest.raises(RequestRejected) as err:
        parse_request([{**rec, "id": "a"}, {**rec, "id": "a"}], SOURCES, 10)
    assert rules(err.value.violations) == {("[1].id", "unique_in_request")}
    source, records = parse_request({"records": [{**rec, "id": "dev-1:7"}, rec]}, SOURCES, 10)
    assert records[0].id == "dev-1:7" and records[1].id != records[0].id


def test_json_errors_are_400():
    for body in (b"{", b'{"a": NaN}', b"\xff\xfe", b'{"a": Infinity}'):
        with pytest.raises(RequestRejected) as err:
            parse_json(body)
        assert err.value.status == 400 and err.value.violations[0].rule == "json"


@pytest.mark.parametrize("levels", [65, 5_000])
def test_nesting_deeper_than_the_limit_is_400_max_depth(levels):
    """65: past the limit, measured after parsing; 5,000: past the parser's own recursion limit
    (a RecursionError, which was a 500), closed or not."""
    bodies = [b"[" * levels + b"]" * levels] + ([b"[" * levels] if levels > 1_000 else [])
    for body in bodies:
        with pytest.raises(RequestRejected) as err:
            parse_json(body)
        assert err.value.status == 400 and err.value.error == "too_deeply_nested"
        assert [v.rule for v in err.value.violations] == ["max_depth"]


def test_nesting_up_to_the_limit_parses():
    assert parse_json(b"[" * 64 + b"]" * 64) is not None
    deep = b'{"a":' * 63 + b"1" + b"}" * 63
    assert parse_json(deep) is not None
    with pytest.raises(RequestRejected):
        parse_json(deep, max_depth=10)


def test_registry_guards():
    with pytest.raises(ValueError, match="reserved"):
        Field("quality_score", "number")
    with pytest.raises(ValueError, match="must match"):
        EventSource("Bad-Name", ())
    with pytest.raises(ValueError, match="unknown field"):
        EventSource("s", (Field("a", "number"),), metrics=(Metric("m", "mean", "b"),))
    with pytest.raises(ValueError, match="timestamp"):
        EventSource("s", (Field("a", "number"),), event_time="a")
