"""Schema discovery against the embedded PostgreSQL: every common column type, keys, unique and
foreign keys, CHECK constraints, partitioned tables, generated columns; one catalog query."""

from __future__ import annotations

import time

import psycopg
import pytest

from lakehouse.registry.model import Column, TableSpec
from lakehouse.source.catalog import discover_table
from lakehouse.source.check_rules import check_rules
from lakehouse.source.discovery import (
    UnsupportedType,
    discover_schema,
    logical_type,
)
from lakehouse_tests.source.all_types import ROWS, SCHEMA

pytestmark = pytest.mark.integration

ALL = [{"rule-action": "include", "schema-name": "public", "table-name": "%"}]

EVERYTHING = [  # name, logical type, nullable, checks, references
    ("id", "bigint", False, {}, None),
    ("c_small", "smallint", True, {}, None),
    ("c_int", "int", True, {"ge": 0}, None),
    ("c_big", "bigint", True, {}, None),
    ("c_num", "decimal(12,2)", True, {"gt": 0}, None),
    ("c_num38", "decimal(38,8)", True, {}, None),
    ("c_num_free", "numeric", True, {}, None),
    ("c_real", "real", True, {}, None),
    ("c_double", "double", True, {}, None),
    ("c_money", "money", True, {}, None),
    ("c_bool", "bool", True, {}, None),
    ("c_text", "string", True, {}, None),
    ("c_varchar", "string", True, {"str_length_max": 20}, None),
    ("c_char", "string", True, {}, None),
    ("c_citext", "string", True, {}, None),
    ("c_uuid", "uuid", True, {}, None),
    ("c_json", "json", True, {}, None),
    ("c_jsonb", "json", True, {}, None),
    ("c_inet", "inet", True, {}, None),
    ("c_cidr", "inet", True, {}, None),
    ("c_macaddr", "string", True, {}, None),
    ("c_date", "date", True, {}, None),
    ("c_time", "time", True, {}, None),
    ("c_timetz", "timetz", True, {}, None),
    ("c_ts", "timestamp", True, {}, None),
    ("c_tstz", "timestamptz", True, {}, None),
    ("c_interval", "interval", True, {}, None),
    ("c_bytea", "bytes", True, {}, None),
    ("c_ints", "string", True, {}, None),
    ("c_texts", "string", True, {}, None),
    ("c_mood", "string", True, {}, None),
    ("c_email", "string", True, {}, None),  # domain over citext
    ("c_pos", "int", False, {}, None),  # NOT NULL domain over integer
    ("c_status", "string", True, {"isin": ["new", "paid"]}, None),
    ("c_code", "string", True, {"str_length_max": 8}, None),  # varchar(10) + char_length <= 8
    ("c_double_num", "decimal(14,2)", True, {}, None),
]


def _setup(dsn: str) -> None:
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(SCHEMA)
        conn.execute(ROWS)


def test_discover_schema_every_type_and_constraint(fresh_db):
    _setup(fresh_db)
    with psycopg.connect(fresh_db, autocommit=True) as conn:
        found = discover_schema(conn, ALL, "shop")
        single = discover_table(conn, "public", "everything", "shop")
    by_name = {t.spec.name: t for t in found}
    # the leaf partitions are not tables: the partitioned table is published via its root
    assert list(by_name) == ["event_log", "everything", "line", "measurement"]

    everything = by_name["everything"]
    assert [
        (c.name, c.type, c.nullable, c.checks, c.references) for c in everything.spec.columns
    ] == EVERYTHING
    assert everything.spec.primary_key == ("id",)
    assert everything.spec.column("c_text").description == "free text"
    assert everything.generated == {"c_double_num": "(c_num * (2)::numeric)"}
    assert everything.pg_types["c_email"] == "email"
    assert everything.pg_types["c_char"] == "character(5)"
    assert everything.replica_identity == "full"
    assert everything.notes == ()
    assert single == everything.spec

    assert by_name["line"].spec == TableSpec(
        dataset="shop",
        name="line",
        schema="public",
        columns=(
            Column("doc_id", "bigint", nullable=False, references="everything.id"),
            Column("line_no", "smallint", nullable=False),
            Column("qty", "int", nullable=False, checks={"gt": 0}),
            Column("note", "string", checks={"str_length_max": 10}),
        ),
        primary_key=("doc_id", "line_no"),
    )
    assert [c.checks for c in by_name["line"].spec.columns] == [
        {},
        {},
        {"gt": 0},
        {"str_length_max": 10},
    ]
    assert by_name["line"].spec.column("doc_id").references == "everything.id"

    keyless = by_name["event_log"]
    assert keyless.spec.primary_key == ()
    assert keyless.candidate_keys == (("at", "kind"),)
    assert keyless.notes == (
        "no primary key: captured insert-only (as AWS DMS does); candidate keys: [['at', 'kind']]",
    )
    assert [(c.name, c.type, c.nullable) for c in keyless.spec.columns] == [
        ("at", "timestamptz", False),
        ("kind", "string", False),
        ("payload", "json", True),
    ]

    part = by_name["measurement"]
    assert part.partitioned and not everything.partitioned
    assert part.spec.primary_key == ("id", "taken")
    assert [(c.name, c.type) for c in part.spec.columns] == [
        ("id", "int"),
        ("taken", "date"),
        ("v", "double"),
    ]


