"""Database writes for the indexer: bulk inserts and merges of derived rows.

PostgreSQL gets ``COPY ... FROM STDIN`` (psycopg 3), measured at several times the speed of
multi-row INSERTs; SQLite gets ``executemany``. Everything here runs inside the batch's
transaction, so a batch lands whole with its checkpoint or not at all.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from django.db import connection, models

from market.fields import Uint256Field, uint256_sqlite

SQLITE_MAX_VARS = 900  # stay under SQLite's bound-parameter limit per statement


def _column_names(model: type[models.Model], fields: Sequence[str]) -> list[str]:
    return [model._meta.get_field(name).column for name in fields]


def bulk_insert(model: type[models.Model], fields: Sequence[str], rows: Sequence[tuple[Any, ...]]) -> int:
    """Insert plain rows (no conflict handling: each row is new by construction)."""
    if not rows:
        return 0
    table = model._meta.db_table
    columns = _column_names(model, fields)
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            raw = cursor.cursor  # the psycopg cursor under Django's wrapper
            with raw.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
        return len(rows)
    uint_positions = [i for i, name in enumerate(fields) if isinstance(model._meta.get_field(name), Uint256Field)]
    if uint_positions:
        rows = [_sqlite_row(row, uint_positions) for row in rows]
    placeholders = ", ".join(["%s"] * len(columns))
    with connection.cursor() as cursor:
        cursor.executemany(f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({placeholders})", rows)
    return len(rows)


def _sqlite_row(row: tuple[Any, ...], uint_positions: list[int]) -> tuple[Any, ...]:
    values = list(row)
    for i in uint_positions:
        if values[i] is not None:
            values[i] = uint256_sqlite(values[i])
    return tuple(values)


def chunked(items: Sequence[Any], size: int = SQLITE_MAX_VARS) -> Iterable[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def upsert(
    model: type[models.Model],
    objs: list[models.Model],
    *,
    unique_fields: list[str],
    update_fields: list[str],
    batch_size: int = 2000,
) -> None:
    if objs:
        model._default_manager.bulk_create(
            objs,
            update_conflicts=True,
            unique_fields=unique_fields,
            update_fields=update_fields,
            batch_size=batch_size,
        )


def as_datetime(value: datetime | str) -> datetime:
    return value if isinstance(value, datetime) else datetime.fromisoformat(value)
