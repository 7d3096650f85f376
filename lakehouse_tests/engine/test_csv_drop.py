"""CSV drops read with their table's CsvOptions: real Delta on a temp lake, dirty rows quarantined
with line, column and reason while the clean rows flow to bronze and silver."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import polars as pl
import pytest
from deltalake import DeltaTable

from lakehouse.dms.settings import DmsS3Settings
from lakehouse.engine import bronze, silver
from lakehouse.engine.core.keys import quarantine_key
from lakehouse.engine.csv_drop import parse_csv
from lakehouse.registry import Column, TableSpec
from lakehouse.registry.model import CsvOptions

SETTINGS = DmsS3Settings()  # the DMS settings play no part in reading a CSV drop
NOW = datetime(2024, 2, 1, tzinfo=UTC)
COLUMNS = (
    Column("id", "bigint", nullable=False),
    Column("name", "string"),
    Column("amount", "decimal(10,2)"),
    Column("born", "date"),
)


def _spec(csv: CsvOptions | None = None, glob: str = "people-*.csv") -> TableSpec:
    return TableSpec(
        dataset="d",
        name="people",
        columns=COLUMNS,
        primary_key=("id",),
        source="csv_drop",
        file_glob=glob,
        csv=csv or CsvOptions(),
    )


def _bronze(lake, *cols) -> list[tuple]:
    frame = pl.from_arrow(DeltaTable(lake.uri("bronze/people")).to_pyarrow_table())
    return frame.sort("_source_file", "_source_row").select(cols).rows()


def _quarantine(lake, spec) -> list[tuple]:
    q = pl.from_arrow(DeltaTable(lake.uri(quarantine_key(spec.name))).to_pyarrow_table())
    return (
        q.sort("_source_file", "_source_row")
        .select("_source_file", "_source_row", "_column", "_reason")
        .rows()
    )


DIRTY = (
    b"id,name,amount,born\n"  # line 1
    b"1,ann,10.50,2000-01-02\n"  # 2
    b"2,bob\n"  # 3: wrong field count
    b"3,cy,abc,2000-01-03\n"  # 4: not a decimal
    b"4,dee,1.00,2024-13-45\n"  # 5: not a date
    b",eve,2.00,2000-01-04\n"  # 6: null key
    b"5,f\xffe,3.00,2000-01-05\n"  # 7: not UTF-8
    b'6,"two\n'  # 8: a quoted value over two lines
    b'lines",4.00,2000-01-06\n'  # 9
    b'7,"open,5.00,2000-01-07\n'  # 10: a quote never closed
    b"8,gus,,2000-01-08\n"  # 11
    b"\n\n"  # 12, 13: trailing blank lines
)


def test_dirty_rows_go_to_quarantine_and_the_clean_rows_reach_bronze_and_silver(lake):
    spec = _spec()
    f = "raw/csv/d/people-20240101.csv"
    lake.write_bytes(f, DIRTY)
    lake.write_text("raw/csv/d/people-20240102.csv", "id,name,amount\n9,hal,1.00\n")
    lake.write_text("raw/csv/d/people-20240103.csv", "id,nom,amount,born,extra\n9,x,1,,y\n")
    res = bronze.ingest(lake, spec, SETTINGS, now=NOW)
    assert (res.rows, res.quarantined) == (3, 8)
    assert _bronze(lake, "id", "name", "amount", "born", "_source_row", "_op", "_file_kind") == [
        (1, "ann", Decimal("10.50"), date(2000, 1, 2), 2, "I", "csv"),
        (6, "two\nlines", Decimal("4.00"), date(2000, 1, 6), 8, "I", "csv"),
        (8, "gus", None, date(2000, 1, 8), 11, "I", "csv"),
    ]
    assert _quarantine(lake, spec) == [
        (f, 3, None, "expected 4 fields (id, name, amount, born), found 2"),
        (f, 4, "amount", "column 'amount': value 'abc' is not a valid decimal(10,2)"),
        (f, 5, "born", "column 'born': value '2024-13-45' is not a valid date"),
        (f, 6, "id", "primary key column 'id' is null (expected a value)"),
        (
            f,
            7,
            "name",
            "column 'name': bytes b'\\xff' are not valid utf-8 text (the declared encoding)",
        ),
        (f, 10, "name", "unterminated quote in column 'name': expected a closing '\"' on the line"),
        (
            "raw/csv/d/people-20240102.csv",
            None,
            None,
            "unreadable file: header does not match table d.people: missing declared column(s) "
            "['born']; expected columns ['id', 'name', 'amount', 'born']",
        ),
        (
            "raw/csv/d/people-20240103.csv",
            None,
            None,
            "unreadable file: header does not match table d.people: missing declared column(s) "
            "['name']; unknown column(s) ['nom', 'extra']; expected columns "
            "['id', 'name', 'amount', 'born']",
        ),
    ]
    result = silver.apply_changes(lake, spec, now=NOW)
    state = silver.read_silver(lake, spec).sort("id").select("id", "name", "amount", "born")
    assert result.inserted == 3
    assert state.rows() == [
        (1, "ann", Decimal("10.50"), date(2000, 1, 2)),
        (6, "two\nlines", Decimal("4.00"), date(2000, 1, 6)),
        (8, "gus", None, date(2000, 1, 8)),
    ]
    # replaying is a no-op; quarantine entries are not recorded twice
    assert bronze.ingest(lake, spec, SETTINGS, now=NOW).files == []
    assert len(_quarantine(lake, spec)) == 8


def test_a_corrected_file_dropped_again_under_its_name_wins_whatever_its_row_order(lake):
    """CSV rows carry no commit time: a row is placed at its file's arrival in bronze, so the
    later drop is newer (before, the order was file name then row: a correction at the same or
    an earlier row lost to the row it corrects)."""
    from datetime import timedelta

    spec = _spec()
    key = "raw/csv/d/people-20240101.csv"
    lake.write_text(key, "id,name,amount,born\n2,bob,2,\n3,cy,3,\n")
    bronze.ingest(lake, spec, SETTINGS, now=NOW)
    silver.apply_changes(lake, spec, now=NOW)
    lake.write_text(key, "id,name,amount,born\n3,cy,30,\n2,robert,20,\n")  # rows swapped
    later = NOW + timedelta(hours=1)
    bronze.ingest(lake, spec, SETTINGS, now=later)
    silver.apply_changes(lake, spec, now=later)
    assert silver.read_silver(lake, spec).sort("id").select("id", "name", "amount").rows() == [
        (2, "robert", Decimal("20.00")),
        (3, "cy", Decimal("30.00")),
    ]
    # and a later file of an earlier name wins over an earlier one of a later name
    lake.write_text("raw/csv/d/people-20240109.csv", "id,name,amount,born\n2,bo,1,\n")
    bronze.ingest(lake, spec, SETTINGS, now=later + timedelta(hours=1))
    lake.write_text("raw/csv/d/people-20240102.csv", "id,name,amount,born\n2,late,5,\n")
    bronze.ingest(lake, spec, SETTINGS, now=later + timedelta(hours=2))
    silver.apply_changes(lake, spec, now=later + timedelta(hours=2))
    assert silver.read_silver(lake, spec).filter(pl.col("id") == 2)["name"].to_list() == ["late"]


def test_an_extra_column_passes_through_and_reaches_silver(lake):
    spec = _spec()
    lake.write_text("raw/csv/d/people-20240101.csv", "id,name,amount,born\n1,ann,1,2000-01-01\n")
    lake.write_text(
        "raw/csv/d/people-20240102.csv", "born,amount,name,id,team\n2000-01-02,2,bob,2,red\n"
    )
    res = bronze.ingest(lake, spec, SETTINGS, now=NOW)
    assert (res.rows, res.quarantined) == (2, 0)
    assert _bronze(lake, "id", "name", "team", "_source_row") == [
        (1, "ann", None, 2),
        (2, "bob", "red", 2),
    ]
    silver.apply_changes(lake, spec, now=NOW)
    assert silver.read_silver(lake, spec).sort("id").select("id", "team").rows() == [
        (1, None),
        (2, "red"),
    ]


def test_semicolon_latin1_no_header_null_token(lake):
    spec = _spec(CsvOptions(delimiter=";", header=False, encoding="latin-1", null_value="NULL"))
    body = (
        "1;José;NULL;1999-12-31\n"
        '2;"NULL";"1.5";NULL\n'  # a quoted token is a string
        '3;"a;b ""c""";7;2000-01-01\n'
        "4;Zoë;;2000-01-01\n"  # an empty unquoted field is an empty string, not NULL
        "NULL;x;1;2000-01-01\n"
    ).encode("latin-1")
    f = "raw/csv/d/people-20240101.csv"
    lake.write_bytes(f, body)
    res = bronze.ingest(lake, _spec(spec.csv), SETTINGS, now=NOW)
    assert (res.rows, res.quarantined) == (3, 2)
    assert _bronze(lake, "id", "name", "amount", "born", "_source_row") == [
        (1, "José", None, date(1999, 12, 31), 1),
        (2, "NULL", Decimal("1.50"), None, 2),
        (3, 'a;b "c"', Decimal("7.00"), date(2000, 1, 1), 3),
    ]
    assert _quarantine(lake, spec) == [
        (f, 4, "amount", "column 'amount': value '' is not a valid decimal(10,2)"),
        (f, 5, "id", "primary key column 'id' is null (expected a value)"),
    ]


