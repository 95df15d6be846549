"""A model field for uint256 chain amounts that keeps every digit on every database.

PostgreSQL stores ``numeric(78, 0)``. SQLite's NUMERIC affinity turns integers wider than
64 bits into REAL and loses digits, so there the value is stored as text zero-padded to 78
characters: exact, and ordered correctly by a plain text comparison (top holders sort by
balance on both databases). Arithmetic on these columns happens in Python, never in SQL.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.db import models

UINT256_MAX = 2**256 - 1
UINT256_DIGITS = 78
UINT256_RANGE = "uint256 value out of range: {value}"


def uint256_sqlite(value: int) -> str:
    return f"{value:0{UINT256_DIGITS}d}"


class Uint256Field(models.Field):
    description = "Unsigned 256-bit integer (token base units)"

    def db_type(self, connection: Any) -> str:
        if connection.vendor == "sqlite":
            return f"varchar({UINT256_DIGITS})"
        return f"numeric({UINT256_DIGITS}, 0)"

    def get_prep_value(self, value: Any) -> int | None:
        if value is None:
            return None
        number = int(value)
        if not 0 <= number <= UINT256_MAX:
            raise ValueError(UINT256_RANGE.format(value=number))
        return number

    def get_db_prep_value(self, value: Any, connection: Any, prepared: bool = False) -> Any:
        number = value if prepared else self.get_prep_value(value)
        if number is None:
            return None
        if connection.vendor == "sqlite":
            return uint256_sqlite(number)
        return Decimal(number)

    def from_db_value(self, value: Any, expression: Any, connection: Any) -> int | None:
        if value is None:
            return None
        return int(value)

    def to_python(self, value: Any) -> int | None:
        if value is None:
            return None
        return int(value)
