"""Create a dataset's source tables in PostgreSQL and bulk-load generated data.

Data contract:
- ``seed(dsn, dataset, scale)`` drops the dataset's database tables (``DROP TABLE … CASCADE``),
  applies the ``ddl`` of the declaration's ``demo`` (a path beside its ``defs.yaml``), loads
  ``generator.generate(scale, seed)`` of its ``demo.generator`` module
  with ``COPY … FROM STDIN`` (one transaction per table), moves every serial sequence past the
  loaded ids, ``ANALYZE``s, and returns ``{table: rows}`` counted back from the database.
- Bulk-load practice: foreign keys and the plain (non-constraint) indexes are dropped for the
  load and re-created afterwards in the same transaction (``ALTER TABLE … ADD CONSTRAINT``
  validates every row with one join instead of a trigger per row), so the loaded data is still
  checked against every constraint of ``ddl.sql`` and the final schema is exactly ``ddl.sql``.
- Only the dataset's own tables (the registry's database tables) are dropped; other objects in the
  database (publications, replication slots, other datasets' tables) are left alone.
"""

from __future__ import annotations

import importlib

import psycopg
from psycopg import sql

from lakehouse.declarations import DeclarationError, declaration, load_dataset


def _demo(dataset: str):
    decl = declaration(dataset)
    if decl.decl.demo is None:
        raise DeclarationError(
            [f"{decl.path}: demo: dataset {dataset!r} has no demo data to seed — fix: seed your"
             " own database yourself; `lakehouse replicate` reads it as it is"]
        )  # fmt: skip
    return decl


def ddl(dataset: str) -> str:
    """The dataset's demo DDL text (``demo.ddl``, relative to its ``defs.yaml``)."""
    decl = _demo(dataset)
    return (decl.path.parent / decl.decl.demo.ddl).read_text()


def generator_module(dataset: str):
    """The dataset's demo data generator (``demo.generator``)."""
    return importlib.import_module(_demo(dataset).decl.demo.generator)


def apply_ddl(dsn: str, dataset: str, *, drop: bool = False) -> None:
    """Create the dataset's tables (idempotent); with ``drop`` first drop existing ones."""
    spec = load_dataset(dataset)
    with psycopg.connect(dsn) as conn:
        if drop:
            for table in reversed(spec.database_tables):
                conn.execute(
                    sql.SQL("drop table if exists {} cascade").format(
                        sql.Identifier(table.schema, table.name)
                    )
                )
        conn.execute(ddl(dataset))


def table_counts(dsn: str, dataset: str) -> dict[str, int]:
    """``{table: count(*)}`` for the dataset's database tables."""
    spec = load_dataset(dataset)
    with psycopg.connect(dsn) as conn:
        return {
            t.name: conn.execute(
                sql.SQL("select count(*) from {}").format(sql.Identifier(t.schema, t.name))
            ).fetchone()[0]
            for t in spec.database_tables
        }


def _bar(progress: bool, table: str, total: int | None):
    if not progress:
        return None
    from tqdm import tqdm

    return tqdm(total=total, desc=table, unit="rows", unit_scale=True, leave=True)


def _copy(conn: psycopg.Connection, table: str, columns, rows, bar) -> int:
    stmt = sql.SQL("copy {} ({}) from stdin").format(
        sql.Identifier(table), sql.SQL(", ").join(map(sql.Identifier, columns))
    )
    n = 0
    with conn.cursor() as cur, cur.copy(stmt) as copy:
        for row in rows:
            copy.write_row(row)
            n += 1
            if bar is not None and n % 5_000 == 0:
                bar.update(5_000)
    if bar is not None:
        bar.update(n % 5_000)
        bar.close()
    return n