@pytest.mark.parametrize(
    "body",
    [
        b'id,name,amount,born\r\n1,ann,1.00,2000-01-02\r\n2,"b\r\nb",2.00,\r\n',
        b'\xef\xbb\xbfid,name,amount,born\n1,ann,1.00,2000-01-02\n2,"b\r\nb",2.00,\n',
        b'id,name,amount,born\n1,ann,1.00,2000-01-02\n2,"b\r\nb",2.00,\n\n\r\n\n',
        b'\xef\xbb\xbfid,name,amount,born\r\n1,ann,1.00,2000-01-02\r\n\r\n2,"b\r\nb",2.00,',
    ],
    ids=["crlf", "bom", "trailing-blank-lines", "bom-crlf-blank-line-no-final-eol"],
)
def test_crlf_bom_and_blank_lines(lake, body):
    lake.write_bytes("raw/csv/d/people-20240101.csv", body)
    res = bronze.ingest(lake, _spec(), SETTINGS, now=NOW)
    assert (res.rows, res.quarantined) == (2, 0)
    second = 4 if b"\r\n\r\n2" in body else 3
    assert _bronze(lake, "id", "name", "amount", "born", "_source_row") == [
        (1, "ann", Decimal("1.00"), date(2000, 1, 2), 2),
        (2, "b\r\nb", Decimal("2.00"), None, second),
    ]


