"""A source schema with every common PostgreSQL column type, awkward values and table shapes
(composite key, no key, partitioned, generated column), plus the changes made to it after the
full load. Shared by the discovery and the end-to-end type tests."""

from __future__ import annotations

SCHEMA = r"""
create extension if not exists citext;
create type mood as enum ('sad', 'ok', 'happy ''quoted''');
create domain positive_int as integer not null check (value > 0);
create domain email as citext;

create table everything (
    id bigint primary key,
    c_small smallint,
    c_int integer check (c_int >= 0),
    c_big bigint,
    c_num numeric(12,2) check (c_num > 0),
    c_num38 numeric(38,8),
    c_num_free numeric,
    c_real real,
    c_double double precision,
    c_money money,
    c_bool boolean,
    c_text text,
    c_varchar varchar(20),
    c_char char(5),
    c_citext citext,
    c_uuid uuid,
    c_json json,
    c_jsonb jsonb,
    c_inet inet,
    c_cidr cidr,
    c_macaddr macaddr,
    c_date date,
    c_time time,
    c_timetz timetz,
    c_ts timestamp,
    c_tstz timestamptz,
    c_interval interval,
    c_bytea bytea,
    c_ints integer[],
    c_texts text[],
    c_mood mood,
    c_email email,
    c_pos positive_int,
    c_status text check (c_status in ('new', 'paid')),
    c_code varchar(10) check (char_length(c_code) <= 8),
    c_double_num numeric(14,2) generated always as (c_num * 2) stored
);
comment on column everything.c_text is 'free text';

create table line (
    doc_id bigint references everything (id) on update cascade on delete cascade,
    line_no smallint,
    qty integer not null check (qty > 0),
    note varchar(10),
    primary key (doc_id, line_no)
);

create table event_log (
    at timestamptz not null,
    kind text not null,
    payload jsonb,
    unique (at, kind)
);

create table measurement (
    id integer,
    taken date,
    v double precision,
    primary key (id, taken)
) partition by range (taken);
create table measurement_2023 partition of measurement
    for values from ('2023-01-01') to ('2024-01-01');
create table measurement_2024 partition of measurement
    for values from ('2024-01-01') to ('2025-01-01');
alter table everything replica identity full;
"""

_BIG = "x" * 9000 + " — ünïcödé"

ROWS = rf"""
insert into everything (id, c_small, c_int, c_big, c_num, c_num38, c_num_free, c_real, c_double,
    c_money, c_bool, c_text, c_varchar, c_char, c_citext, c_uuid, c_json, c_jsonb, c_inet, c_cidr,
    c_macaddr, c_date, c_time, c_timetz, c_ts, c_tstz, c_interval, c_bytea, c_ints, c_texts,
    c_mood, c_email, c_pos, c_status, c_code)
values
  (1, -32768, 2147483647, -9223372036854775808, 1234567890.12,
   '123456789012345678901234567890.12345678', '-0.000000000000000000000000000001',
   3.4028235e+38, 'NaN', '-92233720368547758.08', true,
   E'quote " comma , newline \n and \r\n crlf; tab \t backslash \\ end', 'ünïcödé ✓',
   'ab', 'MiXeD', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', '{{"b": 1,  "a": [1, 2]}}',
   '{{"b": 1,  "a": [1, 2]}}', '192.168.0.1/24', '10.0.0.0/8', '08:00:2b:01:02:03',
   '1969-07-20', '23:59:59.999999', '12:00:00+05:30', '1900-01-01 00:00:00.000001',
   '1950-06-15 12:30:00-07', '1 year 2 mons 3 days 04:05:06.789', '\x00ff10',
   '{{1,NULL,-3}}', '{{"a,b","c\"d",NULL,"", "NULL"}}', 'happy ''quoted''', 'Someone@Example.com',
   1, 'new', 'short'),
  (2, 0, 0, 0, 0.01, '0', 'NaN', '-Infinity', 'Infinity', '-1234.50', false, '{_BIG}', '',
   '', '', '00000000-0000-0000-0000-000000000000', 'null', '[]', '::1', '::/0',
   'ff:ff:ff:ff:ff:ff', '0001-01-01', '00:00:00', '00:00:00-14:59', '1970-01-01 00:00:00',
   '2038-01-19 03:14:08+00', '-1 days +02:03:00', '\x', '{{}}', '{{}}', 'sad', 'a@b', 2, 'paid', ''),
  (3, null, null, null, null, null, null, null, null, null, null, null, null, null, null, null,
   null, null, null, null, null, null, null, null, null, null, null, null, null, null, null,
   null, 3, null, null);

insert into line values (1, 1, 5, 'first'), (1, 2, 1, null), (2, 1, 7, 'ü');
insert into event_log values
  ('2024-01-01 00:00:00+00', 'boot', '{{"ok": true}}'),
  ('2024-01-01 00:00:00+00', 'login', null),
  ('1999-12-31 23:59:59.5+01', 'y2k', '{{"n": 1e400}}');
insert into measurement values (1, '2023-05-01', 1.5), (2, '2024-02-29', -0.0),
  (3, '2024-12-31', 'NaN');
"""

CHANGES = [
    # inserts
    rf"""insert into everything (id, c_text, c_num_free, c_double, c_tstz, c_pos, c_ints, c_texts,
            c_bytea, c_timetz, c_interval, c_num)
         values (4, '{_BIG}y', '1e-30', 1e308, '1960-02-29 23:59:59.123456+13', 4,
                 '{{{{1,2}},{{3,4}}}}', '{{"\\\\", "}}"}}', '\xdeadbeef', '23:59:59.999999-03',
                 '178000000 years', 5.55)""",
    "insert into line values (4, 1, 3, 'new line')",
    "insert into event_log values ('2025-05-05 05:05:05+00', 'cdc', '[1, \"two\"]')",
    "insert into measurement values (4, '2023-01-01', 4.25)",
    # updates (TOASTed c_text unchanged on row 2: replica identity full keeps it)
    "update everything set c_int = 7, c_money = '0.01', c_mood = 'ok', c_time = '12:00' where id = 2",
    "update everything set c_text = null, c_jsonb = '{\"z\": null}', c_num = 99.99 where id = 1",
    "update line set qty = qty + 10 where doc_id = 1",
    "update measurement set v = v * 2 where id = 1",
    "update measurement set taken = '2024-06-01' where id = 4",  # moves partition
    # key updates
    "update line set line_no = 9 where doc_id = 2 and line_no = 1",
    "update everything set id = 30 where id = 3",
    # deletes
    "delete from line where doc_id = 1 and line_no = 2",
    "delete from measurement where id = 2",
    "delete from everything where id = 4",  # cascades to line (4, 1)
]
