"""Database writes for the indexer: bulk inserts and merges of derived rows.

PostgreSQL gets binary ``COPY ... FROM STDIN`` (psycopg 3), measured at several times the speed
of multi-row INSERTs; binary rather than text because parsing numeric(78) and timestamptz text
was most of the server's and of psycopg's work (200k transfer rows: 2.6 s text, 0.7 s binary).
SQLite gets ``executemany``. Everything here runs inside the batch's
transaction, so a batch lands whole with its checkpoint or not at all.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from functools import cache
from typing import Any, cast

from django.db import connection, models

from market.fields import Uint256Field, uint256_sqlite

SQLITE_MAX_VARS = 900  # stay under SQLite's bound-parameter limit per statement


def _column_names(model: type[models.Model], fields: Sequence[str]) -> list[str]:
    return [cast(str, cast(models.Field, model._meta.get_field(name)).column) for name in fields]


@cache
def _copy_types(model: type[models.Model], fields: tuple[str, ...]) -> list[str]:
    """PostgreSQL type names of the columns, for a binary COPY (``varchar(42)`` -> ``varchar``)."""
    columns = [cast(models.Field, model._meta.get_field(name)) for name in fields]
    return [re.sub(r"\(.*\)", "", column.db_type(connection) or "") for column in columns]


def copy_rows(
    cursor: Any, table: str, columns: Sequence[str], types: Sequence[str], rows: Iterable[Sequence[Any]]
) -> None:
    """Binary COPY of rows into table (columns): psycopg formats each value by the column's type."""
    with cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN (FORMAT BINARY)") as copy:
        copy.set_types(types)
        write_row = copy.write_row
        for row in rows:
            write_row(row)