def test_cp1252_with_an_undefined_byte(lake):
    spec = _spec(CsvOptions(encoding="cp1252"))
    f = "raw/csv/d/people-20240101.csv"
    lake.write_bytes(f, b"id,name,amount,born\n1,\x93q\x94 \x80,1,\n2,b\x81d,2,\n")
    res = bronze.ingest(lake, spec, SETTINGS, now=NOW)
    assert (res.rows, res.quarantined) == (1, 1)
    assert _bronze(lake, "id", "name") == [(1, "\u201cq\u201d \u20ac")]
    assert _quarantine(lake, spec) == [
        (
            f,
            3,
            "name",
            "column 'name': bytes b'\\x81' are not valid cp1252 text (the declared encoding)",
        )
    ]


@pytest.mark.parametrize(
    ("body", "options", "rows", "rejected"),
    [
        (  # tab, \N, a custom quote character
            b"id\tname\n1\t\\N\n2\t'a\tb ''c'''\n3\t\"q\"\n",
            CsvOptions(delimiter="\t", quote="'", null_value="\\N"),
            [("1", None, 2), ("2", "a\tb 'c'", 3), ("3", '"q"', 4)],
            [],
        ),
        (  # pipes; text after a closing quote; a quote inside an unquoted field is text
            b'id|name\n1|"a"b\n2|x"y\n3|""\n4|\n',
            CsvOptions(delimiter="|"),
            [("2", 'x"y', 3), ("3", "", 4), ("4", None, 5)],
            [
                (
                    2,
                    "name",
                    "column 'name': unexpected 'b' after the closing '\"' "
                    "(expected '|' or the end of the line)",
                )
            ],
        ),
        (  # a quote left open on one line swallows nothing: the next lines are read
            b'id,name\n1,"a\n2,"b"\n3,c\n4,"d""\n',
            CsvOptions(),
            [("2", "b", 3), ("3", "c", 4)],
            [
                (
                    2,
                    "name",
                    "unterminated quote in column 'name': expected a closing '\"' on the line",
                ),
                (
                    5,
                    "name",
                    "unterminated quote in column 'name': expected a closing '\"' on the line",
                ),
            ],
        ),
    ],
    ids=["tab-quote-null", "after-quote", "unterminated"],
)
def test_parse_csv(body, options, rows, rejected):
    parsed = parse_csv(body, options)
    got = parsed.frame.with_columns(parsed.lines.alias("line")).rows()
    assert (parsed.columns, got) == (["id", "name"], rows)
    assert [(r.line, r.column, r.reason) for r in parsed.rejected] == rejected