def test_selection_rules_and_unmapped_types(fresh_db):
    with psycopg.connect(fresh_db, autocommit=True) as conn:
        conn.execute("create schema audit")
        conn.execute("create table audit.log_a (id int primary key, span int4range)")
        conn.execute("create table audit.log_b (id int primary key)")
        conn.execute("create table audit.other_x (id int primary key)")
        conn.execute(
            "create table audit.virt (id int primary key, n int, twice int generated always as (n * 2) virtual)"
        )
        rules = [
            {"rule-action": "include", "schema-name": "audit", "table-name": "%"},
            {"rule-action": "exclude", "schema-name": "audit", "table-name": "log_b"},
            {"rule-action": "exclude", "schema-name": "audit", "table-name": "other%"},
        ]
        found = discover_schema(conn, rules, "a")
        assert [t.spec.qualified_name for t in found] == ["audit.log_a", "audit.virt"]
        log_a, virt = found
        assert [(c.name, c.type) for c in log_a.spec.columns] == [("id", "int"), ("span", "string")]
        assert log_a.notes == (
            "audit.log_a: column 'span' has type 'int4range': stored as PostgreSQL's text (string)",
        )
        assert virt.spec.column_names == ["id", "n"]
        assert virt.notes == (
            "column 'twice' is a VIRTUAL generated column ((n * 2)): logical replication "
            "cannot publish it, so it is left out",
        )
        with pytest.raises(
            UnsupportedType, match=r"audit.log_a: column 'span' has type 'int4range'"
        ):
            discover_schema(conn, rules, "a", strict=True)
        # '_' is literal in DMS patterns (not LIKE's any-character)
        conn.execute("create table audit.logxa (id int primary key)")
        only = [{"rule-action": "include", "schema-name": "audit", "table-name": "log_a"}]
        assert [t.spec.name for t in discover_schema(conn, only, "a")] == ["log_a"]
        with pytest.raises(LookupError, match="audit.nope not found"):
            discover_table(conn, "audit", "nope", "a")


def test_five_hundred_tables_in_one_query(fresh_db):
    with psycopg.connect(fresh_db, autocommit=True) as conn:
        conn.execute(
            "do $$ begin for i in 1..500 loop execute format("
            "'create table t%s (id bigint primary key, name varchar(40) not null, "
            "amount numeric(10,2) check (amount >= 0), at timestamptz, tags text[])', i); "
            "end loop; end $$"
        )
        started = time.perf_counter()
        found = discover_schema(conn, ALL, "many")
        took = time.perf_counter() - started
    assert len(found) == 500
    assert took < 2.0, f"discovery of 500 tables took {took:.2f}s"
    assert found[0].spec.columns == (
        Column("id", "bigint", nullable=False),
        Column("name", "string", nullable=False, checks={"str_length_max": 40}),
        Column("amount", "decimal(10,2)", checks={"ge": 0}),
        Column("at", "timestamptz"),
        Column("tags", "string"),
    )
    assert found[0].spec.column("amount").checks == {"ge": 0}


@pytest.mark.parametrize(
    ("pg_type", "typtype", "category", "logical"),
    [
        ("numeric(38,0)", "b", "N", "decimal(38,0)"),
        ("numeric(39,2)", "b", "N", "numeric"),
        ("numeric", "b", "N", "numeric"),
        ("timestamp(3) with time zone", "b", "D", "timestamptz"),
        ("timestamp(0) without time zone", "b", "D", "timestamp"),
        ("time(3) with time zone", "b", "D", "timetz"),
        ("time(6) without time zone", "b", "D", "time"),
        ("interval day to second", "b", "T", "interval"),
        ("character(1)", "b", "S", "string"),
        ("public.citext", "b", "S", "string"),
        ("bit varying(8)", "b", "V", "string"),
        ("numeric(10,2)[]", "b", "A", "string"),
        ("mood", "e", "E", "string"),
        ("point", "b", "G", None),
        ("int4range", "r", "R", None),
    ],
)
def test_logical_type(pg_type, typtype, category, logical):
    assert logical_type(pg_type, typtype, category) == logical


@pytest.mark.parametrize(
    ("definition", "column", "rules"),
    [
        ("CHECK ((qty >= 0))", "qty", [("ge", 0)]),
        ("CHECK ((price > (0)::numeric))", "price", [("gt", 0)]),
        ("CHECK ((x >= '-1'::integer))", "x", [("ge", -1)]),
        ("CHECK ((0 < x))", "x", [("gt", 0)]),
        ("CHECK (((x >= 0) AND (x <= 10)))", "x", [("ge", 0), ("le", 10)]),
        ("CHECK ((x = ANY (ARRAY[1, 2, 3])))", "x", [("isin", [1, 2, 3])]),
        (
            "CHECK (((s)::text = ANY ((ARRAY['a'::character varying, 'b''c'::character varying])::text[])))",
            "s",
            [("isin", ["a", "b'c"])],
        ),
        ("CHECK ((char_length((name)::text) <= 5))", "name", [("str_length_max", 5)]),
        ("CHECK ((x > y))", "x", None),
        ("CHECK ((lower(x) = x))", "x", None),
        ("CHECK (((x > 0) OR (x IS NULL)))", "x", None),
    ],
)
def test_check_rules(definition, column, rules):
    assert check_rules(definition, column) == rules