def bulk_insert(model: type[models.Model], fields: Sequence[str], rows: Sequence[tuple[Any, ...]]) -> int:
    """Insert plain rows (no conflict handling: each row is new by construction)."""
    if not rows:
        return 0
    table = model._meta.db_table
    columns = _column_names(model, fields)
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            # cursor.cursor: the psycopg cursor under Django's wrapper
            copy_rows(cursor.cursor, table, columns, _copy_types(model, tuple(fields)), rows)
        return len(rows)
    rows = _sqlite_rows(model, fields, rows)
    placeholders = ", ".join(["%s"] * len(columns))
    with connection.cursor() as cursor:
        cursor.executemany(f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({placeholders})", rows)
    return len(rows)


def _sqlite_rows(model: type[models.Model], fields: Sequence[str], rows: Sequence[tuple[Any, ...]]) -> Sequence[Any]:
    """Values as Django itself stores them in SQLite: padded uint256 text, naive-UTC datetimes."""
    uints = [i for i, name in enumerate(fields) if isinstance(model._meta.get_field(name), Uint256Field)]
    times = [i for i, name in enumerate(fields) if isinstance(model._meta.get_field(name), models.DateTimeField)]
    if not uints and not times:
        return rows
    adapt = connection.ops.adapt_datetimefield_value
    converted = []
    for row in rows:
        values = list(row)
        for i in uints:
            if values[i] is not None:
                values[i] = uint256_sqlite(values[i])
        for i in times:
            if values[i] is not None:
                values[i] = adapt(values[i])
        converted.append(values)
    return converted


def chunked(items: Sequence[Any], size: int = SQLITE_MAX_VARS) -> Iterable[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


_temp_counter = iter(range(1, 1 << 62))


def temp_name(prefix: str) -> str:
    """A fresh name for a temporary table of this connection's transaction."""
    return f"_{prefix}_{next(_temp_counter)}"


def upsert_rows(
    model: type[models.Model],
    fields: Sequence[str],
    rows: Sequence[tuple[Any, ...]],
    *,
    unique_fields: Sequence[str],
    merge: dict[str, str] | None = None,
    known_new: Callable[[tuple[Any, ...]], bool] | None = None,
) -> int:
    """Insert rows, or update the row with the same unique key, without the ORM's per-value work.

    Every non-unique field is overwritten with the new value unless ``merge`` names a
    combination for it, written with ``{old}`` and ``{new}`` placeholders, e.g.
    ``{"high": "GREATEST({old}, {new})"}`` (PostgreSQL) / ``"max({old}, {new})"`` (SQLite).
    PostgreSQL: COPY into a temporary table, then one ``INSERT ... SELECT ... ON CONFLICT``.
    Measured against ``bulk_create(update_conflicts=True)`` it cut the indexer's upserts
    from about 27 s to under 2 s on the 215k-log benchmark.

    ``known_new(row)``: true for rows whose key cannot be stored yet (e.g. a time bucket that
    starts after everything written so far). Those are inserted as they are (``bulk_insert``),
    without the temporary table and the conflict check: 40% less server CPU per row than the
    upsert. A row wrongly said new fails the statement on the unique key; nothing is lost.
    """
    if known_new is not None and rows:
        fresh: list[Any] = []
        stored: list[Any] = []
        for row in rows:
            (fresh if known_new(row) else stored).append(row)
        if fresh:
            bulk_insert(model, fields, fresh)
            return len(fresh) + upsert_rows(model, fields, stored, unique_fields=unique_fields, merge=merge)
    if not rows:
        return 0
    table = model._meta.db_table
    columns = _column_names(model, fields)
    keys = _column_names(model, unique_fields)
    merge = merge or {}
    sets = []
    for field_name, column in zip(fields, columns, strict=True):
        if column in keys:
            continue
        expression = merge.get(field_name, "{new}")
        sets.append(f"{column} = " + expression.format(old=f"{table}.{column}", new=f"EXCLUDED.{column}"))
    conflict = f"ON CONFLICT ({', '.join(keys)}) DO UPDATE SET {', '.join(sets)}"
    column_list = ", ".join(columns)
    if connection.vendor == "postgresql":
        temp = temp_name("upsert")
        with connection.cursor() as cursor:
            cursor.execute(
                f"CREATE TEMPORARY TABLE {temp} ON COMMIT DROP AS SELECT {column_list} FROM {table} WITH NO DATA"
            )
            copy_rows(cursor.cursor, temp, columns, _copy_types(model, tuple(fields)), rows)
            cursor.execute(f"INSERT INTO {table} ({column_list}) SELECT {column_list} FROM {temp} {conflict}")
            cursor.execute(f"DROP TABLE {temp}")
        return len(rows)
    rows = _sqlite_rows(model, fields, rows)
    placeholders = ", ".join(["%s"] * len(columns))
    with connection.cursor() as cursor:
        cursor.executemany(f"INSERT INTO {table} ({column_list}) VALUES ({placeholders}) {conflict}", rows)
    return len(rows)


def greatest(vendor: str) -> str:
    return "GREATEST({old}, {new})" if vendor == "postgresql" else "max({old}, {new})"


def least(vendor: str) -> str:
    return "LEAST({old}, {new})" if vendor == "postgresql" else "min({old}, {new})"


def update_rows(model: type[models.Model], fields: Sequence[str], rows: Sequence[tuple[Any, ...]]) -> int:
    """Update existing rows by primary key; each row is ``(pk, *values of fields)``.

    Replaces ``bulk_update``'s CASE WHEN statements, which cost seconds per batch here.
    """
    if not rows:
        return 0
    table = model._meta.db_table
    pk = model._meta.pk.column
    columns = _column_names(model, fields)
    if connection.vendor == "postgresql":
        temp = temp_name("update")
        column_list = ", ".join([pk, *columns])
        with connection.cursor() as cursor:
            cursor.execute(
                f"CREATE TEMPORARY TABLE {temp} ON COMMIT DROP AS SELECT {column_list} FROM {table} WITH NO DATA"
            )
            pk_type = _copy_types(model, (model._meta.pk.name,))
            copy_rows(cursor.cursor, temp, [pk, *columns], pk_type + _copy_types(model, tuple(fields)), rows)
            sets = ", ".join(f"{c} = {temp}.{c}" for c in columns)
            cursor.execute(f"UPDATE {table} SET {sets} FROM {temp} WHERE {table}.{pk} = {temp}.{pk}")
            cursor.execute(f"DROP TABLE {temp}")
        return len(rows)
    converted = _sqlite_rows_pk(model, fields, rows)
    sets = ", ".join(f"{c} = %s" for c in columns)
    with connection.cursor() as cursor:
        cursor.executemany(f"UPDATE {table} SET {sets} WHERE {pk} = %s", [(*r[1:], r[0]) for r in converted])
    return len(rows)


def _sqlite_rows_pk(model: type[models.Model], fields: Sequence[str], rows: Sequence[tuple[Any, ...]]) -> list[Any]:
    values = _sqlite_rows(model, fields, [row[1:] for row in rows])
    return [(row[0], *converted) for row, converted in zip(rows, values, strict=True)]