def _reset_sequences(conn: psycopg.Connection, table: str) -> None:
    """``setval`` each serial column's sequence to the column's max (or 1 if empty)."""
    serials = conn.execute(
        "select a.attname, pg_get_serial_sequence(quote_ident(%s), a.attname) "
        "from pg_attribute a where a.attrelid = %s::regclass and a.attnum > 0 "
        "and not a.attisdropped",
        (table, table),
    ).fetchall()
    for column, seq in serials:
        if seq is None:
            continue
        conn.execute(
            sql.SQL("select setval(%s, coalesce(max({c}), 0) + 1, false) from {t}").format(
                c=sql.Identifier(column), t=sql.Identifier(table)
            ),
            (seq,),
        )


def _drop_foreign_keys(conn: psycopg.Connection, tables: list[str]) -> list[tuple[str, str, str]]:
    """Drop the FKs of ``tables`` (public schema); return (table, name, definition) to re-add."""
    fks = conn.execute(
        "select c.conrelid::regclass::text, c.conname, pg_get_constraintdef(c.oid) "
        "from pg_constraint c join pg_class r on r.oid = c.conrelid "
        "join pg_namespace n on n.oid = r.relnamespace "
        "where c.contype = 'f' and n.nspname = 'public' and r.relname = any(%s) order by 1, 2",
        (tables,),
    ).fetchall()
    for table, name, _ in fks:
        conn.execute(
            sql.SQL("alter table {} drop constraint {}").format(
                sql.SQL(table), sql.Identifier(name)
            )
        )
    return fks


def _drop_plain_indexes(conn: psycopg.Connection, tables: list[str]) -> list[str]:
    """Drop the indexes of ``tables`` that back no constraint; return their definitions."""
    rows = conn.execute(
        "select i.indexrelid::regclass::text, pg_get_indexdef(i.indexrelid) from pg_index i"
        " join pg_class r on r.oid = i.indrelid join pg_namespace n on n.oid = r.relnamespace"
        " where n.nspname = 'public' and r.relname = any(%s)"
        " and not exists (select 1 from pg_constraint c where c.conindid = i.indexrelid)"
        " order by 1",
        (tables,),
    ).fetchall()
    for name, _ in rows:
        conn.execute(sql.SQL("drop index {}").format(sql.SQL(name)))
    return [definition for _, definition in rows]


def _add_foreign_keys(conn: psycopg.Connection, fks: list[tuple[str, str, str]]) -> None:
    for table, name, definition in fks:
        conn.execute(
            sql.SQL("alter table {} add constraint {} {}").format(
                sql.SQL(table), sql.Identifier(name), sql.SQL(definition)
            )
        )


def seed(
    dsn: str, dataset: str, scale: str, *, seed: int = 42, progress: bool = False
) -> dict[str, int]:
    """(Re)create ``dataset``'s tables and load them at ``scale``; return rows per table."""
    generator = generator_module(dataset)
    if scale not in generator.SCALES:
        raise ValueError(f"unknown scale {scale!r}; expected one of {tuple(generator.SCALES)}")
    expected = _expected(generator, scale)
    apply_ddl(dsn, dataset, drop=True)
    names = [t.name for t in load_dataset(dataset).database_tables]
    with psycopg.connect(dsn) as conn:
        fks = _drop_foreign_keys(conn, names)
        indexes = _drop_plain_indexes(conn, names)
        for table, columns, rows in generator.generate(scale, seed):
            _copy(conn, table, columns, rows, _bar(progress, table, expected.get(table)))
            _reset_sequences(conn, table)
        for definition in indexes:
            conn.execute(definition)
        _add_foreign_keys(conn, fks)
        conn.commit()
    with psycopg.connect(dsn, autocommit=True) as conn:
        for table in load_dataset(dataset).database_tables:
            conn.execute(sql.SQL("analyze {}").format(sql.Identifier(table.schema, table.name)))
    return table_counts(dsn, dataset)


def _expected(generator, scale: str) -> dict[str, int]:
    for name in ("row_counts", "expected_rows"):
        if hasattr(generator, name):
            return getattr(generator, name)(scale)
    return {}