@pytest.mark.parametrize(
    "data, header, plain",
    [
        (b"id,name,amount\n1,a,1.5\n2,,\n3,c,-2\n", True, True),
        (b"id,name,amount\n1,a,1.5\n2,b,2\n\n\n", True, True),  # trailing blank lines
        (b"\xef\xbb\xbfid,name,amount\n1,\xc3\xa9,1\n", True, True),  # BOM, UTF-8 text
        (b"1,a,1.5\n2,b,2", False, True),  # no header, no final line end
        (b"id,name,amount\n1,a,1.5\n2,b\n3,c,3,4\n", True, False),  # short and long lines
        (b"id,name,amount\n1,a,1.5\n\n2,b,2\n", True, False),  # a blank line inside
        (b"id,name,amount\n3,c,3,4\n2,b\n1,a,1\n", True, False),  # long first, balanced
        (b"3,c,3,4\n2,b\n", False, False),  # the same without header
        (b"id,name,amount\n1,a,1\n\n2,b,2,,\n3,c,3\n", True, False),  # blank + 2 extra
        (b"id,name,amount\n1,a,1\n2,b\n3,c,3,", True, False),  # last: a trailing delimiter
        # a line longer than a block (its delimiters carried over), with one field too many
        (b"id,name,amount\n1," + b"a" * 300_000 + b",1\n2,b,2\n", True, True),
        (b"id,name,amount\n1," + b"a" * 300_000 + b",1,\n2,b\n", True, False),
        (b"id,name,amount\n1,\xff,1\n", True, False),  # invalid UTF-8
        (b'id,name,amount\n1,"a",1\n', True, False),  # a quote
        (b"id,name,amount\r\n1,a,1\r\n", True, False),  # CR LF
        # beyond the first block the bytes are counted in (256 KiB): a short line, a quote
        (b"id,name,amount\n" + b"1,a,1.5\n" * 40_000 + b"2,b\n3,c,3,4\n", True, False),
        (b"id,name,amount\n" + b"1,a,1.5\n" * 40_000 + b'2,"b",2\n', True, False),
        (b"id,name,amount\n" + b"1,a,1.5\n" * 40_000 + b"2,b,2\n", True, True),
    ],
    ids=[
        "plain",
        "trailing-blank",
        "bom",
        "no-header",
        "ragged",
        "blank-inside",
        "ragged-first-balanced",
        "ragged-first-no-header",
        "blank-balanced",
        "last-trailing-delimiter",
        "line-over-blocks",
        "line-over-blocks-ragged",
        "bad-utf8",
        "quote",
        "crlf",
        "ragged-far",
        "quote-far",
        "plain-big",
    ],  # fmt: skip
)
def test_the_one_read_fast_path_gives_what_the_careful_reader_gives(
    data, header, plain, monkeypatch
):
    """Plain files are read in one Polars pass; anything else falls back: same result."""
    from lakehouse.engine import csv_drop, csv_fast

    options = CsvOptions(header=header)
    columns = None if header else ["id", "name", "amount"]
    assert (csv_fast.plain_file(data, options, columns) is not None) == plain
    fast = csv_drop.parse_csv(data, options, columns)
    monkeypatch.setattr(csv_fast, "plain_file", lambda *a: None)
    careful = csv_drop.parse_csv(data, options, columns)
    assert fast.columns == careful.columns
    assert fast.frame.rows() == careful.frame.rows()
    assert fast.lines.to_list() == careful.lines.to_list()
    assert fast.rejected == careful.rejected


@pytest.mark.parametrize("header", [True, False], ids=["header", "no-header"])
def test_a_wide_first_row_balanced_by_a_short_one_is_quarantined_and_the_rest_flows(lake, header):
    """One field too many on the first data row and one too few on the next: the delimiters
    add up to a plain file's, and Polars refuses the first row with a SchemaError (not a
    ComputeError). Both lines go to quarantine; the file's other rows and later files flow."""
    spec = _spec(CsvOptions(header=header))
    head = b"id,name,amount,born\n" if header else b""
    first = 2 if header else 1
    f = "raw/csv/d/people-20240101.csv"
    lake.write_bytes(f, head + b"3,cy,1,2000-01-03,EXTRA\n4,dee,2\n5,eve,3,2000-01-05\n")
    lake.write_bytes("raw/csv/d/people-20240102.csv", head + b"6,fay,4,2000-01-06\n")
    res = bronze.ingest(lake, spec, SETTINGS, now=NOW)
    assert (res.rows, res.quarantined) == (2, 2)
    assert _bronze(lake, "id", "_source_row") == [(5, first + 2), (6, first)]
    assert _quarantine(lake, spec) == [
        (f, first, None, "expected 4 fields (id, name, amount, born), found 5"),
        (f, first + 1, None, "expected 4 fields (id, name, amount, born), found 3"),
    ]


def test_a_blank_line_is_skipped_and_a_last_line_with_a_trailing_delimiter_is_quarantined():
    """``sku,qty / C,3 / (blank) / D,4,`` with no final line end: the blank line's missing
    delimiter and the last line's extra one add up to a plain file's count. The blank line is no
    row (not an all-null one) and line 4 has three fields."""
    parsed = parse_csv(b"sku,qty\nC,3\n\nD,4,", CsvOptions())
    assert parsed.frame.with_columns(parsed.lines.alias("line")).rows() == [("C", "3", 2)]
    assert [(r.line, r.column, r.reason, r.raw) for r in parsed.rejected] == [
        (4, None, "expected 2 fields (sku, qty), found 3", "D,4,")
    ]


@pytest.mark.parametrize("quoted", [False, True], ids=["one-read", "careful"])
def test_a_header_naming_a_column_twice_or_not_at_all_is_read_by_position(lake, quoted):
    """``id,name,NAME,`` → id, name, NAME_2, column_4 (the names discover pins), so the rows
    reach bronze; before, the one-read path refused the file and bronze failed on it."""
    spec = TableSpec(
        dataset="d", name="people", primary_key=("id",), source="csv_drop",
        file_glob="people-*.csv", csv=CsvOptions(),
        columns=(Column("id", "bigint", nullable=False), Column("name", "string"),
                 Column("NAME_2", "string"), Column("column_4", "string")),
    )  # fmt: skip
    body = "id,name,NAME,\n1,a,A,\n2,b,B,x\n"
    if quoted:
        body = body.replace("1,a", '1,"a"')
    parsed = parse_csv(body.encode(), CsvOptions())
    assert parsed.columns == ["id", "name", "NAME_2", "column_4"]
    lake.write_text("raw/csv/d/people-1.csv", body)
    res = bronze.ingest(lake, spec, SETTINGS, now=NOW)
    assert (res.rows, res.quarantined) == (2, 0)
    assert _bronze(lake, "id", "name", "NAME_2", "column_4") == [
        (1, "a", "A", None),
        (2, "b", "B", "x"),
    ]


def test_a_column_declared_string_after_it_landed_as_a_number_becomes_text(lake):
    """A zip code first taken for a bigint, then declared string: bronze and silver become
    text, the new rows keep their leading zeros (before, delta-rs cast them into the old
    bigint column, silently: 00501 → 501)."""
    from dataclasses import replace

    spec = replace(_spec(glob="addr-*.csv"), name="addr", columns=(
        Column("id", "bigint", nullable=False), Column("zip", "bigint")))  # fmt: skip
    lake.write_text("raw/csv/d/addr-1.csv", "id,zip\n1,2134\n")
    bronze.ingest(lake, spec, SETTINGS, now=NOW)
    silver.apply_changes(lake, spec, now=NOW)
    text = replace(spec, columns=(Column("id", "bigint", nullable=False), Column("zip", "string")))
    lake.write_text("raw/csv/d/addr-2.csv", "id,zip\n3,00501\n")
    bronze.ingest(lake, text, SETTINGS, now=NOW)
    silver.apply_changes(lake, text, now=NOW)
    got = silver.read_silver(lake, text).sort("id")
    assert got.schema["zip"] == pl.String
    assert got.select("id", "zip").rows() == [(1, "2134"), (3, "00501")]
    bronze_zip = pl.from_arrow(DeltaTable(lake.uri("bronze/addr")).to_pyarrow_table())["zip"]
    assert bronze_zip.dtype == pl.String and sorted(bronze_zip.to_list()) == ["00501", "2134"]
